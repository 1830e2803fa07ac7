"""The dead-letter stream (issue 7): an article or a poll that fails processing is retried, and
after MARSAD_DEAD_AFTER failures goes to ``<p>dead`` with its error; ``marsad dead list`` shows
it and ``marsad dead requeue`` sends it back to a real worker.

The failures are injected by replacing one function of the poll for one input (a bug on that
input); everything else — Redis, the feed server, the worker — is real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

import worker.poll
from tests.conftest import REDIS_URL, valid_alert
from tests.feeds import SEED, SEED_TITLE, item, rss, seed_item
from tests.feedserver import FeedServer
from tests.test_e2e import Marsad, wait_for
from worker.adapters.keys import Keys
from worker.config import Settings
from worker.core.match import Rule
from worker.models import Source
from worker.poll import Runtime, poll_feed

ROOT = Path(__file__).resolve().parent.parent
RULES = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]
POISON_TITLE = "باكستان وإيران: مقال يكسر المعالج"
POISON_TEXT = "قالت مصادر إن وفدا من باكستان زار إيران لبحث أمن الحدود، في خبر لا يشبه غيره."


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.build(settings.model_copy(update={"dead_after": 2}), RULES)
    yield runtime
    runtime.close()


@pytest.fixture
def poison(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug that only this article's text triggers, in matching."""
    real = worker.poll.alerts_for

    def alerts_for(article, *args, **kwargs):  # type: ignore[no-untyped-def]
        if article.title == POISON_TITLE:
            raise RuntimeError("the matcher broke on this text")
        return real(article, *args, **kwargs)

    monkeypatch.setattr(worker.poll, "alerts_for", alerts_for)


def feed_with_poison(feed_server: FeedServer) -> str:
    bad = item(POISON_TITLE, "https://news.example.com/bad", POISON_TEXT)
    return feed_server.route("/mixed.xml", rss(seed_item("https://news.example.com/good"), bad))


def dead(client: redis.Redis, prefix: str) -> list[dict[str, str]]:
    return [fields for _, fields in client.xrange(Keys(prefix).dead)]


def test_a_failing_article_is_retried_then_dead_lettered_while_the_feed_goes_on(
    rt: Runtime, feed_server: FeedServer, redis_client: redis.Redis, prefix: str, poison: None
) -> None:
    keys = Keys(prefix)
    source = Source("mixed", feed_with_poison(feed_server))

    first = poll_feed(rt, source)
    assert first.outcome == "ok" and len(first.published) == 1  # the good article alerted
    assert dead(redis_client, prefix) == []
    # not marked seen: the next poll processes it again, even though the feed did not change
    second = poll_feed(rt, source)
    assert second.outcome == "ok" and second.published == []
    [letter] = dead(redis_client, prefix)
    assert (letter["kind"], letter["feed"], letter["attempts"]) == ("article", "mixed", "2")
    assert letter["error"] == "RuntimeError: the matcher broke on this text"
    article = json.loads(letter["payload"])
    assert article["title"] == POISON_TITLE and article["id"] == letter["item"]
    # dead-lettered, so marked seen: it does not come back, nor does a second letter
    poll_feed(rt, source)
    assert len(dead(redis_client, prefix)) == 1 and redis_client.xlen(keys.stream) == 1
    assert [valid_alert(f["alert"])["rule"] for _, f in redis_client.xrange(keys.stream)] == ["iran-pakistan"]


def test_a_failing_poll_is_dead_lettered_after_the_set_number_of_failures(
    rt: Runtime, feed_server: FeedServer, redis_client: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("the feed's processing broke")

    monkeypatch.setattr(worker.poll, "_process", broken)
    source = Source("wire", feed_server.route("/wire.xml", rss(seed_item("https://news.example.com/w"))))
    assert poll_feed(rt, source).failed and dead(redis_client, prefix) == []
    assert poll_feed(rt, source).failed
    [letter] = dead(redis_client, prefix)
    assert (letter["kind"], letter["item"], json.loads(letter["payload"])) == ("poll", "wire", "wire")
    assert "ValueError: the feed's processing broke" in letter["error"]


def _cli(prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def worker_run(tmp_path: Path, prefix: str) -> Iterator[Callable[[Path], Marsad]]:
    started: list[Marsad] = []

    def start(sources: Path) -> Marsad:
        env = {
            "MARSAD_REDIS_URL": REDIS_URL,
            "MARSAD_KEY_PREFIX": prefix,
            "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
            "MARSAD_TICK_INTERVAL": "1s",
        }
        m = Marsad(sources, env, tmp_path / "marsad.log")
        started.append(m)
        return m

    yield start
    for m in started:
        m.stop()


@pytest.mark.e2e
def test_dead_list_and_requeue_through_a_real_worker(
    rt: Runtime,
    feed_server: FeedServer,
    redis_client: redis.Redis,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    worker_run: Callable[[Path], Marsad],
) -> None:
    keys = Keys(prefix)
    # An article that failed twice (the bug was in this process), and a feed whose poll did.
    with monkeypatch.context() as m:
        real = worker.poll.alerts_for

        def alerts_for(article, *args, **kwargs):  # type: ignore[no-untyped-def]
            if article.title == POISON_TITLE:
                raise RuntimeError("the matcher broke on this text")
            return real(article, *args, **kwargs)

        m.setattr(worker.poll, "alerts_for", alerts_for)
        source = Source("mixed", feed_with_poison(feed_server))
        poll_feed(rt, source)
        poll_feed(rt, source)
        m.setattr(worker.poll, "_process", lambda *a, **k: 1 / 0)
        wire = Source("wire", feed_server.route("/wire.xml", rss(item(SEED_TITLE, "https://w.example.org/1", SEED))))
        poll_feed(rt, wire)
        poll_feed(rt, wire)
    assert redis_client.xlen(keys.stream) == 1

    listed = _cli(prefix, "dead", "list")
    assert listed.returncode == 0, listed.stderr
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(x["kind"], x["item"]) for x in letters] == [("article", letters[0]["item"]), ("poll", "wire")]
    assert letters[0]["payload"]["title"] == POISON_TITLE and letters[1]["error"].startswith("ZeroDivisionError")

    # A real worker (and beat) with the fixed code; the wire feed is one of its sources, polled
    # once at start and then not for an hour: a second poll can only be the requeued one.
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"- id: wire\n  url: {wire.url}\n  interval: 1h\n", encoding="utf-8")
    marsad = worker_run(sources)

    def last_polled() -> str | None:
        return redis_client.hget(keys.feed("wire"), "last_polled") or None

    try:
        wait_for(last_polled, what="the start's poll of the wire feed", timeout=60)
    except AssertionError:
        raise AssertionError(marsad.output()) from None
    started = last_polled()
    requeued = _cli(prefix, "dead", "requeue", letters[0]["id"], letters[1]["id"])
    assert requeued.returncode == 0, requeued.stderr
    assert redis_client.xlen(keys.dead) == 0

    def titles() -> set[str]:
        return {valid_alert(f["alert"])["article"]["title"] for _, f in redis_client.xrange(keys.stream)}

    try:
        wait_for(lambda: POISON_TITLE in titles(), what="the requeued article's alert", timeout=60)
        wait_for(lambda: last_polled() != started, what="the requeued poll", timeout=30)
    except AssertionError:
        raise AssertionError(marsad.output()) from None
    assert redis_client.xlen(keys.stream) == 2  # the requeued article's alert, once
    assert redis_client.xlen(keys.dead) == 0


def test_requeue_of_an_unknown_id_is_bad_input(prefix: str) -> None:
    done = _cli(prefix, "dead", "requeue", "12345-0")
    assert done.returncode == 2 and "no dead letter 12345-0" in done.stderr and "Traceback" not in done.stderr
