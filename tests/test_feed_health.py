"""Fetch outcomes, the schedule and feed health through ``poll_feed`` on real Redis and a real
local feed server: what each outcome does to the feed's state, its due time and feed-events."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
import redis

from tests.feeds import item, rss, seed_item
from tests.feedserver import FeedServer
from worker.adapters.keys import Keys
from worker.adapters.state import decode_state, encode_state
from worker.config import Settings
from worker.core.match import Rule
from worker.models import FeedState, FetchResult, Source
from worker.poll import STAGES, Runtime, poll_feed

RULES = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]


@pytest.fixture
def rt(settings: Settings) -> Runtime:
    runtime = Runtime.build(settings, RULES)
    yield runtime
    runtime.close()


def events(client: redis.Redis, keys: Keys) -> list[dict]:
    return [json.loads(fields["event"]) for _, fields in client.xrange(keys.feed_events)]


def due(client: redis.Redis, keys: Keys, feed: str) -> float | None:
    return client.zscore(keys.due, feed)


def test_report_carries_outcome_counts_timings_and_fetch_time(rt: Runtime, feed_server: FeedServer):
    items = [
        seed_item("https://news.example.com/a/1"),
        item("خبر رياضي", "https://news.example.com/a/2", "فاز الفريق في المباراة"),
    ]
    body = rss(*items)
    url = feed_server.route("/feed.xml", body)
    before = time.time()
    report = poll_feed(rt, Source("seed", url, "ar"))
    assert (report.outcome, report.entries, report.new, report.duplicates, report.alerts) == ("ok", 2, 2, 0, 1)
    assert set(report.timings) == set(STAGES) and all(v >= 0 for v in report.timings.values())
    assert report.timings["fetch"] > 0 and report.timings["parse"] > 0 and report.timings["match"] > 0
    assert before <= report.fetched_at <= time.time()
    assert (report.status, report.state) == (200, "active") and report.next_due is not None

    # a new item appears: the old two are duplicates now
    feed_server.route("/feed.xml", rss(*items, item("خبر جديد", "https://news.example.com/a/3", "نص الخبر")))
    again = poll_feed(rt, Source("seed", url, "ar"))
    assert (again.outcome, again.entries, again.new, again.duplicates, again.alerts) == ("ok", 3, 1, 2, 0)


def test_an_unchanged_body_with_a_stale_etag_is_not_modified_and_not_parsed(rt: Runtime, feed_server: FeedServer):
    """The server ignores If-None-Match (no ETag at all): the second 200 hashes the same."""
    url = feed_server.route("/noetag.xml", rss(seed_item("https://news.example.com/a/1")), etag=False)
    assert poll_feed(rt, Source("s", url)).outcome == "ok"
    again = poll_feed(rt, Source("s", url))
    assert (again.outcome, again.entries, again.timings["parse"]) == ("not_modified", 0, 0.0)
    assert len(feed_server.hits("/noetag.xml")) == 2  # it was fetched, only not parsed
    assert rt.state.feed_state("s").last_status == "not_modified"


def test_conditional_get_can_be_switched_off_per_source(rt: Runtime, feed_server: FeedServer):
    url = feed_server.route("/c.xml", rss(seed_item("https://news.example.com/a/1")))
    for _ in range(2):
        poll_feed(rt, Source("plain", url, conditional=False))
    hits = feed_server.hits("/c.xml")
    assert "if-none-match" not in hits[1]
    assert poll_feed(rt, Source("plain", url, conditional=False)).outcome == "not_modified"  # by the body hash
    poll_feed(rt, Source("cond", url))
    poll_feed(rt, Source("cond", url))
    assert feed_server.hits("/c.xml")[-1].get("if-none-match")


def test_gone_leaves_the_schedule_with_an_event(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    keys = Keys(prefix)
    url = feed_server.route("/gone.xml", status=410)
    rt.state.sync_sources([Source("g", url)], now=0)
    report = poll_feed(rt, Source("g", url), now=1000.0)
    assert (report.outcome, report.state, report.next_due, report.error) == ("gone", "gone", None, "HTTP 410")
    assert due(redis_client, keys, "g") is None
    assert rt.state.claim_due(now=10**10, lease=60, limit=100) == []
    [event] = events(redis_client, keys)
    assert (event["type"], event["feed"], event["from"], event["to"], event["status"]) == (
        "feed.state",
        "g",
        "active",
        "gone",
        "gone",
    )
    assert redis_client.ttl(keys.feed("g")) == -1  # kept while it is a source, to be seen in status


def test_rate_limited_waits_for_retry_after(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    keys = Keys(prefix)
    url = feed_server.route("/busy.xml", status=429, headers={"Retry-After": "1800"})
    rt.state.sync_sources([Source("busy", url)], now=0)
    report = poll_feed(rt, Source("busy", url), now=1000.0)
    assert (report.outcome, report.state, report.status) == ("rate_limited", "backing_off", 429)
    assert 1000 + 1800 <= due(redis_client, keys, "busy") <= 1000 + 1800 * 1.1
    assert [e["to"] for e in events(redis_client, keys)] == ["backing_off"]

    feed_server.route("/busy.xml", rss())
    assert poll_feed(rt, Source("busy", url), now=3000.0).outcome == "ok"
    assert [e["to"] for e in events(redis_client, keys)] == ["backing_off", "active"]


def test_soft_failures_disable_after_the_setting_and_enable_brings_it_back(
    settings: Settings, feed_server: FeedServer, redis_client, prefix
):
    keys = Keys(prefix)
    rt = Runtime.build(settings.model_copy(update={"disable_after": 3}), RULES)
    url = feed_server.url("/missing.xml")  # 404
    source = Source("m", url)
    rt.state.sync_sources([source], now=0)
    states = [poll_feed(rt, source, now=1000.0 + n).state for n in range(3)]
    assert states == ["backing_off", "backing_off", "disabled"]
    assert due(redis_client, keys, "m") is None
    assert [e["to"] for e in events(redis_client, keys)] == ["backing_off", "disabled"]
    # a restart does not put it back on the schedule
    rt.state.sync_sources([source], now=2000)
    assert due(redis_client, keys, "m") is None

    enabled = rt.state.enable("m", now=3000.0, ttl=60)
    assert enabled is not None and (enabled.state, enabled.failures, enabled.soft_failures) == ("active", 0, 0)
    assert due(redis_client, keys, "m") == 3000.0
    assert events(redis_client, keys)[-1]["to"] == "active"
    assert rt.state.claim_due(now=3000.0, lease=60, limit=10) == ["m"]
    rt.close()


def test_changing_a_disabled_feeds_url_in_the_file_revives_it(rt: Runtime, redis_client, prefix):
    keys = Keys(prefix)
    rt.state.sync_sources([Source("d", "https://old.example/rss")], now=0)
    rt.state.save_feed("d", FeedState(state="disabled", soft_failures=30), ttl=60)
    assert due(redis_client, keys, "d") is None
    rt.state.sync_sources([Source("d", "https://new.example/rss")], now=50)
    assert due(redis_client, keys, "d") == 50 and rt.state.feed_state("d").state == "active"


def test_a_permanent_redirect_moves_the_feed_after_three_polls(
    rt: Runtime, feed_server: FeedServer, redis_client, prefix
):
    new = feed_server.route("/new.xml", rss(seed_item("https://news.example.com/a/1")))
    old = feed_server.route("/old.xml", status=301, location=new)
    source = Source("r", old)
    rt.state.sync_sources([source], now=0)
    for n in range(3):
        assert poll_feed(rt, source).outcome in ("ok", "not_modified")
        assert feed_server.hits("/old.xml") and len(feed_server.hits("/old.xml")) == n + 1
    state = rt.state.feed_state("r")
    assert (state.url, state.source_url) == (new, old)
    assert events(redis_client, Keys(prefix))[-1]["type"] == "feed.moved"
    poll_feed(rt, source)
    assert len(feed_server.hits("/old.xml")) == 3  # the fourth poll went straight to the new URL
    assert rt.state.feed_health("r").url == new  # type: ignore[union-attr]


def test_a_temporary_redirect_moves_nothing(rt: Runtime, feed_server: FeedServer):
    new = feed_server.route("/tmp-new.xml", rss())
    old = feed_server.route("/tmp-old.xml", status=302, location=new)
    for _ in range(4):
        poll_feed(rt, Source("t", old))
    assert rt.state.feed_state("t").url is None and len(feed_server.hits("/tmp-old.xml")) == 4


class _Deferring:
    """Stands in for the per-host limits of adapters/http.py saying "not now"."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after

    def fetch(self, url: str, headers: object = None) -> FetchResult:
        return FetchResult("deferred", error="host busy", retry_after=self.retry_after)

    def close(self) -> None:
        pass


def test_deferred_is_not_a_poll(settings: Settings, redis_client, prefix):
    keys = Keys(prefix)
    rt = Runtime.build(settings, RULES, fetcher=_Deferring(4.0))  # type: ignore[arg-type]
    rt.state.sync_sources([Source("x", "https://example.org/rss")], now=0)
    before = FeedState(state="backing_off", failures=2, etag='"e"', last_polled=5.0, next_due=7.0)
    rt.state.save_feed("x", before, ttl=60)
    report = poll_feed(rt, Source("x", "https://example.org/rss"), now=1000.0)
    assert (report.outcome, report.failed) == ("deferred", False)
    assert rt.state.feed_state("x") == before  # nothing counted, nothing stored
    assert 1004.0 <= due(redis_client, keys, "x") <= 1004.4
    assert events(redis_client, keys) == []
    rt.close()


def test_median_delay_from_publication_to_first_sight(rt: Runtime, feed_server: FeedServer):
    def news(n: int, minutes_ago: float) -> str:
        return item(f"خبر {n}", f"https://news.example.com/d/{n}", f"نص الخبر {n}", age=minutes_ago * 60)

    url = feed_server.route("/d.xml", rss(news(1, 600)))
    rt.state.sync_sources([Source("d", url)], now=0)
    poll_feed(rt, Source("d", url))  # first poll: the archive, no delays
    assert rt.state.feed_state("d").median_delay is None
    feed_server.route("/d.xml", rss(news(1, 600), news(2, 2), news(3, 4), news(4, 9)))
    poll_feed(rt, Source("d", url))
    health = rt.state.feed_health("d")
    assert health is not None and health.median_delay == pytest.approx(240, abs=5)
    assert health.items_per_day is not None and health.items_per_day > 0


def test_health_of_every_source(rt: Runtime, feed_server: FeedServer):
    ok = feed_server.route("/ok.xml", rss())
    rt.state.sync_sources([Source("a-ok", ok), Source("b-new", ok), Source("c-bad", feed_server.url("/x"))], now=100)
    poll_feed(rt, Source("a-ok", ok), now=1000.0)
    poll_feed(rt, Source("c-bad", feed_server.url("/x")), now=1000.0)
    health = {h.id: h for h in rt.state.all_health()}
    assert list(health) == ["a-ok", "b-new", "c-bad"]
    assert (health["a-ok"].state, health["a-ok"].last_status, health["a-ok"].last_success) == ("active", "ok", 1000.0)
    assert (health["b-new"].last_polled, health["b-new"].next_due) == (None, 100.0)  # never polled: due now
    bad = health["c-bad"]
    assert (bad.state, bad.last_status, bad.last_http, bad.failures, bad.last_error) == (
        "backing_off",
        "permanent_error",
        404,
        1,
        "HTTP 404",
    )
    assert not bad.healthy and health["a-ok"].healthy
    assert rt.state.feed_health("nope") is None


def test_feed_state_round_trips_through_the_hash(rt: Runtime):
    state = FeedState(
        state="backing_off",
        last_status="rate_limited",
        last_error="HTTP 429",
        last_http=429,
        last_polled=1.5,
        last_success=1.0,
        failures=3,
        soft_failures=1,
        items_per_day=12.25,
        delays=(1.0, 2.5),
        median_delay=1.75,
        interval=300.0,
        next_due=99.0,
        changed_at=1.5,
        url="https://new.example/rss",
        source_url="https://old.example/rss",
        redirect_to="https://x.example/rss",
        redirect_count=2,
        etag='"v1"',
        last_modified="Thu, 18 Jan 2024 10:00:00 GMT",
        body_hash="ab" * 20,
    )
    assert decode_state(encode_state(state)) == state
    rt.state.save_feed("rt", state, ttl=60)
    assert rt.state.feed_state("rt") == state
    assert decode_state({}) == FeedState()
    # a hash written before issue 6
    assert decode_state({"last_ok": "5.0", "failures": "2", "last_status": "timeout"}) == replace(
        FeedState(), last_success=5.0, failures=2, last_status="timeout"
    )


def test_min_interval_above_max_interval_is_a_bad_setting(monkeypatch: pytest.MonkeyPatch):
    from worker.config import load_settings
    from worker.errors import ConfigError

    monkeypatch.setenv("MARSAD_MIN_INTERVAL", "2h")
    monkeypatch.setenv("MARSAD_MAX_INTERVAL", "1h")
    with pytest.raises(ConfigError, match="MARSAD_MIN_INTERVAL must not be above MARSAD_MAX_INTERVAL"):
        load_settings()
