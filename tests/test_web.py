"""``marsad web`` on real Redis: /metrics after real polls, /healthz, /readyz, the page, the
summary, and the token rule. Starlette's TestClient drives the app in process; SSE and the
token rule at the command line use a real uvicorn subprocess (tests/webserver.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.conftest import REDIS_URL
from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from tests.webserver import ROOT, WebServer
from worker.adapters.keys import Keys
from worker.adapters.metrics import Metrics
from worker.adapters.state import State
from worker.config import Settings
from worker.core.match import Rule
from worker.models import Source
from worker.poll import Runtime, poll_feed
from worker.web.app import create_app

RULES = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.build(settings, RULES)
    yield runtime
    runtime.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def poll_and_record(rt: Runtime, source: Source) -> None:
    report = poll_feed(rt, source)
    Metrics(rt.redis, Keys(rt.settings.key_prefix)).record_report(report, time.time())


def test_healthz_answers(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.text == "ok\n"


def test_metrics_move_with_real_polls(
    client: TestClient, rt: Runtime, feed_server: FeedServer, redis_client: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    url = feed_server.route("/seed.xml", rss(seed_item("https://news.example.com/a/1")))
    source = Source("seed", url, "ar")
    before = samples(client.get("/metrics").text)
    assert before[("marsad_redis_up", ())] == 1
    assert ("marsad_polls_total", (("outcome", "ok"),)) not in before

    poll_and_record(rt, source)  # 200: one new article, one alert
    poll_and_record(rt, source)  # 304: nothing
    poll_and_record(rt, Source("dead", "http://127.0.0.1:9/feed.xml"))  # refused

    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = samples(r.text)
    assert m[("marsad_polls_total", (("outcome", "ok"),))] == 1
    assert m[("marsad_polls_total", (("outcome", "not_modified"),))] == 1
    assert m[("marsad_polls_total", (("outcome", "temporary_error"),))] == 1
    assert m[("marsad_articles_total", ())] == 1
    assert m[("marsad_alerts_total", (("rule", "iran-pakistan"),))] == 1
    # The seed entry is 10 minutes old: the latency lands in the (300, 600] or (600, 1800] bucket.
    assert m[("marsad_publish_to_alert_seconds_count", ())] == 1
    assert m[("marsad_publish_to_alert_seconds_bucket", (("le", "300"),))] == 0
    assert m[("marsad_publish_to_alert_seconds_bucket", (("le", "1800"),))] == 1
    assert m[("marsad_matched_total", ())] == 1
    # Stage timings: three polls fetched; only the 200 was parsed, matched and published.
    assert m[("marsad_stage_seconds_count", (("stage", "fetch"),))] == 3
    for stage in ("parse", "clean", "dedup", "match", "publish"):
        assert m[("marsad_stage_seconds_count", (("stage", stage),))] == 1, stage
        assert m[("marsad_stage_seconds_bucket", (("le", "+Inf"), ("stage", stage)))] == 1
    assert m[("marsad_fetch_to_alert_seconds_count", ())] == 1
    assert 0 < m[("marsad_fetch_to_alert_seconds_sum", ())] < 30
    assert m[("marsad_stream_length", (("stream", "alerts"),))] == 1
    assert m[("marsad_heartbeat_age_seconds", (("task", "poll"),))] < 60
    # No label carries a URL or an article id.
    assert "news.example.com" not in r.text and "127.0.0.1" not in r.text
    assert redis_client.xlen(keys.stream) == 1


def test_queue_depth_group_lag_and_due_lag(client: TestClient, redis_client: redis.Redis, prefix: str) -> None:
    keys = Keys(prefix)
    # A real Celery producer with marsad's broker key prefix: the gauge reads kombu's own list.
    producer = Celery("t", broker=REDIS_URL)
    producer.conf.broker_transport_options = {"global_keyprefix": keys.celery_prefix}
    for i in range(3):
        producer.send_task("marsad.poll", args=[f"f{i}"], queue=keys.poll_queue)
    redis_client.xadd(keys.stream, {"alert": "{}"})
    redis_client.xadd(keys.stream, {"alert": "{}"})
    redis_client.xgroup_create(keys.stream, "crm", id="0")
    redis_client.xreadgroup("crm", "c1", {keys.stream: ">"}, count=1)
    redis_client.zadd(keys.due, {"late": time.time() - 120, "later": time.time() + 600})

    m = samples(client.get("/metrics").text)

    assert m[("marsad_queue_depth", (("queue", keys.poll_queue),))] == 3
    assert m[("marsad_queue_depth", (("queue", keys.tick_queue),))] == 0
    assert m[("marsad_stream_group_lag", (("group", "crm"), ("stream", "alerts")))] == 1
    assert m[("marsad_stream_group_pending", (("group", "crm"), ("stream", "alerts")))] == 1
    assert 119 <= m[("marsad_due_lag_seconds", ())] < 180
    assert m[("marsad_due_feeds", ())] == 2


def test_metrics_without_redis_say_so(prefix: str) -> None:
    settings = Settings(redis_url="redis://127.0.0.1:9/0", key_prefix=prefix)
    with TestClient(create_app(settings)) as c:
        r = c.get("/metrics")
        assert r.status_code == 200
        assert samples(r.text) == {("marsad_redis_up", ()): 0}
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"][0] == {"name": "redis", "ok": False, "detail": "ConnectionError"}
        assert c.get("/healthz").status_code == 200  # the process is up all the same
        for path in ("/", "/api/summary"):
            page = c.get(path)
            assert (page.status_code, page.text) == (503, "503: Redis does not answer\n")


def test_readyz_needs_a_recent_tick_and_a_consumed_poll_queue(
    client: TestClient, redis_client: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    metrics = Metrics(redis_client, keys)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert {c["name"]: c["ok"] for c in r.json()["checks"]} == {"redis": True, "beat": False, "workers": True}

    metrics.record_tick(0, time.time())
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"] is True

    # Messages wait on the poll queue and no poll has finished: the pool is stuck.
    redis_client.lpush(keys.celery_queue(keys.poll_queue), "{}")
    r = client.get("/readyz")
    assert r.status_code == 503
    assert {c["name"]: c["ok"] for c in r.json()["checks"]}["workers"] is False
    metrics.record_report(None, time.time())  # a poll task ran
    assert client.get("/readyz").status_code == 200

    metrics.record_tick(0, time.time() - 300)  # the last tick is five minutes old
    assert client.get("/readyz").status_code == 503


def test_page_in_both_languages(client: TestClient) -> None:
    ar = client.get("/")
    assert ar.status_code == 200
    assert '<html lang="ar" dir="rtl">' in ar.text and "التنبيهات" in ar.text
    en = client.get("/?lang=en")
    assert '<html lang="en" dir="ltr">' in en.text and "Feed health" in en.text
    assert 'href="?lang=ar"' in en.text
    # Everything the page loads is served here: no other host is named.
    for path in ("static/page.js", "static/page.css"):
        assert path in ar.text
        asset = client.get("/" + path)
        assert asset.status_code == 200 and "http://" not in asset.text and "https://" not in asset.text


def test_summary_counts_rules_over_24_hours(client: TestClient, rt: Runtime, feed_server: FeedServer) -> None:
    url = feed_server.route("/seed.xml", rss(seed_item("https://news.example.com/a/1")))
    source = Source("seed", url, "ar")
    rt.state.sync_sources([source], time.time())
    poll_and_record(rt, source)
    f = client.get("/api/summary?lang=en").json()
    assert '<td dir="auto" class="rule">iran-pakistan</td><td class="num">1</td>' in f["counts"]
    assert f["chart"].count("<rect") == 24 and "1</title>" in f["chart"]
    assert '<td dir="auto">seed</td>' in f["feeds"] and "badge active" in f["feeds"]


def test_sse_sends_backlog_then_resumes_after_last_event_id(
    tmp_path: Path, redis_client: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    alert = {"rule": "r1", "snippet": "إيران", "snippet_marks": [[0, 5]], "article": {"title": "t"}}
    first = redis_client.xadd(keys.stream, {"alert": json.dumps({**alert, "id": "a1"})})
    second = redis_client.xadd(keys.stream, {"alert": json.dumps({**alert, "id": "a2"})})
    web = WebServer({"MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}, tmp_path / "web.log").wait_up()
    try:
        assert [e[0] for e in read_events(web.url, 2)] == [first, second]
        third = redis_client.xadd(keys.stream, {"alert": json.dumps({**alert, "id": "a3"})})
        # A reconnecting browser sends the last id it saw: it gets what followed, nothing twice.
        resumed = read_events(web.url, 2, last_id=first)
        assert [(e[0], e[1]["alert"]["id"]) for e in resumed] == [(second, "a2"), (third, "a3")]
        assert resumed[0][1]["time"] and resumed[0][1]["ts"] == int(second.split("-")[0])
    finally:
        web.stop()


def read_events(url: str, n: int, last_id: str | None = None) -> list[tuple[str, dict]]:
    headers = {"Last-Event-ID": last_id} if last_id else {}
    events: list[tuple[str, dict]] = []
    with httpx.stream("GET", f"{url}/events", headers=headers, timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        entry_id = None
        for line in r.iter_lines():
            if line.startswith("id: "):
                entry_id = line[4:]
            elif line.startswith("data: ") and entry_id:
                events.append((entry_id, json.loads(line[6:])))
                if len(events) == n:
                    break
    return events


def test_web_refuses_a_non_loopback_address_without_a_token(prefix: str) -> None:
    env = {"MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix, "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "worker.cli", "web", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token: set MARSAD_WEB_TOKEN" in r.stderr
    assert "Traceback" not in r.stderr


def test_token_is_required_when_set(tmp_path: Path, prefix: str) -> None:
    token = "s3cret-" + uuid.uuid4().hex
    env = {"MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix, "MARSAD_WEB_TOKEN": token}
    web = WebServer(env, tmp_path / "web.log", host="0.0.0.0").wait_up()
    try:
        for path in ("/", "/metrics", "/readyz", "/api/summary", "/events", "/static/page.js"):
            assert httpx.get(web.url + path, timeout=5).status_code == 401, path
        assert httpx.get(web.url + "/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.get(web.url + "/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        page = httpx.get(f"{web.url}/?token={token}")
        assert page.status_code == 200 and "marsad_token=" in page.headers["set-cookie"]
        assert "HttpOnly" in page.headers["set-cookie"]
        # The page's own requests carry the cookie the token link set.
        assert httpx.get(web.url + "/api/summary", cookies={"marsad_token": token}).status_code == 200
        assert httpx.get(web.url + "/healthz").status_code == 200  # liveness says nothing, needs nothing
        assert token not in web.output()  # never logged
    finally:
        web.stop()


def test_web_refuses_a_namespace_of_another_key_layout(redis_client: redis.Redis, prefix: str) -> None:
    redis_client.set(Keys(prefix).layout, "1")
    env = {"MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix, "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "worker.cli", "web", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert "use key layout 1, this marsad uses layout" in r.stderr and "Traceback" not in r.stderr
    assert redis_client.get(Keys(prefix).layout) == "1"  # the web service wrote nothing


def test_web_exits_1_when_its_port_is_taken(prefix: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix, "MARSAD_LOG_FORMAT": "json"}
        r = subprocess.run(
            [sys.executable, "-m", "worker.cli", "web", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert lines[-1] == f"marsad: the web service could not start on 127.0.0.1:{port} (see the line above)"
    # uvicorn's own complaint is a JSON log line like marsad's events.
    problem = json.loads(lines[-2])
    assert problem["level"] == "error" and "address already in use" in problem["message"]
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("token", ["short-token", "has spaces in it, 24 chars", "semi;colon;0123456789abcdef"])
def test_a_weak_or_unsafe_token_is_a_bad_setting(prefix: str, token: str) -> None:
    env = {"MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix, "MARSAD_WEB_TOKEN": token}
    r = subprocess.run(
        [sys.executable, "-m", "worker.cli", "web", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert r.stderr.startswith("MARSAD_WEB_TOKEN: must be at least 16 characters")
    assert token not in r.stderr


def test_feed_table_puts_trouble_first_and_stays_short(
    client: TestClient, redis_client: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    state = State(redis_client, keys)
    sources = [Source(f"feed-{i:03d}", f"http://127.0.0.1:9/{i}.xml") for i in range(60)]
    state.sync_sources(sources, time.time())
    redis_client.hset(keys.feed("feed-059"), mapping={"state": "disabled", "last_status": "permanent_error"})
    feeds = client.get("/api/summary?lang=en").json()["feeds"]
    assert feeds.index("feed-059") < feeds.index("feed-000")  # the disabled feed on top
    assert feeds.count("<tr class=") == 51 and "and 10 more" in feeds


def test_queue_depth_is_read_from_the_broker_when_it_is_another_redis(redis_client: redis.Redis, prefix: str) -> None:
    keys = Keys(prefix)
    broker_url = REDIS_URL.rsplit("/", 1)[0] + "/1"  # the same server, another database
    broker = redis.Redis.from_url(broker_url, decode_responses=True)
    try:
        producer = Celery("t", broker=broker_url)
        producer.conf.broker_transport_options = {"global_keyprefix": keys.celery_prefix}
        producer.send_task("marsad.poll", args=["f"], queue=keys.poll_queue)
        settings = Settings(redis_url=REDIS_URL, broker_url=broker_url, key_prefix=prefix)
        with TestClient(create_app(settings)) as c:
            m = samples(c.get("/metrics").text)
            assert m[("marsad_queue_depth", (("queue", keys.poll_queue),))] == 1
            # Waiting on the broker, no poll finished: /readyz sees the broker's queue too.
            checks = {ch["name"]: ch["ok"] for ch in c.get("/readyz").json()["checks"]}
            assert checks["workers"] is False
        assert redis_client.llen(keys.celery_queue(keys.poll_queue)) == 0  # not on the data Redis
    finally:
        for key in broker.scan_iter(match=prefix + "*"):
            broker.delete(key)
        broker.close()
