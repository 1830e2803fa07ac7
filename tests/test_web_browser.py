"""The live page end to end in a real headless browser: Debian's Chromium (/usr/bin/chromium,
installed by .ci/run) driven by Playwright, against ``marsad web`` under uvicorn on real Redis.
A real poll publishes the seed article's alerts (the worker's publish path); they must appear on
the open page within 2 s, newest first, with the Arabic snippet's matched words in <mark>.

A screenshot is saved to .artifacts/live-page.png (gitignored; docs/img/live-page.png is a
copy of one)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL
from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from tests.webserver import ROOT, WebServer
from worker.adapters.keys import Keys
from worker.adapters.metrics import Metrics
from worker.config import Settings
from worker.core.match import Rule
from worker.models import Source
from worker.poll import Runtime, poll_feed

CHROMIUM = os.environ.get("MARSAD_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / ".artifacts"
RULES = [
    Rule.from_query("iran-pakistan", "إيران AND باكستان"),
    Rule.from_query("security-review", '"الأمن القومي" AND مراجعة'),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)", allow_module_level=True)


@pytest.fixture
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def test_alert_appears_live_with_arabic_snippet_highlighted(
    tmp_path: Path, browser: sync_api.Browser, feed_server: FeedServer, settings: Settings, prefix: str
) -> None:
    keys = Keys(prefix)
    rt = Runtime.build(settings, RULES)
    seed = Source("seed-wire", feed_server.route("/seed.xml", rss(seed_item("https://news.example.com/pk/1"))), "ar")
    down = Source("down-feed", "http://127.0.0.1:9/feed.xml")
    rt.state.sync_sources([seed, down], time.time())
    env = {"MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix, "MARSAD_TIMEZONE": "Asia/Riyadh"}
    web = WebServer(env, tmp_path / "web.log").wait_up()
    page = browser.new_page(viewport={"width": 1280, "height": 760}, locale="ar")
    try:
        page.goto(f"{web.url}/")
        page.wait_for_selector("#conn.on", timeout=10_000)  # the EventSource is connected
        assert page.eval_on_selector("html", "e => e.dir") == "rtl"
        assert page.locator("#alerts li").count() == 0

        Metrics(rt.redis, keys).record_report(poll_feed(rt, down), time.time())
        report = poll_feed(rt, seed)  # the real poll: fetch, parse, match, publish to the stream
        Metrics(rt.redis, keys).record_report(report, time.time())
        assert {a.rule for a in report.published} == {"iran-pakistan", "security-review"}

        page.wait_for_function("document.querySelectorAll('#alerts li').length == 2", timeout=5_000)
        # Each alert reached the page within 2 s of its XADD: the stream entry's time (ms, Redis'
        # clock) against the page's Date.now() when it showed it, on the same machine.
        for published, received in page.eval_on_selector_all(
            "#alerts li", "els => els.map(e => [Number(e.dataset.published), Number(e.dataset.received)])"
        ):
            assert received - published < 2_000, (published, received)

        items = page.locator("#alerts li")
        # Newest first: the second alert published is on top.
        assert items.nth(0).get_attribute("data-rule") == report.published[-1].rule
        ip = page.locator('#alerts li[data-rule="iran-pakistan"]')
        marks = ip.locator(".snippet mark").all_inner_texts()
        assert marks and set(marks) <= {"إيران", "باكستان", "الباكستانية", "وإيران"}, marks
        assert "إيران" in marks
        assert ip.locator(".snippet").get_attribute("dir") == "auto"
        assert ip.locator(".source").inner_text() == "seed-wire"
        assert "باكستان" in ip.locator(".title").inner_text()
        # The time is the newsroom's (Asia/Riyadh, UTC+3), in Arabic.
        assert any(
            m in ip.locator("time").inner_text()
            for m in (
                "يناير",
                "فبراير",
                "نوفمبر",
                "ديسمبر",
                "مارس",
                "أبريل",
                "مايو",
                "يونيو",
                "يوليو",
                "أغسطس",
                "سبتمبر",
                "أكتوبر",
            )
        )

        # The summary follows: per-rule counts, a bar in the chart, the feed table.
        page.wait_for_function("document.querySelector('#counts').textContent.includes('iran-pakistan')", timeout=5_000)
        assert page.locator("#chart svg rect").count() == 24
        assert page.locator("#feeds .badge.backing_off").count() == 1

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live-page.png"), full_page=True)

        # A reload shows the same alerts (from the stream), none twice.
        page.reload()
        page.wait_for_function("document.querySelectorAll('#alerts li').length == 2", timeout=5_000)

        # English: LTR page, the snippet still Arabic and still highlighted.
        page.goto(f"{web.url}/?lang=en")
        page.wait_for_function("document.querySelectorAll('#alerts li mark').length > 0", timeout=5_000)
        assert page.eval_on_selector("html", "e => e.dir") == "ltr"
        page.screenshot(path=str(ARTIFACTS / "live-page-en.png"), full_page=True)
    finally:
        page.close()
        web.stop()
        rt.close()
