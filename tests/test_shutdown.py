"""Graceful shutdown (issue 7): SIGTERM to ``marsad run`` (what docker and systemd send) is
Celery's warm shutdown: the running poll finishes, its alert is published, its message is
acknowledged; nothing is lost and nothing is left to redo."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL, valid_alert
from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from tests.test_e2e import Marsad, wait_for
from worker.adapters.keys import Keys

pytestmark = pytest.mark.e2e


def test_sigterm_lets_the_running_poll_finish(
    tmp_path: Path, feed_server: FeedServer, redis_client: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    url = feed_server.route("/slow.xml", rss(seed_item("https://news.example.com/slow")), delay=3.0)
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"- id: slow\n  url: {url}\n  interval: 1h\n", encoding="utf-8")
    env = {
        "MARSAD_REDIS_URL": REDIS_URL,
        "MARSAD_KEY_PREFIX": prefix,
        "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
        "MARSAD_TICK_INTERVAL": "1s",
    }
    marsad = Marsad(sources, env, tmp_path / "marsad.log")
    try:
        wait_for(lambda: feed_server.hits("/slow.xml"), what="the poll to start fetching", timeout=60)
        assert redis_client.xlen(keys.stream) == 0  # the feed answers in 3 s: still fetching
        os.kill(marsad.proc.pid, signal.SIGTERM)  # the main process only, as docker/systemd do
        assert marsad.proc.wait(60) == 0, marsad.output()
    finally:
        marsad.stop()
    output = marsad.output()
    assert "Warm shutdown" in output, output
    [(_, fields)] = redis_client.xrange(keys.stream)  # published by the poll SIGTERM let finish
    assert valid_alert(fields["alert"])["rule"] == "iran-pakistan"
    assert redis_client.hget(keys.feed("slow"), "last_status") == "ok"
    assert redis_client.hlen(keys.celery_unacked) == 0  # acknowledged: nothing to redeliver
    assert len(feed_server.hits("/slow.xml")) == 1
