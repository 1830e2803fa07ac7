"""Scheduling decisions: when a feed is polled next. The clock is passed in.

A feed that answered (200 or 304) is due again after its interval. A failed feed backs off
exponentially, ``interval * 2**failures`` capped at ``max_backoff``, so a dead feed costs little
and a feed that is back is picked up without anyone clearing state.
"""

from __future__ import annotations

from worker.models import FeedState, FetchResult


def next_state(state: FeedState, result: FetchResult, now: float, failure: tuple[str, str] | None = None) -> FeedState:
    """The feed state after a poll. ``failure`` (kind, message) marks a poll whose fetch worked
    but whose processing did not (an unparsable body, an unexpected error)."""
    kind, error = failure if failure else (result.outcome, result.error)
    failed = result.failed or failure is not None
    fresh = result.outcome == "ok" and not failed  # only a processed body may update validators
    return FeedState(
        etag=(result.etag or state.etag) if fresh else state.etag,
        last_modified=(result.last_modified or state.last_modified) if fresh else state.last_modified,
        failures=state.failures + 1 if failed else 0,
        last_status=kind,
        last_error=error,
        last_polled=now,
        last_ok=state.last_ok if failed else now,
    )


def next_poll_at(state: FeedState, interval: float, now: float, max_backoff: float, jitter: float = 0.0) -> float:
    """When to poll again given the state after this poll. ``jitter`` in [0, 1) spreads feeds
    that share an interval (the caller draws it; this function stays deterministic)."""
    delay = interval
    if state.failures:
        delay = min(interval * 2 ** min(state.failures, 20), max(max_backoff, interval))
    return now + delay * (1 + 0.1 * jitter)
