"""Arabic-aware rule matching (worker/core/match.py), per issue 2 section 5 "Match"."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.core.clean import clean_text
from worker.core.match import UNSTRIPPED, Rule, match_rules
from worker.models import Hit

SEED = (Path(__file__).parent / "data" / "seed-article-ar.txt").read_text(encoding="utf-8")
SEED_TITLE = SEED.splitlines()[0]


def hits(query: str, text: str, title: str = "") -> tuple[Hit, ...] | None:
    """The hits of the rule ``query`` on the article, or None when the rule does not match."""
    found = match_rules([Rule.from_query("r", query)], title, text)
    return found[0].hits if found else None


def matches(query: str, text: str, title: str = "") -> bool:
    return hits(query, text, title) is not None


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("إيران", "إيران"),
        ("إيران", "وإيران"),
        ("إيران", "فإيران"),
        ("إيران", "لإيران"),
        ("إيران", "بإيران"),
        ("إيران", "كإيران"),
        ("إيران", "ايران"),
        ("إيران", "إِيرَان"),
        ("إيران", "إيـــران"),
        ("إيران", "ایران"),  # Persian yeh
        ("إيران", "ﺇﻳﺮﺍﻥ"),  # presentation forms
        ("إيران", "إي\u200cران"),  # ZWNJ inside the word
        # optional ال after the preposition
        ("إيران", "الإيران"),
        ("إيران", "والإيران"),
        ("إيران", "بالإيران"),
        ("إيران", "وبالإيران"),
        ("إيران", "فلإيران"),
        ("إيران", "وكإيران"),
        ("ايران", "إيران"),
        ("باكستان", "وباكستان"),
        ("باكستان", "بباكستان"),
        ("باكستان", "باکستان"),  # keheh folds to kaf
        # ل + ال is written لل
        ("الجزائر", "للجزائر"),
        ("الجزائر", "والجزائر"),
        ("الجزائر", "بالجزائر"),
        ("جزائر", "للجزائر"),
        ("القدس", "للقدس"),
        ("القدس", "وبالقدس"),
        ("مصر", "ومصر"),
        ("مصر", "لمصر"),
        # names that begin with clitic-looking letters still take real clitics
        ("لبنان", "ولبنان"),
        ("لبنان", "للبنان"),
        ("لبنان", "بلبنان"),
        ("فلسطين", "وفلسطين"),
        ("فلسطين", "لفلسطين"),
        ("بغداد", "ببغداد"),
        ("واشنطن", "وواشنطن"),
        # Latin is case-insensitive
        ("iran", "IRAN"),
        ("Iran", "iran"),
    ],
)
def test_word_matches_with_clitics(query: str, word: str) -> None:
    found = hits(query, f"قال المسؤول إن {word} سترد.")
    assert found is not None
    assert [h.surface for h in found] == [word]


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("إيران", "إيرانشهر"),  # suffixes are not stripped
        ("إيران", "إيراني"),
        ("إيران", "الإيرانية"),
        ("إيران", "والإيرانيين"),
        ("إيران", "فوإيران"),  # clitics in the wrong order
        ("إيران", "بوإيران"),
        ("إيران", "لوإيران"),
        ("إيران", "ييران"),
        ("القدس", "قدس"),  # the query word is never stripped
        ("لبنان", "بنان"),
        ("وإيران", "إيران"),
        ("بنان", "لبنان"),  # لبنان is never read as ل + بنان
        ("بنان", "ولبنان"),
        ("بنان", "للبنان"),
        ("بنان", "بلبنان"),
        ("يران", "إيران"),
        ("ran", "iran"),
        ("إيران", "الطيران"),  # a substring match on يران would hit these
        ("إيران", "حزيران"),
        ("إيران", "بنيران"),
    ],
)
def test_word_does_not_match(query: str, word: str) -> None:
    assert not matches(query, f"قال المسؤول إن {word} سترد.")


@pytest.mark.parametrize("name", sorted(UNSTRIPPED))
def test_a_name_is_never_read_as_clitic_plus_rest(name: str) -> None:
    """The rule that keeps بنان out of لبنان holds for every name in the list, whatever its first letter."""
    rest = name[1:]
    assert not matches(rest, f"وصل الوفد إلى {name} أمس.")
    assert not matches(rest, f"وصل الوفد إلى و{name} أمس.")


def test_stem_needs_two_letters_of_the_query_word() -> None:
    # "بي" (2 letters) is found in "وبي"; a one-letter query word only matches itself
    assert matches("بي", "قناة وبي سي")
    assert not matches("ي", "وي")
    assert matches("ي", "حرف ي وحده")


@pytest.mark.parametrize(
    ("query", "text", "surface"),
    [
        ('"الأمن القومي"', "مراجعة للأمن القومي بشأن المواجهة", "للأمن القومي"),
        ('"الأمن القومي"', "مراجعة الأمنِ القوميّ بشأن المواجهة", "الأمنِ القوميّ"),
        ('"الأمن القومي"', "مراجعة وللأمن والقومي بشأن المواجهة", "وللأمن والقومي"),
        ('"إسلام آباد"', "دعت إسلام آباد إلى منع", "إسلام آباد"),
        ('"إسلام آباد"', "دعت اسلام اباد إلى منع", "اسلام اباد"),
        ('"جيش العدل"', "ضد جماعة جيش العدل المسلحة", "جيش العدل"),
        ('"حسن الجوار"', "ملتزمة بعلاقات حسن الجوار، مع", "حسن الجوار"),
    ],
)
def test_phrase_matches_consecutive_words(query: str, text: str, surface: str) -> None:
    found = hits(query, text)
    assert found is not None
    assert [h.surface for h in found] == [surface]
    assert text[found[0].start : found[0].end] == surface


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ('"الأمن القومي"', "مراجعة للأمن الوطني القومي"),  # not consecutive
        ('"الأمن القومي"', "القومي الأمن"),  # wrong order
        ('"الأمن القومي"', "الأمن"),  # incomplete
        ('"جيش العدل"', "جيش المعادل"),
    ],
)
def test_phrase_does_not_match(query: str, text: str) -> None:
    assert not matches(query, text)


def test_phrase_does_not_match_across_title_and_text() -> None:
    assert not matches('"الأمن القومي"', title="مراجعة للأمن", text="القومي في باكستان")
    assert matches("الأمن AND القومي", title="مراجعة للأمن", text="القومي في باكستان")


def test_rule_matches_over_title_and_text_together() -> None:
    found = hits("إيران AND باكستان", title="توتر مع إيران", text="قالت باكستان إنها سترد")
    assert found is not None
    assert {(h.field, h.surface) for h in found} == {("title", "إيران"), ("text", "باكستان")}


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (SEED_TITLE, SEED),
        (SEED_TITLE, clean_text(SEED, is_html=False, title=SEED_TITLE)),
        ("", SEED),
    ],
)
def test_iran_pakistan_rule_on_the_seed_article(title: str, text: str) -> None:
    found = hits("إيران AND باكستان", text, title)
    assert found is not None
    fields = {"title": title, "text": text}
    for hit in found:
        assert fields[hit.field][hit.start : hit.end] == hit.surface
    assert {h.term for h in found} == {"إيران", "باكستان"}
    surfaces = {h.surface for h in found}
    assert {"إيران", "وإيران", "باكستان"} <= surfaces
    # the adjectives in the article are not hits
    assert not surfaces & {"الإيرانية", "الباكستانية", "الباكستاني"}
    # hits are listed title first, then in text order
    keys = [(h.field != "title", h.start) for h in found]
    assert keys == sorted(keys)


def test_match_rules_returns_matching_rules_in_rule_order() -> None:
    rules = [
        Rule.from_query("china", "الصين"),
        Rule.from_query("iran-pakistan", "إيران AND باكستان"),
        Rule.from_query("india", "الهند OR نيودلهي"),
        Rule.from_query("davos", '"المنتدى الاقتصادي العالمي" AND دافوس'),
    ]
    found = match_rules(rules, SEED_TITLE, SEED)
    assert [m.rule for m in found] == ["china", "iran-pakistan", "davos"]


SENTENCE = "ودعا رئيس الوزراء المؤقت أنور الحق كاكار إلى الاجتماع يوم الجمعة بعد الضربات على مخابئ في إقليم بلوشستان."


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("كاكار AND بلوشستان", True),
        ("كاكار AND الهند", False),
        ("الهند OR بلوشستان", True),
        ("الهند OR أفغانستان", False),
        ("كاكار NOT الهند", True),
        ("كاكار NOT بلوشستان", False),
        ("كاكار AND NOT (الهند OR أفغانستان)", True),
        ("كاكار AND NOT (الهند OR بلوشستان)", False),
        ("(الهند OR الجمعة) AND (أفغانستان OR اجتماع)", True),
        ("بالاجتماع", False),  # the query word is never stripped
        ("(الهند OR الجمعة) AND (أفغانستان OR طهران)", False),
        ('"رئيس الوزراء" AND "أنور الحق"', True),
        ('"رئيس الوزراء المؤقت" NOT "رئيس الوزراء السابق"', True),
    ],
)
def test_boolean_rules_on_a_real_sentence(query: str, expected: bool) -> None:
    assert matches(query, SENTENCE) is expected


def test_hits_of_negated_terms_are_not_reported() -> None:
    # لبنان is present but only under NOT; the rule still holds because سوريا is absent
    text = "قالت إيران إن وفدها سيزور لبنان الأسبوع المقبل."
    found = hits("إيران AND NOT (لبنان AND سوريا)", text)
    assert found is not None
    assert [h.surface for h in found] == ["إيران"]


def test_hits_of_doubly_negated_terms_are_reported() -> None:
    found = hits("إيران AND NOT NOT لبنان", "قالت إيران إن وفدها سيزور لبنان.")
    assert found is not None
    assert [h.term for h in found] == ["إيران", "لبنان"]


def test_or_reports_only_the_terms_present() -> None:
    found = hits("الهند OR باكستان OR إيران", "أبدت كل من باكستان وإيران رغبتها في تهدئة التوترات.")
    assert found is not None
    assert [(h.term, h.surface) for h in found] == [("باكستان", "باكستان"), ("إيران", "وإيران")]


def test_hit_offsets_count_code_points_in_the_field() -> None:
    text = "وقالت وزارة الخارجيّة: “إيـــران” وباکستان"
    found = hits("إيران OR باكستان", text)
    assert found is not None
    assert [(h.surface, h.start, h.end) for h in found] == [("إيـــران", 24, 32), ("وباکستان", 34, 42)]
    for hit in found:
        assert text[hit.start : hit.end] == hit.surface
