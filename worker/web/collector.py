"""Prometheus metrics for the whole deployment, read from Redis at scrape time.

A custom prometheus-client Collector: ``collect()`` reads the counters and histogram buckets
every worker wrote (``worker/adapters/metrics.py``) and the live state of the queues, the due
set and the streams, all in one pipelined round trip, and yields metric families. Nothing is
kept in the web process, so any number of web processes give the same answer. If Redis does
not answer, the scrape still succeeds with ``marsad_redis_up 0`` and nothing else.

The metrics, their types and labels are listed in docs/operations.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from worker.adapters.keys import Keys
from worker.adapters.metrics import HISTOGRAMS, HistogramSpec
from worker.core.histogram import cumulative
from worker.errors import InfrastructureError

# kombu's default priority steps: messages with a priority go to "<queue>\x06\x16<n>" lists.
_PRIORITY_SUFFIXES = ("", *(f"\x06\x16{n}" for n in (3, 6, 9)))
STREAMS = ("alerts", "story_updates", "dead")


@dataclass(frozen=True)
class Snapshot:
    """What one scrape read from Redis."""

    now: float
    counts: dict[str, int]
    histograms: dict[str, dict[str, str]]
    due_oldest: float | None  # score of the most overdue feed (the due set's minimum)
    due_feeds: int
    queues: dict[str, int]
    streams: dict[str, int]
    groups: dict[str, list[dict[str, object]]]
    heartbeats: dict[str, float | None]
    health: dict[str, int] = field(default_factory=dict)


def _int(value: object) -> int:
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return 0


def _float(value: object) -> float | None:
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def queue_depths(broker: redis.Redis, keys: Keys, queues: tuple[str, ...]) -> dict[str, int]:
    """Messages waiting per Celery queue, read from the broker (one round trip)."""
    pipe = broker.pipeline(transaction=False)
    for q in queues:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(keys.celery_queue(q) + suffix)
    replies = iter(pipe.execute())
    return {q: sum(_int(next(replies)) for _ in _PRIORITY_SUFFIXES) for q in queues}


def read_snapshot(
    client: redis.Redis,
    keys: Keys,
    queues: tuple[str, ...],
    now: float | None = None,
    broker: redis.Redis | None = None,
) -> Snapshot:
    """Everything the collector needs: one pipelined round trip on the data Redis, the queue
    depths in the same one when the broker is that Redis, else one more on the broker (raises
    redis errors)."""
    now = time.time() if now is None else now
    on_data = queues if broker is None else ()
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.metrics_counts)
    for spec in HISTOGRAMS:
        pipe.hgetall(keys.metrics_histogram(spec.name))
    pipe.zrange(keys.due, 0, 0, withscores=True)
    pipe.zcard(keys.due)
    for q in on_data:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(keys.celery_queue(q) + suffix)
    stream_names = {"alerts": keys.stream, "story_updates": keys.story_updates, "dead": keys.dead}
    for name in STREAMS:
        pipe.xlen(stream_names[name])
        pipe.xinfo_groups(stream_names[name])
    for role in ("tick", "poll"):
        pipe.get(keys.heartbeat(role))
    # XINFO GROUPS on a stream that does not exist yet is an error: read it as "no groups".
    replies = iter(pipe.execute(raise_on_error=False))
    counts = {str(k): _int(v) for k, v in next(replies).items()}
    hists = {spec.name: {str(k): str(v) for k, v in next(replies).items()} for spec in HISTOGRAMS}
    oldest = next(replies)
    due_feeds = _int(next(replies))
    depth = {q: sum(_int(next(replies)) for _ in _PRIORITY_SUFFIXES) for q in on_data}
    streams: dict[str, int] = {}
    groups: dict[str, list[dict[str, object]]] = {}
    for name in STREAMS:
        streams[name] = _int(next(replies))
        info = next(replies)
        groups[name] = [] if isinstance(info, Exception) else list(info)
    heartbeats = {role: _float(next(replies)) for role in ("tick", "poll")}
    if broker is not None:
        depth = queue_depths(broker, keys, queues)
    return Snapshot(
        now,
        counts,
        hists,
        float(oldest[0][1]) if oldest else None,
        due_feeds,
        depth,
        streams,
        groups,
        heartbeats,
    )


def _histogram(spec: HistogramSpec, fields: Mapping[str, str]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(f"marsad_{spec.name}", spec.help, labels=[spec.label] if spec.label else [])
    by_label: dict[str, dict[str, str]] = {}
    for name, value in fields.items():
        label, _, bucket = name.partition("|")
        by_label.setdefault(label, {})[bucket] = value
    for label, values in sorted(by_label.items()):
        sum_ = _float(values.pop("sum", 0)) or 0.0
        values.pop("count", None)
        buckets = cumulative({k: _int(v) for k, v in values.items()}, spec.bounds)
        family.add_metric([label] if spec.label else [], [(le, float(n)) for le, n in buckets], sum_)
    return family


def _prefixed(counts: Mapping[str, int], prefix: str) -> list[tuple[str, int]]:
    return sorted((k.removeprefix(prefix), v) for k, v in counts.items() if k.startswith(prefix))


_HELP = {
    "polls": "Feed polls by outcome (ok, not_modified, temporary_error, rate_limited, permanent_error, gone, deferred)",
    "articles": "New articles processed (matched against the rules)",
    "duplicates": "Feed entries dropped as already seen, or joined to a text seen under another URL",
    "matched": "New articles that matched at least one rule",
    "alerts": "Alerts published, by rule",
    "ticks": "Ticks run (beat sent it, a worker claimed the due feeds)",
    "claimed": "Feeds claimed by ticks (poll tasks sent)",
    "due_lag": "How late the most overdue feed is (0: none overdue)",
    "due_feeds": "Feeds in the schedule (the due set)",
    "queue": "Messages waiting in a Celery queue",
    "heartbeat": "Seconds since a tick or poll task last ran (absent: none in the last 10 min)",
    "feeds": "Feeds by health state",
    "stream": "Entries in a stream (XLEN)",
    "lag": "Entries a consumer group has not yet read (XINFO GROUPS lag)",
    "pending": "Entries read by a consumer group but not yet acknowledged",
}


def _labelled(name: str, help_key: str, labels: list[str], values: list[tuple[list[str], float]]) -> Metric:
    kind = CounterMetricFamily if name.endswith("_total") else GaugeMetricFamily
    family = kind(name.removesuffix("_total"), _HELP[help_key], labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family


def families(snap: Snapshot) -> Iterator[Metric]:
    """The metric families of one snapshot (pure: the collector and the tests share it)."""
    c = snap.counts
    yield _labelled("marsad_polls_total", "polls", ["outcome"], [([k], v) for k, v in _prefixed(c, "polls:")])
    for name in ("articles", "duplicates", "matched", "ticks", "claimed"):
        yield CounterMetricFamily(f"marsad_{name}", _HELP[name], value=c.get(name, 0))
    yield _labelled("marsad_alerts_total", "alerts", ["rule"], [([k], v) for k, v in _prefixed(c, "alerts:")])
    for spec in HISTOGRAMS:
        yield _histogram(spec, snap.histograms.get(spec.name, {}))
    lag = 0.0 if snap.due_oldest is None else max(0.0, snap.now - snap.due_oldest)
    yield GaugeMetricFamily("marsad_due_lag_seconds", _HELP["due_lag"], value=lag)
    yield GaugeMetricFamily("marsad_due_feeds", _HELP["due_feeds"], value=snap.due_feeds)
    yield _labelled("marsad_queue_depth", "queue", ["queue"], [([q], n) for q, n in sorted(snap.queues.items())])
    yield from _stream_families(snap)
    ages = [([role], max(0.0, snap.now - at)) for role, at in sorted(snap.heartbeats.items()) if at is not None]
    yield _labelled("marsad_heartbeat_age_seconds", "heartbeat", ["task"], ages)
    yield _labelled("marsad_feeds", "feeds", ["health"], [([h], n) for h, n in sorted(snap.health.items())])


def _stream_families(snap: Snapshot) -> Iterator[Metric]:
    lengths: list[tuple[list[str], float]] = []
    lags: list[tuple[list[str], float]] = []
    pending: list[tuple[list[str], float]] = []
    for stream, n in sorted(snap.streams.items()):
        lengths.append(([stream], n))
        for group in snap.groups.get(stream, []):
            labels = [stream, str(group.get("name", ""))]
            # Redis < 7 has no lag; it is also null when Redis cannot tell (entries deleted).
            if group.get("lag") is not None:
                lags.append((labels, _int(group["lag"])))
            pending.append((labels, _int(group.get("pending", 0))))
    yield _labelled("marsad_stream_length", "stream", ["stream"], lengths)
    yield _labelled("marsad_stream_group_lag", "lag", ["stream", "group"], lags)
    yield _labelled("marsad_stream_group_pending", "pending", ["stream", "group"], pending)


class RedisCollector(Collector):
    """The deployment's metrics, read from Redis on every scrape."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        queues: tuple[str, ...],
        health: Callable[[], dict[str, int]] | None = None,
        broker: redis.Redis | None = None,
    ) -> None:
        self.r = client
        self.k = keys
        self.queues = queues
        self.health = health
        self.broker = broker

    def collect(self) -> Iterator[Metric]:
        try:
            snap = read_snapshot(self.r, self.k, self.queues, broker=self.broker)
            if self.health is not None:
                snap = replace(snap, health=self.health())
        except (redis.RedisError, InfrastructureError):
            yield GaugeMetricFamily("marsad_redis_up", "1 when Redis answered this scrape", value=0)
            return
        yield GaugeMetricFamily("marsad_redis_up", "1 when Redis answered this scrape", value=1)
        yield from families(snap)
