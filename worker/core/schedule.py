"""When a feed is polled next, and what its health is: a pure function of (feed state, what the
poll observed, the source's limits, now, a random draw). The clock and the draw are passed in.

The rules (docs/operations.md "Schedule and feed health"; tests/test_schedule.py has a table):

* **Pace.** ``items_per_day`` is a moving average (EWMA, weight ``ALPHA``) of the new items a
  successful poll found per day since the previous success; a 304 counts as zero new items. The
  interval aims at ``TARGET_NEW_PER_POLL`` new items per poll (a feed with 10 new items an hour
  is polled every 3 minutes), moves at most ×2 or ÷2 per poll (one burst or one quiet hour does
  not swing it), and is clamped to the source's ``min_interval``..``max_interval``. A feed that
  never has anything new doubles its interval up to ``max_interval``.
* **Seen share.** When fewer than a quarter of a fetch's items were already seen, the feed's
  window may have rolled over between polls (items missed): the interval is at least halved.
* **Server hints** (Retry-After on a success, Cache-Control max-age, Expires, RSS <ttl>,
  sy:updatePeriod) are lower bounds on the delay, up to ``max_interval``: the operator's
  ceiling wins over a server asking to be polled once a day.
* **Failures.** temporary_error and permanent_error back off exponentially from the interval,
  ``interval × 2^failures`` capped at ``max_backoff``, with "equal jitter" (half the delay fixed,
  half random) so that feeds that failed together do not retry together. rate_limited waits
  for Retry-After (or backs off the same way without one), capped at ``max_backoff``.
  permanent_error is soft: ``disable_after`` of them with no success between disable the feed.
  gone (410) stops polling at once.
* **Jitter** on a success adds up to 10 % to the delay (never less than ``min_interval``).
* **deferred** is not a poll: the state is unchanged and the feed is due after ``retry_after``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from worker.models import FeedState, Health, Outcome

ALPHA = 0.3  # weight of the newest observation in items_per_day
TARGET_NEW_PER_POLL = 0.5  # new items one poll should find on average
MAX_STEP = 2.0  # the interval changes at most by this factor per poll
SEEN_SHARE_LOW = 0.25  # below this share of already-seen items, the window may have rolled over
SEEN_SHARE_MIN_ENTRIES = 4  # ... judged only on fetches with at least this many items
SUCCESS_JITTER = 0.1  # a success's delay gets up to +10 %
DELAY_SAMPLE = 32  # publication -> first sight delays kept per feed (for the median)
REDIRECTS_TO_CONFIRM = 3  # the same permanent redirect seen this many polls in a row moves the feed


@dataclass(frozen=True)
class Limits:
    """A source's schedule settings, resolved against the global ones (``limits_for``)."""

    min_interval: float
    max_interval: float
    start_interval: float
    max_backoff: float
    disable_after: int


@dataclass(frozen=True)
class Observation:
    """What one poll saw. ``entries``/``new`` count the fetched items and the new ones among
    them (None when the body was not parsed); ``delays`` are publication -> first sight of the
    new items; ``ttl`` the feed's own hint (RSS <ttl>, sy:updatePeriod)."""

    outcome: Outcome
    source_url: str
    entries: int | None = None
    new: int = 0
    delays: tuple[float, ...] = ()
    ttl: float | None = None


def limits_for(
    interval: float | None,
    min_interval: float | None,
    max_interval: float | None,
    defaults: tuple[float, float, float],
    max_backoff: float,
    disable_after: int,
) -> Limits:
    """A source's limits: its own values, else the settings' ``defaults`` (start, min, max). A
    source's own bound wins when the two conflict (min 2h with the default max 1h: max = 2h)."""
    start, lo_default, hi_default = defaults
    lo = min_interval if min_interval is not None else lo_default
    hi = max_interval if max_interval is not None else hi_default
    if hi < lo:
        if max_interval is not None and min_interval is None:
            lo = hi
        else:
            hi = lo
    first = interval if interval is not None else start
    return Limits(lo, hi, min(max(first, lo), hi), max(max_backoff, hi), disable_after)


def current_url(state: FeedState, source_url: str) -> str:
    """The URL to poll: the target of a confirmed permanent redirect, unless sources.yaml has
    changed the feed's URL since (then the file wins)."""
    if state.url and state.source_url == source_url:
        return state.url
    return source_url


def health_of(outcome: Outcome, soft_failures: int, disable_after: int) -> Health:
    if outcome.success:
        return "active"
    if outcome.kind == "gone":
        return "gone"
    if outcome.kind == "permanent_error" and soft_failures >= disable_after:
        return "disabled"
    return "backing_off"


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


def _pace(state: FeedState, obs: Observation, now: float) -> float | None:
    """items_per_day after a successful poll: the EWMA over polls. The first success has no
    earlier one to measure from (and its items are the feed's archive): no estimate yet."""
    if state.last_success is None or now <= state.last_success:
        return state.items_per_day
    observed = obs.new * 86400.0 / (now - state.last_success)
    if state.items_per_day is None:
        return observed
    return ALPHA * observed + (1 - ALPHA) * state.items_per_day


def adapt_interval(previous: float, items_per_day: float | None, entries: int | None, new: int, lim: Limits) -> float:
    """The next interval from the pace and the share of already-seen items (module docstring)."""
    if items_per_day is None:
        target = previous
    elif items_per_day <= 0:
        target = previous * MAX_STEP
    else:
        target = TARGET_NEW_PER_POLL * 86400.0 / items_per_day
    target = _clamp(target, previous / MAX_STEP, previous * MAX_STEP)
    if entries and entries >= SEEN_SHARE_MIN_ENTRIES and (entries - new) / entries < SEEN_SHARE_LOW:
        target = min(target, previous / MAX_STEP)
    return _clamp(target, lim.min_interval, lim.max_interval)


def _backoff(interval: float, failures: int, lim: Limits, draw: float) -> float:
    full = min(interval * 2.0 ** min(failures, 20), lim.max_backoff)
    return max(full * (0.5 + 0.5 * draw), lim.min_interval)


def _delay(outcome: Outcome, interval: float, failures: int, lim: Limits, ttl: float | None, draw: float) -> float:
    if outcome.kind == "rate_limited" and outcome.retry_after is not None:
        # never earlier than asked; a little later, so that feeds told the same do not return together
        return max(min(outcome.retry_after, lim.max_backoff), lim.min_interval) * (1 + SUCCESS_JITTER * draw)
    if not outcome.success:
        asked = min(outcome.retry_after or 0.0, lim.max_backoff)
        return max(_backoff(interval, failures, lim, draw), asked)
    hints = [h for h in (outcome.retry_after, outcome.fresh_for, ttl) if h]
    delay = max(interval, min(max(hints), lim.max_interval)) if hints else interval
    return delay * (1 + SUCCESS_JITTER * draw)


def _redirect(state: FeedState, obs: Observation) -> dict[str, object]:
    """The redirect fields after a successful poll: a permanent redirect seen
    REDIRECTS_TO_CONFIRM polls in a row to the same target becomes the feed's URL."""
    target = obs.outcome.moved_to
    if not target:
        return {"redirect_to": None, "redirect_count": 0}
    count = state.redirect_count + 1 if state.redirect_to == target else 1
    if count >= REDIRECTS_TO_CONFIRM:
        return {"url": target, "source_url": obs.source_url, "redirect_to": None, "redirect_count": 0}
    return {"redirect_to": target, "redirect_count": count}


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def advance(state: FeedState, obs: Observation, lim: Limits, now: float, draw: float) -> FeedState:
    """The feed's state after a poll, its next due time included. ``draw`` in [0, 1) is the
    caller's random number (this function stays deterministic)."""
    o = obs.outcome
    if o.kind == "deferred":
        wait = o.retry_after or 1.0
        return replace(state, next_due=now + wait * (1 + SUCCESS_JITTER * draw))
    previous = state.interval if state.interval is not None else lim.start_interval
    previous = _clamp(previous, lim.min_interval, lim.max_interval)
    failures = 0 if o.success else state.failures + 1
    soft = 0 if o.success else state.soft_failures + (o.kind == "permanent_error")
    health = health_of(o, soft, lim.disable_after)
    changes: dict[str, object] = {}
    interval = previous
    if o.success:
        pace = _pace(state, obs, now)
        # the first success sees the feed's archive as new: no seen share to judge
        entries = obs.entries if state.last_success is not None else None
        interval = adapt_interval(previous, pace, entries, obs.new, lim)
        delays = (*state.delays, *obs.delays)[-DELAY_SAMPLE:]
        changes = {
            "last_success": now,
            "items_per_day": pace,
            "delays": delays,
            "median_delay": median(delays),
            "etag": o.etag or state.etag,
            "last_modified": o.last_modified or state.last_modified,
            "body_hash": o.body_hash or state.body_hash,
            **_redirect(state, obs),
        }
    due = now + _delay(o, interval, failures, lim, obs.ttl, draw) if health in ("active", "backing_off") else None
    return replace(
        state,
        state=health,
        last_status=o.kind,
        last_error=o.error,
        last_http=o.status if o.status is not None else state.last_http,
        last_polled=now,
        failures=failures,
        soft_failures=soft,
        interval=interval,
        next_due=due,
        changed_at=now if health != state.state else state.changed_at,
        **changes,  # type: ignore[arg-type]
    )


def enabled(state: FeedState, now: float) -> FeedState:
    """``marsad sources enable``: back to active, failure counts cleared, due now."""
    return replace(state, state="active", failures=0, soft_failures=0, next_due=now, changed_at=now)


def state_change(before: FeedState, after: FeedState, feed_id: str, now: float) -> dict[str, object] | None:
    """The feed-events entry for a change of health (to backing_off, disabled, gone, back to
    active) or of the polled URL (a confirmed redirect); None when neither changed."""
    moved = after.url != before.url and after.url is not None
    if before.state == after.state and not moved:
        return None
    return {
        "schema": 1,
        "type": "feed.state" if before.state != after.state else "feed.moved",
        "feed": feed_id,
        "from": before.state,
        "to": after.state,
        "status": after.last_status,
        "error": after.last_error,
        "failures": after.failures,
        "url": after.url,
        "at": now,
    }
