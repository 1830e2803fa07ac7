"""A batch of feeds polled on the thread pool (worker/batch.py), on real Redis and a real local
HTTP server: every feed polled once, each report handed on, and a feed our Redis failed on
returned alone for the retry (the rest of the batch is not polled twice)."""

from __future__ import annotations

import json

import pytest

import worker.batch
from tests.feeds import item, rss, seed_item
from tests.feedserver import FeedServer
from worker.batch import poll_batch
from worker.config import Settings
from worker.core.match import Rule
from worker.errors import InfrastructureError
from worker.models import Source
from worker.poll import PollReport, Runtime

RULES = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]


@pytest.fixture
def rt(settings: Settings) -> Runtime:
    runtime = Runtime.build(settings, RULES)
    yield runtime
    runtime.close()


def _sources(rt: Runtime, feed_server: FeedServer, n: int) -> list[str]:
    sources = [Source("seed", feed_server.route("/seed.xml", rss(seed_item("https://news.example.com/a/1"))))]
    for i in range(1, n):
        body = rss(item(f"خبر رقم {i} عن الطقس", f"https://news.example.com/w/{i}", "أمطار غزيرة على الساحل"))
        sources.append(Source(f"f{i}", feed_server.route(f"/f{i}.xml", body)))
    rt.state.sync_sources(sources, 0.0)
    return [s.id for s in sources]


def test_every_feed_of_a_batch_is_polled_once_on_the_threads(rt: Runtime, feed_server: FeedServer):
    ids = _sources(rt, feed_server, 12)
    reports: list[PollReport | None] = []

    result = poll_batch(rt, [*ids, "removed-since-claimed"], 4, reports.append)

    assert result.retry == [] and result.published == 1  # the seed article, iran-pakistan
    assert sorted(r.feed for r in reports if r) == sorted(ids) and reports.count(None) == 1
    assert all(r.outcome == "ok" for r in reports if r)
    assert sorted(p for p, _ in feed_server.requests) == sorted(["/seed.xml", *(f"/f{i}.xml" for i in range(1, 12))])


def test_a_feed_our_redis_failed_on_is_retried_alone(rt: Runtime, feed_server: FeedServer, monkeypatch):
    ids = _sources(rt, feed_server, 5)
    real = worker.batch.poll_by_id

    def flaky(runtime: Runtime, feed_id: str) -> PollReport | None:
        if feed_id == "f3":
            raise InfrastructureError("redis went away")
        return real(runtime, feed_id)

    monkeypatch.setattr(worker.batch, "poll_by_id", flaky)
    result = poll_batch(rt, ids, 3, lambda _: None)

    assert result.retry == ["f3"] and isinstance(result.error, InfrastructureError)
    assert len(feed_server.requests) == 4  # the other four were polled, once each


def test_the_tick_sees_how_many_poll_messages_wait(rt: Runtime, redis_client, prefix):
    from worker.adapters.keys import Keys

    queue = Keys(prefix).celery_queue("marsad.poll")
    assert rt.state.queued(queue) == 0
    redis_client.rpush(queue, *(json.dumps({"body": i}) for i in range(3)))
    assert rt.state.queued(queue) == 3
