"""The Redis adapters on the real server: claiming, source sync, stories, publish-if-new."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import redis

from worker.adapters.keys import Keys
from worker.adapters.publish import Publisher
from worker.adapters.state import State
from worker.models import Alert, Article, Source


def article(url_id: str, text_hash: str) -> Article:
    return Article(url_id, "src", f"https://example.org/{url_id}", "t", "x", 0.0, "ar", text_hash)


def test_concurrent_ticks_never_claim_a_feed_twice(redis_client: redis.Redis, prefix: str):
    state = State(redis_client, Keys(prefix))
    state.sync_sources([Source(f"f{i}", f"https://example.org/{i}") for i in range(300)], now=100)

    def claim(_: int) -> list[str]:
        return state.claim_due(now=200, lease=300, limit=25)

    with ThreadPoolExecutor(8) as pool:
        claims = [feed for batch in pool.map(claim, range(16)) for feed in batch]

    assert len(claims) == 300 and len(set(claims)) == 300
    assert state.claim_due(now=200, lease=300, limit=500) == []  # all leased
    assert len(state.claim_due(now=501, lease=300, limit=500)) == 300  # lease expired: back


def test_sync_keeps_schedule_adds_and_removes(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    state = State(redis_client, keys)
    state.sync_sources([Source("a", "https://a.example/rss"), Source("b", "https://b.example/rss")], now=10)
    redis_client.zadd(keys.due, {"a": 999})
    added, removed = state.sync_sources([Source("a", "https://a.example/new"), Source("c", "https://c.example")], 50)
    assert (added, removed) == (["c"], ["b"])
    assert redis_client.zscore(keys.due, "a") == 999  # kept its schedule
    assert redis_client.zscore(keys.due, "c") == 50
    assert redis_client.zscore(keys.due, "b") is None
    assert state.source("a") == Source("a", "https://a.example/new")


def test_story_is_shared_by_url_and_by_text(redis_client: redis.Redis, prefix: str):
    state = State(redis_client, Keys(prefix))
    first = state.story(article("u1", "h1"), ttl=60)
    assert first == "u1"
    assert state.story(article("u2", "h1"), ttl=60) == "u1"  # same text, other URL
    assert state.story(article("u1", "h2"), ttl=60) == "u1"  # same URL, text changed
    assert state.story(article("u3", "h3"), ttl=60) == "u3"


def test_triage_drops_seen_and_separates_copies_of_known_texts(redis_client: redis.Redis, prefix: str):
    state = State(redis_client, Keys(prefix))
    state.mark_seen([article("u1", "h1")], ttl=60)
    new, copies = state.triage([article("u1", "h1"), article("u1", "h9"), article("u2", "h1"), article("u3", "h3")])
    assert [(a.id, a.text_hash) for a in new] == [("u1", "h9"), ("u3", "h3")]
    assert [(a.id, a.text_hash) for a in copies] == [("u2", "h1")]


def test_publish_is_idempotent_and_atomic(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    publisher = Publisher(redis_client, keys, ttl=60, maxlen=1000)
    payload = json.dumps({"id": "c" * 40, "rule": "r"})
    alert = Alert("c" * 40, "r", "s", payload)
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.channel, keys.rule_channel("r"))
    pubsub.get_message(timeout=1)
    pubsub.get_message(timeout=1)

    assert publisher.publish(alert) is True
    assert publisher.publish(alert) is False

    entries = redis_client.xrange(keys.stream)
    assert [e[1]["alert"] for e in entries] == [payload]
    received = []
    while (msg := pubsub.get_message(timeout=1)) is not None:
        received.append((msg["channel"], msg["data"]))
    assert sorted(received) == sorted([(keys.channel, payload), (keys.rule_channel("r"), payload)])
    pubsub.close()
