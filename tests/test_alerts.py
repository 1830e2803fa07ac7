"""Alert ids and payloads (worker/core/alerts.py), per issue 2 section 6 "Publish"."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.alerts import alert_id, build_alert, iso_utc, make_snippet, snippet
from worker.core.clean import clean_text
from worker.core.match import Rule, match_rules
from worker.models import Article, Hit, RuleMatch

SEED = (Path(__file__).parent / "data" / "seed-article-ar.txt").read_text(encoding="utf-8")
SEED_TITLE = SEED.splitlines()[0]
SEED_TEXT = clean_text(SEED, is_html=False, title=SEED_TITLE)
PUBLISHED = 1705649400.0  # 2024-01-19T07:30:00Z
ELLIPSIS = "…"


def article(title: str = SEED_TITLE, text: str = SEED_TEXT) -> Article:
    return Article(
        id="3f2a9c0d1e4b5a6c",
        source="bbc-arabic",
        url="https://www.bbc.com/arabic/articles/c1",
        title=title,
        text=text,
        published=PUBLISHED,
        language="ar",
        text_hash="0" * 20,
    )


def payload_for(query: str, art: Article, story: str = "story-1") -> dict[str, Any]:
    [match] = match_rules([Rule.from_query("iran-pakistan", query)], art.title, art.text)
    alert = build_alert(art, story, match)
    data = json.loads(alert.payload)
    assert (alert.id, alert.rule, alert.story) == (data["id"], data["rule"], data["story"])
    return data


@pytest.mark.parametrize(
    ("rule", "story"),
    [("iran-pakistan", "3f2a9c0d1e4b5a6c"), ("r", ""), ("إيران", "قصة")],
)
def test_alert_id_is_sha1_of_rule_and_story(rule: str, story: str) -> None:
    assert alert_id(rule, story) == hashlib.sha1(f"{rule}\n{story}".encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{40}", alert_id(rule, story))


def test_alert_id_separates_rule_and_story() -> None:
    assert alert_id("a", "bc") != alert_id("ab", "c")
    assert alert_id("iran-pakistan", "s1") != alert_id("iran-pakistan", "s2")


def test_same_story_gives_the_same_alert_under_another_article() -> None:
    """A story seen again under another URL builds the same alert id: the publisher's SET NX drops it."""
    first = payload_for("إيران AND باكستان", article(), story="story-1")
    again = payload_for("إيران AND باكستان", article(title="عنوان آخر للخبر نفسه"), story="story-1")
    assert first["id"] == again["id"] == alert_id("iran-pakistan", "story-1")


def test_payload_shape_on_the_seed_article() -> None:
    data = payload_for("إيران AND باكستان", article())
    assert set(data) == {
        "schema",
        "id",
        "rule",
        "rule_version",
        "story",
        "story_sources",
        "matched",
        "snippet",
        "snippet_marks",
        "article",
        "timings",
    }
    assert data["rule_version"] == 0  # built without a stored rule set
    assert data["schema"] == 1
    assert data["id"] == alert_id("iran-pakistan", "story-1")
    assert data["rule"] == "iran-pakistan"
    assert data["story"] == "story-1"
    assert data["article"] == {
        "id": "3f2a9c0d1e4b5a6c",
        "url": "https://www.bbc.com/arabic/articles/c1",
        "title": SEED_TITLE,
        "source": "bbc-arabic",
        "language": "ar",
        "published": "2024-01-19T07:30:00Z",
        "date_missing": False,
        "canonical_url": "https://www.bbc.com/arabic/articles/c1",  # none set: the url
        "first_seen": "2024-01-19T07:30:00Z",  # built without Seen: the published time stands
    }
    assert data["story_sources"] == 1
    assert data["timings"] == {"published": 1705649400000, "fetched": 1705649400000, "matched": 1705649400000}
    assert {m["kind"] for m in data["matched"]} == {"word"}


def test_matched_entries_point_into_the_cleaned_fields() -> None:
    data = payload_for("إيران AND باكستان", article())
    fields = {"title": SEED_TITLE, "text": SEED_TEXT}
    assert data["matched"]
    for m in data["matched"]:
        assert set(m) == {"term", "kind", "surface", "field", "start", "end"}
        assert m["term"] in ("إيران", "باكستان")
        assert fields[m["field"]][m["start"] : m["end"]] == m["surface"]
    assert {m["field"] for m in data["matched"]} == {"title", "text"}
    assert {"وإيران", "إيران", "باكستان"} <= {m["surface"] for m in data["matched"]}


def test_payload_is_utf8_json_not_escaped() -> None:
    [match] = match_rules([Rule.from_query("iran-pakistan", "إيران AND باكستان")], SEED_TITLE, SEED_TEXT)
    alert = build_alert(article(), "story-1", match)
    assert "إيران" in alert.payload
    assert "\\u" not in alert.payload


def test_snippet_on_the_seed_article() -> None:
    data = payload_for("إيران AND باكستان", article())
    snip = data["snippet"]
    first_text_hit = next(m for m in data["matched"] if m["field"] == "text")
    # the first hit's sentence, whole: it is short enough, so no ellipsis is needed
    sentence = SEED_TEXT.splitlines()[0]
    assert first_text_hit["surface"] in sentence
    assert snip == sentence
    # the marks point at the matched words inside the snippet
    assert data["snippet_marks"] == [[sentence.index("إيران"), sentence.index("إيران") + len("إيران")]]
    for start, end in data["snippet_marks"]:
        assert snip[start:end] in {m["surface"] for m in data["matched"]}
    for artifact in ("[ad_", "المصدر", SEED_TITLE):
        assert artifact not in snip


def test_snippet_from_the_title_when_only_the_title_matches() -> None:
    data = payload_for("مراجعة", article(text="نص قصير لا يذكر شيئا."))
    assert data["snippet"] == SEED_TITLE
    assert [m["field"] for m in data["matched"]] == ["title"]


def test_short_text_is_the_whole_snippet() -> None:
    text = "أبدت كل من باكستان وإيران رغبتها في تهدئة التوترات."
    assert payload_for("إيران", article(title="", text=text))["snippet"] == text


def test_snippet_without_hit_starts_at_the_beginning() -> None:
    snip = snippet(SEED_TEXT, None)
    assert snip.startswith(SEED_TEXT[:20])
    assert snip.endswith(ELLIPSIS)
    assert len(snip) <= 202


WORDS = ["باكستان", "إيران", "الأمن", "القومي", "مراجعة", "في", "و", "الجماعات", "المسلحة", "الانتقامية"]


@given(
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=120),
    index=st.integers(min_value=0),
)
def test_snippet_is_short_cut_on_words_and_contains_the_hit(words: list[str], index: int) -> None:
    text = " ".join(words)
    i = index % len(words)
    start = len(" ".join(words[:i])) + (1 if i else 0)
    hit = Hit(words[i], words[i], "text", start, start + len(words[i]))
    assert text[hit.start : hit.end] == hit.surface

    snip = snippet(text, hit)
    assert len(snip) <= 242  # a sentence of up to 1.2 x 200 characters, or ~200 and two ellipses
    assert hit.surface in snip
    core = snip.removeprefix(ELLIPSIS).removesuffix(ELLIPSIS)
    at = text.find(core, max(0, hit.end - len(core)))
    assert at != -1 and at <= hit.start and hit.end <= at + len(core)
    # cut on word boundaries, with an ellipsis exactly where text was cut
    assert at == 0 or text[at - 1] == " "
    assert at + len(core) == len(text) or text[at + len(core)] == " "
    assert snip.startswith(ELLIPSIS) == (at > 0)
    assert snip.endswith(ELLIPSIS) == (at + len(core) < len(text))


@pytest.mark.parametrize(
    ("ts", "expected"),
    [(0.0, "1970-01-01T00:00:00Z"), (PUBLISHED, "2024-01-19T07:30:00Z"), (1705649400.9, "2024-01-19T07:30:00Z")],
)
def test_published_is_iso_utc(ts: float, expected: str) -> None:
    assert iso_utc(ts) == expected


def test_build_alert_with_hits_given_directly() -> None:
    text = "قالت وزارة الخارجية الإيرانية، الخميس، إنها ملتزمة بعلاقات حسن الجوار مع باكستان."
    hit = Hit("باكستان", "باكستان", "text", text.index("باكستان"), text.index("باكستان") + 7)
    alert = build_alert(article(title="", text=text), "s", RuleMatch("pakistan", (hit,)))
    data = json.loads(alert.payload)
    assert data["matched"] == [
        {"term": "باكستان", "kind": "word", "surface": "باكستان", "field": "text", "start": 73, "end": 80}
    ]
    assert data["id"] == alert.id == alert_id("pakistan", "s")


def test_snippet_marks_shift_with_the_leading_ellipsis() -> None:
    words = ["كلمة"] * 80 + ["باكستان"] + ["كلمة"] * 80  # one long sentence: a window is cut
    text = " ".join(words)
    start = text.index("باكستان")
    hit = Hit("باكستان", "باكستان", "text", start, start + 7)
    snip = make_snippet(text, [hit])
    assert snip.text.startswith(ELLIPSIS) and snip.text.endswith(ELLIPSIS)
    [(s, e)] = snip.marks
    assert snip.text[s:e] == "باكستان"
