"""``marsad status`` and ``marsad sources add|remove|enable|list`` as users run them: a
subprocess on the real Redis, its output and exit code, and what the live schedule holds after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from tests.test_cli import marsad
from worker.adapters.keys import Keys
from worker.adapters.state import State
from worker.config import Settings
from worker.core.configfile import load_sources
from worker.core.match import Rule
from worker.models import FeedState, Source
from worker.poll import Runtime, poll_feed

SOURCES = """\
# Arabic feeds we watch
- id: bbc-arabic   # the BBC's Arabic service
  url: https://feeds.bbci.co.uk/arabic/rss.xml
  language: ar
  interval: 5m

# The Levant
- id: dw-arabic
  url: "https://rss.dw.com/rdf/rss-ar-all"
"""


@pytest.fixture
def env(prefix: str) -> dict[str, str]:
    return {"MARSAD_KEY_PREFIX": prefix, "MARSAD_ALLOW_PRIVATE_NETWORKS": "true"}


@pytest.fixture
def state(redis_client: redis.Redis, prefix: str) -> State:
    return State(redis_client, Keys(prefix))


def test_add_changes_the_live_schedule_and_says_the_file_rules(tmp_path: Path, env, state: State, redis_client, prefix):
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    res = marsad(
        "sources", "--sources", str(path), "add", "https://www.aljazeera.net/aljazeerarss", "--language", "ar", env=env
    )
    assert res.returncode == 0, res.stderr
    assert "due now" in res.stderr and "source of truth at the next start" in res.stderr and "--save" in res.stderr
    assert state.source("aljazeera.net-aljazeerarss") == Source(
        "aljazeera.net-aljazeerarss", "https://www.aljazeera.net/aljazeerarss", "ar"
    )
    assert state.claim_due(now=10**10, lease=60, limit=10) == ["aljazeera.net-aljazeerarss"]
    assert path.read_text(encoding="utf-8") == SOURCES  # not saved

    again = marsad("sources", "add", "https://www.aljazeera.net/aljazeerarss", env=env)
    assert again.returncode == 2 and "already a source" in again.stderr


def test_add_save_keeps_the_files_comments_and_order(tmp_path: Path, env, state: State):
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    res = marsad(
        "sources", "--sources", str(path), "add", "https://www.alarabiya.net/feed/rss2/ar.xml",
        "--id", "alarabiya", "--interval", "2m", "--save", env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert path.read_text(encoding="utf-8") == SOURCES + (
        "- id: alarabiya\n  url: https://www.alarabiya.net/feed/rss2/ar.xml\n  interval: 2m\n"
    )
    assert [s.id for s in load_sources(path.read_text(encoding="utf-8"))] == ["bbc-arabic", "dw-arabic", "alarabiya"]
    assert state.source("alarabiya") == Source(
        "alarabiya", "https://www.alarabiya.net/feed/rss2/ar.xml", interval=120.0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://example.org/rss"], "marsad sources add: url 'ftp://example.org/rss' must be an http:// or https://"),
        (["https://example.org/rss", "--id", "bad id"], "marsad sources add: id 'bad id' must be letters"),
        (["https://example.org/rss", "--interval", "soon"], "marsad sources add: interval: 'soon' is not a duration"),
        (["https://example.org/rss", "--type", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_add_rejects_bad_input_with_exit_2(tmp_path: Path, env, state: State, args: list[str], message: str):
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    res = marsad("sources", "--sources", str(path), "add", *args, "--save", env=env)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert state.all_sources() == [] and path.read_text(encoding="utf-8") == SOURCES  # nothing changed


def test_remove_stops_polling_and_save_drops_it_from_the_file(tmp_path: Path, env, state: State, redis_client, prefix):
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    state.sync_sources(load_sources(SOURCES), now=100)
    state.save_feed("dw-arabic", FeedState(last_status="ok", next_due=200.0), ttl=60)

    res = marsad("sources", "--sources", str(path), "remove", "dw-arabic", "--save", env=env)

    assert res.returncode == 0, res.stderr
    assert [s.id for s in state.all_sources()] == ["bbc-arabic"]
    assert redis_client.zscore(Keys(prefix).due, "dw-arabic") is None
    assert not redis_client.exists(Keys(prefix).feed("dw-arabic"))
    text = path.read_text(encoding="utf-8")
    assert "dw-arabic" not in text and "# Arabic feeds we watch" in text and "# the BBC's Arabic service" in text
    assert [s.id for s in load_sources(text)] == ["bbc-arabic"]

    unsaved = marsad("sources", "remove", "bbc-arabic", env=env)
    assert unsaved.returncode == 0 and "comes back then if it is listed there" in unsaved.stderr
    assert marsad("sources", "remove", "bbc-arabic", env=env).returncode == 2  # no longer a source


def test_enable_brings_a_disabled_feed_back(env, state: State, redis_client, prefix):
    keys = Keys(prefix)
    state.sync_sources([Source("dead", "https://example.org/rss")], now=100)
    state.save_feed(
        "dead", FeedState(state="disabled", soft_failures=30, failures=30, last_status="permanent_error"), 60
    )
    assert redis_client.zscore(keys.due, "dead") is None

    res = marsad("sources", "enable", "dead", env=env)

    assert res.returncode == 0, res.stderr
    assert "was disabled, now active" in res.stderr
    health = state.feed_health("dead")
    assert health is not None and (health.state, health.failures, health.soft_failures) == ("active", 0, 0)
    assert redis_client.zscore(keys.due, "dead") is not None
    assert [json.loads(f["event"])["to"] for _, f in redis_client.xrange(keys.feed_events)] == ["active"]
    assert marsad("sources", "enable", "nope", env=env).returncode == 2


def test_list_prints_the_live_sources(env, state: State):
    state.sync_sources([Source("b", "https://b.example/rss", interval=300.0), Source("a", "https://a.example/rss")], 1)
    res = marsad("sources", "list", env=env)
    assert res.returncode == 0
    assert res.stdout.splitlines() == ["a\thttps://a.example/rss\tauto", "b\thttps://b.example/rss\tauto every 5m"]
    listed = json.loads(marsad("sources", "list", "--json", env=env).stdout)
    assert [s["id"] for s in listed] == ["a", "b"] and listed[1]["interval"] == 300.0


def test_status_lists_unhealthy_feeds_first(settings: Settings, feed_server: FeedServer, env, state: State):
    ok = feed_server.route("/ok.xml", rss(seed_item("https://news.example.com/a/1")))
    sources = [
        Source("aa-ok", ok),
        Source("bb-missing", feed_server.url("/missing.xml")),
        Source("cc-gone", feed_server.route("/gone.xml", status=410)),
        Source("dd-new", ok),
    ]
    state.sync_sources(sources, now=1)
    rt = Runtime.build(settings, [Rule.from_query("r", "إيران")])
    for source in sources[:3]:
        poll_feed(rt, source)
    rt.close()

    res = marsad("status", "--json", env=env)
    assert res.returncode == 0, res.stderr
    feeds = json.loads(res.stdout)
    assert [f["id"] for f in feeds] == ["cc-gone", "bb-missing", "aa-ok", "dd-new"]
    by_id = {f["id"]: f for f in feeds}
    assert (by_id["cc-gone"]["state"], by_id["cc-gone"]["last_http"], by_id["cc-gone"]["next_due"]) == (
        "gone",
        410,
        None,
    )
    assert (by_id["bb-missing"]["state"], by_id["bb-missing"]["last_error"]) == ("backing_off", "HTTP 404")
    assert (by_id["aa-ok"]["last_status"], by_id["aa-ok"]["failures"]) == ("ok", 0)
    assert by_id["dd-new"]["last_polled"] is None

    table = marsad("status", env=env)
    assert table.returncode == 0
    lines = [line for line in table.stdout.splitlines() if any(f"│ {s.id}" in line for s in sources)]
    assert [next(s.id for s in sources if f"│ {s.id}" in line) for line in lines] == [
        "cc-gone",
        "bb-missing",
        "aa-ok",
        "dd-new",
    ]
    assert "HTTP 404" in table.stdout and "never polled" in table.stdout and "4 feeds, unhealthy first" in table.stdout


def test_status_and_sources_without_redis_exit_1(tmp_path: Path):
    env = {"MARSAD_REDIS_URL": "redis://127.0.0.1:9/0"}
    for args in (["status"], ["sources", "list"], ["sources", "add", "https://example.org/rss"]):
        res = marsad(*args, env=env)
        assert res.returncode == 1 and "cannot reach Redis" in res.stderr and "Traceback" not in res.stderr


def test_the_file_is_the_truth_at_the_next_start(tmp_path: Path, env, state: State):
    """A feed added live and not saved is dropped when sources.yaml is synced again (the beat's
    start); one added with --save stays."""
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    state.sync_sources(load_sources(SOURCES), now=1)
    assert (
        marsad("sources", "--sources", str(path), "add", "https://a.example/rss", "--id", "live", env=env).returncode
        == 0
    )
    saved = marsad("sources", "--sources", str(path), "add", "https://b.example/rss", "--id", "kept", "--save", env=env)
    assert saved.returncode == 0, saved.stderr
    state.sync_sources(load_sources(path.read_text(encoding="utf-8")), now=2)
    assert [s.id for s in state.all_sources()] == ["bbc-arabic", "dw-arabic", "kept"]
