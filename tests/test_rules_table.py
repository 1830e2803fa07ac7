"""The rule matcher as a table (issue 4, "Tests"): query, title, text -> does the rule match?

Arabic, Persian, Urdu, English and French: clitics, diacritics, tatweel, letter variants, ZWNJ,
Persian/Urdu letters, demonyms through entities, false friends, phrases, NEAR/n (both orders,
inside and outside the window), SENTENCE(...), title:/text: scopes, prefixes, NOT and -word,
AND/OR precedence, sources:/languages: restrictions and ``enabled: false``. Every match's
evidence is checked too: each hit's surface is exactly its field's text at [start, end).

Semantics (worker/core/match.py): NEAR/n holds when two hits in the same field are at most n words
apart (adjacent = 1); SENTENCE holds when all its leaves have a hit in one sentence of one field
(sentence ends . ! ? ؟ ۔ and line breaks); a proclitic (و ف, then ب ل ك, then ال; لل) is stripped
from text words, never from query words; suffixes are never stripped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.core.entities import builtin_entities, surfaces
from worker.core.match import Matcher, Rule
from worker.core.normalize import fold_words
from worker.errors import QueryError
from worker.models import Hit

# The built-in gazetteer plus a user entity as config/entities.yaml would give it: a multi-word
# name in two scripts. Built the way the worker builds it: {id: surfaces}.
USER_ENTITIES: dict[str, tuple[str, ...]] = {"jaish-al-adl": ("جيش العدل", "Jaish al-Adl", "Jaish ul-Adl")}
ENTITIES: dict[str, Sequence[str]] = {
    **{eid: surfaces(e) for eid, e in builtin_entities().items()},
    **USER_ENTITIES,
}

# --- the table ---------------------------------------------------------------------------------
# Each row: query, title, text, expected; options (keyword ``rule``: Rule.from_query keywords,
# ``article``: Matcher.match keywords) for the source/language/enabled rows.


def row(query: str, title: str, text: str, expected: bool, id: str, **options: Any) -> Any:
    return pytest.param(query, title, text, expected, options, id=id)


URDU = "وزیر اعظم نے کہا کہ پاکستان ایران کے ساتھ ہے۔ اجلاس کل ہوگا۔"
PERSIAN = "وزیر خارجه ایران می‌گوید که تهران آماده گفتگو است."
SENT = "ودعا رئيس الوزراء أنور الحق كاكار إلى اجتماع بعد الضربات في إقليم بلوشستان"

CASES = [
    # clitics: و ف ب ل ك ال لل in front of a text word; never stripped from the query word
    row("إيران", "", "قالت الحكومة وإيران إنها سترد.", True, "clitic-waw"),
    row("إيران", "", "ثم قال: فإيران لن تتراجع.", True, "clitic-fa"),
    row("إيران", "", "التقى الوفد بإيران أمس.", True, "clitic-ba"),
    row("إيران", "", "رسالة لإيران من واشنطن.", True, "clitic-lam"),
    row("إيران", "", "دولة كإيران لا تتراجع.", True, "clitic-kaf"),
    row("قدس", "", "زار الوفد القدس أمس.", True, "clitic-al"),
    row("الجزائر", "", "وصل الرئيس للجزائر أمس.", True, "clitic-lil"),
    row("مدينة", "", "وقع الانفجار وبالمدينة حظر تجول.", True, "clitic-wa-bi-al"),
    row("إيران", "", "قالت بوإيران كلاما.", False, "clitics-wrong-order"),
    row("وإيران", "", "قالت إيران إنها سترد.", False, "query-word-never-stripped"),
    row("بالاجتماع", "", SENT, False, "query-word-with-clitics-needs-them"),
    # diacritics and tatweel, in the text or in the query
    row("إيران", "", "قالت إِيرَانُ إنها سترد.", True, "diacritics-in-text"),
    row("إِيرَان", "", "قالت إيران إنها سترد.", True, "diacritics-in-query"),
    row("محمد", "", "قال مُحَمَّدٌ إنه سيعود.", True, "shadda-tanween"),
    row("باكستان", "", "قالت باكـــستان إنها سترد.", True, "tatweel-in-text"),
    row("إيــران", "", "قالت إيران إنها سترد.", True, "tatweel-in-query"),
    # alef, yeh, teh marbuta and hamza variants
    row("أفغانستان", "", "عاد اللاجئون إلى افغانستان.", True, "alef-hamza-above"),
    row("إسلام", "", "قال اسلام إنه سيعود.", True, "alef-hamza-below"),
    row('"إسلام آباد"', "", "أعلنت اسلام اباد الحداد.", True, "alef-madda"),
    row('"حزب الله"', "", "أعلن حزب ٱلله موقفه.", True, "alef-wasla"),
    row("مستشفى", "", "نقل الجرحى إلى مستشفي المدينة.", True, "alef-maqsura"),
    row("موسي", "", "قال موسى إنه سيعود.", True, "yeh-for-alef-maqsura"),
    row("الجزيرة", "", "قالت قناة الجزيره إن", True, "teh-marbuta-as-heh"),
    row("مدرسه", "", "أغلقت مدرسة القرية.", True, "heh-for-teh-marbuta"),
    row("مؤتمر", "", "انعقد موتمر صحفي.", True, "waw-hamza"),
    row("مسائل", "", "ناقشوا مسايل عالقة", True, "yeh-hamza"),
    # ZWNJ (removed inside words) and Persian/Urdu letters
    row("می‌گوید", "", "وزیر خارجه میگوید که", True, "zwnj-in-query"),
    row("میگوید", "", PERSIAN, True, "zwnj-in-text"),
    row("إيران", "", "قالت إي\u200cران إنها سترد.", True, "zwnj-inside-arabic-word"),
    row("إيران", "", PERSIAN, True, "persian-yeh-folds-to-arabic-yeh"),
    row("ایران", "", "قالت إيران إنها سترد.", True, "persian-query-arabic-text"),
    row("تهران", "", PERSIAN, True, "persian-word"),
    row("پاکستان", "", "قالت پاكستان إنها سترد.", True, "keheh-folds-to-kaf"),
    row("باكستان", "", URDU, False, "peh-is-not-beh"),  # پاکستان is reached through entity:PK
    row('"كي ساته"', "", URDU, True, "urdu-yeh-barree-and-heh-doachashmee"),
    row("ہندوستان", "", "زار الوفد هندوستان", True, "urdu-heh-goal"),
    row('"وزير اعظم"', "", URDU, True, "urdu-persian-yeh-in-text"),
    row("2024", "", "في عام ٢٠٢٤ قالت", True, "arabic-indic-digits"),
    row("1403", "", "در سال ۱۴۰۳ گفت", True, "persian-digits"),
    # English and French: case, apostrophes, accents
    row("Iran", "", "IRAN said on Monday it would respond.", True, "english-case"),
    row("Iran", "", "Iran's foreign minister said", True, "english-possessive"),
    row("Iran", "", "le ministre des Affaires étrangères d'Iran a dit", True, "french-elision"),
    row("Téhéran", "", "À TÉHÉRAN, le gouvernement a dit", True, "french-accented-case"),
    row("Iran", "", "Iranian officials said", False, "english-suffix-not-stripped"),
    row("Oman", "", "A woman said the talks failed.", False, "english-inside-word"),
    row("Niger", "", "Nigeria's army said", False, "english-prefix-of-word"),
    # entities: names and forms in every script
    row("entity:IR", "", "قال مسؤول إيراني إن", True, "entity-nisba"),
    row("entity:IR", "", "قالت الخارجية الإيرانية إن", True, "entity-nisba-feminine-with-al"),
    row("entity:IR", "", "قال مسؤولون إيرانيون إن", True, "entity-nisba-plural"),
    row("entity:IR", "", "التقى بالإيرانيين أمس", True, "entity-nisba-plural-with-clitics"),
    row("entity:IR", "", "Iranian officials said", True, "entity-english-demonym"),
    row("entity:IR", "", "la diplomatie iranienne a dit", True, "entity-french-demonym"),
    row("entity:IR", "", PERSIAN, True, "entity-persian-name"),
    row("entity:IR", "", "ثم قالت وإيران إنها سترد.", True, "entity-name-with-clitic"),
    row("entity:PK", "", URDU, True, "entity-urdu-name"),
    row("entity:PK", "", "قال الجيش الباكستاني إن", True, "entity-pk-nisba"),
    row("entity:PK", "", "Pakistani officials said", True, "entity-pk-english"),
    row("entity:SA", "", "قال مسؤول سعودي إن", True, "entity-irregular-nisba-saudi"),
    row("entity:AF", "", "عاد لاجئ أفغاني إلى بلده", True, "entity-irregular-nisba-afghan"),
    row("entity:US", "", "قالت الخارجية الأمريكية إن", True, "entity-irregular-nisba-american"),
    row("entity:IR", "", "Les Iraniens ont voté", True, "entity-french-plural"),
    row("entity:US", "", "Les ÉTATS-UNIS ont quitté l'accord", True, "entity-french-name-hyphen-case"),
    row("entity:US", "", "ترامب يعلن انسحاب الولايات المتحدة", True, "entity-multiword-arabic-name"),
    row("entity:SA", "", "L'Arabie saoudite a salué", True, "entity-french-multiword-after-elision"),
    row("entity:jaish-al-adl", "", "Jaish al-Adl claimed the attack", True, "entity-user-latin"),
    row("entity:jaish-al-adl", "", "تبنت جماعة جيش العدل الهجوم", True, "entity-user-arabic"),
    # false friends
    row("إيران", "", "وصل الوفد إلى إيرانشهر أمس.", False, "false-friend-iranshahr"),
    row("entity:IR", "", "وصل الوفد إلى إيرانشهر أمس.", False, "false-friend-iranshahr-entity"),
    row("إيران", "", "في شهر حزيران الماضي", False, "false-friend-june"),
    row("entity:IR", "", "شركات الطيران تعلق رحلاتها", False, "false-friend-aviation"),
    row("لبنان", "", "أشار ببنانه إلى بنان", False, "false-friend-banan"),
    row("بنان", "", "وصل الوفد إلى لبنان أمس.", False, "lebanon-is-not-la-banan"),
    row("entity:LB", "", "وصل الوفد إلى للبنان أمس.", True, "entity-lebanon-with-lil"),
    row("ريطاني", "", "قال مسؤول بريطاني إن", False, "nisba-is-not-clitic-plus-rest"),
    row("بريطاني", "", "قال مسؤول وبريطاني إن", True, "nisba-takes-real-clitics"),
    # phrases
    row('"مجلس الأمن"', "", "دعت إلى اجتماع لمجلس الأمن الدولي.", True, "phrase-with-clitic"),
    row('"مجلس الأمن"', "", "اجتمع مجلس الوزراء والأمن العام.", False, "phrase-words-apart"),
    row('"الأمم المتحدة"', "", "المتحدة الأمم", False, "phrase-wrong-order"),
    row('"Security Council"', "", "The UN security council met on Monday.", True, "phrase-english"),
    row('"Conseil de sécurité"', "", "Le Conseil de sécurité de l'ONU s'est réuni.", True, "phrase-french"),
    row('"الأمن القومي"', "مراجعة للأمن", "القومي في باكستان", False, "phrase-not-across-fields"),
    # NEAR/n: at most n words apart (adjacent = 1), either order, one field
    row("إيران NEAR/3 باكستان", "", "قالت إيران إن باكستان سترد", True, "near-inside"),
    row("إيران NEAR/3 باكستان", "", "قالت باكستان إن إيران سترد", True, "near-inside-reversed"),
    row("إيران NEAR/2 باكستان", "", "قالت إيران إن حكومة باكستان سترد", False, "near-outside"),
    row("إيران NEAR/2 باكستان", "", "قالت باكستان إن حكومة إيران سترد", False, "near-outside-reversed"),
    row("إيران NEAR/3 باكستان", "", "إيران قالت إن باكستان", True, "near-exactly-n"),
    row("إيران NEAR/3 باكستان", "", "إيران قالت أمس إن باكستان", False, "near-n-plus-one"),
    row("إيران NEAR/1 باكستان", "", "أبدت إيران وباكستان رغبتهما", True, "near-1-adjacent-with-clitic"),
    row("إيران NEAR/1 باكستان", "", "أبدت إيران ثم باكستان رغبتهما", False, "near-1-one-between"),
    row("إيران NEAR/5 باكستان", "إيران", "باكستان", False, "near-not-across-fields"),
    row("entity:IR NEAR/3 باكستان", "", "قالت الخارجية الإيرانية إن باكستان", True, "near-entity-form"),
    row('"مجلس الأمن" NEAR/2 إيران', "", "دعا مجلس الأمن إيران إلى", True, "near-phrase"),
    row("entity:jaish-al-adl NEAR/2 Iran", "", "Jaish al-Adl x Iran", True, "near-multiword-entity-inside"),
    row("entity:jaish-al-adl NEAR/2 Iran", "", "Jaish al-Adl x y Iran", False, "near-multiword-entity-outside"),
    row("Iran NEAR/4 Pakistan", "", "Pakistan said that Iran", True, "near-english-reversed"),
    row("Iran NEAR/2 Pakistan", "", "Iran said on Monday that Pakistan", False, "near-english-outside"),
    # SENTENCE(...): all in one sentence of one field
    row("SENTENCE(كاكار, بلوشستان)", "", SENT + ".", True, "sentence-within"),
    row("SENTENCE(إيران, باكستان)", "", "قالت إيران، كما قالت باكستان، إنها", True, "sentence-comma-is-not-an-end"),
    row("SENTENCE(إيران, باكستان)", "", "قالت إيران إنها سترد. وقالت باكستان", False, "sentence-full-stop"),
    row("SENTENCE(إيران, باكستان)", "", "هل سترد إيران؟ قالت باكستان", False, "sentence-arabic-question"),
    row("SENTENCE(إيران, باكستان)", "", "ردت إيران! وقالت باكستان", False, "sentence-exclamation"),
    row("SENTENCE(إيران, باكستان)", "", "قالت إيران\nوقالت باكستان", False, "sentence-line-break"),
    row("SENTENCE(entity:PK, entity:IR)", "", URDU, True, "sentence-urdu-within"),
    row("SENTENCE(پاکستان, اجلاس)", "", URDU, False, "sentence-urdu-full-stop"),
    row("SENTENCE(Iran, Pakistan)", "", "Iran said so? Pakistan denied it.", False, "sentence-english-question"),
    row("SENTENCE(إيران, باكستان, الهند)", "", "إيران وباكستان والهند في قمة.", True, "sentence-three-within"),
    row("SENTENCE(إيران, باكستان, الهند)", "", "إيران وباكستان في قمة. والهند", False, "sentence-third-outside"),
    row("SENTENCE(إيران, باكستان)", "إيران", "باكستان", False, "sentence-not-across-fields"),
    row("SENTENCE(إيران, باكستان)", "إيران وباكستان", "", True, "sentence-in-title"),
    # title: and text: scopes
    row("title:إيران", "توتر مع إيران", "قالت باكستان", True, "title-scope-in-title"),
    row("title:إيران", "توتر إقليمي", "قالت إيران", False, "title-scope-only-in-text"),
    row("text:إيران", "توتر مع إيران", "قالت باكستان", False, "text-scope-only-in-title"),
    row('title:"مجلس الأمن"', "اجتماع لمجلس الأمن", "", True, "title-scope-phrase"),
    row("title:(الهند OR إيران) باكستان", "توتر مع إيران", "قالت باكستان", True, "title-scope-group"),
    row("title:(الهند OR إيران) باكستان", "قالت باكستان", "توتر مع إيران", False, "title-scope-group-in-text"),
    row("text:entity:IR", "", "قال مسؤول إيراني", True, "text-scope-entity"),
    row("title:إيران*", "الحرس الإيراني", "", True, "title-scope-prefix"),
    # prefixes: at least 3 letters, tested after the clitics are stripped
    row("إيران*", "", "قال الإيرانيين إن", True, "prefix-with-al"),
    row("إيران*", "", "وقال وللإيرانيين حق", True, "prefix-with-wa-lil"),
    row("إيران*", "", "مدينة إيرانشهر", True, "prefix-matches-longer-word"),
    row("إيران*", "", "في شهر حزيران", False, "prefix-only-at-word-start"),
    row("باكستان*", "", "قال الجيش الباكستاني", True, "prefix-pakistani"),
    row("إير*", "", "قالت إيران", True, "prefix-three-letters"),
    row("بنا*", "", "وصل الوفد إلى لبنان", False, "prefix-never-strips-a-name"),
    row("بنا*", "", "شكلت حكومة لبنانية جديدة", False, "prefix-never-strips-a-nisba"),
    row("Iran*", "", "Iranian officials said", True, "prefix-english"),
    row('"مجلس الأم*"', "", "اجتماع مجلس الأمن الدولي", True, "prefix-ends-phrase"),
    # NOT and -word
    row("إيران NOT باكستان", "", "قالت إيران إن باكستان", False, "not-present"),
    row("إيران NOT باكستان", "", "قالت إيران إنها سترد", True, "not-absent"),
    row("إيران -باكستان", "", "أبدت إيران وباكستان رغبتهما", False, "minus-with-clitic"),
    row("-باكستان إيران", "", "قالت إيران إنها سترد", True, "minus-first"),
    row("إيران NOT title:باكستان", "", "قالت إيران إن باكستان", True, "not-scoped-elsewhere"),
    row("إيران NOT title:باكستان", "باكستان", "قالت إيران", False, "not-scoped-present"),
    row("entity:IR -entity:PK", "", "قال مسؤول إيراني", True, "not-entity-absent"),
    row("entity:IR -entity:PK", "", "قال مسؤول إيراني ونظيره الباكستاني", False, "not-entity-form-present"),
    # AND binds tighter than OR; NOT tightest
    row("الهند OR إيران باكستان", "", "قالت الهند", True, "precedence-or-left"),
    row("الهند OR إيران باكستان", "", "قالت إيران", False, "precedence-and-needs-both"),
    row("الهند OR إيران باكستان", "", "قالت إيران وباكستان", True, "precedence-and-both"),
    row("إيران باكستان OR الهند", "", "قالت الهند", True, "precedence-or-right"),
    row("(الهند OR إيران) باكستان", "", "قالت الهند", False, "parentheses"),
    row("إيران AND NOT باكستان OR الهند", "", "إيران وباكستان والهند", True, "precedence-not-and-or"),
    row("إيران AND NOT باكستان OR الهند", "", "إيران وباكستان", False, "precedence-not-and-or-false"),
    # sources:, languages:, enabled
    row("إيران", "", "قالت إيران", True, "source-listed", rule={"sources": frozenset({"aljazeera"})},
        article={"source": "aljazeera"}),
    row("إيران", "", "قالت إيران", False, "source-not-listed", rule={"sources": frozenset({"aljazeera"})},
        article={"source": "bbc-arabic"}),
    row("إيران", "", "قالت إيران", False, "source-missing", rule={"sources": frozenset({"aljazeera"})}),
    row("إيران", "", "قالت إيران", True, "language-listed", rule={"languages": frozenset({"ar", "fa"})},
        article={"language": "fa"}),
    row("إيران", "", "قالت إيران", False, "language-not-listed", rule={"languages": frozenset({"ar"})},
        article={"language": "ur"}),
    row("إيران", "", "قالت إيران", False, "language-missing", rule={"languages": frozenset({"ar"})},
        article={"source": "aljazeera"}),
    row("إيران", "", "قالت إيران", True, "both-restrictions", rule={"sources": frozenset({"a"}),
        "languages": frozenset({"ar"})}, article={"source": "a", "language": "ar"}),
    row("إيران", "", "قالت إيران", False, "disabled", rule={"enabled": False}),
]  # fmt: skip


def _match(query: str, title: str, text: str, options: Mapping[str, Any]) -> list[Any]:
    rule = Rule.from_query("r", query, **options.get("rule", {}))
    return Matcher([rule], ENTITIES).match(title, text, **options.get("article", {}))


@pytest.mark.parametrize(("query", "title", "text", "expected", "options"), CASES)
def test_rule_table(query: str, title: str, text: str, expected: bool, options: dict[str, Any]) -> None:
    found = _match(query, title, text, options)
    assert bool(found) is expected
    if not found:
        return
    assert [m.rule for m in found] == ["r"]
    assert found[0].hits, "a match carries its evidence"
    check_evidence(found[0].hits, title, text)


def check_evidence(hits: Sequence[Hit], title: str, text: str) -> None:
    """Each hit's surface is its field's text at [start, end): a whole word or phrase, as many
    words as the query term (entities: as one of the entity's names or forms)."""
    fields = {"title": title, "text": text}
    for hit in hits:
        assert hit.field in fields
        assert fields[hit.field][hit.start : hit.end] == hit.surface
        assert hit.surface and hit.surface == hit.surface.strip()
        words = len(fold_words(hit.surface))
        if hit.term.startswith("entity:"):
            assert words in {len(fold_words(name)) for name in ENTITIES[hit.term.removeprefix("entity:")]}
        else:
            assert words == len(fold_words(hit.term.rstrip("*")))


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 80
    assert sum(c.values[3] for c in CASES) >= 30 and sum(not c.values[3] for c in CASES) >= 30


def test_disabled_rule_does_not_hide_the_others() -> None:
    rules = [
        Rule.from_query("off", "إيران", enabled=False),
        Rule.from_query("on", "entity:IR"),
        Rule.from_query("pk", "باكستان"),
    ]
    found = Matcher(rules, ENTITIES).match("", "قالت إيران إنها سترد.")
    assert [m.rule for m in found] == ["on"]


@pytest.mark.parametrize(
    "query",
    ["إي*", "ir*", "وإ*", "إيران NEAR/0 باكستان", "إيران NEAR/51 باكستان", "SENTENCE(إيران)", "-إيران"],
)
def test_bad_queries_never_compile(query: str) -> None:
    with pytest.raises(QueryError):
        Rule.from_query("r", query)


# --- property: marks never stop a match ----------------------------------------------------------

# The rows that match with Arabic-script letters in the title or text, and no rule options.
ARABIC_MATCHES = [
    c.values[:3]
    for c in CASES
    if c.values[3] and not c.values[4] and any("\u0621" <= ch <= "\u06ff" for ch in c.values[1] + c.values[2])
]
MARKS = [chr(cp) for cp in range(0x064B, 0x0653)] + ["\u0640"]


def _is_arabic_letter(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff" and ch.isalpha() and not "\u064b" <= ch <= "\u0652" and ch != "\u0640"


def _insert(text: str, picks: list[tuple[int, str]]) -> str:
    """``text`` with each pick's mark inserted after the pick's Arabic letter (by index among them)."""
    letters = [i for i, ch in enumerate(text) if _is_arabic_letter(ch)]
    if not letters:
        return text
    after: dict[int, str] = {}
    for k, mark in picks:
        i = letters[k % len(letters)]
        after[i] = after.get(i, "") + mark
    return "".join(ch + after.get(i, "") for i, ch in enumerate(text))


def test_arabic_matches_for_the_property() -> None:
    assert len(ARABIC_MATCHES) >= 50


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(ARABIC_MATCHES),
    title_marks=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(MARKS)), max_size=8),
    text_marks=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(MARKS)), min_size=1, max_size=20),
)
def test_diacritics_and_tatweel_never_stop_a_match(
    case: tuple[str, str, str], title_marks: list[tuple[int, str]], text_marks: list[tuple[int, str]]
) -> None:
    query, title, text = case
    title2, text2 = _insert(title, title_marks), _insert(text, text_marks)
    found = _match(query, title2, text2, {})
    assert found, (query, title2, text2)
    check_evidence(found[0].hits, title2, text2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("عقد مجلس الأمن جلسة طارئة", True),
        ("انعقد المجلس. الأمن العام يعلن الطوارئ", False),  # the words meet across a sentence end
        ("عقد مجلس\nالأمن العام اجتماعا", False),  # ... or a line break
        ("قال إن مجلس، الأمن", True),  # a comma does not end a sentence
    ],
)
def test_a_phrase_does_not_cross_a_sentence_end(text: str, expected: bool) -> None:
    rules = [Rule.from_query("unsc", '"مجلس الأمن"')]
    assert bool(Matcher(rules).match("", text)) is expected
