"""The feed health table of the page and the ``marsad_feeds`` gauge: one row per source.

Read in one pipelined round trip (the sources hash, then every feed's state hash).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from worker.adapters.keys import Keys


@dataclass(frozen=True)
class FeedRow:
    feed: str
    health: str  # "ok", "failing" (failed at least once since the last success), "new" (never polled)
    status: str | None  # the last poll's outcome
    failures: int
    last_polled: float | None
    last_ok: float | None
    error: str | None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def feed_rows(client: redis.Redis, keys: Keys) -> list[FeedRow]:
    ids = sorted(str(i) for i in client.hkeys(keys.sources))
    pipe = client.pipeline(transaction=False)
    for feed in ids:
        pipe.hgetall(keys.feed(feed))
    rows = []
    for feed, raw in zip(ids, pipe.execute(), strict=True):
        failures = int(raw.get("failures") or 0)
        polled = _float(raw.get("last_polled"))
        health = "new" if polled is None else ("failing" if failures else "ok")
        rows.append(
            FeedRow(
                feed,
                health,
                raw.get("last_status") or None,
                failures,
                polled,
                _float(raw.get("last_success") or raw.get("last_ok")),  # last_ok: before issue 6
                raw.get("last_error") or None,
            )
        )
    return rows


def health_counts(rows: list[FeedRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.health] = counts.get(row.health, 0) + 1
    return counts
