"""Two processes claim from one due set at once, cycle after cycle (issue 6): every feed is
polled exactly once per cycle, counted by the feed server itself. Each process runs the real Lua
claim and the real poll (tests/claimer.py), as two workers' ticks and polls would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL
from tests.feeds import item, rss
from tests.feedserver import FeedServer
from worker.adapters.keys import Keys
from worker.adapters.state import State
from worker.models import Source

ROOT = Path(__file__).resolve().parent.parent
FEEDS = 150
CYCLES = 3
pytestmark = pytest.mark.e2e


def test_two_processes_never_poll_a_feed_twice_in_a_cycle(
    tmp_path: Path, feed_server: FeedServer, redis_client: redis.Redis, prefix: str
):
    keys = Keys(prefix)
    state = State(redis_client, keys)
    paths = [f"/f{i}.xml" for i in range(FEEDS)]
    sources = [
        Source(f"f{i}", feed_server.route(p, rss(item(f"خبر {i}", f"https://news.example.com/{i}", f"نص الخبر {i}"))))
        for i, p in enumerate(paths)
    ]
    state.sync_sources(sources, now=time.time() + 3600)  # nothing due until a cycle starts
    stop = tmp_path / "stop"
    env = {
        **os.environ,
        "MARSAD_REDIS_URL": REDIS_URL,
        "MARSAD_KEY_PREFIX": prefix,
        "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
        "MARSAD_POLL_LEASE": "10m",  # a lease cannot expire within the test: a second poll would be a double claim
        # the fixture server stands for 150 outlets, each its own site in production: no politeness
        # interval (two sequential pollers stay within its 2 requests in flight)
        "MARSAD_HOST_INTERVAL": "0",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.claimer", str(stop), "3"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for cycle in range(1, CYCLES + 1):
            start = time.time()
            # every feed due at once, as after a restart or when intervals line up
            redis_client.zadd(keys.due, {s.id: start for s in sources})
            deadline = time.monotonic() + 90
            while True:
                polled = [state.feed_state(s.id).last_polled or 0 for s in sources]
                if all(p >= start for p in polled):
                    break
                assert time.monotonic() < deadline, f"cycle {cycle}: {sum(p < start for p in polled)} feeds not polled"
                time.sleep(0.1)
            hits = Counter(path for path, _ in feed_server.requests)
            assert {p: hits[p] for p in paths} == dict.fromkeys(paths, cycle), f"cycle {cycle}"
    finally:
        stop.touch()
        outputs = [p.communicate(timeout=30)[0] for p in procs]
    counts = [json.loads(out.strip().splitlines()[-1])["polled"] for out in outputs]
    assert sum(counts) == FEEDS * CYCLES
    assert all(c > 0 for c in counts), counts  # both processes really claimed: they raced
