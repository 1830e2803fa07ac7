"""RSS 0.9x/1.0/2.0 and Atom -> ParsedFeed, through feedparser.

feedparser is handed bytes and the response headers, never a URL, so it does no I/O of its own.
The bytes arrive decoded and re-encoded as UTF-8 with labels saying so (``worker.core.encoding``,
see ``worker.core.parse``), and without a DOCTYPE (``worker.core.parse_xml``: feedparser's own
DOCTYPE handling lets its fallback parser expand entities without limit).
Dates feedparser cannot read (Arabic month names, Arabic-Indic digits) go to
``worker.core.dates``, registered with feedparser on first use rather than at import, so that
importing the core changes no third-party global state.

It is called with ``sanitize_html=False`` and ``resolve_relative_uris=False``, which halve its
cost (docs/benchmarks.md, "Parse cost"): the clean stage turns HTML into text with its own
parser, and links inside a body are dropped with the markup. Entry links are another matter:
feedparser resolves ``<link>`` and permalink guids against ``xml:base`` and the feed's URL
whatever these options say, and they are joined with the feed URL here once more, so that a
relative link is an address in any case.
Its dicts become frozen ``Entry`` values here and go no further.
"""

from __future__ import annotations

import calendar
import functools
import math
import time
import xml.sax
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from worker.core.dates import parse_date
from worker.errors import FeedParseError
from worker.models import Entry, ParsedFeed

# sy:updatePeriod (RSS 1.0 Syndication module, http://web.resource.org/rss/1.0/modules/syndication/)
_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0, "monthly": 30 * 86400.0, "yearly": 365 * 86400.0}


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


def _positive(text: object) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def ttl_seconds(ttl: object = None, period: object = None, frequency: object = None) -> float | None:
    """The feed's own lower bound on the polling interval, in seconds: RSS ``<ttl>`` (minutes),
    or ``sy:updatePeriod`` / ``sy:updateFrequency`` (updates per period; the module's defaults
    are "daily" and 1). Both are lower bounds, so the larger wins. None when the feed gives
    neither, or only values that mean nothing (zero, negative, an unknown period)."""
    bounds = []
    if (minutes := _positive(ttl)) is not None:
        bounds.append(minutes * 60)
    if period is not None or frequency is not None:
        seconds = _PERIODS.get(str(period or "daily").strip().lower())
        times = _positive(1 if frequency is None else frequency)
        if seconds is not None and times is not None:
            bounds.append(seconds / times)
    return max(bounds) if bounds else None


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


def link_of(link: str, base_url: str) -> str | None:
    """An entry's link as an absolute http(s) address, or None when it is none (a guid such as
    urn:uuid:… or tag:…, a javascript: link, no link at all: not the feed's own URL)."""
    link = link.strip()
    try:
        url = urljoin(base_url, link) if base_url and link else link
        urlsplit(url)  # "http://[oops/" raises here: one broken link must not fail the feed
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None


def parse_with_feedparser(body: bytes, headers: Mapping[str, str], base_url: str) -> ParsedFeed:
    """Parse UTF-8 bytes (DOCTYPE stripped). Raises FeedParseError when the body is not a feed
    at all; a malformed feed from which feedparser recovered entries is accepted (feeds in the
    wild often are)."""
    _register_date_handler()
    hdrs = dict(headers)
    if base_url:
        hdrs.setdefault("content-location", base_url)
    d = feedparser.parse(body, response_headers=hdrs, sanitize_html=False, resolve_relative_uris=False)
    if not d.entries and d.get("bozo") and (not d.get("version") or _is_syntax_error(d.get("bozo_exception"))):
        # Not a feed, or a feed cut off before its first entry: a failure, not an empty feed.
        # (An empty feed served as text/html is bozo too, for its media type only: it is empty.)
        raise FeedParseError(f"not a feed: {d.get('bozo_exception')}")
    entries = []
    for e in d.entries:
        # feedparser copies a permalink guid into ``link``; an entry without an address cannot
        # be opened or deduplicated: skipped.
        url = link_of(e.get("link") or "", base_url)
        if url is None:
            continue
        content, is_html = _content(e)
        entries.append(Entry(url, e.get("title", ""), content, is_html, _published(e), e.get("id")))
    feed = d.get("feed", {})
    ttl = ttl_seconds(feed.get("ttl"), feed.get("sy_updateperiod"), feed.get("sy_updatefrequency"))
    return ParsedFeed(tuple(entries), feed.get("language") or None, feed.get("title") or None, ttl)
