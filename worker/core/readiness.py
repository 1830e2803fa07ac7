"""``/readyz``'s rule, as a pure function of what the web service read from Redis.

Ready means the deployment is doing its job, not only that the web process is up:

1. Redis answers (the caller returns "not ready" without calling this when it does not);
2. beat ticks: a ``tick`` task ran within ``window`` seconds (60 s, or three tick intervals if
   that is longer). The tick heartbeat is set by the tick task, which a worker runs, so it
   proves both that beat sends and that a worker consumes the tick queue;
3. workers consume the poll queue: either it is empty (idle workers are fine), or a poll task
   finished within ``window`` seconds. Messages waiting with no poll finishing is a stuck pool.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def window_for(tick_interval: float) -> float:
    return max(60.0, 3 * tick_interval)


def _age(now: float, at: float | None) -> float | None:
    return None if at is None else max(0.0, now - at)


def readiness(now: float, window: float, tick_at: float | None, poll_at: float | None, poll_depth: int) -> list[Check]:
    """The beat and worker checks (Redis answering is the caller's first check)."""
    tick_age = _age(now, tick_at)
    beat = Check(
        "beat",
        tick_age is not None and tick_age <= window,
        "no tick has run recently" if tick_age is None else f"last tick {tick_age:.0f}s ago (limit {window:.0f}s)",
    )
    poll_age = _age(now, poll_at)
    consuming = poll_depth == 0 or (poll_age is not None and poll_age <= window)
    last = "none recently" if poll_age is None else f"{poll_age:.0f}s ago"
    workers = Check("workers", consuming, f"{poll_depth} poll messages waiting, last poll finished {last}")
    return [beat, workers]
