"""One feed poll on real Redis and a real local HTTP server: the pipeline, dedup and every bad
feed the foundation issue names. The same ``poll_feed`` runs in the Celery task."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import valid_alert, valid_story_updated
from tests.feeds import SEED, SEED_TITLE, item, rss, seed_item
from tests.feedserver import FeedServer
from worker.adapters.keys import Keys
from worker.config import Settings
from worker.core.clean import clean_text
from worker.core.match import Rule
from worker.errors import InfrastructureError
from worker.models import FeedState, Source
from worker.poll import Runtime, poll_feed

RULES = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]


@pytest.fixture
def rt(settings: Settings) -> Runtime:
    runtime = Runtime.build(settings, RULES)
    yield runtime
    runtime.close()


def stream(client: redis.Redis, keys: Keys) -> list[dict]:
    return [valid_alert(fields["alert"]) for _, fields in client.xrange(keys.stream)]


def test_seed_article_alerts_once_with_artifacts_gone(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    url = feed_server.route("/feed.xml", rss(seed_item("https://news.example.com/a/1?utm_source=rss")))
    source = Source("seed", url, "ar")

    report = poll_feed(rt, source)

    assert report.outcome == "ok" and report.new == 1
    alerts = stream(redis_client, Keys(prefix))
    assert [a["rule"] for a in alerts] == ["iran-pakistan"]
    alert = alerts[0]
    assert alert["schema"] == 1
    assert alert["article"]["url"] == "https://news.example.com/a/1"
    assert alert["article"]["title"] == SEED_TITLE
    assert alert["article"]["language"] == "ar"
    assert "[ad_" not in alert["snippet"] and "المصدر" not in alert["snippet"]
    cleaned = {"title": SEED_TITLE, "text": clean_text(SEED, is_html=False, title=SEED_TITLE)}
    assert alert["matched"]
    for m in alert["matched"]:
        assert cleaned[m["field"]][m["start"] : m["end"]] == m["surface"]
    assert alert["snippet"] in cleaned["text"].replace("\n", " ") or alert["snippet"].strip("…") in cleaned["text"]
    assert {m["term"] for m in alert["matched"]} == {"إيران", "باكستان"}

    # Unchanged feed: the server answers 304 to the stored ETag; nothing new, nothing published.
    again = poll_feed(rt, source)
    assert again.outcome == "not_modified" and again.published == []
    assert feed_server.hits("/feed.xml")[-1].get("if-none-match")
    assert len(stream(redis_client, Keys(prefix))) == 1


def test_same_story_under_other_urls_gives_no_second_alert(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    first = feed_server.route("/one.xml", rss(seed_item("https://news.example.com/a/1")))
    utm = feed_server.route("/two.xml", rss(seed_item("https://news.example.com/a/1?utm_source=tw&utm_medium=x")))
    other_host = feed_server.route("/three.xml", rss(seed_item("https://aggregator.example.net/story/998")))

    published = [poll_feed(rt, Source(f"s{i}", u)).published for i, u in enumerate((first, utm, other_host))]

    assert [len(p) for p in published] == [1, 0, 0]
    assert len(stream(redis_client, Keys(prefix))) == 1


def test_changed_text_is_the_same_story(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    link = "https://news.example.com/a/7"
    url = feed_server.route("/f.xml", rss(item("خبر", link, "زيارة إلى باكستان")))
    assert poll_feed(rt, Source("f", url)).published == []
    # The article is updated and now matches: it alerts once, under the story of its URL.
    feed_server.route("/f.xml", rss(item("خبر", link, "زيارة إلى باكستان ثم إلى إيران")))
    report = poll_feed(rt, Source("f", url))
    assert len(report.published) == 1
    feed_server.route("/f.xml", rss(item("خبر", link, "زيارة إلى باكستان ثم إلى إيران، وتحديث آخر")))
    assert poll_feed(rt, Source("f", url)).published == []
    alerts = stream(redis_client, Keys(prefix))
    assert len(alerts) == 1 and alerts[0]["story"] == alerts[0]["article"]["id"]


def test_old_entries_are_recorded_but_raise_no_alert(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    url = feed_server.route("/old.xml", rss(seed_item("https://news.example.com/old", age=5 * 86400)))
    report = poll_feed(rt, Source("old", url))
    assert report.new == 1 and report.published == []
    # Seen: a later poll (same body without ETag) finds nothing new.
    feed_server.routes["/old.xml"].etag = False
    assert poll_feed(rt, Source("old", url)).new == 0


def test_max_article_age_zero_turns_the_limit_off(settings: Settings, feed_server: FeedServer):
    rt = Runtime.build(settings.model_copy(update={"max_article_age": 0}), RULES)
    url = feed_server.route("/old.xml", rss(seed_item("https://news.example.com/old", age=30 * 86400)))
    assert len(poll_feed(rt, Source("old", url)).published) == 1
    rt.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("path", "route", "outcome", "detail"),
    [
        ("/500.xml", {"status": 500, "body": b"oops"}, "temporary_error", "HTTP 500"),
        ("/404.xml", None, "permanent_error", "HTTP 404"),
        ("/malformed.xml", {"body": b"<html><body><p>not a feed</p>"}, "permanent_error", "unparsable: "),
        ("/slow.xml", {"body": b"<rss/>", "delay": 3.0}, "temporary_error", "timeout: "),
    ],
)
def test_bad_feed_is_an_outcome_with_backoff(rt, feed_server, redis_client, prefix, path, route, outcome, detail):
    url = feed_server.route(path, **route) if route else feed_server.url(path)
    keys = Keys(prefix)
    rt.state.sync_sources([Source("bad", url)], now=0)
    now = time.time()

    report = poll_feed(rt, Source("bad", url), now=now)

    assert report.outcome == outcome and report.failed and report.error.startswith(detail)
    state = rt.state.feed_state("bad")
    assert state.failures == 1 and state.last_status == outcome and state.last_error == report.error
    assert state.state == "backing_off"
    first_due = redis_client.zscore(keys.due, "bad")
    # Backed off: 2 x the interval (300 s) for the first failure with equal jitter (half of it
    # random), 4 x for the second.
    assert first_due >= now + rt.settings.default_interval
    poll_feed(rt, Source("bad", url), now=now)
    assert rt.state.feed_state("bad").failures == 2
    assert redis_client.zscore(keys.due, "bad") >= now + 2 * rt.settings.default_interval


def test_refused_connection_is_an_outcome(rt: Runtime):
    report = poll_feed(rt, Source("down", f"http://127.0.0.1:{_free_port()}/feed.xml"))
    assert report.outcome == "temporary_error" and report.error.startswith("connect: ")
    assert rt.state.feed_state("down").failures == 1


def test_recovery_resets_failures(rt: Runtime, feed_server: FeedServer):
    url = feed_server.route("/flaky.xml", status=500)
    poll_feed(rt, Source("flaky", url))
    feed_server.route("/flaky.xml", rss(seed_item("https://news.example.com/flaky")))
    report = poll_feed(rt, Source("flaky", url))
    assert report.outcome == "ok" and len(report.published) == 1
    assert rt.state.feed_state("flaky").failures == 0


def test_empty_feed(rt: Runtime, feed_server: FeedServer):
    url = feed_server.route("/empty.xml", rss())
    report = poll_feed(rt, Source("empty", url))
    assert (report.outcome, report.entries, report.published) == ("ok", 0, [])


def test_windows_1256_feed(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    body = rss(
        item("إيران وباكستان تتفقان", "https://news.example.com/cp", "اتفاق بين إيران وباكستان"),
        encoding="windows-1256",
    )
    url = feed_server.route("/cp1256.xml", body, content_type="application/rss+xml")
    report = poll_feed(rt, Source("cp", url))
    assert len(report.published) == 1
    alert = stream(redis_client, Keys(prefix))[0]
    assert alert["article"]["title"] == "إيران وباكستان تتفقان"


def test_too_large_feed(settings: Settings, feed_server: FeedServer):
    rt = Runtime.build(settings.model_copy(update={"max_feed_bytes": 2048}), RULES)
    url = feed_server.route("/big.xml", rss(seed_item("https://news.example.com/big")))
    report = poll_feed(rt, Source("big", url))
    assert report.outcome == "permanent_error" and report.error.startswith("too-large: ")
    rt.close()


def test_redis_down_is_infrastructure_error_and_nothing_published_is_lost(
    rt: Runtime, feed_server: FeedServer, redis_client, prefix
):
    url = feed_server.route("/feed.xml", rss(seed_item("https://news.example.com/a/1")))
    assert len(poll_feed(rt, Source("seed", url)).published) == 1

    down = Runtime.build(rt.settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_free_port()}/0"}), RULES)
    with pytest.raises(InfrastructureError):
        poll_feed(down, Source("seed", url))
    down.close()
    assert len(stream(redis_client, Keys(prefix))) == 1


def test_an_edited_copy_stays_in_the_story_it_copied(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    """A copy of a known text under another URL raises no alert; when the copy is later edited,
    it is still that story, so it raises no second alert either."""
    original = feed_server.route("/a.xml", rss(seed_item("https://news.example.com/a/1")))
    copy_link = "https://aggregator.example.net/story/9"
    copy = feed_server.route("/b.xml", rss(seed_item(copy_link)))
    assert len(poll_feed(rt, Source("a", original)).published) == 1
    assert poll_feed(rt, Source("b", copy)).published == []

    edited = SEED + "\n\nتحديث: وصل الوفد إلى إسلام آباد."
    feed_server.route("/b.xml", rss(item(SEED_TITLE, copy_link, edited)))
    report = poll_feed(rt, Source("b", copy))

    assert report.new == 1 and report.published == []
    assert len(stream(redis_client, Keys(prefix))) == 1


def test_undated_entries_are_archive_on_the_first_poll_and_news_afterwards(rt: Runtime, feed_server: FeedServer):
    def undated(link: str, body: str) -> str:
        return f"<item><title>خبر</title><link>{link}</link><description>{body}</description></item>"

    url = feed_server.route("/u.xml", rss(undated("https://news.example.com/u/1", "إيران وباكستان")))
    first = poll_feed(rt, Source("u", url))
    assert first.new == 1 and first.published == []
    feed_server.route(
        "/u.xml",
        rss(
            undated("https://news.example.com/u/1", "إيران وباكستان"),
            undated("https://news.example.com/u/2", "وفد من باكستان يزور إيران"),
        ),
    )
    second = poll_feed(rt, Source("u", url))
    assert second.new == 1 and len(second.published) == 1


def test_unexpected_error_is_recorded_as_a_failure_not_a_poison_feed(rt: Runtime, feed_server: FeedServer, monkeypatch):
    """A bug while processing one feed (here: turning its entries into articles raising) must
    back the feed off and be logged, not escape and leave the feed's schedule untouched. (A bug
    on one article only is that article's failure: tests/test_dead.py.)"""
    import worker.poll

    def broken(*args, **kwargs):
        raise RuntimeError("matcher exploded")

    monkeypatch.setattr(worker.poll, "candidates", broken)
    url = feed_server.route("/x.xml", rss(seed_item("https://news.example.com/x")))
    rt.state.sync_sources([Source("x", url)], now=0)
    report = poll_feed(rt, Source("x", url), now=1000.0)
    assert report.outcome == "temporary_error" and "matcher exploded" in (report.error or "")
    assert rt.state.feed_state("x").failures == 1
    assert rt.redis.zscore(Keys(rt.settings.key_prefix).due, "x") >= 1000 + rt.settings.default_interval


def test_undated_entry_gets_the_fetch_time_and_date_missing(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    rt.state.save_feed("nd", FeedState(last_success=1.0, next_due=0), 60)  # polled before: not a first poll
    link = "https://news.example.com/nd"
    body = rss(f"<item><title>خبر</title><link>{link}</link><description>إيران وباكستان</description></item>")
    url = feed_server.route("/nd.xml", body)
    now = time.time()
    poll_feed(rt, Source("nd", url), now=now)
    [alert] = stream(redis_client, Keys(prefix))
    assert alert["article"]["date_missing"] is True
    assert alert["article"]["published"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


PAGE = Path(__file__).parent / "data" / "pages" / "jawharafm" / "JA-politic-1-20170302.html"


def test_full_text_source_matches_on_the_article_page(settings, feed_server: FeedServer, redis_client, prefix):
    """The feed has only a teaser; the rule's words are in the article page (a real Jawhara FM
    page, served by the local server with a wrong charset label to make it harder)."""
    page = feed_server.route("/article.html", PAGE.read_bytes(), content_type="text/html; charset=iso-8859-1")
    teaser = "حمة الهمامي ضيف بوليتيكا"
    url = feed_server.route("/ft.xml", rss(item("اعتذار الغرياني", page, teaser)))
    rules = [Rule.from_query("ghariani", "الغرياني AND الوظيفة")]  # الوظيفة is only on the page
    rt = Runtime.build(settings, rules)
    report = poll_feed(rt, Source("jawhara", url, "ar", full_text=True))
    rt.close()
    assert len(report.published) == 1
    [alert] = stream(redis_client, Keys(prefix))
    assert "الوظيفة" in {m["surface"] for m in alert["matched"]} | {
        alert["snippet"][s:e] for s, e in alert["snippet_marks"]
    }
    assert len(feed_server.hits("/article.html")) == 1


def test_full_text_failure_keeps_the_feed_content(settings, feed_server: FeedServer, redis_client, prefix):
    missing = feed_server.url("/gone.html")  # 404
    url = feed_server.route("/ft.xml", rss(item("خبر", missing, "وفد من باكستان يزور إيران")))
    rt = Runtime.build(settings, RULES)
    report = poll_feed(rt, Source("ft", url, "ar", full_text=True))
    rt.close()
    assert report.outcome == "ok" and len(report.published) == 1
    assert len(feed_server.hits("/gone.html")) == 1


# --- stories (issue 5) --------------------------------------------------------------------

PARAGRAPHS = [p for p in clean_text(SEED, is_html=False, title=SEED_TITLE).split("\n") if p.strip()]
UPDATE = "وأعلن مكتب رئيس الوزراء في وقت لاحق أن الاجتماع انتهى بالتأكيد على احترام سيادة البلدين ووحدة أراضيهما."
TWO_RULES = [*RULES, Rule.from_query("pakistan-security", '"الأمن القومي" باكستان')]


def updates(client: redis.Redis, keys: Keys) -> list[dict]:
    return [valid_story_updated(fields["event"]) for _, fields in client.xrange(keys.story_updates)]


def three_outlets_and_an_aggregator(server: FeedServer) -> list[Source]:
    """One story: the wire copy, a re-headlined copy with a paragraph added, the first half as a
    teaser on another site, and an aggregator's scrape of the wire copy (artifacts and all)."""
    feeds = {
        "wire": item(SEED_TITLE, "https://wire.example.com/pk/1", "\n".join(PARAGRAPHS)),
        "daily": item(
            "مراجعة أمنية في باكستان بعد الضربات المتبادلة مع إيران",
            "https://www.daily.example.org/news/2024/pk-review?utm_source=rss",
            "\n".join([*PARAGRAPHS, UPDATE]),
        ),
        "weekly": item(SEED_TITLE, "https://m.weekly.example.net/a/77", "\n".join(PARAGRAPHS[: len(PARAGRAPHS) // 2])),
        "aggregator": seed_item("https://aggregator.example.net/story/998?utm_campaign=x"),
    }
    return [Source(name, server.route(f"/{name}.xml", rss(body))) for name, body in feeds.items()]


def test_a_story_from_three_outlets_and_an_aggregator_alerts_once_per_rule(
    settings: Settings, feed_server: FeedServer, redis_client, prefix
):
    rt = Runtime.build(settings, TWO_RULES)
    published = [poll_feed(rt, source).published for source in three_outlets_and_an_aggregator(feed_server)]
    rt.close()
    keys = Keys(prefix)

    assert [sorted(a.rule for a in p) for p in published] == [["iran-pakistan", "pakistan-security"], [], [], []]
    alerts = stream(redis_client, keys)
    assert len(alerts) == 2 and {a["story"] for a in alerts} == {alerts[0]["article"]["id"]}
    story = alerts[0]["story"]
    events = updates(redis_client, keys)
    assert [e["article"]["source"] for e in events] == ["daily", "weekly", "aggregator"]
    for n, e in enumerate(events, 2):
        assert e["type"] == "story.updated" and e["story"] == story
        assert sorted(e["rules"]) == ["iran-pakistan", "pakistan-security"]
        assert sorted(e["alerts"]) == sorted(a["id"] for a in alerts)
        assert e["sources"] == n  # wire, daily, weekly, aggregator
    assert events[0]["article"]["url"] == "https://www.daily.example.org/news/2024/pk-review"


def test_story_events_are_not_repeated_when_the_work_is_redone(
    settings: Settings, feed_server: FeedServer, redis_client, prefix
):
    """A poll redone from scratch (its seen marks lost, as after a crash before mark_seen)
    publishes nothing twice: no alert, no story.updated."""
    rt = Runtime.build(settings, TWO_RULES)
    sources = three_outlets_and_an_aggregator(feed_server)
    for source in sources:
        poll_feed(rt, source)
    keys = Keys(prefix)
    for key in redis_client.scan_iter(match=f"{prefix}seen:*"):
        redis_client.delete(key)
    for source in sources:
        feed_server.routes[f"/{source.id}.xml"].etag = False
        assert poll_feed(rt, source).published == []
    rt.close()
    assert len(stream(redis_client, keys)) == 2 and len(updates(redis_client, keys)) == 3


def test_a_rule_that_first_matches_a_later_version_of_the_story_alerts(
    rt: Runtime, feed_server: FeedServer, redis_client, prefix
):
    """The story's first article says only Pakistan; a later, longer version names Iran: the
    iran-pakistan rule alerts then, for the story of the first article."""
    no_iran = [p for p in PARAGRAPHS if "إيران" not in p and "الإيرانية" not in p]
    first = item("مراجعة أمنية في باكستان", "https://wire.example.com/pk/2", "\n".join(no_iran))
    later = item(
        "مراجعة أمنية في باكستان",
        "https://daily.example.org/pk/2",
        "\n".join([*no_iran, "وشارك في الاجتماع مسؤولون عن ملف إيران."]),
    )
    assert poll_feed(rt, Source("wire", feed_server.route("/w.xml", rss(first)))).published == []
    [alert] = poll_feed(rt, Source("daily", feed_server.route("/d.xml", rss(later)))).published
    assert alert.rule == "iran-pakistan"
    assert json.loads(alert.payload)["story"] != json.loads(alert.payload)["article"]["id"]
    assert updates(redis_client, Keys(prefix)) == []


def test_a_different_story_on_the_same_topic_alerts_again(rt: Runtime, feed_server: FeedServer, redis_client, prefix):
    """Another report on Iran and Pakistan (the CNN Arabic text is not one: this is the seed's
    background under a new lead) is a story of its own."""
    new_lead = "استدعت وزارة الخارجية الإيرانية اليوم القائم بأعمال السفارة الباكستانية في طهران للاحتجاج على الضربات."
    other = item(
        "طهران تستدعي دبلوماسياً باكستانياً", "https://other.example.org/ir/5", "\n".join([new_lead, *PARAGRAPHS[3:]])
    )
    assert (
        len(
            poll_feed(
                rt, Source("wire", feed_server.route("/w.xml", rss(seed_item("https://wire.example.com/pk/1"))))
            ).published
        )
        == 1
    )
    assert len(poll_feed(rt, Source("other", feed_server.route("/o.xml", rss(other)))).published) == 1
    assert len({a["story"] for a in stream(redis_client, Keys(prefix))}) == 2


def test_a_full_text_page_joins_the_story_of_its_canonical_url(settings, feed_server: FeedServer, redis_client, prefix):
    """A syndicated page declares the original as its canonical URL (here the real Jawhara FM
    page's og:url): fetched for its full text, it joins the original's story."""
    canonical = "http://www.jawharafm.net/ar/article/حمة-الهمامي--اعتذار-الغرياني-عن-الوزارة-مخرج-من-ورطة/92/79209"
    rules = [Rule.from_query("ghariani", "الغرياني")]
    rt = Runtime.build(settings, rules)
    original = rss(item("اعتذار الغرياني عن الوزارة", canonical, "الغرياني يعتذر"))
    [alert] = poll_feed(rt, Source("jawhara", feed_server.route("/j.xml", original))).published
    page = feed_server.route("/copy.html", PAGE.read_bytes(), content_type="text/html; charset=utf-8")
    copy = rss(item("الغرياني يعتذر عن الوزارة", page, "تفاصيل اعتذار الغرياني"))
    assert poll_feed(rt, Source("copy", feed_server.route("/c.xml", copy), "ar", full_text=True)).published == []
    rt.close()
    [event] = updates(redis_client, Keys(prefix))
    assert event["story"] == json.loads(alert.payload)["story"] and event["rules"] == ["ghariani"]
