"""Issue 5 end to end: one story published by three outlets and re-posted by an aggregator gives
one alert per matching rule, and a story.updated event for each later article — through
``marsad once`` and through a real worker (``marsad run``: beat, worker, Redis broker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL, valid_alert, valid_story_updated
from tests.feedserver import FeedServer
from tests.test_cli import marsad
from tests.test_e2e import polled, wait_for
from tests.test_poll import three_outlets_and_an_aggregator

ROOT = Path(__file__).resolve().parent.parent
RULES = (
    "- id: iran-pakistan\n  query: إيران AND باكستان\n- id: pakistan-security\n  query: '\"الأمن القومي\" باكستان'\n"
)
pytestmark = pytest.mark.e2e


def write_config(tmp_path: Path, server: FeedServer) -> tuple[Path, Path, list[str]]:
    feeds = three_outlets_and_an_aggregator(server)
    sources = tmp_path / "sources.yaml"
    sources.write_text("".join(f"- id: {s.id}\n  url: {s.url}\n  interval: 1h\n" for s in feeds), encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    return sources, rules, [s.id for s in feeds]


def check_one_story(client: redis.Redis, prefix: str) -> None:
    alerts = [valid_alert(f["alert"]) for _, f in client.xrange(f"{prefix}alerts")]
    events = [valid_story_updated(f["event"]) for _, f in client.xrange(f"{prefix}story-updates")]
    assert sorted(a["rule"] for a in alerts) == ["iran-pakistan", "pakistan-security"]
    story = alerts[0]["story"]
    assert {a["story"] for a in alerts} == {story}
    # the first article polled alerted (a worker polls the feeds in any order); the others updated
    first = alerts[0]["article"]["source"]
    assert {a["article"]["source"] for a in alerts} == {first}
    assert sorted([first, *(e["article"]["source"] for e in events)]) == ["aggregator", "daily", "weekly", "wire"]
    assert {e["story"] for e in events} == {story}
    assert all(sorted(e["rules"]) == ["iran-pakistan", "pakistan-security"] for e in events)
    assert max(e["sources"] for e in events) == 4


def test_marsad_once(tmp_path: Path, feed_server: FeedServer, prefix: str, redis_client: redis.Redis) -> None:
    sources, rules, _ = write_config(tmp_path, feed_server)
    env = {"MARSAD_KEY_PREFIX": prefix, "MARSAD_ALLOW_PRIVATE_NETWORKS": "true"}

    first = marsad("once", "--sources", str(sources), "--rules", str(rules), env=env)

    assert first.returncode == 0, first.stderr
    printed = [valid_alert(line) for line in first.stdout.splitlines()]
    assert sorted(a["rule"] for a in printed) == ["iran-pakistan", "pakistan-security"]
    check_one_story(redis_client, prefix)
    again = marsad("once", "--sources", str(sources), "--rules", str(rules), env=env)
    assert again.returncode == 0 and again.stdout == ""
    check_one_story(redis_client, prefix)


@pytest.fixture
def run_marsad(tmp_path: Path, prefix: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def test_real_worker(
    tmp_path: Path,
    feed_server: FeedServer,
    prefix: str,
    redis_client: redis.Redis,
    run_marsad: list[subprocess.Popen[bytes]],
) -> None:
    sources, rules, feeds = write_config(tmp_path, feed_server)
    log = tmp_path / "marsad.log"
    env = {
        **os.environ,
        "MARSAD_REDIS_URL": REDIS_URL,
        "MARSAD_KEY_PREFIX": prefix,
        "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
        "MARSAD_TICK_INTERVAL": "1s",
        # the fixture server stands for several outlets, each its own site in production
        "MARSAD_HOST_INTERVAL": "0",
    }
    run_marsad.append(
        subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "run", "--sources", str(sources), "--rules", str(rules)],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    try:
        wait_for(lambda: all(polled(redis_client, prefix, f) for f in feeds), what="all four feeds polled")
        wait_for(lambda: redis_client.xlen(f"{prefix}story-updates") >= 3, what="three story updates", timeout=15)
    except AssertionError:
        raise AssertionError(log.read_text(errors="replace")) from None
    check_one_story(redis_client, prefix)
    assert "Sending due task tick" in log.read_text(errors="replace")  # the beat drove it
