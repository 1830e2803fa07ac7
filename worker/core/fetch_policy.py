"""What to ask and how to read the answer: conditional-GET headers, response classification, and
the outcome of a poll (issue 6).

The HTTP edge (adapters/http.py) reports in detail ("timeout", "connect", "http" with a status,
"too-large", "blocked", "invalid-url", "deferred"); ``fetch_outcome`` maps that to the six poll
outcomes the schedule acts on, keeping the detail in the error text:

================  ==========================================================================
ok                a 200 with a body we have not processed before
not_modified      a 304, or a 200 whose body hashes to the last body's (a stale ETag): not parsed
temporary_error   5xx other than 503, timeouts, refused or reset connections, a broken body
                  (bad gzip): the server or the network will likely recover; back off
rate_limited      429 or 503: wait as long as Retry-After says (seconds or an HTTP-date)
permanent_error   404 and other 4xx, redirect loops, a body over the size cap, a blocked
                  (private) address, an invalid URL, and a body that does not parse: soft
                  failures, the feed is disabled only after N in a row
gone              410: polling stops
deferred          not a poll: per-host politeness said "not now"
================  ==========================================================================

A body over the cap is a permanent error, not a temporary one: feeds do not shrink by themselves
in an hour, and retrying a 10 MB download often is the hammering we must not do; it is still
soft, so a feed that fixes itself within N polls is never disabled.
"""

from __future__ import annotations

import hashlib
from email.utils import parsedate_to_datetime

from worker.models import FeedState, FetchResult, Outcome, OutcomeKind

_PERMANENT_KINDS = ("too-large", "blocked", "invalid-url")


def conditional_headers(state: FeedState, enabled: bool = True) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the last successful fetch (RFC 9110 §13.1); none
    when the source has ``conditional: false`` (a server whose validators cannot be trusted)."""
    headers: dict[str, str] = {}
    if not enabled:
        return headers
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def classify(status: int, headers: dict[str, str], body: bytes, final_url: str) -> FetchResult:
    """A completed HTTP exchange as a detailed result: 304 ends the work, 2xx is a body, others
    fail. Headers are kept on every result: Retry-After, Cache-Control and Expires matter on
    all of them."""
    etag = headers.get("etag")
    last_modified = headers.get("last-modified")
    if status == 304:
        return FetchResult("not-modified", status, b"", headers, etag, last_modified, final_url)
    if 200 <= status < 300:
        return FetchResult("ok", status, body, headers, etag, last_modified, final_url)
    return FetchResult("http", status, headers=headers, final_url=final_url, error=f"HTTP {status}")


def body_hash(body: bytes) -> str:
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


def _seconds_or_date(value: str, now: float) -> float | None:
    """A Retry-After / Expires value as seconds from ``now``: delta-seconds or an HTTP-date
    (RFC 9110 §10.2.3); None when unreadable. Never negative."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT by definition
        return None
    return max(when.timestamp() - now, 0.0)


def retry_after(headers: dict[str, str], now: float) -> float | None:
    raw = headers.get("retry-after")
    return _seconds_or_date(raw, now) if raw else None


def fresh_for(headers: dict[str, str], now: float) -> float | None:
    """How long the response says it stays fresh: Cache-Control max-age (or s-maxage), else
    Expires (measured from the server's Date when it sent one, so clock skew does not count).
    None when neither says, or when they say "no time at all" (no-cache, max-age=0)."""
    for directive in headers.get("cache-control", "").lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("max-age", "s-maxage") and value.strip().strip('"').isdigit():
            seconds = float(value.strip().strip('"'))
            return seconds or None
    expires = headers.get("expires")
    if not expires:
        return None
    served = _seconds_or_date(headers["date"], 0.0) if headers.get("date") else None
    left = _seconds_or_date(expires, served if served is not None else now)
    return left or None


def _http_kind(status: int | None) -> OutcomeKind:
    if status is None or 300 <= status < 400:
        return "permanent_error"  # a redirect loop, or a redirect without a target
    if status in (429, 503):
        return "rate_limited"
    if status == 410:
        return "gone"
    if 400 <= status < 500:
        return "permanent_error"
    return "temporary_error"  # 5xx; or a 2xx whose body broke on the way (bad gzip)


def _kind(result: FetchResult) -> OutcomeKind:
    if result.outcome == "ok":
        return "ok"
    if result.outcome == "not-modified":
        return "not_modified"
    if result.outcome in _PERMANENT_KINDS:
        return "permanent_error"
    if result.outcome == "http":
        return _http_kind(result.status)
    return "temporary_error"  # timeout, connect, and any kind this module does not know yet


def fetch_outcome(result: FetchResult, state: FeedState, now: float) -> Outcome:
    """The poll outcome of a fetch. A 200 whose body hashes to the last processed one is
    ``not_modified`` (servers with a stale ETag answer 200 forever): it is never parsed."""
    if result.outcome == "deferred":
        return Outcome("deferred", result.error, retry_after=result.retry_after if result.retry_after else 1.0)
    kind = _kind(result)
    digest = body_hash(result.body) if kind == "ok" else None
    if digest is not None and digest == state.body_hash:
        kind = "not_modified"
    error = None
    if kind not in ("ok", "not_modified"):
        detail = result.error or result.outcome
        error = detail if result.outcome == "http" else f"{result.outcome}: {detail}"
    wait = result.retry_after if result.retry_after is not None else retry_after(result.headers, now)
    return Outcome(
        kind,
        error,
        status=result.status,
        retry_after=wait,
        fresh_for=fresh_for(result.headers, now),
        body_hash=digest,
        etag=result.etag if digest else None,  # validators only from a body that gets processed
        last_modified=result.last_modified if digest else None,
        moved_to=result.moved_to,
    )


def parse_failed(outcome: Outcome, message: str) -> Outcome:
    """A 200 whose body is not a feed: a soft failure. Its validators and hash are dropped, so
    the next poll fetches and parses it in full again."""
    return Outcome("permanent_error", f"unparsable: {message}", status=outcome.status, moved_to=outcome.moved_to)


def failed_processing(outcome: Outcome, message: str) -> Outcome:
    """A body we fetched but could not process (a bug, a time limit): temporary, so a feed that
    trips a bug backs off instead of coming back at every tick, and is never disabled for it."""
    return Outcome("temporary_error", f"error: {message}", status=outcome.status)
