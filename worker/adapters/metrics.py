"""Deployment-wide metrics in Redis: every worker process records, ``marsad web`` reads.

Why Redis and not prometheus-client's per-process registries: a deployment runs several worker
processes on several machines, forked and recycled by Celery; per-process counters would need
one scrape target per process (and would reset on every recycle). Here each poll adds its
numbers to a few Redis hashes in ONE pipelined round trip (no MULTI: the keys need not share a
slot, and a lost increment is harmless), and ``worker/web/collector.py`` turns them into
Prometheus counters and histograms at scrape time. Counters therefore survive worker and web
restarts, as Prometheus counters should (a ``FLUSHALL`` is a counter reset, which Prometheus
handles).

Histograms are deployment-wide too, with fixed bucket bounds (``worker/core/histogram.py``):
the bounds below are part of the metric's contract. Recording never raises: a Redis failure
here is logged (``event=metrics.failed``) and dropped, so metrics can never make a poll retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import redis

from worker.adapters.keys import Keys
from worker.core.histogram import bucket_of
from worker.logs import event
from worker.models import Alert

if TYPE_CHECKING:
    from worker.poll import PollReport

STAGES = ("fetch", "parse", "clean", "dedup", "match", "publish")

# Seconds. A stage of one poll: milliseconds (match, dedup) to tens of seconds (a slow fetch).
STAGE_BOUNDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The article's own publication time to our alert: dominated by the feed's poll interval
# (minutes) and the feed's own delay; a day is the edge of MARSAD_MAX_ARTICLE_AGE's default.
PUBLISH_TO_ALERT_BOUNDS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0, 86400.0)
# Start of our fetch to the alert on the stream: the poll's own work.
FETCH_TO_ALERT_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HOUR_TTL = 26 * 3600  # the page shows 24 hourly buckets; two spare hours of slack
HEARTBEAT_TTL = 600  # a heartbeat older than any readiness window is gone, not misleading


@dataclass(frozen=True)
class HistogramSpec:
    name: str  # the hash's name under <p>metrics:hist:, and the metric's name after marsad_
    label: str | None  # one label name (its value prefixes each field), or None
    bounds: tuple[float, ...]
    help: str


STAGE_SECONDS = HistogramSpec(
    "stage_seconds", "stage", STAGE_BOUNDS, "Time spent in one stage of one poll (fetch, parse, clean, dedup, ...)"
)
PUBLISH_TO_ALERT = HistogramSpec(
    "publish_to_alert_seconds",
    None,
    PUBLISH_TO_ALERT_BOUNDS,
    "From the article's published time (as the feed gave it; undated articles excluded) to its alert",
)
FETCH_TO_ALERT = HistogramSpec(
    "fetch_to_alert_seconds", None, FETCH_TO_ALERT_BOUNDS, "From the start of the feed's fetch to its alerts published"
)
HISTOGRAMS = (STAGE_SECONDS, PUBLISH_TO_ALERT, FETCH_TO_ALERT)


def hour_of(ts: float) -> int:
    """The Unix hour number of a time: the key of the per-hour alert counts."""
    return int(ts // 3600)


def _field(label: str | None, name: str) -> str:
    return f"{label or ''}|{name}"


def _published_at(payload: str) -> float | None:
    """The article's published time from an alert payload, None when the feed gave no date
    (then ``published`` is our fetch time and says nothing about latency)."""
    try:
        article = json.loads(payload)["article"]
        if article.get("date_missing"):
            return None
        return datetime.fromisoformat(str(article["published"]).replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        return None


class Metrics:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.k = keys

    def _observe(
        self, pipe: redis.client.Pipeline, spec: HistogramSpec, value: float, label: str | None = None
    ) -> None:
        key = self.k.metrics_histogram(spec.name)
        pipe.hincrby(key, _field(label, bucket_of(value, spec.bounds)), 1)
        pipe.hincrby(key, _field(label, "count"), 1)
        pipe.hincrbyfloat(key, _field(label, "sum"), value)

    def record_poll(
        self,
        outcome: str,
        now: float,
        *,
        articles: int = 0,
        duplicates: int = 0,
        matched: int = 0,
        alerts: Iterable[Alert] = (),
        timings: Mapping[str, float] | None = None,
        fetch_started: float | None = None,
    ) -> None:
        """One poll's numbers, in one round trip: its outcome, articles processed, duplicates
        dropped, alerts by rule (and by hour, for the page), stage timings, the two alert
        latencies, and the poll heartbeat ``/readyz`` reads."""
        alerts = list(alerts)
        pipe = self.r.pipeline(transaction=False)
        counts = self.k.metrics_counts
        pipe.hincrby(counts, f"polls:{outcome}", 1)
        if articles:
            pipe.hincrby(counts, "articles", articles)
        if duplicates:
            pipe.hincrby(counts, "duplicates", duplicates)
        if matched:
            pipe.hincrby(counts, "matched", matched)
        for stage, seconds in (timings or {}).items():
            self._observe(pipe, STAGE_SECONDS, max(0.0, seconds), stage)
        if alerts:
            hour = self.k.metrics_hour(hour_of(now))
            for alert in alerts:
                pipe.hincrby(counts, f"alerts:{alert.rule}", 1)
                pipe.hincrby(hour, alert.rule, 1)
                published = _published_at(alert.payload)
                if published is not None:
                    self._observe(pipe, PUBLISH_TO_ALERT, max(0.0, now - published))
                if fetch_started is not None:
                    self._observe(pipe, FETCH_TO_ALERT, max(0.0, now - fetch_started))
            pipe.expire(hour, HOUR_TTL)
        pipe.set(self.k.heartbeat("poll"), repr(now), ex=HEARTBEAT_TTL)
        self._send(pipe, "poll")

    def record_report(self, report: PollReport | None, now: float) -> None:
        """``record_poll`` from a PollReport (the poll task's one call); None (the feed was
        removed since it was claimed) only beats the heartbeat: a worker did consume."""
        if report is None:
            pipe = self.r.pipeline(transaction=False)
            pipe.set(self.k.heartbeat("poll"), repr(now), ex=HEARTBEAT_TTL)
            self._send(pipe, "poll")
            return
        self.record_poll(
            report.outcome,
            now,
            articles=report.new,
            duplicates=report.duplicates,
            matched=report.matched,
            alerts=report.published,
            timings={k: v for k, v in report.timings.items() if v > 0},
            fetch_started=report.fetched_at or None,
        )

    def record_tick(self, claimed: int, now: float) -> None:
        """A tick ran: beat sent it and a worker consumed it (``/readyz``'s beat rule)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hincrby(self.k.metrics_counts, "ticks", 1)
        if claimed:
            pipe.hincrby(self.k.metrics_counts, "claimed", claimed)
        pipe.set(self.k.heartbeat("tick"), repr(now), ex=HEARTBEAT_TTL)
        self._send(pipe, "tick")

    @staticmethod
    def _send(pipe: redis.client.Pipeline, what: str) -> None:
        try:
            pipe.execute()
        except redis.RedisError as e:
            event("metrics.failed", logging.WARNING, what=what, error=f"{type(e).__name__}: {e}")
