"""The vocabulary: frozen, typed values that cross module boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Field_ = Literal["title", "text"]


@dataclass(frozen=True)
class Source:
    """One feed from sources.yaml. ``interval`` is in seconds (None: the default interval)."""

    id: str
    url: str
    language: str | None = None
    interval: float | None = None
    full_text: bool = False  # fetch each new article's page and extract its main text


@dataclass(frozen=True)
class FeedState:
    """What we remember about a feed between polls (kept in Redis, see adapters/state.py)."""

    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    last_status: str | None = None  # "ok", "not-modified" or a failure kind
    last_error: str | None = None
    last_polled: float | None = None
    last_ok: float | None = None  # last successful fetch (200 or 304); None: never polled yet


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one HTTP fetch; a failure is data here, not an exception.

    ``outcome`` is "ok" (body is the feed), "not-modified" (a 304), or a failure kind:
    "timeout", "connect", "http", "too-large", "blocked", "invalid-url"; or "deferred": the
    site's politeness limits (adapters/politeness.py) said not now, which is not a failure of
    the feed: fetch again after ``retry_after`` seconds.
    """

    outcome: str
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None
    error: str | None = None
    moved_to: str | None = None  # set when a permanent redirect (301/308) was followed
    retry_after: float | None = None  # "deferred" (politeness): try again after this many seconds

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "not-modified")


@dataclass(frozen=True)
class Entry:
    """One feed entry as parsed, before cleaning. ``published`` is a Unix timestamp or None."""

    url: str
    title: str
    content: str  # HTML or text, the richest the feed offers
    content_is_html: bool
    published: float | None
    guid: str | None = None
    language: str | None = None  # the entry's own language, when the format gives one (JSON Feed, sitemap)


@dataclass(frozen=True)
class ParsedFeed:
    entries: tuple[Entry, ...]
    language: str | None = None
    title: str | None = None
    ttl: float | None = None  # seconds: RSS <ttl> or sy:updatePeriod/updateFrequency, a lower bound on the interval


@dataclass(frozen=True)
class Article:
    """A cleaned article, ready to deduplicate and match. Offsets in alerts refer to title/text."""

    id: str
    source: str
    url: str  # canonical URL
    title: str
    text: str
    published: float  # Unix timestamp (the fetch time when the feed gives none)
    language: str | None
    text_hash: str
    date_missing: bool = False  # the feed gave no date: ``published`` is the fetch time
    alias: str | None = None  # article id of the page's <link rel="canonical">, when another URL


@dataclass(frozen=True)
class Hit:
    """One occurrence of a query term in an article field; offsets are code points in that field."""

    term: str
    surface: str
    field: Field_
    start: int
    end: int


@dataclass(frozen=True)
class RuleMatch:
    rule: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Alert:
    """A built alert: ``payload`` is the JSON text published, ``id`` its idempotency key."""

    id: str
    rule: str
    story: str
    payload: str
