"""The alert contract (issue 7): schemas/alert.v1.json and story-updated.v1.json describe what is
published, field by field, and the examples in docs/alerts.md are valid payloads."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import SCHEMAS, valid_alert, valid_story_updated
from tests.feeds import SEED, SEED_TITLE, item, rss, seed_item
from tests.feedserver import FeedServer
from worker.adapters.keys import Keys
from worker.config import Settings
from worker.core.alerts import iso_utc, term_kind
from worker.core.dedup import article_id, canonical_url
from worker.core.match import Rule
from worker.core.pipeline import alerts_for, to_article
from worker.core.ruleset import build_ruleset
from worker.models import Entry, Source
from worker.poll import Runtime, poll_feed

DOCS = Path(__file__).resolve().parent.parent / "docs" / "alerts.md"
RULES = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]


def test_the_schemas_are_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    for path in SCHEMAS.glob("*.json"):
        Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_a_published_alert_and_its_channel_message_follow_the_contract(
    settings: Settings, feed_server: FeedServer, redis_client: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.channel)
    pubsub.get_message(timeout=1)
    link = "https://www.news.example.com/a/1?utm_source=rss&id=7"
    url = feed_server.route("/feed.xml", rss(seed_item(link)))
    rt = Runtime.build(settings, RULES)
    before = time.time()
    try:
        assert len(poll_feed(rt, Source("seed", url, "ar")).published) == 1
    finally:
        rt.close()

    [(entry_id, fields)] = redis_client.xrange(keys.stream)
    alert = valid_alert(fields["alert"])
    assert "stream_id" not in alert  # on the stream, the entry id is it
    art = alert["article"]
    assert art["canonical_url"] == canonical_url(link) and art["id"] == article_id(art["canonical_url"])
    assert "utm_source" not in art["url"]
    assert alert["story"] == art["id"] and alert["story_sources"] == 1
    t = alert["timings"]
    published_to_redis = int(entry_id.split("-")[0])
    assert t["published"] <= t["fetched"] <= t["matched"] <= published_to_redis
    assert before * 1000 - 1000 <= t["fetched"]  # the poll's own time, not the article's
    assert art["first_seen"] == iso_utc(t["fetched"] / 1000)
    assert art["published"] == iso_utc(t["published"] / 1000)
    assert {m["kind"] for m in alert["matched"]} == {"word"}

    message = pubsub.get_message(timeout=2)
    assert message is not None
    live = valid_alert(message["data"])
    assert live == {**alert, "stream_id": entry_id}
    pubsub.close()


def test_a_story_updated_event_follows_the_contract(
    settings: Settings, feed_server: FeedServer, redis_client: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    later = SEED + "\n\nتحديث: وصل الوفد إلى إسلام آباد صباح اليوم."
    wire = feed_server.route("/wire.xml", rss(seed_item("https://news.example.com/pk/review")))
    other = feed_server.route("/other.xml", rss(item(SEED_TITLE, "https://other.example.org/p/1", later)))
    rt = Runtime.build(settings, RULES)
    try:
        poll_feed(rt, Source("wire", wire))
        poll_feed(rt, Source("other", other))
    finally:
        rt.close()
    [(_, fields)] = redis_client.xrange(keys.story_updates)
    event = valid_story_updated(fields["event"])
    [alert] = [valid_alert(f["alert"]) for _, f in redis_client.xrange(keys.stream)]
    assert (event["story"], event["rules"], event["alerts"]) == (alert["story"], [alert["rule"]], [alert["id"]])
    assert event["sources"] == 2 and event["article"]["source"] == "other"


def test_an_entity_match_is_evidence_of_kind_entity() -> None:
    ruleset = build_ruleset("- id: ir-pk\n  query: entity:IR AND باكستان\n", "rules.yaml", "", "", 1)
    entry = Entry("https://news.example.com/x", "باكستان وإيران", "نص عن المسؤولين الإيرانيين", False, 1.7e9)
    article = to_article(Source("s", "https://news.example.com/feed"), entry, "ar", 1.7e9 + 60)
    [alert] = alerts_for(article, article.id, ruleset.matcher(), 1.7e9 + 60, 3, lambda: 1.7e9 + 61)
    data = valid_alert(alert.payload)
    entity = [m for m in data["matched"] if m["kind"] == "entity"]
    assert {m["surface"] for m in entity} == {"وإيران", "الإيرانيين"} and all(m["term"] == "entity:IR" for m in entity)
    assert data["rule_version"] == 1 and data["story_sources"] == 3
    times = data["timings"]
    assert (times["published"], times["fetched"], times["matched"]) == (1.7e12, 1.7e12 + 60_000, 1.7e12 + 61_000)


@pytest.mark.parametrize(("term", "kind"), [("إيران", "word"), ("جيش العدل", "phrase"), ("إيران*", "prefix")])
def test_term_kinds(term: str, kind: str) -> None:
    assert term_kind(term) == kind


def _doc_examples() -> list[dict]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)]


def test_the_examples_in_docs_alerts_md_are_valid() -> None:
    alert, event = _doc_examples()
    valid_alert(alert)
    valid_story_updated(event)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda a: a.pop("timings"), "timings"),
        (lambda a: a.update(id="not-hex"), "id"),
        (lambda a: a["article"].pop("canonical_url"), "canonical_url"),
        (lambda a: a["matched"][0].update(field="body"), "field"),
        (lambda a: a.update(undocumented=1), "undocumented"),
        (lambda a: a.update(stream_id="12:0"), "stream_id"),
    ],
)
def test_the_contract_rejects_what_it_does_not_describe(change, where: str) -> None:
    """The checks are not vacuous: a payload off the contract fails them."""
    alert = _doc_examples()[0]
    change(alert)
    with pytest.raises(AssertionError, match=where if where != "id" else "not-hex"):
        valid_alert(alert)


@pytest.mark.parametrize("doc", ["alerts.md", "scaling.md"])
def test_the_python_examples_in_the_docs_compile(doc: str) -> None:
    text = (DOCS.parent / doc).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        compile(block, doc, "exec")
