"""``/readyz`` and ``/metrics`` against a real deployment: ``marsad run`` (Celery beat and worker
processes) and ``marsad web`` (uvicorn) on the real Redis, feeds served on 127.0.0.1. Not ready
before beat and worker run; ready once ticks run; counters moved by the real poll task."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REDIS_URL
from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from tests.test_e2e import Marsad, wait_for, write_sources
from tests.webserver import WebServer
from worker.adapters.keys import Keys

pytestmark = pytest.mark.e2e


def metric(url: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5).text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def test_readyz_turns_true_and_counters_move_with_a_real_deployment(
    tmp_path: Path, feed_server: FeedServer, redis_client: redis.Redis, prefix: str
) -> None:
    env = {
        "MARSAD_REDIS_URL": REDIS_URL,
        "MARSAD_KEY_PREFIX": prefix,
        "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
        "MARSAD_TICK_INTERVAL": "1s",
    }
    web = WebServer(env, tmp_path / "web.log").wait_up()
    marsad: Marsad | None = None
    try:
        r = httpx.get(f"{web.url}/readyz", timeout=5)
        assert r.status_code == 503 and r.json()["ready"] is False

        feed = feed_server.route("/wire.xml", rss(seed_item("https://news.example.com/pk/review")))
        marsad = Marsad(write_sources(tmp_path / "sources.yaml", {"wire": feed}), env, tmp_path / "marsad.log")
        try:
            wait_for(lambda: httpx.get(f"{web.url}/readyz", timeout=5).status_code == 200, what="/readyz 200")
            wait_for(
                lambda: metric(web.url, "marsad_alerts_total", rule="iran-pakistan") == 1, what="the alert counted"
            )
        except AssertionError:
            raise AssertionError(marsad.output() + web.output()) from None
        assert (metric(web.url, "marsad_polls_total", outcome="ok") or 0) >= 1
        assert (metric(web.url, "marsad_ticks_total") or 0) >= 1
        assert metric(web.url, "marsad_feeds", health="active") == 1
        checks = httpx.get(f"{web.url}/readyz", timeout=5).json()["checks"]
        assert [c["name"] for c in checks] == ["redis", "beat", "workers"] and all(c["ok"] for c in checks)

        marsad.stop()  # beat and worker gone: not ready once the last tick is older than the window
        redis_client.set(Keys(prefix).heartbeat("tick"), repr(time.time() - 120))
        assert httpx.get(f"{web.url}/readyz", timeout=5).status_code == 503
    finally:
        if marsad is not None:
            marsad.stop()
        web.stop()
