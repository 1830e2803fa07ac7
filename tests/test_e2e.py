"""End to end on real components: the fixture feeds are served over HTTP on 127.0.0.1, ``marsad
run`` starts a real Celery beat and worker on the real Redis, the beat ticks, the worker polls,
and the alert arrives on the stream and on its channel, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL, valid_alert
from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from worker.adapters.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


def wait_for(predicate: Callable[[], object], timeout: float = 45.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Marsad:
    """``marsad run`` as a subprocess in its own process group."""

    def __init__(self, sources: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "run", "--sources", str(sources), "--rules", "config/rules.yaml"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def run_marsad(tmp_path: Path, prefix: str) -> Iterator[Callable[[Path], Marsad]]:
    started: list[Marsad] = []

    def start(sources: Path, **extra: str) -> Marsad:
        env = {
            "MARSAD_REDIS_URL": REDIS_URL,
            "MARSAD_KEY_PREFIX": prefix,
            "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
            "MARSAD_TICK_INTERVAL": "1s",
            # the fixture server stands for several outlets, each its own site in production
            "MARSAD_HOST_INTERVAL": "0",
            **extra,
        }
        m = Marsad(sources, env, tmp_path / f"marsad-{len(started)}.log")
        started.append(m)
        return m

    yield start
    for m in started:
        m.stop()


def write_sources(path: Path, feeds: dict[str, str]) -> Path:
    path.write_text("".join(f"- id: {k}\n  url: {v}\n  interval: 1h\n" for k, v in feeds.items()), encoding="utf-8")
    return path


def polled(client: redis.Redis, prefix: str, feed: str) -> bool:
    return bool(client.hget(Keys(prefix).feed(feed), "last_polled"))


def test_seed_alert_once_on_stream_and_channel(tmp_path, feed_server: FeedServer, redis_client, prefix, run_marsad):
    feeds = {
        "wire": feed_server.route("/wire.xml", rss(seed_item("https://news.example.com/pk/review"))),
        "utm": feed_server.route(
            "/utm.xml", rss(seed_item("https://news.example.com/pk/review?utm_source=rss&utm_campaign=x"))
        ),
        "aggregator": feed_server.route("/agg.xml", rss(seed_item("https://aggregator.example.net/story/4411"))),
    }
    sources = write_sources(tmp_path / "sources.yaml", feeds)
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"{prefix}alerts:iran-pakistan")

    marsad = run_marsad(sources)
    try:
        wait_for(lambda: all(polled(redis_client, prefix, f) for f in feeds), what="all three feeds polled")
    except AssertionError:
        raise AssertionError(marsad.output()) from None

    entries = redis_client.xrange(f"{prefix}alerts")
    assert len(entries) == 1, marsad.output()
    alert = valid_alert(entries[0][1]["alert"])
    assert alert["rule"] == "iran-pakistan"
    assert "[ad_" not in alert["snippet"] and "المصدر" not in alert["snippet"]
    messages = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        msg = pubsub.get_message(timeout=0.5)
        if msg:
            messages.append(valid_alert(msg["data"]))
    assert [(m["id"], m["stream_id"]) for m in messages] == [(alert["id"], entries[0][0])]
    # The beat drove it: the tick was sent by the beat, the test only served feeds and waited.
    assert "Sending due task tick" in marsad.output()
    pubsub.close()


def test_feed_added_after_restart_is_polled_and_removed_one_is_not(
    tmp_path, feed_server, redis_client, prefix, run_marsad
):
    one = feed_server.route("/one.xml", rss())
    two = feed_server.route("/two.xml", rss(seed_item("https://news.example.com/later")))
    sources = write_sources(tmp_path / "sources.yaml", {"one": one})
    first = run_marsad(sources)
    wait_for(lambda: polled(redis_client, prefix, "one"), what="feed one polled")
    first.stop()

    write_sources(sources, {"two": two})  # "one" removed, "two" added; Redis not cleared
    second = run_marsad(sources)
    wait_for(lambda: redis_client.xlen(f"{prefix}alerts") == 1, what="alert from the added feed")
    assert redis_client.zscore(Keys(prefix).due, "one") is None
    assert redis_client.hget(Keys(prefix).sources, "one") is None
    assert "event=sources.synced" in second.output() and "added=1 removed=1" in second.output()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """A redis-server of the test's own, with AOF on, that the test may stop and restart."""
    port = _free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(tmp_path),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        procs.append(proc)
        client = redis.Redis(port=port)
        wait_for(lambda: _pings(client), timeout=10, what="private redis-server")
        return proc

    start.port = port  # type: ignore[attr-defined]
    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_state_redis_down_mid_poll_is_retried_and_nothing_is_lost(
    tmp_path, feed_server, prefix, run_marsad, private_redis
):
    """The broker stays up (the shared Redis); the state Redis dies while a poll is fetching.
    The task fails with InfrastructureError, Celery retries it with backoff, the Redis comes back
    (AOF keeps its data), and the alert is published exactly once."""
    server = private_redis()
    url = feed_server.route("/slow.xml", rss(seed_item("https://news.example.com/retry")), delay=2.0)
    sources = write_sources(tmp_path / "sources.yaml", {"slow": url})
    state_url = f"redis://127.0.0.1:{private_redis.port}/0"
    marsad = run_marsad(sources, MARSAD_REDIS_URL=state_url, MARSAD_BROKER_URL=REDIS_URL)

    wait_for(lambda: feed_server.hits("/slow.xml"), what="the poll to start fetching")
    server.terminate()
    server.wait(10)
    wait_for(lambda: "retry" in marsad.output().lower(), what="the task to be retried", timeout=30)
    private_redis()

    state = redis.Redis.from_url(state_url, decode_responses=True)
    wait_for(lambda: state.xlen(f"{prefix}alerts") >= 1, what="the alert after Redis came back", timeout=60)
    time.sleep(2)  # let any duplicate delivery land before counting
    assert state.xlen(f"{prefix}alerts") == 1, marsad.output()
    assert "InfrastructureError" in marsad.output()
