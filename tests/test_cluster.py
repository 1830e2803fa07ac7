"""The data side on a real Redis Cluster (issue 7): three redis-server nodes started by the test,
``MARSAD_REDIS_CLUSTER=true``, and the whole data path on them — layout, schedule, polls with an
alert and a story.updated event, ``marsad once``, ``marsad tail --group``, ``marsad replay``,
dead letters. The slot groups (keys.py) put each script's keys on one node; the cluster
client routes each call there."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from tests.conftest import valid_alert, valid_story_updated
from tests.feeds import SEED, SEED_TITLE, item, rss, seed_item
from tests.feedserver import FeedServer
from worker.adapters.dead import DeadLetters
from worker.adapters.keys import Keys
from worker.adapters.layout import ensure_layout
from worker.adapters.redisconn import connect
from worker.adapters.state import State
from worker.config import Settings
from worker.core.match import Rule
from worker.models import Source
from worker.poll import Runtime, poll_feed

ROOT = Path(__file__).resolve().parent.parent
RULES = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-node Redis Cluster (no replicas); yields the URL of one node."""
    ports = _free_ports(6)
    nodes, buses = ports[:3], ports[3:]
    procs = []
    for port, bus in zip(nodes, buses, strict=True):
        work = tmp_path_factory.mktemp(f"node{port}")
        conf = ["--cluster-enabled", "yes", "--cluster-port", str(bus)]
        conf += ["--cluster-config-file", str(work / "nodes.conf")]
        procs.append(
            subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work), "--save", "", *conf],
                stdout=subprocess.DEVNULL,
            )
        )
    for port in nodes:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "a cluster node did not start"
                time.sleep(0.05)
    create = ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in nodes)]
    subprocess.run([*create, "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True)
    url = f"redis://127.0.0.1:{nodes[0]}/0"
    deadline = time.monotonic() + 20
    while any(redis.Redis(port=p).cluster("info")["cluster_state"] != "ok" for p in nodes):
        assert time.monotonic() < deadline, "the cluster never became ok"
        time.sleep(0.1)
    yield url
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def settings_on(cluster: str) -> Settings:
    # A fixed prefix (the cluster is the module's own): its slot groups land on all three nodes
    # of `redis-cli --cluster create`'s even split, so the spread is checked deterministically.
    prefix = "cl-b:"
    # host_interval=0: the fixture server stands for several outlets (politeness has its own tests)
    return Settings(
        redis_url=cluster, redis_cluster=True, key_prefix=prefix, allow_private_networks=True, host_interval=0
    )


def test_the_data_path_runs_on_a_three_node_cluster(settings_on: Settings, feed_server: FeedServer) -> None:
    keys = Keys(settings_on.key_prefix)
    client = connect(settings_on)
    assert isinstance(client, RedisCluster)
    masters = {n.name for n in client.get_primaries()}
    assert len(masters) == 3
    # the groups really are spread: the alert stream and the schedule live on different nodes
    assert {client.get_node_from_key(k).name for k in (keys.stream, keys.due, keys.story_url("a"), keys.dead)} != {
        client.get_node_from_key(keys.stream).name
    }

    assert ensure_layout(client, keys) == 2
    wire = feed_server.route("/wire.xml", rss(seed_item("https://news.example.com/pk/review")))
    later = SEED + "\n\nتحديث: وصل الوفد إلى إسلام آباد صباح اليوم."
    other = feed_server.route("/other.xml", rss(item(SEED_TITLE, "https://other.example.org/p/1", later)))
    state = State(client, keys)
    state.sync_sources([Source("wire", wire), Source("other", other)], time.time())
    assert sorted(state.claim_due(time.time(), 60, 10)) == ["other", "wire"]

    rt = Runtime.build(settings_on, RULES)
    try:
        assert len(poll_feed(rt, Source("wire", wire)).published) == 1
        assert poll_feed(rt, Source("other", other)).published == []
        assert poll_feed(rt, Source("wire", wire)).published == []  # 304: nothing twice
    finally:
        rt.close()
    [(entry_id, fields)] = client.xrange(keys.stream)
    alert = valid_alert(fields["alert"])
    [(_, event)] = client.xrange(keys.story_updates)
    assert valid_story_updated(event["event"])["alerts"] == [alert["id"]]
    assert state.feed_state("wire").last_status == "not_modified"

    dead = DeadLetters(client, keys, 2)
    assert dead.failed("poll", "wire", "wire", "ValueError: x", '"wire"') is None
    letter = dead.failed("poll", "wire", "wire", "ValueError: x", '"wire"')
    assert letter is not None and [d.item for d in dead.list()] == ["wire"]

    env = {**os.environ, "MARSAD_REDIS_URL": settings_on.redis_url, "MARSAD_REDIS_CLUSTER": "true"}
    env["MARSAD_KEY_PREFIX"] = settings_on.key_prefix
    cmd = [sys.executable, "-m", "worker.cli", "replay", "--since", "1h"]
    replay = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert replay.returncode == 0, replay.stderr
    assert [json.loads(line)["stream_id"] for line in replay.stdout.splitlines()] == [entry_id]
    tail = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "tail", "--group", "g", "--from-start", "--consumer", "c"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stdout is not None
        assert valid_alert(tail.stdout.readline())["stream_id"] == entry_id
    finally:
        tail.terminate()
        tail.wait(10)
    for key in client.scan_iter(match=settings_on.key_prefix + "*"):
        client.delete(key)
    client.close()


def test_once_on_the_cluster(settings_on: Settings, feed_server: FeedServer, tmp_path: Path) -> None:
    settings_on = settings_on.model_copy(update={"key_prefix": "clusteronce:"})
    sources = tmp_path / "sources.yaml"
    link = feed_server.route("/once.xml", rss(seed_item("https://news.example.com/once-cluster")))
    sources.write_text(f"- id: seed\n  url: {link}\n", encoding="utf-8")
    env = {**os.environ, "MARSAD_REDIS_URL": settings_on.redis_url, "MARSAD_REDIS_CLUSTER": "true"}
    env |= {"MARSAD_KEY_PREFIX": settings_on.key_prefix, "MARSAD_ALLOW_PRIVATE_NETWORKS": "true"}
    cmd = [sys.executable, "-m", "worker.cli", "once", "--sources", str(sources)]
    cmd += ["--rules", str(ROOT / "config" / "rules.yaml")]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [valid_alert(line)["rule"] for line in done.stdout.splitlines()] == ["iran-pakistan"]
    client = connect(settings_on)
    assert client.xlen(Keys(settings_on.key_prefix).stream) == 1
    for key in client.scan_iter(match=settings_on.key_prefix + "*"):
        client.delete(key)
    client.close()
