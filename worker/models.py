"""The vocabulary: frozen, typed values that cross module boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Field_ = Literal["title", "text"]
SourceType = Literal["auto", "rss", "atom", "jsonfeed", "sitemap"]
SOURCE_TYPES: tuple[SourceType, ...] = ("auto", "rss", "atom", "jsonfeed", "sitemap")

# How one poll ended (issue 6): every poll is exactly one of these. "deferred" is not a poll:
# per-host politeness said "not now", and the feed comes back later with its state unchanged.
OutcomeKind = Literal["ok", "not_modified", "temporary_error", "rate_limited", "permanent_error", "gone", "deferred"]
OUTCOMES: tuple[OutcomeKind, ...] = (
    "ok",
    "not_modified",
    "temporary_error",
    "rate_limited",
    "permanent_error",
    "gone",
)
# A feed's health: polled on schedule, backing off after failures, switched off after too many
# soft failures in a row (until ``marsad sources enable``), or gone (HTTP 410).
Health = Literal["active", "backing_off", "disabled", "gone"]


@dataclass(frozen=True)
class Source:
    """One feed from sources.yaml. Durations are in seconds; None: the setting's default.

    ``interval`` is the starting interval: the schedule adapts it from the feed's own pace,
    within ``min_interval``..``max_interval`` (core/schedule.py)."""

    id: str
    url: str
    language: str | None = None
    interval: float | None = None
    full_text: bool = False  # fetch each new article's page and extract its main text
    min_interval: float | None = None
    max_interval: float | None = None
    conditional: bool = True  # send If-None-Match / If-Modified-Since (off for servers that lie)
    type: SourceType = "auto"  # which parser reads the body; "auto" detects it


@dataclass(frozen=True)
class FeedState:
    """What we remember about a feed between polls, and its health: one Redis hash per feed
    (``<prefix>feed:<id>``, adapters/state.py), whose field names are these names."""

    state: Health = "active"
    last_status: str | None = None  # the last poll's outcome, one of OUTCOMES
    last_error: str | None = None  # its detail ("HTTP 503", "timeout: ...", "unparsable: ...")
    last_http: int | None = None  # the last HTTP status received
    last_polled: float | None = None
    last_success: float | None = None  # last ok / not_modified poll; None: never fetched yet
    failures: int = 0  # failed polls in a row (any failure outcome)
    soft_failures: int = 0  # permanent_error polls since the last success: disabled at N
    items_per_day: float | None = None  # new items per day, a moving average over polls
    delays: tuple[float, ...] = ()  # recent delays publication -> first sight (seconds)
    median_delay: float | None = None  # the median of ``delays``
    interval: float | None = None  # the adapted interval (seconds, before hints and jitter)
    next_due: float | None = None  # when the feed is due next; None while disabled or gone
    changed_at: float | None = None  # when ``state`` last changed
    url: str | None = None  # the URL polled when a permanent redirect was confirmed
    source_url: str | None = None  # the sources.yaml URL that ``url`` replaces
    redirect_to: str | None = None  # a permanent redirect's target, not yet confirmed
    redirect_count: int = 0  # polls in a row redirected to ``redirect_to``
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # SHA-1 of the last body processed: a 200 repeating it is not parsed


@dataclass(frozen=True)
class FeedHealth:
    """A feed's health as ``marsad status`` and the metrics read it (State.all_health())."""

    id: str
    url: str  # the URL polled (after confirmed redirects)
    state: Health
    last_status: str | None
    last_error: str | None
    last_http: int | None
    last_polled: float | None
    last_success: float | None
    failures: int
    soft_failures: int
    items_per_day: float | None
    median_delay: float | None
    interval: float | None
    next_due: float | None
    changed_at: float | None

    @property
    def healthy(self) -> bool:
        return self.state == "active"


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one HTTP fetch; a failure is data here, not an exception.

    ``outcome`` is "ok" (body is the feed), "not-modified" (a 304), or a failure kind:
    "timeout", "connect", "http", "too-large", "blocked", "invalid-url"; or "deferred" (the
    per-host limits of adapters/politeness.py said not now; ``retry_after`` says when).
    core/fetch_policy.py maps these detailed kinds to the six poll outcomes.
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
    retry_after: float | None = None  # seconds: "deferred" (politeness) or a server's Retry-After

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "not-modified", "deferred")


@dataclass(frozen=True)
class Outcome:
    """How a poll ended, as data (core/fetch_policy.py): the six kinds plus "deferred", the
    detail kept in ``error``, and what the schedule needs from the response."""

    kind: OutcomeKind
    error: str | None = None
    status: int | None = None  # HTTP status, when one was received
    retry_after: float | None = None  # seconds to wait (Retry-After, or politeness)
    fresh_for: float | None = None  # seconds the response says it stays fresh (max-age, Expires)
    body_hash: str | None = None  # SHA-1 of a 200's body
    etag: str | None = None  # validators to keep (from a body that is or was processed)
    last_modified: str | None = None
    moved_to: str | None = None  # a permanent redirect followed on the way

    @property
    def success(self) -> bool:
        return self.kind in ("ok", "not_modified")


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
    canonical_url: str = ""  # the URL ``id`` is the hash of (tracking parameters, AMP, m. folded)


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
