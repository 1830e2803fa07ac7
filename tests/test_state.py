"""The Redis adapters on the real server: claiming, source sync, triage, publish-if-new, and the
story.updated event of a later article of an alerted story (stories themselves: test_stories.py)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import redis

from worker.adapters.keys import Keys
from worker.adapters.publish import Publisher
from worker.adapters.state import State
from worker.core.alerts import alert_id
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


def test_triage_drops_seen_and_separates_copies_of_known_texts(redis_client: redis.Redis, prefix: str):
    state = State(redis_client, Keys(prefix))
    state.mark_seen([article("u1", "h1")], ttl=60)
    new, copies = state.triage([article("u1", "h1"), article("u1", "h9"), article("u2", "h1"), article("u3", "h3")])
    assert [(a.id, a.text_hash) for a in new] == [("u1", "h9"), ("u3", "h3")]
    assert [(a.id, a.text_hash) for a in copies] == [("u2", "h1")]


def test_publish_is_idempotent_and_atomic(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    publisher = Publisher(redis_client, keys, ttl=60, retention=3600)
    payload = json.dumps({"id": "c" * 40, "rule": "r"})
    alert = Alert("c" * 40, "r", "s", payload)
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.channel, keys.rule_channel("r"))
    pubsub.get_message(timeout=1)
    pubsub.get_message(timeout=1)

    assert publisher.publish_article("s", "article-1", "{}", [alert]) == [alert]
    assert publisher.publish_article("s", "article-1", "{}", [alert]) == []

    entries = redis_client.xrange(keys.stream)
    assert [e[1]["alert"] for e in entries] == [payload]
    # The channels carry the alert with its stream entry id: a subscriber can resume from it.
    live = json.dumps({**json.loads(payload), "stream_id": entries[0][0]}, separators=(",", ":"))
    received = []
    while (msg := pubsub.get_message(timeout=1)) is not None:
        received.append((msg["channel"], json.dumps(json.loads(msg["data"]), separators=(",", ":"))))
    assert sorted(received) == sorted([(keys.channel, live), (keys.rule_channel("r"), live)])
    pubsub.close()


def _alert(rule: str, story: str) -> Alert:
    aid = alert_id(rule, story)
    return Alert(aid, rule, story, json.dumps({"id": aid, "rule": rule, "story": story}))


ARTICLE_JSON = json.dumps({"id": "a2", "url": "https://b.example/2", "title": "عنوان", "source": "b"})


def updates(client: redis.Redis, keys: Keys) -> list[dict]:
    return [json.loads(fields["event"]) for _, fields in client.xrange(keys.story_updates)]


def test_later_article_of_an_alerted_story_is_an_update_not_an_alert(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    publisher = Publisher(redis_client, keys, ttl=60, retention=3600)
    first = [_alert("iran-pakistan", "s1"), _alert("pakistan", "s1")]
    assert publisher.publish_article("s1", "a1", ARTICLE_JSON, first, sources=2) == first
    assert updates(redis_client, keys) == []

    # a later article matches one alerted rule and a rule that first matches now
    later = [_alert("iran-pakistan", "s1"), _alert("islamabad", "s1")]
    assert [a.rule for a in publisher.publish_article("s1", "a2", ARTICLE_JSON, later, sources=3)] == ["islamabad"]
    assert [json.loads(f["alert"])["rule"] for _, f in redis_client.xrange(keys.stream)] == [
        "iran-pakistan",
        "pakistan",
        "islamabad",
    ]
    [event] = updates(redis_client, keys)
    assert event == {
        "schema": 1,
        "type": "story.updated",
        "story": "s1",
        "rules": ["iran-pakistan"],
        "alerts": [alert_id("iran-pakistan", "s1")],
        "sources": 3,
        "article": json.loads(ARTICLE_JSON),
    }


def test_story_update_is_appended_once_per_article(redis_client: redis.Redis, prefix: str):
    """A task that runs twice (or an article seen again) appends no second event."""
    keys = Keys(prefix)
    publisher = Publisher(redis_client, keys, ttl=60, retention=3600)
    alerts = [_alert("iran-pakistan", "s1")]
    publisher.publish_article("s1", "a1", ARTICLE_JSON, alerts)
    for _ in range(3):
        assert publisher.publish_article("s1", "a2", ARTICLE_JSON, alerts) == []
    assert len(updates(redis_client, keys)) == 1


def test_a_retried_first_article_is_not_its_own_update(redis_client: redis.Redis, prefix: str):
    """The first run published the alert; the retry finds the alert there, but must not take it
    for an earlier article's: the (story, article) guard was taken by the first run."""
    keys = Keys(prefix)
    publisher = Publisher(redis_client, keys, ttl=60, retention=3600)
    alerts = [_alert("iran-pakistan", "s1")]
    assert publisher.publish_article("s1", "a1", ARTICLE_JSON, alerts) == alerts
    assert publisher.publish_article("s1", "a1", ARTICLE_JSON, alerts) == []
    assert updates(redis_client, keys) == [] and redis_client.xlen(keys.stream) == 1
