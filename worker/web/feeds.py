"""The feed health table of the page and the ``marsad_feeds`` gauge, from the schedule's own
health reader (``State.all_health``, issue 6): one row per source, two round trips."""

from __future__ import annotations

import redis

from worker.adapters.keys import Keys
from worker.adapters.state import State
from worker.models import FeedHealth

# Every state is reported, at 0 when no feed is in it, so a dashboard's series never vanish.
HEALTH_STATES = ("active", "backing_off", "disabled", "gone")


def feed_rows(client: redis.Redis, keys: Keys) -> list[FeedHealth]:
    return State(client, keys).all_health()


def health_counts(rows: list[FeedHealth]) -> dict[str, int]:
    counts = dict.fromkeys(HEALTH_STATES, 0)
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts
