"""Proof under faults (issue 7): real worker and beat processes, a real redis-server of the test's
own, feeds on a local server, and a fault in the middle of the run. Each test ends with the same
check: every expected alert is on the stream exactly once, none missing, nothing unexpected.

What each fault does and why nothing is lost is in docs/operations.md, "Failure behaviour".
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.faultkit import (
    Item,
    all_delivered,
    assert_exactly_once,
    delivered,
    expected,
    make_item,
    worker_env,
    write_config,
)
from tests.faultserver import FaultServer
from tests.procs import ROOT, Procs, TcpProxy, wait_for
from worker.adapters.keys import Keys

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

PREFIX = "faults:"
KEYS = Keys(PREFIX)
UNACKED = KEYS.celery_prefix + "unacked"  # kombu's hash of messages taken and not yet acknowledged


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.stop_all()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    s = FaultServer(slow_delay=1.5).start()
    yield s
    s.stop()


def build_feeds(server: FaultServer, n_feeds: int, per_feed: int, first: int = 0) -> tuple[dict[str, str], list[Item]]:
    """``n_feeds`` feeds of ``per_feed`` distinct items each (items first, first+1, ...)."""
    feeds: dict[str, str] = {}
    items: list[Item] = []
    for f in range(n_feeds):
        mine = [make_item(first + f * per_feed + i) for i in range(per_feed)]
        feeds[f"feed{f}"] = server.feed(f"/feed{f}.xml", [it.xml for it in mine])
        items += mine
    return feeds, items


def settle(server: FaultServer, feeds: dict[str, str], rounds: int = 2, timeout: float = 90.0, details=None) -> None:
    """Wait until every feed was requested ``rounds`` more times: any duplicate work still queued or
    being redelivered has had its chance to publish twice before the stream is counted."""
    start = {f: server.hits[f"/{f}.xml"] for f in feeds}
    wait_for(
        lambda: all(server.hits[f"/{f}.xml"] >= start[f] + rounds for f in feeds),
        timeout=timeout,
        what=f"every feed polled {rounds} more times",
        details=details,
    )


def test_sigkill_worker_mid_batch_then_another_takes_over(tmp_path: Path, procs: Procs, server: FaultServer) -> None:
    """A worker (main process, pool and embedded beat) is SIGKILLed while its polls are running:
    its messages stay unacknowledged in Redis. A second worker started afterwards gets them back
    once the visibility timeout has passed, and every alert is published once."""
    r = procs.redis(appendonly=False)
    feeds, items = build_feeds(server, n_feeds=6, per_feed=3)
    for f in feeds:
        server.add_faults(f"/{f}.xml", "slow")  # every first poll takes 1.5 s: the kill finds work in flight
    sources, rules = write_config(tmp_path, feeds)
    # The lease is longer than the visibility timeout: the feeds the killed worker held come back
    # through the redelivered messages, not through a new claim.
    env = worker_env(r.url, PREFIX, sources, rules, MARSAD_POLL_LEASE="10m")
    want = expected(items)
    client = r.client()

    first = procs.marsad_run("first", env)
    wait_for(lambda: sum(server.hits.values()) >= 2, what="two polls in flight", details=procs.logs)
    first.kill()
    taken = set(client.hkeys(UNACKED))
    assert taken, "the killed worker held no unacknowledged message"
    assert set(delivered(client, PREFIX)) != set(want), "the kill came too late: everything was already published"

    procs.marsad_run("second", env)
    wait_for(lambda: all_delivered(client, PREFIX, want), timeout=120, what="every alert", details=procs.logs)
    # The killed worker's messages were put back and run (or dropped as expired), not left behind.
    wait_for(lambda: not taken & set(client.hkeys(UNACKED)), timeout=60, what="redelivery", details=procs.logs)
    settle(server, feeds, details=procs.logs)
    assert_exactly_once(client, PREFIX, want, procs.logs())


def test_redis_restart_with_aof_mid_run(tmp_path: Path, procs: Procs, server: FaultServer) -> None:
    """Redis (broker and data, AOF with fsync at every write) is killed while polls are running and
    started again on the same port and data: the worker reconnects, the polls that failed are run
    again, and what was published before the crash is still there, once."""
    r = procs.redis(appendonly=True, appendfsync="always")
    feeds, items = build_feeds(server, n_feeds=6, per_feed=3)
    for f in feeds:
        server.add_faults(f"/{f}.xml", "slow")
    sources, rules = write_config(tmp_path, feeds)
    env = worker_env(r.url, PREFIX, sources, rules)
    want = expected(items)
    client = r.client()

    procs.marsad_run("worker", env)
    wait_for(lambda: client.xlen(KEYS.stream) >= 1, what="a first alert", details=procs.logs)
    r.kill()
    time.sleep(2)  # down for a while: the worker's connections fail and retry
    r.start()
    assert client.xlen(KEYS.stream) >= 1, "the alerts published before the crash were lost with the AOF on"
    # A feed that was never polled gets its first items: publish one more into every feed.
    late = [make_item(len(items) + i) for i in range(len(feeds))]
    for f, it in zip(feeds, late, strict=True):
        server.publish(f"/{f}.xml", it.xml)
    want += expected(late)
    wait_for(lambda: all_delivered(client, PREFIX, want), timeout=120, what="every alert", details=procs.logs)
    settle(server, feeds, details=procs.logs)
    assert_exactly_once(client, PREFIX, want, procs.logs())


def test_redis_connection_dropped_for_seconds(tmp_path: Path, procs: Procs, server: FaultServer) -> None:
    """Every connection to Redis (broker and data) goes through a proxy; the proxy cuts them all
    (RST) and refuses new ones for four seconds in the middle of the run, while Redis itself keeps
    its data. Tasks that hit the cut fail and are retried; nothing is lost or doubled."""
    r = procs.redis(appendonly=False)
    proxy = TcpProxy(r.port)
    try:
        feeds, items = build_feeds(server, n_feeds=6, per_feed=3)
        for f in feeds:
            server.add_faults(f"/{f}.xml", "slow")
        sources, rules = write_config(tmp_path, feeds)
        env = worker_env(proxy.url, PREFIX, sources, rules)
        want = expected(items)
        client = r.client()  # the test reads Redis directly, not through the proxy

        procs.marsad_run("worker", env)
        wait_for(lambda: sum(server.hits.values()) >= 2, what="two polls in flight", details=procs.logs)
        proxy.cut()
        time.sleep(4)
        proxy.restore()
        late = [make_item(len(items) + i) for i in range(len(feeds))]
        for f, it in zip(feeds, late, strict=True):
            server.publish(f"/{f}.xml", it.xml)
        want += expected(late)
        wait_for(lambda: all_delivered(client, PREFIX, want), timeout=120, what="every alert", details=procs.logs)
        settle(server, feeds, details=procs.logs)
        assert_exactly_once(client, PREFIX, want, procs.logs())
    finally:
        proxy.close()


def test_feed_server_slow_resets_and_garbage(tmp_path: Path, procs: Procs) -> None:
    """Every feed answers its first polls with a fault: a response slower than the read timeout, a
    connection reset, random bytes, an HTML error page, a feed cut in half, a 503. Each is recorded
    as a failure and backed off; the feeds recover, and every item alerts once (the truncated
    feed's first items included, whichever poll first delivered them)."""
    server = FaultServer(slow_delay=3.5).start()  # past the 2 s read timeout
    try:
        r = procs.redis(appendonly=False)
        feeds, items = build_feeds(server, n_feeds=6, per_feed=3)
        kinds = ["slow", "reset", "garbage", "html", "truncated", "error"]
        for i, f in enumerate(feeds):
            # Three faults per feed, a different mix each, so every kind is met on every position.
            server.add_faults(f"/{f}.xml", *(kinds[(i + j) % len(kinds)] for j in range(3)))
        sources, rules = write_config(tmp_path, feeds, interval="1s")
        env = worker_env(r.url, PREFIX, sources, rules, MARSAD_MAX_BACKOFF="2s")
        want = expected(items)
        client = r.client()

        worker = procs.marsad_run("worker", env)
        # New items arrive while the feeds are failing.
        wait_for(lambda: sum(server.hits.values()) >= len(feeds), what="first polls", details=procs.logs)
        late = [make_item(len(items) + i) for i in range(len(feeds))]
        for f, it in zip(feeds, late, strict=True):
            server.publish(f"/{f}.xml", it.xml)
            server.add_faults(f"/{f}.xml", "reset")
        want += expected(late)
        wait_for(lambda: all_delivered(client, PREFIX, want), timeout=120, what="every alert", details=procs.logs)
        settle(server, feeds, details=procs.logs)
        assert_exactly_once(client, PREFIX, want, procs.logs())
        assert all(server.counts[k] >= 1 for k in kinds), server.counts  # every fault was served
        log = worker.output()
        failed = [line for line in log.splitlines() if "event=feed.failed" in line]
        for kind in ('error="timeout:', 'error="connect:', 'error="unparsable:', 'error="HTTP 503"'):
            assert any(kind in line for line in failed), f"no feed.failed with {kind} in the worker's log"
        states = [client.hget(KEYS.feed(f), "state") for f in feeds]
        assert states == ["active"] * len(feeds), states  # every feed recovered
    finally:
        server.stop()


def test_two_workers_and_two_beats(tmp_path: Path, procs: Procs, server: FaultServer) -> None:
    """Two beats send ticks and two workers poll, while items keep arriving, some carried by two
    feeds at once (a story cross-posted): claims are atomic and publishing idempotent, so each
    alert is published once, whichever worker got there first."""
    r = procs.redis(appendonly=False)
    feeds, items = build_feeds(server, n_feeds=6, per_feed=1)
    sources, rules = write_config(tmp_path, feeds, interval="1s")
    env = worker_env(r.url, PREFIX, sources, rules)
    want = expected(items)
    client = r.client()

    beats = [procs.celery_beat(f"beat{i}", env) for i in range(2)]
    workers = [procs.celery_worker(f"worker{i}", env, concurrency=2) for i in range(2)]
    n = len(items)
    for round_ in range(4):
        wait_for(lambda w=+want: all_delivered(client, PREFIX, w), timeout=90, what="alerts so far", details=procs.logs)
        fresh = []
        for i, f in enumerate(feeds):
            it = make_item(n)
            n += 1
            server.publish(f"/{f}.xml", it.xml)
            if round_ % 2 == 1:  # the same article in the next feed as well
                server.publish(f"/{list(feeds)[(i + 1) % len(feeds)]}.xml", it.xml)
            fresh.append(it)
        want += expected(fresh)
    wait_for(lambda: all_delivered(client, PREFIX, want), timeout=90, what="every alert", details=procs.logs)
    settle(server, feeds, details=procs.logs)
    assert_exactly_once(client, PREFIX, want, procs.logs())
    for p in beats:
        assert "Sending due task tick" in p.output(), f"{p.name} sent no tick"
    for p in workers:
        assert "event=feed.polled" in p.output(), f"{p.name} polled nothing"


@pytest.mark.parametrize("group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_lets_running_polls_finish(tmp_path: Path, procs: Procs, group: bool) -> None:
    """SIGTERM to the main process (as ``docker stop`` sends it) while polls run: Celery's warm
    shutdown lets them finish and publish, hands the messages it had not started back to the
    queue, and exits. A worker started afterwards finds them at once, not after the (here: one
    hour) visibility timeout. Nothing lost, nothing twice.

    SIGTERM to the whole process group (a shell's ``kill -- -PGID``; systemd's default
    KillMode=control-group does the same to the cgroup) also reaches the pool processes, which
    Celery lets die at once: the polls they ran are interrupted, rejected back to the queue
    (``task_reject_on_worker_lost``) and run again by the next worker: still nothing lost."""
    server = FaultServer(slow_delay=3.0).start()
    try:
        r = procs.redis(appendonly=False)
        feeds, items = build_feeds(server, n_feeds=6, per_feed=3)
        for f in feeds:
            server.add_faults(f"/{f}.xml", "slow")
        sources, rules = write_config(tmp_path, feeds)
        env = worker_env(r.url, PREFIX, sources, rules, MARSAD_HTTP_READ_TIMEOUT="6s", MARSAD_HTTP_TOTAL_TIMEOUT="8s")
        env["MARSAD_BROKER_VISIBILITY_TIMEOUT"] = "1h"
        want = expected(items)
        client = r.client()

        first = procs.marsad_run("first", env)
        wait_for(lambda: sum(server.hits.values()) >= 2, what="two polls in flight", details=procs.logs)
        running = [f for f in feeds if server.hits[f"/{f}.xml"]]
        first.signal(signal.SIGTERM, group=group)
        first.wait(60)
        out = first.output()
        assert "warm shutdown" in out.lower(), out[-3000:]
        got = set(delivered(client, PREFIX))
        assert set(want) - got, "every poll had finished before SIGTERM: the test proved nothing"
        if not group:
            running_items = [it for it in items if f"feed{it.n // 3}" in running]
            unfinished = set(expected(running_items)) - got
            assert not unfinished, f"polls running at SIGTERM did not finish: {sorted(unfinished)}\n{out}"

        procs.marsad_run("second", env)
        wait_for(lambda: all_delivered(client, PREFIX, want), timeout=60, what="every alert", details=procs.logs)
        settle(server, feeds, details=procs.logs)
        assert_exactly_once(client, PREFIX, want, procs.logs())
    finally:
        server.stop()


class Tail:
    """``marsad tail --group`` as a real process whose stdout is a pipe of one page (4 KiB) that
    the test does not read while it runs: after a few alerts the tail blocks in the middle of
    printing, with the rest of what it read from the group unacknowledged. Killed there, it dies
    between read and ack. Its output is read when it has stopped."""

    def __init__(self, procs: Procs, env: dict[str, str], consumer: str, *extra: str) -> None:
        import fcntl
        import subprocess

        args = [sys.executable, "-m", "worker.cli", "tail", "--group", "g", "--consumer", consumer, "--from-start"]
        self.log = procs.tmp / f"tail-{consumer}-{len(procs.started)}.log"
        self.popen = subprocess.Popen(
            [*args, *extra],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=self.log.open("ab"),
            start_new_session=True,
        )
        assert self.popen.stdout is not None
        fcntl.fcntl(self.popen.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
        self.consumer = consumer

    def kill(self) -> list[str]:
        """SIGKILL; the alert ids it printed completely (a line cut by the kill is not printed)."""
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        return self.printed()

    def printed(self) -> list[str]:
        assert self.popen.stdout is not None
        data = self.popen.stdout.read().decode()
        return [json.loads(line)["id"] for line in data.split("\n")[:-1]]

    def stop(self) -> list[str]:
        """Read what it prints until it has nothing left, then stop it."""
        os.killpg(self.popen.pid, signal.SIGTERM)
        self.popen.wait(10)
        return self.printed()


def _pending(client: redis.Redis, consumer: str | None = None) -> set[str]:
    try:
        rows = client.xpending_range(KEYS.stream, "g", min="-", max="+", count=10_000, consumername=consumer)
    except redis.ResponseError:  # NOGROUP: the tail has not created the group yet
        return set()
    return {str(row["message_id"]) for row in rows}


@pytest.mark.parametrize("takeover", ["restart", "claim"])
def test_group_consumer_killed_between_read_and_ack(
    tmp_path: Path, procs: Procs, server: FaultServer, takeover: str
) -> None:
    """A ``tail --group`` consumer reads alerts from the stream while real workers publish them,
    and is SIGKILLed with entries read but not acknowledged. Restarted under the same name, it
    reads its own pending entries first; or another consumer claims them once idle (XAUTOCLAIM).
    Every alert is printed; only the entries in flight at the kill are printed twice (at least
    once, as documented); in the end every entry is acknowledged and none is pending."""
    r = procs.redis(appendonly=False)
    feeds, items = build_feeds(server, n_feeds=4, per_feed=6)
    sources, rules = write_config(tmp_path, feeds)
    env = worker_env(r.url, PREFIX, sources, rules)
    want = expected(items)
    client = r.client()

    procs.marsad_run("worker", env)
    wait_for(lambda: all_delivered(client, PREFIX, want), timeout=90, what="every alert", details=procs.logs)
    first = Tail(procs, env, "c1")
    try:
        # It read every alert in one batch, and is stuck printing into the full pipe.
        wait_for(lambda: len(_pending(client, "c1")) >= 2, timeout=30, what="entries read and not acked")
        in_flight = _pending(client, "c1")
        printed = first.kill()
    finally:
        if first.popen.poll() is None:
            first.kill()
    assert len(printed) < len(want), "the consumer printed everything before it was killed"

    if takeover == "restart":
        second = Tail(procs, env, "c1")
    else:
        time.sleep(1.5)  # the dead consumer's entries idle past --claim-idle
        second = Tail(procs, env, "c2", "--claim-idle", "1s")
    # This time the test reads as it goes: a thread drains the pipe.
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(second.printed()), daemon=True)
    reader.start()
    stream_ids = [i for i, _ in client.xrange(KEYS.stream)]
    try:
        wait_for(lambda: not _pending(client) and _group_read_all(client), timeout=60, what="every entry acknowledged")
    finally:
        os.killpg(second.popen.pid, signal.SIGTERM)
        second.popen.wait(10)
        reader.join(10)
    alert_of = {i: json.loads(f["alert"])["id"] for i, f in client.xrange(KEYS.stream)}
    seen = Counter(printed + out)
    assert set(seen) == set(alert_of.values()), "an alert was never printed"
    twice = {a for a, n in seen.items() if n > 1}
    assert twice <= {alert_of[i] for i in in_flight}, "an alert acknowledged before the kill was printed again"
    assert len(stream_ids) == len(want)


def _group_read_all(client: redis.Redis) -> bool:
    group = next(g for g in client.xinfo_groups(KEYS.stream) if g["name"] == "g")
    return str(group["last-delivered-id"]) == str(client.xrange(KEYS.stream)[-1][0]) and not group["pending"]
