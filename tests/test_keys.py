"""The key layout (issue 7): the slot groups of keys.py, proved two ways.

1. By name: the keys of each slot group hash to one slot (``redis.crc.key_slot``, the function
   redis-py's cluster client routes with), whatever the prefix.
2. By a real server: a redis-server in cluster mode that owns every slot refuses, as a cluster
   node does, a script or a MULTI whose keys are in different slots (CROSSSLOT; for the keys a
   script builds itself, "Script attempted to access keys that do not hash to the same slot").
   Every multi-key script and transaction of the code runs against it: the schedule (sync,
   claim, save), a poll with an alert and a later article of the story (story script, publish
   script, story.updated script), the rule store, the layout check and the backtest namespace.

And the layout version: a fresh namespace gets it, an incompatible one refuses to start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from tests.conftest import REDIS_URL, valid_alert, valid_story_updated
from tests.feeds import SEED, SEED_TITLE, item, rss, seed_item
from tests.feedserver import FeedServer
from worker.adapters.keys import LAYOUT, Keys
from worker.adapters.layout import ensure_layout, stored_layout
from worker.adapters.rulestore import RuleStore
from worker.adapters.state import State
from worker.adapters.stories import StoryIndex
from worker.backtest import Backtest
from worker.cli_common import InputArticle
from worker.config import Settings
from worker.core.match import Rule
from worker.core.stories import StoryParams
from worker.errors import ConfigError
from worker.models import FeedState, Source
from worker.poll import Runtime, poll_feed

ROOT = Path(__file__).resolve().parent.parent
RULES = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]


def slots(*names: str) -> set[int]:
    return {key_slot(n.encode()) for n in names}


@pytest.mark.parametrize("prefix", ["marsad:", "newsroom-b:", "marsadtest:0123456789:"])
def test_each_slot_group_hashes_to_one_slot(prefix: str) -> None:
    k = Keys(prefix)
    groups = {
        "schedule": [k.due, k.sources, k.feed("bbc-arabic"), k.feed("x")],
        "stories": [
            k.story_url("a" * 16),
            k.story_text("b" * 40),
            k.story_sources("c" * 16),
            k.story_slice(123) + "f",
            k.story_slice(124) + "0",
        ],
        "alerts": [k.stream, k.alert("d" * 40), k.alert("e" * 40)],
        "story-updates": [k.story_updates, k.story_done("s", "a"), k.story_done("t", "b")],
        "dead": [k.dead, k.failures("poll", "bbc"), k.failures("article", "a" * 16)],
    }
    for group, names in groups.items():
        assert len(slots(*names)) == 1, group
        assert slots(*names) == slots(k.tag(group)), group
        assert all(n.startswith(prefix) for n in names)  # `prefix*` still finds every key
    # The public names stay exactly as documented.
    assert (k.stream, k.channel, k.rule_channel("r"), k.story_updates, k.dead) == (
        f"{prefix}alerts",
        f"{prefix}alerts",
        f"{prefix}alerts:r",
        f"{prefix}story-updates",
        f"{prefix}dead",
    )
    # The backtest namespace is a prefix of its own: its story keys form one group too.
    b = k.backtest("run1")
    assert b.prefix.startswith(prefix)
    assert len(slots(b.story_url("a"), b.story_text("b"), b.story_sources("c"), b.story_slice(1) + "0")) == 1


def test_a_prefix_with_braces_is_refused() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        Settings(key_prefix="marsad:{x}:")


@pytest.fixture(scope="module")
def cluster_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server in cluster mode owning all 16384 slots: it enforces Redis Cluster's
    one-slot rule for scripts and transactions, and a plain client needs no redirects."""
    import socket

    ports = []
    for _ in range(2):  # the client port, and the cluster bus port (else port + 10000)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
    port, bus = ports
    work = tmp_path_factory.mktemp("cluster")
    conf = ["--cluster-enabled", "yes", "--cluster-config-file", str(work / "nodes.conf"), "--cluster-port", str(bus)]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work), "--save", "", *conf],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, decode_responses=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "cluster-mode redis-server did not start"
            time.sleep(0.05)
    while client.cluster("info")["cluster_state"] != "ok":
        assert time.monotonic() < deadline, "cluster never became ok"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    proc.terminate()
    proc.wait(10)


def test_the_cluster_node_does_refuse_cross_slot_work(cluster_node: str) -> None:
    """The control: without hash tags, the same kinds of operations fail here."""
    client = redis.Redis.from_url(cluster_node, decode_responses=True)
    pipe = client.pipeline(transaction=True)
    pipe.set("marsad:a", 1)
    pipe.set("marsad:b", 1)
    with pytest.raises(redis.ResponseError, match="same slot"):
        pipe.execute()
    # A script with a shebang (as all of marsad's have: Redis 7) may not reach another slot
    # through a key name it builds itself; one without is let through for compatibility.
    built = "#!lua\nredis.call('SET', KEYS[1], 1) redis.call('SET', ARGV[1], 1)"
    with pytest.raises(redis.ResponseError, match="same slot"):
        client.eval(built, 1, "marsad:due", "marsad:sources")


def test_every_multi_key_operation_runs_on_a_cluster_node(cluster_node: str, feed_server: FeedServer) -> None:
    prefix = "clustertest:"
    settings = Settings(redis_url=cluster_node, key_prefix=prefix, allow_private_networks=True, host_interval=0)
    keys = Keys(prefix)
    client = redis.Redis.from_url(cluster_node, decode_responses=True)

    assert ensure_layout(client, keys) == LAYOUT
    RuleStore(client, keys).store("- id: x\n  query: إيران\n", "rules.yaml")
    state = State(client, keys)
    wire = feed_server.route("/wire.xml", rss(seed_item("https://news.example.com/pk/review")))
    later = SEED + "\n\nتحديث: وصل الوفد إلى إسلام آباد صباح اليوم."
    other = feed_server.route("/other.xml", rss(item(SEED_TITLE, "https://other.example.org/p/1", later)))
    sources = [Source("wire", wire), Source("other", other)]
    state.sync_sources(sources, time.time())
    assert sorted(state.claim_due(time.time(), 60, 10)) == ["other", "wire"]
    # the state script, with a feed-events entry in the same round trip (another slot)
    change = {"type": "feed.state", "feed": "wire", "from": "active", "to": "backing_off"}
    state.save_feed("wire", FeedState(state="backing_off", failures=1, next_due=time.time() + 60), 3600, change)
    state.save_feed("wire", FeedState(state="disabled", soft_failures=30), 3600)  # out of the due set
    assert state.enable("wire", time.time(), 3600) is not None
    assert client.xlen(keys.feed_events) == 2
    assert state.add_source(Source("live", wire), time.time()) and state.remove_source("live")  # marsad sources

    rt = Runtime.build(settings, RULES)
    try:
        assert len(poll_feed(rt, sources[0]).published) == 1  # story + publish scripts
        assert poll_feed(rt, sources[1]).published == []  # a later article: story.updated
    finally:
        rt.close()
    [(_, alert)] = client.xrange(keys.stream)
    valid_alert(alert["alert"])
    [(_, event)] = client.xrange(keys.story_updates)
    assert valid_story_updated(event["event"])["rules"] == ["iran-pakistan"]

    # The backtest's throwaway namespace runs the story script under another prefix.
    index = StoryIndex(client, keys.backtest("t1"), StoryParams(3600, 0.7, 3600))
    backtest = Backtest.start(index)
    assert backtest.assign(InputArticle("x", SEED_TITLE, SEED))["story"] == "x"
    assert backtest.assign(InputArticle("y", SEED_TITLE, later))["story"] == "x"
    client.close()


def test_a_fresh_namespace_gets_the_layout_version(redis_client: redis.Redis, prefix: str) -> None:
    keys = Keys(prefix)
    assert stored_layout(redis_client, keys) is None
    assert ensure_layout(redis_client, keys) == LAYOUT
    assert redis_client.get(keys.layout) == str(LAYOUT)
    assert ensure_layout(redis_client, keys) == LAYOUT  # again: unchanged


def test_a_layout_1_namespace_is_refused(redis_client: redis.Redis, prefix: str) -> None:
    """The foundation wrote ``<p>due`` and ``<p>sources`` untagged, and no version."""
    keys = Keys(prefix)
    redis_client.zadd(keys.layout1_marks[0], {"bbc": 1})
    with pytest.raises(ConfigError) as e:
        ensure_layout(redis_client, keys)
    assert "key layout 1" in str(e.value) and e.value.problems[0].path == "MARSAD_KEY_PREFIX"
    assert redis_client.get(keys.layout) is None  # nothing written over it


def _marsad(args: list[str], prefix: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}
    sources = tmp_path / "sources.yaml"
    sources.write_text("- id: x\n  url: http://127.0.0.1:9/feed.xml\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "worker.cli", *args, "--sources", str(sources)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", ["run", "once"])
def test_a_start_against_another_layout_exits_2_with_one_line(
    redis_client: redis.Redis, prefix: str, tmp_path: Path, command: str
) -> None:
    redis_client.set(Keys(prefix).layout, LAYOUT + 1)
    done = _marsad([command], prefix, tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"MARSAD_KEY_PREFIX: the Redis keys under '{prefix}' use key layout {LAYOUT + 1}" in done.stderr
    assert "Traceback" not in done.stderr
    assert redis_client.get(Keys(prefix).layout) == str(LAYOUT + 1)


@pytest.mark.parametrize("command", ["beat", "worker"])
def test_celery_processes_refuse_another_layout(redis_client: redis.Redis, prefix: str, command: str) -> None:
    """docker-compose starts `celery beat` and `celery worker` directly: they check too."""
    redis_client.set(Keys(prefix).layout, "1")
    env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}
    env["MARSAD_SOURCES_FILE"] = "config/sources.yaml"
    cmd = [sys.executable, "-m", "celery", "-A", "worker.celery_app:app", command, "--loglevel=WARNING"]
    if command == "worker":
        cmd += ["--pool=solo", "--without-gossip", "--without-mingle"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "use key layout 1, this marsad uses layout" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_visibility_timeout_is_above_the_longest_task() -> None:
    """Derived, not a constant: shorter limits give a shorter redelivery (the fault tests), and
    a task never outlives it (it would run twice at once)."""
    from worker.config import RETRY_BACKOFF_MAX

    for limit in (10.0, 150.0, 3600.0):
        s = Settings(task_soft_time_limit=limit - 5, task_time_limit=limit)
        assert s.visibility_timeout > 2 * limit + RETRY_BACKOFF_MAX
    short, default = Settings(task_soft_time_limit=5, task_time_limit=10), Settings()
    assert short.visibility_timeout < default.visibility_timeout


def test_the_celery_app_uses_the_derived_visibility_timeout(prefix: str) -> None:
    env = {**os.environ, "MARSAD_KEY_PREFIX": prefix, "MARSAD_TASK_SOFT_TIME_LIMIT": "8s"}
    env["MARSAD_TASK_TIME_LIMIT"] = "10s"
    code = (
        "from worker.celery_app import app; import json; c = app.conf; "
        "print(json.dumps([c.broker_transport_options['visibility_timeout'], c.task_acks_late, "
        "c.task_reject_on_worker_lost]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert json.loads(done.stdout.splitlines()[-1]) == [2 * 10 + 60 + 60, True, True], done.stderr
