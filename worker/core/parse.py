"""Feed bytes -> ParsedFeed (RSS 0.9x/1.0/2.0 and Atom, through feedparser).

feedparser is handed bytes and the response headers, never a URL, so it does no I/O of its own.
The bytes are decoded first by ``worker.core.encoding`` and handed over as UTF-8 with labels
saying so: feedparser trusts the labels (HTTP charset over XML declaration), and Arabic sources
mislabel windows-1256 as UTF-8 often enough that trusting them loses whole feeds to mojibake.
Dates feedparser cannot read (Arabic month names, Arabic-Indic digits) go to
``worker.core.dates``, registered with feedparser on first use rather than at import, so that
importing the core changes no third-party global state.
Its dicts become frozen ``Entry`` values here and go no further.
"""

from __future__ import annotations

import calendar
import functools
import time
import xml.sax
from collections.abc import Mapping
from typing import Any

import feedparser

from worker.core.dates import parse_date
from worker.core.encoding import feed_as_utf8
from worker.errors import FeedParseError
from worker.models import Entry, ParsedFeed


def _feedparser_date(text: str) -> time.struct_time | None:
    """A feedparser date handler: a UTC struct_time, or None to let feedparser's own try."""
    stamp = parse_date(text)
    return None if stamp is None else time.gmtime(stamp)


@functools.cache
def _register_date_handler() -> None:
    """Once per process. feedparser tries the last registered handler first; ours reads RFC 822
    and ISO 8601 as feedparser does, and returns None for what it cannot read, so feedparser's
    own handlers still get every date ours leaves. (Two threads racing here would register it
    twice: harmless.)"""
    feedparser.registerDateHandler(_feedparser_date)


def _published(entry: Any) -> float | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # ``in`` first: feedparser's get("updated_parsed") falls back to published_parsed with a
        # DeprecationWarning when an entry has an unreadable pubDate and no <updated>.
        st = entry.get(key) if key in entry else None
        if st:
            return float(calendar.timegm(st))
    return None


def _content(entry: Any) -> tuple[str, bool]:
    """The richest body the entry has: full content first, then the summary."""
    for detail in [*entry.get("content", []), entry.get("summary_detail")]:
        if detail and detail.get("value"):
            return detail["value"], detail.get("type", "text/html") != "text/plain"
    return "", False


def _is_syntax_error(exc: object) -> bool:
    """feedparser's complaints are either XML syntax errors (the body is broken) or notes it
    "nobody cares about" (wrong media type, charset overridden): only the first are failures."""
    return isinstance(exc, xml.sax.SAXException)


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None, base_url: str = "") -> ParsedFeed:
    """Parse a feed. Raises FeedParseError when the body is not a feed at all; a feed that is
    malformed but from which feedparser recovered entries is accepted (feeds in the wild often are)."""
    _register_date_handler()
    body, hdrs = feed_as_utf8(body, {k.lower(): v for k, v in (headers or {}).items()})
    if base_url:
        hdrs.setdefault("content-location", base_url)
    d = feedparser.parse(body, response_headers=hdrs, sanitize_html=False, resolve_relative_uris=True)
    if not d.entries and d.get("bozo") and (not d.get("version") or _is_syntax_error(d.get("bozo_exception"))):
        # Not a feed, or a feed cut off before its first entry: a failure, not an empty feed.
        # (An empty feed served as text/html is bozo too, for its media type only: it is empty.)
        raise FeedParseError(f"not a feed: {d.get('bozo_exception')}")
    entries = []
    for e in d.entries:
        # feedparser copies a permalink guid into ``link``; a guid such as urn:uuid:… or tag:…
        # is no address, and an entry without one cannot be opened or deduplicated: skipped.
        url = e.get("link") or ""
        if not url.startswith(("http://", "https://")):
            continue
        content, is_html = _content(e)
        title = e.get("title", "")
        entries.append(Entry(url, title, content, is_html, _published(e), e.get("id")))
    feed = d.get("feed", {})
    return ParsedFeed(tuple(entries), feed.get("language") or None, feed.get("title") or None)
