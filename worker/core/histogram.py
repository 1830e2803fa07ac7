"""Histograms kept as Redis hash buckets: the bucket of a value, and cumulative buckets back.

Every worker process on every machine adds its observations to the same hash (HINCRBY on the
bucket's field), so one scrape of ``marsad web`` sees the whole deployment. The bounds are
fixed in code (``worker/adapters/metrics.py``): a bucket field is named by its upper bound
as written by ``bound_name``, and counts are *not* cumulative in Redis (one HINCRBY per
observation); Prometheus' cumulative ``le`` buckets are rebuilt at read time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence

INF = "+Inf"


def bound_name(bound: float) -> str:
    """The field name of a bucket bound: ``0.05`` -> "0.05", ``60.0`` -> "60" (stable text)."""
    return f"{bound:g}"


def bucket_of(value: float, bounds: Sequence[float]) -> str:
    """The name of the smallest bucket whose upper bound is >= value (Prometheus' ``le``)."""
    i = bisect_left(bounds, value)
    return bound_name(bounds[i]) if i < len(bounds) else INF


def cumulative(counts: Mapping[str, int], bounds: Sequence[float]) -> list[tuple[str, int]]:
    """Per-bucket counts (bucket name -> count) to Prometheus' cumulative buckets, ``+Inf``
    last. A field of a bound no longer in ``bounds`` (an older version's) is counted in +Inf
    only, so the total stays right."""
    out: list[tuple[str, int]] = []
    running = 0
    for bound in bounds:
        name = bound_name(bound)
        running += counts.get(name, 0)
        out.append((name, running))
    out.append((INF, sum(counts.values())))
    return out
