"""Per-site politeness through Redis (adapters/politeness.py): the script's rules on the real
Redis, the gate inside the Fetcher (redirect hops and full-text pages included), and the limits
holding across two worker processes at once, measured by the server."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL
from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from worker.adapters.http import Fetcher
from worker.adapters.keys import Keys
from worker.adapters.politeness import HostGate, registered_domain
from worker.adapters.redisconn import connect
from worker.config import Settings
from worker.errors import HostBusy
from worker.models import Source
from worker.poll import Runtime, poll_feed

ROOT = Path(__file__).resolve().parent.parent


def gate(client: redis.Redis, prefix: str, concurrency=2, interval=0.0, lease=30.0, max_wait=0.0, sleeps=None):
    """A gate whose waits are recorded instead of slept when ``sleeps`` is a list: the script's
    answers are then read as values, not measured as time."""
    sleep = sleeps.append if sleeps is not None else time.sleep
    return HostGate(client, Keys(prefix), concurrency, interval, lease, max_wait, sleep=sleep)


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("a.example.com", "example.com"),
        ("b.example.com", "example.com"),
        ("example.org", "example.org"),
        ("News.BBC.co.uk.", "bbc.co.uk"),
        ("feeds.bbci.co.uk", "bbci.co.uk"),
        ("www.alarabiya.net", "alarabiya.net"),
        ("sport.youm7.com", "youm7.com"),
        ("a.b.gov.sa", "b.gov.sa"),
        ("www.xn--igbicxr.xn--wgbh1c", "xn--igbicxr.xn--wgbh1c"),  # www.أخبار.مصر as httpx sends it
        ("someone.blogspot.com", "blogspot.com"),  # ICANN section only: one hosting service
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.3.7", "127.0.3.7"),  # every address its own site (bench/poll.py's 500 hosts)
        ("[::1]", "::1"),
        ("localhost", "localhost"),
    ],
)
def test_registered_domain(host: str, domain: str):
    assert registered_domain(host) == domain


def test_at_most_n_in_flight_per_registered_domain(redis_client, prefix):
    g = gate(redis_client, prefix, concurrency=2)
    first = g.acquire("a.example.com")
    g.acquire("b.example.com")
    with pytest.raises(HostBusy) as busy:
        g.acquire("www.example.com")  # a third request to the same site
    assert busy.value.retry_after > 0
    g.acquire("example.org")  # another site is not held up
    g.release(first)
    g.acquire("www.example.com")  # a slot given back is free again


def test_spacing_defers_and_spreads_the_deferred(redis_client, prefix):
    g = gate(redis_client, prefix, concurrency=10, interval=10.0)
    g.acquire("a.example.com")
    retries = []
    for _ in range(3):
        with pytest.raises(HostBusy) as busy:
            g.acquire("b.example.com")
        retries.append(busy.value.retry_after)
    # the first deferred comes back when the next start is allowed, the others one interval
    # apart after it, instead of all at once
    assert 9 < retries[0] <= 10
    assert [round(b - a) for a, b in itertools.pairwise(retries)] == [10, 10]
    g.acquire("example.net")  # unrelated site: no wait


def test_the_site_state_lives_as_long_as_its_spacing(redis_client, prefix):
    # an interval longer than the slot's lease: the hash must still remember the next start
    g = gate(redis_client, prefix, concurrency=2, interval=60.0, lease=5.0)
    g.release(g.acquire("example.com"))
    assert redis_client.pttl(Keys(prefix).host("example.com")) > 55_000
    with pytest.raises(HostBusy):
        g.acquire("example.com")


def test_a_short_wait_is_reserved_and_slept_not_deferred(redis_client, prefix):
    sleeps: list[float] = []
    g = gate(redis_client, prefix, concurrency=10, interval=10.0, max_wait=25.0, sleeps=sleeps)
    for _ in range(3):
        g.acquire("example.com")
    # three starts reserved 10 s apart: the callers sleep 10 and 20 s (Redis's clock moves a
    # little between the calls), in the order they asked
    assert sleeps[0] == pytest.approx(10, abs=1) and sleeps[1] == pytest.approx(20, abs=1)
    with pytest.raises(HostBusy) as busy:
        g.acquire("example.com")  # the next start is 30 s away: over the 25 s bound
    assert busy.value.retry_after == pytest.approx(30, abs=1)


def test_a_waiter_gets_the_slot_released_within_its_bound(redis_client, prefix):
    holder = gate(redis_client, prefix, concurrency=1)
    lease = holder.acquire("example.com")
    timer = threading.Timer(0.3, holder.release, [lease])
    timer.start()
    try:
        gate(redis_client, prefix, concurrency=1, max_wait=5.0).acquire("example.com")  # polls, no HostBusy
    finally:
        timer.cancel()


_HOLD_AND_DIE = """
import os, sys
from worker.adapters.keys import Keys
from worker.adapters.politeness import HostGate
from worker.adapters.redisconn import connect
from worker.config import Settings
gate = HostGate(connect(Settings(redis_url=sys.argv[1])), Keys(sys.argv[2]), 1, 0.0, 1.5, 0.0)
gate.acquire("feeds.example.com")
print("holding", flush=True)
os.kill(os.getpid(), 9)  # killed mid-fetch: the slot is never released
"""


def test_the_slot_of_a_killed_process_expires_with_its_lease(redis_client, prefix):
    proc = subprocess.run(
        [sys.executable, "-c", _HOLD_AND_DIE, REDIS_URL, prefix],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == -signal.SIGKILL and proc.stdout == "holding\n", proc.stderr
    key = Keys(prefix).host("example.com")
    assert [f for f in redis_client.hkeys(key) if f.startswith("s:")], "the dead process holds the slot"
    with pytest.raises(HostBusy):
        gate(redis_client, prefix, concurrency=1).acquire("example.com")
    # the lease was 1.5 s: a waiter willing to wait 10 s gets the slot once it has run out
    mine = gate(redis_client, prefix, concurrency=1, max_wait=10.0).acquire("www.example.com")
    assert [f for f in redis_client.hkeys(key) if f.startswith("s:")] == [f"s:{mine.token}"]
    assert 0 < redis_client.pttl(key) <= 33_000  # the hash expires when the site goes idle


# --- the gate inside the Fetcher -----------------------------------------------------------


def gated_fetcher(client: redis.Redis, settings: Settings) -> Fetcher:
    return Fetcher(settings, gate=HostGate.from_settings(client, settings))


def hold_all_slots(client: redis.Redis, prefix: str, host: str) -> None:
    g = gate(client, prefix, concurrency=2)
    g.acquire(host)
    g.acquire(host)


def test_a_busy_site_defers_the_fetch_without_a_request(redis_client, settings, feed_server: FeedServer):
    url = feed_server.route("/feed.xml", rss())
    hold_all_slots(redis_client, settings.key_prefix, "127.0.0.1")
    result = gated_fetcher(redis_client, settings).fetch(url)
    assert result.outcome == "deferred" and result.retry_after is not None and result.retry_after > 0
    assert feed_server.hits("/feed.xml") == []


def test_a_fetch_gives_its_slot_back(redis_client, settings, feed_server: FeedServer):
    url = feed_server.route("/feed.xml", rss())
    fetcher = gated_fetcher(redis_client, settings)
    assert fetcher.fetch(url).outcome == "ok"
    fields = redis_client.hgetall(Keys(settings.key_prefix).host("127.0.0.1"))
    assert "next" in fields and not [f for f in fields if f.startswith("s:")]


def test_an_article_page_waits_longer_for_its_turn_than_a_feed(redis_client, settings, feed_server: FeedServer):
    feed = feed_server.route("/feed.xml", rss())
    page = feed_server.route("/article/1.html", "<html><body><p>نص</p></body></html>", content_type="text/html")
    sleeps: list[float] = []  # recorded, not slept: the reserved start is in Redis either way
    g = HostGate(redis_client, Keys(settings.key_prefix), 2, 2.0, 30.0, 0.2, sleep=sleeps.append)
    fetcher = Fetcher(settings.model_copy(update={"host_page_wait": 5.0}), gate=g)
    assert fetcher.fetch(feed).outcome == "ok"
    assert fetcher.fetch(feed).outcome == "deferred"  # a feed: 2 s to its turn is over 0.2 s
    assert fetcher.fetch_page(page).outcome == "ok"  # a page waits its turn (up to 5 s)
    assert sleeps == [pytest.approx(2.0, abs=0.5)]
    assert len(feed_server.hits("/feed.xml")) == 1 and len(feed_server.hits("/article/1.html")) == 1


@pytest.fixture
def server_2() -> Iterator[FeedServer]:
    server = FeedServer().start(host="127.0.0.2")
    yield server
    server.stop()


def test_a_redirect_hop_to_another_site_counts_for_that_site(
    redis_client, settings, feed_server: FeedServer, server_2: FeedServer
):
    target = feed_server.route("/feed.xml", rss())
    start = server_2.route("/old.xml", status=302, location=target)
    hold_all_slots(redis_client, settings.key_prefix, "127.0.0.1")
    result = gated_fetcher(redis_client, settings).fetch(start)
    assert result.outcome == "deferred"
    assert len(server_2.hits("/old.xml")) == 1 and feed_server.hits("/feed.xml") == []
    # the first hop's slot on 127.0.0.2 was given back when the hop was deferred
    fields = redis_client.hgetall(Keys(settings.key_prefix).host("127.0.0.2"))
    assert not [f for f in fields if f.startswith("s:")]


def test_full_text_pages_go_through_the_same_limits(settings: Settings, feed_server: FeedServer):
    """A worker's Runtime gates every fetch: with a 30 s interval and no waiting, the feed is
    fetched and its article page (same site) is deferred, not requested; the entry keeps the
    feed's text."""
    page = feed_server.url("/article/1.html")
    feed_server.route("/article/1.html", "<html><body><p>نص كامل</p></body></html>", content_type="text/html")
    url = feed_server.route("/feed.xml", rss(seed_item(page)))
    polite = settings.model_copy(update={"host_interval": 30.0, "host_max_wait": 0.0, "host_page_wait": 0.0})
    rt = Runtime.build(polite, [])
    try:
        report = poll_feed(rt, Source("f", url, full_text=True))
    finally:
        rt.close()
    assert report.outcome == "ok" and report.new == 1
    assert len(feed_server.hits("/feed.xml")) == 1 and feed_server.hits("/article/1.html") == []


# --- two worker processes at once, measured by the server ------------------------------------


@dataclass
class Recorder:
    """A server that records, per request, when it started and how many were in flight then."""

    delay: float
    starts: list[float] = field(default_factory=list)
    peak: int = 0
    inflight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with rec.lock:
                    rec.starts.append(time.monotonic())
                    rec.inflight += 1
                    rec.peak = max(rec.peak, rec.inflight)
                try:
                    time.sleep(rec.delay)
                    body = rss()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                finally:
                    with rec.lock:
                        rec.inflight -= 1

            def log_message(self, *args: object) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def _worker(base: str, paths: list[str], env: dict[str, object], gated: bool, go, out) -> None:
    """One worker process: three threads fetch ``paths`` from one site; a deferred fetch is
    retried after its ``retry_after``, as the poll's rescheduling would."""
    settings = Settings(**env)  # type: ignore[arg-type]
    client = connect(settings)
    fetcher = gated_fetcher(client, settings) if gated else Fetcher(settings)
    todo: queue.Queue[str] = queue.Queue()
    for p in paths:
        todo.put(p)
    outcomes: list[str] = []

    def run() -> None:
        while True:
            try:
                path = todo.get_nowait()
            except queue.Empty:
                return
            while (result := fetcher.fetch(base + path)).outcome == "deferred":
                time.sleep(result.retry_after or 0.1)
            outcomes.append(result.outcome)

    go.wait(30)
    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(outcomes)


def run_two_workers(prefix: str, delay: float, per_worker: int, gated: bool = True, **limits: object) -> Recorder:
    rec = Recorder(delay)
    httpd, base = rec.serve()
    env = {"redis_url": REDIS_URL, "key_prefix": prefix, "allow_private_networks": True, **limits}
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(base, [f"/{w}/{i}.xml" for i in range(per_worker)], env, gated, go, out))
        for w in range(2)
    ]
    try:
        for p in procs:
            p.start()
        time.sleep(0.5)  # both import and connect, then start together
        go.set()
        outcomes = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
    finally:
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
        httpd.shutdown()
        httpd.server_close()
    assert all(o == ["ok"] * per_worker for o in outcomes), outcomes
    assert len(rec.starts) == 2 * per_worker
    return rec


def test_two_processes_never_exceed_the_concurrency_limit(prefix):
    # 6 threads in 2 processes want 6 requests in flight at once; the site gets 2.
    rec = run_two_workers(prefix, delay=0.4, per_worker=6, host_concurrency=2, host_interval=0, host_max_wait=0.5)
    assert rec.peak == 2


def test_two_processes_keep_the_interval_between_request_starts(prefix):
    # Tolerance: the server sees a request a little after its grant (the worker wakes, connects
    # and sends), and that lag differs from one request to the next by a few ms, more on a busy
    # machine; 0.1 s of the 0.3 s interval is far more than that and far less than the interval.
    interval, tolerance = 0.3, 0.1
    rec = run_two_workers(
        prefix, delay=0.0, per_worker=6, host_concurrency=10, host_interval=interval, host_max_wait=0.5
    )
    gaps = [b - a for a, b in itertools.pairwise(rec.starts)]
    assert min(gaps) >= interval - tolerance, gaps


def test_without_the_gate_the_same_workers_overrun_the_site(prefix):
    """The control: the harness above does see a limit being broken."""
    rec = run_two_workers(prefix, delay=0.4, per_worker=6, gated=False)
    gaps = [b - a for a, b in itertools.pairwise(rec.starts)]
    assert rec.peak > 2 and min(gaps) < 0.2


def test_a_wait_cut_short_gives_the_slot_back(redis_client, prefix):
    """The task's time limit can strike while a worker sleeps towards its reserved start."""

    class TimeLimit(Exception):
        pass

    def interrupted(seconds: float) -> None:
        raise TimeLimit

    g = HostGate(redis_client, Keys(prefix), 2, 10.0, 30.0, 25.0, sleep=interrupted)
    g.acquire("example.com")  # the first start needs no sleep
    with pytest.raises(TimeLimit):
        g.acquire("example.com")  # reserved 10 s ahead: interrupted while sleeping
    slots = [f for f in redis_client.hkeys(Keys(prefix).host("example.com")) if f.startswith("s:")]
    assert len(slots) == 1  # only the first request's
