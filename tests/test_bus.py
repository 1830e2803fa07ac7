"""The stream's consumers (issue 7), as real ``marsad`` processes on the real Redis:
``tail --group`` (ack after print, resume after a crash, claim from a dead consumer, a warning
when retention trimmed unread alerts) and ``replay --since``."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.conftest import REDIS_URL, valid_alert
from worker.adapters.consumer import GroupReader
from worker.adapters.keys import Keys
from worker.adapters.publish import Publisher
from worker.core.alerts import build_alert
from worker.models import Alert, Article, Hit, RuleMatch

ROOT = Path(__file__).resolve().parent.parent


TEXT = "قالت وزارة الخارجية الإيرانية، الخميس، إنها ملتزمة بعلاقات حسن الجوار مع باكستان."


def sid(name: str) -> str:
    """A story id (16 hex digits) per readable name."""
    return hashlib.sha1(name.encode()).hexdigest()[:16]


def _alert(rule: str, story: str) -> Alert:
    """A real alert (built as the worker builds it) of ``rule`` for the story named ``story``."""
    art = Article(sid(story), "src", f"https://news.example.com/{story}", "", TEXT, time.time(), "ar", "0" * 20)
    start = TEXT.index("باكستان")
    return build_alert(art, sid(story), RuleMatch(rule, (Hit("باكستان", "باكستان", "text", start, start + 7),)))


def stories(lines: list[dict]) -> list[str]:
    """The story names of printed alerts, each checked against the contract."""
    names = {sid(n): n for n in "a b c d old fresh mine theirs same one-hour three-hours one-minute".split()}
    return [names[valid_alert(x)["story"]] for x in lines]


def publish(client: redis.Redis, prefix: str, *alerts: Alert) -> None:
    publisher = Publisher(client, Keys(prefix), ttl=600, retention=3600)
    for a in alerts:
        assert publisher.publish_article(a.story, a.story, "{}", [a]) == [a]


class Proc:
    """A ``marsad`` subprocess whose stdout and stderr lines are read by threads."""

    def __init__(self, args: list[str], prefix: str) -> None:
        env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err.append), daemon=True).start()

    @staticmethod
    def _pump(stream: object, sink: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink(line)  # type: ignore[operator]

    def lines(self, n: int, timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            try:
                out.append(json.loads(self.out.get(timeout=max(0.01, deadline - time.monotonic()))))
            except queue.Empty:
                raise AssertionError(f"got {len(out)} of {n} lines; stderr: {''.join(self.err)}") from None
        return out

    def wait_err(self, text: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.err):
            assert time.monotonic() < deadline, f"no {text!r} on stderr: {''.join(self.err)}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@contextmanager
def marsad(prefix: str, *args: str) -> Iterator[Proc]:
    p = Proc(list(args), prefix)
    try:
        yield p
    finally:
        p.stop()


def pending(client: redis.Redis, prefix: str, group: str) -> int:
    return int(client.xpending(Keys(prefix).stream, group)["pending"])


def wait_acked(client: redis.Redis, prefix: str, group: str) -> None:
    """Acknowledging follows printing: wait for it before stopping the reader."""
    deadline = time.monotonic() + 5
    while pending(client, prefix, group):
        assert time.monotonic() < deadline, "never acknowledged"
        time.sleep(0.05)


def test_tail_group_prints_each_alert_with_its_stream_id_and_acks_it(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    with marsad(prefix, "tail", "--group", "g", "--consumer", "c1") as tail:
        tail.wait_err("reading")
        publish(redis_client, prefix, _alert("iran-pakistan", "s1"), _alert("other", "s2"))
        lines = tail.lines(2)
        ids = [i for i, _ in redis_client.xrange(keys.stream)]
        got = [(valid_alert(x)["rule"], x["stream_id"]) for x in lines]
        assert got == [("iran-pakistan", ids[0]), ("other", ids[1])]
        wait_acked(redis_client, prefix, "g")


def test_a_new_group_starts_at_the_next_alert_unless_from_start(redis_client: redis.Redis, prefix: str):
    publish(redis_client, prefix, _alert("r", "old"))
    with marsad(prefix, "tail", "--group", "new", "--consumer", "c") as tail:
        tail.wait_err("(new group)")
        publish(redis_client, prefix, _alert("r", "fresh"))
        assert stories(tail.lines(1)) == ["fresh"]
    with marsad(prefix, "tail", "--group", "all", "--from-start", "--consumer", "c") as tail:
        assert stories(tail.lines(2)) == ["old", "fresh"]


def test_tail_group_resumes_with_what_it_read_but_never_acknowledged(redis_client: redis.Redis, prefix: str):
    """The consumer crashed between read and ack: its pending entries come first on restart."""
    keys = Keys(prefix)
    GroupReader(redis_client, keys.stream, "g", "c1", 60).ensure_group()
    publish(redis_client, prefix, _alert("r", "a"), _alert("r", "b"), _alert("r", "c"))
    # What a crashed `tail --group g --consumer c1` had read: two entries, unacknowledged.
    redis_client.xreadgroup("g", "c1", {keys.stream: ">"}, count=2)
    assert pending(redis_client, prefix, "g") == 2
    with marsad(prefix, "tail", "--group", "g", "--consumer", "c1") as tail:
        assert stories(tail.lines(3)) == ["a", "b", "c"]
        publish(redis_client, prefix, _alert("r", "d"))
        assert stories(tail.lines(1)) == ["d"]
        wait_acked(redis_client, prefix, "g")


def test_tail_group_claims_what_a_dead_consumer_left_pending(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    GroupReader(redis_client, keys.stream, "g", "dead", 60).ensure_group()
    publish(redis_client, prefix, _alert("r", "a"), _alert("r", "b"))
    redis_client.xreadgroup("g", "dead", {keys.stream: ">"}, count=10)  # read, then died
    time.sleep(1.2)
    with marsad(prefix, "tail", "--group", "g", "--consumer", "alive", "--claim-idle", "1s") as tail:
        assert stories(tail.lines(2)) == ["a", "b"]
        wait_acked(redis_client, prefix, "g")


def test_tail_group_does_not_claim_from_a_consumer_still_working(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    GroupReader(redis_client, keys.stream, "g", "busy", 60).ensure_group()
    publish(redis_client, prefix, _alert("r", "a"))
    redis_client.xreadgroup("g", "busy", {keys.stream: ">"}, count=10)
    with marsad(prefix, "tail", "--group", "g", "--consumer", "alive", "--claim-idle", "1h") as tail:
        tail.wait_err("reading")
        publish(redis_client, prefix, _alert("r", "b"))
        assert stories(tail.lines(1)) == ["b"]  # not "a": its reader is not idle long
    consumers = {c["name"]: c["pending"] for c in redis_client.xinfo_consumers(keys.stream, "g")}
    assert consumers["busy"] == 1


def test_tail_group_warns_when_retention_trimmed_alerts_it_never_read(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    GroupReader(redis_client, keys.stream, "g", "c", 60).ensure_group()
    publish(redis_client, prefix, _alert("r", "a"), _alert("r", "b"), _alert("r", "c"))
    # Retention (MINID) passes over the three before the group read them.
    newest = redis_client.xrange(keys.stream)[-1][0]
    redis_client.xtrim(keys.stream, minid=str(int(newest.split("-")[0]) + 1), approximate=False)
    publish(redis_client, prefix, _alert("r", "d"))
    with marsad(prefix, "tail", "--group", "g", "--consumer", "c") as tail:
        assert stories(tail.lines(1)) == ["d"]
        tail.wait_err("warning: 3 alert(s) were trimmed")


def test_no_trim_warning_for_alerts_the_group_had_read(redis_client: redis.Redis, prefix: str):
    keys = Keys(prefix)
    with marsad(prefix, "tail", "--group", "g", "--consumer", "c") as tail:
        tail.wait_err("reading")
        publish(redis_client, prefix, _alert("r", "a"), _alert("r", "b"))
        tail.lines(2)
        wait_acked(redis_client, prefix, "g")
    newest = redis_client.xrange(keys.stream)[-1][0]
    redis_client.xtrim(keys.stream, minid=str(int(newest.split("-")[0]) + 1), approximate=False)
    reader = GroupReader(redis_client, keys.stream, "g", "c", 60)
    assert reader.trimmed_unread() == 0
    publish(redis_client, prefix, _alert("r", "c"))
    assert reader.trimmed_unread() == 0


def _add_at(client: redis.Redis, prefix: str, ms: int, alert: Alert) -> None:
    """An alert published at ``ms`` (the stream id is the publish time)."""
    client.xadd(Keys(prefix).stream, {"alert": alert.payload}, id=f"{ms}-0")


def test_replay_prints_the_alerts_since_a_duration_or_a_date(redis_client: redis.Redis, prefix: str):
    now = int(time.time() * 1000)
    _add_at(redis_client, prefix, now - 3 * 3600_000, _alert("iran-pakistan", "three-hours"))
    _add_at(redis_client, prefix, now - 3600_000, _alert("other", "one-hour"))
    _add_at(redis_client, prefix, now - 60_000, _alert("iran-pakistan", "one-minute"))

    def replay(*args: str) -> list[str]:
        env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}
        done = subprocess.run(
            [sys.executable, "-m", "worker.cli", "replay", *args], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return stories([json.loads(line) for line in done.stdout.splitlines()])

    assert replay("--since", "2h") == ["one-hour", "one-minute"]
    assert replay("--since", "4h") == ["three-hours", "one-hour", "one-minute"]
    assert replay("--since", "4h", "--rule", "iran-pakistan") == ["three-hours", "one-minute"]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now / 1000 - 7200))
    assert replay("--since", since) == ["one-hour", "one-minute"]


def test_replay_rejects_a_bad_since(prefix: str):
    env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "replay", "--since", "yesterday-ish"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--since: 'yesterday-ish' is neither a duration" in done.stderr and "Traceback" not in done.stderr


def test_two_prefixes_share_one_redis_without_seeing_each_other(redis_client: redis.Redis, prefix: str):
    other = f"{prefix}b:"  # under the test's prefix, so the fixture deletes it too
    publish(redis_client, prefix, _alert("r", "mine"))
    publish(redis_client, other, _alert("r", "theirs"))
    assert [json.loads(f["alert"])["story"] for _, f in redis_client.xrange(Keys(prefix).stream)] == [sid("mine")]
    assert [json.loads(f["alert"])["story"] for _, f in redis_client.xrange(Keys(other).stream)] == [sid("theirs")]
    # The same alert id under each prefix: each deployment's guard is its own.
    same = _alert("r", "same")
    publish(redis_client, prefix, same)
    publish(redis_client, other, same)
    with marsad(other, "tail", "--group", "g", "--from-start", "--consumer", "c") as tail:
        assert stories(tail.lines(2)) == ["theirs", "same"]
