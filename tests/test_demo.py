"""``marsad demo`` (issue 8): the replay's timing and feeds with the clock passed in, the bundled
data, the replay server over real HTTP, and the whole demo as a subprocess: the Iran-Pakistan
alert on its stream within a minute, the page answering when there is one, and Ctrl-C leaving
no process and no key behind."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import REDIS_URL
from worker.adapters.keys import Keys
from worker.config import Settings
from worker.core.configfile import load_sources
from worker.core.parse import parse_feed
from worker.core.ruleset import build_ruleset
from worker.demo.data import load_feeds, page_bytes
from worker.demo.files import ENTITIES_YAML, RULES_YAML, sources_yaml
from worker.demo.replay import DemoFeed, DemoItem, Replay, item_link, not_modified, release_offsets, render
from worker.demo.run import alert_line, check_prefix, has_web
from worker.demo.server import ReplayServer
from worker.errors import DemoError

ROOT = Path(__file__).resolve().parent.parent
STARTED = 1_790_000_000.0  # a fixed replay start: the tests pin the clock

AR = DemoItem("a1", "باكستان تجري مراجعة للأمن القومي وسط الأزمة مع إيران", "عقد اجتماع لكبار القادة.")
FA = DemoItem("f1", "کارنامه دیپلماسی ایران در برابر غرب", "<p>دیپلماسی ایران</p>", link="https://example.ir/n/1")
THIRD = DemoItem("a2", "تونس تمضي اتفاقيات مع عربسات", "نص الخبر.")


def feed(fmt: str = "rss", items: tuple[DemoItem, ...] = (AR, FA, THIRD)) -> DemoFeed:
    return DemoFeed("f", "أخبار", "ar", fmt, items)  # type: ignore[arg-type]


# -- the timing, pure --------------------------------------------------------------------------


def test_release_offsets_start_at_zero_and_step_within_the_gap():
    offsets = release_offsets(50, random.Random(1), (3.0, 10.0))
    assert offsets[0] == 0.0
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert all(3.0 <= g <= 10.0 for g in gaps)
    assert release_offsets(50, random.Random(1), (3.0, 10.0)) == offsets  # seeded: the same every run


def test_a_feed_shows_its_items_as_they_are_released_newest_first():
    replay = Replay.plan([feed()], started=STARTED)
    first, second, third = replay.offsets["f"]
    assert first == 0.0
    assert replay.snapshot("f", STARTED).items == ((AR, STARTED),)
    just_before = replay.snapshot("f", STARTED + second - 0.01)
    assert [i.key for i, _ in just_before.items] == ["a1"]
    at_second = replay.snapshot("f", STARTED + second)
    assert [i.key for i, _ in at_second.items] == ["f1", "a1"]
    assert at_second.items[0][1] == STARTED + second  # an item's date is its release time
    assert [i.key for i, _ in replay.snapshot("f", STARTED + third + 100).items] == ["a2", "f1", "a1"]


def test_validators_change_exactly_when_an_item_is_released():
    replay = Replay.plan([feed()], started=STARTED)
    _, second, _ = replay.offsets["f"]
    a, b = replay.snapshot("f", STARTED + 0.5), replay.snapshot("f", STARTED + second - 0.5)
    c = replay.snapshot("f", STARTED + second)
    assert (a.etag, a.last_modified) == (b.etag, b.last_modified)
    assert c.etag != b.etag and c.last_modified != b.last_modified
    assert not_modified(b, a.etag, None) and not not_modified(c, a.etag, None)
    assert not_modified(b, None, a.last_modified) and not not_modified(c, None, a.last_modified)
    # The ETag wins over the date when both are sent (RFC 9110 13.2.2).
    assert not not_modified(c, a.etag, c.last_modified)
    assert not_modified(c, f'"x", {c.etag}', None)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_the_rendered_feed_reads_back_through_the_workers_parser(fmt):
    replay = Replay.plan([feed(fmt)], started=STARTED)
    elapsed = replay.offsets["f"][1]
    snap = replay.snapshot("f", STARTED + elapsed)
    parsed = parse_feed(render(replay.feeds["f"], snap, "http://127.0.0.1:9"))
    assert [e.title for e in parsed.entries] == [FA.title, AR.title]
    assert [e.url for e in parsed.entries] == ["https://example.ir/n/1", "http://127.0.0.1:9/item/f/a1"]
    assert [e.published for e in parsed.entries] == [int(STARTED + elapsed), STARTED]
    assert "دیپلماسی ایران" in parsed.entries[0].content


def test_an_item_without_a_link_points_at_the_replay_servers_page():
    assert item_link("http://h:1", "ar-wire", AR) == "http://h:1/item/ar-wire/a1"
    assert item_link("http://h:1", "fa-news", FA) == FA.link


# -- the bundled data and the demo's files ------------------------------------------------------


def test_the_bundled_feeds_are_arabic_and_persian_rss_and_atom():
    feeds = load_feeds()
    assert {f.language for f in feeds} >= {"ar", "fa"}
    assert {f.format for f in feeds} == {"rss", "atom"}
    assert len({i.key for f in feeds for i in f.items}) == sum(len(f.items) for f in feeds)
    for f in feeds:
        if f.full_text:
            assert all(i.page for i in f.items)
            assert all(b"<html" in page_bytes(i.page).lower() for i in f.items if i.page)


def test_the_seed_article_is_out_within_the_first_twenty_seconds():
    replay = Replay.plan(list(load_feeds()), started=STARTED)
    seeds = [(f.id, i) for f in load_feeds() for i in f.items if "باكستان" in i.title and "إيران" in i.title]
    assert seeds, "the seed article is in the demo data"
    feed_id, seed = seeds[0]
    at = replay.released_at(feed_id, seed.key)
    assert at is not None and at <= 20.0


def test_every_copied_origin_keeps_its_licence_beside_it():
    root = resources.files("worker.data").joinpath("demo")
    assert root.joinpath("persian", "LICENSE.iran-news-mcp.MIT.txt").is_file()
    assert root.joinpath("newsfane", "LICENSE.NewsFANE_CC-BY-SA-3.0.txt").is_file()
    assert root.joinpath("newsfane", "README.NewsFANE.txt").is_file()
    assert root.joinpath("pages", "jawharafm", "LICENSE.RSSCrawlerArabicCorpus.Apache-2.0.txt").is_file()
    assert root.joinpath("pages", "cnn_arabic", "LICENSE.newspaper.MIT.txt").is_file()
    readme = root.joinpath("README.md").read_text("utf-8")
    for f in load_feeds():
        assert f"`{f.id}`" in readme


def test_every_demo_rule_fires_on_some_bundled_item_and_the_seed_fires_iran_pakistan():
    matcher = build_ruleset(RULES_YAML, "rules.yaml", ENTITIES_YAML, "entities.yaml").matcher()
    fired: dict[str, set[str]] = {}
    for f in load_feeds():
        for item in f.items:
            for m in matcher.match(item.title, item.summary, f.id, f.language):
                fired.setdefault(m.rule, set()).add(item.key)
    assert set(fired) == {r.id for r in matcher.rules}
    assert "seed" in fired["iran-pakistan"]
    persian_keys = {i.key for f in load_feeds() if f.language == "fa" for i in f.items}
    assert fired["iran"] & persian_keys  # entity:IR finds the Persian ایران too


def test_the_demo_sources_file_passes_the_real_validator():
    feeds = list(load_feeds())
    text = sources_yaml(feeds, lambda fid: f"http://127.0.0.1:8999/feeds/{fid}", ("2s", "1s", "3s"))
    sources = load_sources(text, "demo-sources.yaml")
    assert [s.id for s in sources] == [f.id for f in feeds]
    assert [s.full_text for s in sources] == [f.full_text for f in feeds]
    assert {(s.interval, s.min_interval, s.max_interval) for s in sources} == {(2.0, 1.0, 3.0)}


def test_the_demo_refuses_a_prefix_that_overlaps_the_environments():
    env = Settings(key_prefix="marsad:")
    for bad in ("marsad:", "mars", "marsad:sub:", "", "demo*:"):
        with pytest.raises(DemoError):
            check_prefix(bad, env)
    check_prefix("marsad-demo:", env)


# -- the replay server over real HTTP, clock pinned --------------------------------------------


@pytest.fixture
def clocked_server() -> Iterator[tuple[ReplayServer, list[float]]]:
    now = [STARTED]
    server = ReplayServer(Replay.plan([feed()], started=STARTED), clock=lambda: now[0]).start()
    yield server, now
    server.stop()


def test_the_server_answers_conditional_gets_with_304_until_an_item_is_released(clocked_server):
    server, now = clocked_server
    url = server.feed_url("f")
    with httpx.Client(timeout=5) as client:
        first = client.get(url)
        assert first.status_code == 200 and first.headers["content-type"].startswith("application/rss+xml")
        assert [e.title for e in parse_feed(first.content).entries] == [AR.title]
        again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        now[0] = STARTED + server.replay.offsets["f"][1]
        later = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert later.status_code == 200 and later.headers["etag"] != first.headers["etag"]
        assert [e.title for e in parse_feed(later.content).entries] == [FA.title, AR.title]


def test_an_items_page_is_served_once_it_is_released(clocked_server):
    server, now = clocked_server
    with httpx.Client(timeout=5) as client:
        assert client.get(f"{server.base_url}/item/f/a2").status_code == 404
        now[0] = STARTED + server.replay.offsets["f"][2]
        page = client.get(f"{server.base_url}/item/f/a2")
        assert page.status_code == 200 and THIRD.title in page.text
        assert client.get(f"{server.base_url}/feeds/nope").status_code == 404


# -- the whole demo, as a user runs it ----------------------------------------------------------


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (every child the demo starts gets its
    prefix in MARSAD_KEY_PREFIX): the demo's children, wherever they were reparented."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


class DemoRun:
    def __init__(self, tmp: Path, prefix: str, redis_url: str, *args: str) -> None:
        self.err = tmp / "demo.err"
        self.out = tmp / "demo.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
        env["MARSAD_REDIS_URL"] = redis_url
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "demo", "--prefix", prefix, *args],
            cwd=ROOT,
            env=env,
            stdout=self.out.open("wb"),
            stderr=self.err.open("wb"),
            start_new_session=True,
        )

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the demo exited ({self.proc.returncode}) waiting for {what}:\n{self.stderr()}")
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}:\n{self.stderr()}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends it
        return self.proc.wait(45)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _iran_pakistan(client: redis.Redis, prefix: str) -> bool:
    entries = client.xrange(Keys(prefix).stream)
    return any(json.loads(fields["alert"]).get("rule") == "iran-pakistan" for _, fields in entries)


@pytest.mark.e2e
def test_the_demo_raises_iran_pakistan_within_a_minute_and_ctrl_c_leaves_nothing(tmp_path, redis_client, prefix):
    demo = DemoRun(tmp_path, prefix, REDIS_URL)
    try:
        demo.wait_for(lambda: _iran_pakistan(redis_client, prefix), 60, "the iran-pakistan alert on the stream")
        assert "iran-pakistan" in demo.out.read_text()  # printed on the terminal too
        if has_web():
            match = re.search(r"the live page: (\S+)", demo.stderr())
            assert match, demo.stderr()
            demo.wait_for(lambda: _answers_200(match.group(1)), 30, "the page")
            _page_shows_iran_pakistan(match.group(1), tmp_path)
        assert _processes_with(f"MARSAD_KEY_PREFIX={prefix}"), "the demo's children run with its prefix"
        assert demo.interrupt() == 0, demo.stderr()
    finally:
        demo.kill()
    assert _processes_with(f"MARSAD_KEY_PREFIX={prefix}") == [], demo.stderr()
    assert list(redis_client.scan_iter(match=prefix + "*")) == []


def _page_shows_iran_pakistan(url: str, tmp_path: Path) -> None:
    """In a real headless browser (when Chromium and Playwright are there, as in CI): the page
    lists the iran-pakistan alert, its matched words highlighted. Elsewhere the 200 suffices."""
    chromium = os.environ.get("MARSAD_TEST_CHROMIUM", "/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return
    if not Path(chromium).exists():
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ar")
            page.goto(url)
            alert = page.locator('#alerts li[data-rule="iran-pakistan"]').first
            alert.wait_for(timeout=15_000)
            marks = alert.locator(".snippet mark").all_inner_texts()
            assert marks and all("يران" in m or "باكستان" in m for m in marks), marks  # إيران, ايران, وباكستان
            page.screenshot(path=str(tmp_path / "demo-page.png"))
        finally:
            browser.close()


def _answers_200(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.e2e
def test_with_no_redis_the_demo_starts_a_private_one_and_stops_it(tmp_path, prefix):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = DemoRun(tmp_path, prefix, f"redis://127.0.0.1:{port}/0")  # nothing listens there
    try:
        demo.wait_for(lambda: "private redis-server" in demo.stderr(), 20, "the private redis-server")
        private = re.search(r"private redis-server on 127\.0\.0\.1:(\d+)", demo.stderr())
        assert private, demo.stderr()
        client = redis.Redis(port=int(private.group(1)), decode_responses=True)
        demo.wait_for(lambda: _iran_pakistan(client, prefix), 60, "the iran-pakistan alert on the private Redis")
        client.close()
        assert demo.interrupt() == 0, demo.stderr()
    finally:
        demo.kill()
    assert _processes_with(f"MARSAD_KEY_PREFIX={prefix}") == [], demo.stderr()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=int(private.group(1)), socket_connect_timeout=1).ping()


@pytest.mark.e2e
@pytest.mark.skipif(not has_web(), reason="this version has no marsad web")
def test_a_child_that_dies_stops_the_demo_with_its_log_and_nothing_left(tmp_path, redis_client, prefix):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        demo = DemoRun(tmp_path, prefix, REDIS_URL, "--web-port", str(taken.getsockname()[1]))
        try:
            assert demo.proc.wait(45) == 1
        finally:
            demo.kill()
    assert "web stopped" in demo.stderr() and "address already in use" in demo.stderr()
    assert _processes_with(f"MARSAD_KEY_PREFIX={prefix}") == []
    assert list(redis_client.scan_iter(match=prefix + "*")) == []


def test_an_alert_is_one_terminal_line():
    alert = {"rule": "iran-pakistan", "article": {"source": "ar-wire", "title": "باكستان تجري مراجعة"}}
    line = alert_line(json.dumps(alert, ensure_ascii=False), 4.72)
    assert line.startswith("+   4.7s  iran-pakistan")
    assert line.split()[3:] == ["ar-wire", "باكستان", "تجري", "مراجعة"]
    assert alert_line("not json", 1.0) == "not json"
