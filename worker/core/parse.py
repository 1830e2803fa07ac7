"""Feed bytes -> ParsedFeed, for every source type: RSS 0.9x/1.0/2.0 and Atom (feedparser,
``parse_rss``), JSON Feed 1.0/1.1 (``parse_json``) and Google News sitemaps (``parse_sitemap``).

Every body goes through the same two steps first, whatever its type:

1. Decoding (``worker.core.encoding``): the bytes are decoded by what they are, not by what the
   labels say (Arabic sources mislabel windows-1256 as UTF-8 often enough that trusting the
   labels loses whole feeds to mojibake), and handed on as UTF-8 with labels saying so.
2. For XML, the DOCTYPE is cut out of the prolog (``worker.core.parse_xml``): entity expansion
   and external entities live there, and no feed needs them.

``kind`` is the source's ``type:`` from sources.yaml. "rss" and "atom" both mean feedparser
(which tells them apart itself); "auto" sniffs the body: a JSON object is a JSON Feed (its
``version`` must name jsonfeed.org), an XML document whose root is ``<urlset>`` with the Google
News sitemap namespace is a news sitemap, anything else goes to feedparser. A ``<urlset>``
without that namespace is a plain sitemap (URLs without titles): refused under "auto", with a
message, rather than read as an empty feed; ``type: sitemap`` reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from worker.core.encoding import feed_as_utf8
from worker.core.parse_json import is_json_feed, load_json, parse_json_feed
from worker.core.parse_rss import parse_with_feedparser, ttl_seconds
from worker.core.parse_sitemap import NEWS_NAMESPACE, parse_sitemap
from worker.core.parse_xml import root_tag, strip_doctype
from worker.errors import FeedParseError
from worker.models import SOURCE_TYPES, ParsedFeed

__all__ = ["KINDS", "detect_kind", "parse_feed", "ttl_seconds"]

KINDS = SOURCE_TYPES  # a source's ``type:`` (models.Source.type)
_SNIFF = 65536  # how far into the document the news namespace is looked for
_FIRST = re.compile(rb"\s*(.?)", re.DOTALL)


def _is_json(data: bytes, content_type: str) -> bool:
    first = _FIRST.match(data).group(1)  # type: ignore[union-attr]  # always matches
    return first == b"{" or ("json" in content_type and first not in (b"<", b""))


def detect_kind(data: bytes, content_type: str = "") -> str:
    """The type of UTF-8 ``data``, from a sniff of the body: "jsonfeed", "sitemap" or "rss"
    (meaning feedparser, which tells RSS from Atom itself); the Content-Type counts only when
    the body does not say (JSON not starting with ``{``). Raises FeedParseError for a plain
    sitemap, which auto-detection does not read."""
    if _is_json(data, content_type.lower()):
        return "jsonfeed"
    root, _ = root_tag(data)
    if root == "sitemapindex":
        return "sitemap"  # refused there, with a message saying why
    if root == "urlset":
        if NEWS_NAMESPACE.encode() not in data[:_SNIFF]:
            raise FeedParseError(
                "not a feed: a sitemap without Google News entries (no titles or dates); "
                "`type: sitemap` in sources.yaml reads its URLs anyway"
            )
        return "sitemap"
    return "rss"


def parse_feed(
    body: bytes, headers: Mapping[str, str] | None = None, base_url: str = "", kind: str = "auto"
) -> ParsedFeed:
    """Parse a feed of the given ``kind`` (one of ``KINDS``); ``base_url`` is where it was
    fetched from, against which relative entry links are resolved. Raises FeedParseError when
    the body is not a feed of that kind; a malformed feed from which entries could be recovered
    is accepted (feeds in the wild often are)."""
    if kind not in KINDS:
        raise ValueError(f"unknown source type {kind!r}: one of {', '.join(KINDS)}")
    data, hdrs = feed_as_utf8(body, {k.lower(): v for k, v in (headers or {}).items()})
    detected = detect_kind(data, hdrs.get("content-type", "")) if kind == "auto" else kind
    if detected == "jsonfeed":
        value = load_json(data)
        if kind == "auto" and not is_json_feed(value):
            # Any JSON object is not a feed (an API's error message, say): sniffing asks for the
            # version; a source that says ``type: jsonfeed`` is read without it.
            raise FeedParseError("not a feed: JSON without a jsonfeed.org version")
        return parse_json_feed(value, base_url)
    data = strip_doctype(data)
    if detected == "sitemap":
        return parse_sitemap(data, base_url)
    return parse_with_feedparser(data, hdrs, base_url)
