"""Google News sitemaps -> ParsedFeed.

Many Arabic outlets publish a news sitemap (for Google News) and no complete RSS: a ``<urlset>``
whose ``<url>`` elements carry ``<loc>`` and a ``<news:news>`` block
(https://developers.google.com/search/docs/crawling-indexing/sitemaps/news-sitemap)::

    <url><loc>https://example.com/ar/1</loc>
      <news:news>
        <news:publication><news:name>…</news:name><news:language>ar</news:language></news:publication>
        <news:publication_date>2024-01-19T10:30:00+03:00</news:publication_date>
        <news:title>…</news:title>
        <news:keywords>…</news:keywords>   (optional; Google no longer reads it, sites still write it)
      </news:news></url>

An entry gets the title and no body: a rule can match the title, and a source with
``full_text: true`` has each new article's page fetched for its text. When the sitemap gives
``news:keywords`` they stand in as the body (plain text) until then, so that a rule can match
the outlet's own tags. The date is ``news:publication_date``, else ``<lastmod>``.

Elements are found by local name, not namespace: sites write the news namespace with other
versions (``…/sitemap-news/0.84``) or misspelt, and the structure is unambiguous anyway. A plain
sitemap (``<url>`` without ``<news:news>``, only read when the source says ``type: sitemap``)
gives entries with a URL and a date only. A sitemap index (``<sitemapindex>``) lists sitemaps,
not articles: it is refused with a message saying so.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from worker.core.dates import parse_date
from worker.core.parse_rss import link_of
from worker.core.parse_xml import parse_tree
from worker.errors import FeedParseError
from worker.models import Entry, ParsedFeed

NEWS_NAMESPACE = "google.com/schemas/sitemap-news/"


def _local(el: Any) -> str:
    """An element's local name; "" for the nodes that are no elements (entity references)."""
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: Any, name: str) -> Any | None:
    return next((c for c in el if _local(c) == name), None)


def _text(el: Any | None) -> str:
    if el is None:
        return ""
    # itertext: the text around unresolved entity references, which are nodes of their own
    return "".join(t for t in el.itertext() if isinstance(t, str)).strip()


def _path(el: Any | None, *names: str) -> str:
    for name in names:
        if el is None:
            return ""
        el = _child(el, name)
    return _text(el)


def _entry(url: Any, base_url: str) -> tuple[Entry, str] | None:
    """The entry of one ``<url>`` and its publication name, or None without an address."""
    loc = link_of(_text(_child(url, "loc")), base_url)
    if loc is None:
        return None
    news = _child(url, "news")
    published = parse_date(_path(news, "publication_date")) if news is not None else None
    if published is None:
        published = parse_date(_text(_child(url, "lastmod")))
    keywords = _path(news, "keywords")
    language = _path(news, "publication", "language") or None
    entry = Entry(loc, _path(news, "title"), keywords, False, published, None, language)
    return entry, _path(news, "publication", "name")


def _most_common(values: list[str]) -> str | None:
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else None


def parse_sitemap(body: bytes, base_url: str) -> ParsedFeed:
    """Parse UTF-8 bytes (DOCTYPE stripped) of a news sitemap. The feed's language and title are
    the publication's (the most common one, should a sitemap mix several)."""
    root = parse_tree(body)
    name = _local(root)
    if name == "sitemapindex":
        raise FeedParseError("not a feed: a sitemap index (it lists sitemaps): give one of its sitemaps as the URL")
    if name != "urlset":
        raise FeedParseError(f"not a feed: a sitemap has a <urlset> root, this has <{name}>")
    parsed = [e for url in root if _local(url) == "url" and (e := _entry(url, base_url)) is not None]
    entries = tuple(e for e, _ in parsed)
    return ParsedFeed(
        entries,
        _most_common([e.language or "" for e in entries]),
        _most_common([publication for _, publication in parsed]),
    )
