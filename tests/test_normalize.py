"""Folding and tokenising (worker/core/normalize.py), per issue 2 section 5 "Match"."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from worker.core.normalize import fold_words, normalize, tokenize

FOLDING = [
    # tashkeel, superscript alef and tatweel are dropped
    ("إِيرَان", "ايران"),
    ("الجُمْهُورِيَّةُ", "الجمهوريه"),
    ("اِيرانٌ", "ايران"),
    ("هٰذا", "هذا"),
    ("إيـــران", "ايران"),
    ("باكـستـان", "باكستان"),
    # alef forms
    ("أفغانستان", "افغانستان"),
    ("إسلام آباد", "اسلام اباد"),
    ("آسيا", "اسيا"),
    ("ٱلله", "الله"),
    # alef maqsura, teh marbuta, hamza seats
    ("مستشفى", "مستشفي"),
    ("الدولة", "الدوله"),
    ("مؤتمر", "موتمر"),
    ("رئيس", "رييس"),
    # Persian and Urdu letters
    ("ایران", "ايران"),  # Farsi yeh U+06CC
    ("کابل", "كابل"),  # keheh U+06A9
    ("پاکستان", "پاكستان"),
    ("ېران", "يران"),  # U+06D0
    ("پاکستانے", "پاكستاني"),  # yeh barree U+06D2
    ("کوردستانە", "كوردستانه"),  # Kurdish ae U+06D5
    ("جمہوریہ", "جمهوريه"),  # heh goal U+06C1
    # digits
    ("٧ أكتوبر", "7 اكتوبر"),
    ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
    ("۱۴۰۳", "1403"),
    ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
    # zero-width and bidi controls inside a word are dropped, not word breaks
    ("إي\u200bران", "ايران"),
    ("إي\u200cران", "ايران"),
    ("إي\u200dران", "ايران"),
    ("إي\u200eران", "ايران"),
    ("إي\u200fران", "ايران"),
    ("إي\u202aران", "ايران"),
    ("إي\u202bران", "ايران"),
    ("إي\u202cران", "ايران"),
    ("إي\u202dران", "ايران"),
    ("إي\u202eران", "ايران"),
    ("إي\u2066ران", "ايران"),
    ("إي\u2067ران", "ايران"),
    ("إي\u2068ران", "ايران"),
    ("إي\u2069ران", "ايران"),
    ("\ufeffإيران", "ايران"),
    ("إي\ufeffران", "ايران"),
    ("\u200eباكستان\u200f", "باكستان"),
    # Latin is lower-cased
    ("IRAN Pakistan", "iran pakistan"),
    ("BBC عربي", "bbc عربي"),
    # punctuation is a word break
    ("إيران،باكستان", "ايران باكستان"),
    ("إيران؟باكستان", "ايران باكستان"),
    ("“قواعد إرهابية”", "قواعد ارهابيه"),
    ("إيران؛ باكستان.", "ايران باكستان"),
    ("(إيران)-[باكستان]", "ايران باكستان"),
    ("  إيران \n\t باكستان  ", "ايران باكستان"),
    # presentation forms fold through NFKC
    ("ﺇﻳﺮﺍﻥ", "ايران"),
    ("ﺑﺎﻛﺴﺘﺎﻥ", "باكستان"),
    ("ﻻ", "لا"),
    # tashkeel in presentation form (isolated fathatan, shadda) is tashkeel all the same
    ("ﻣﺤﻤﹽﺪ", "محمد"),  # shadda medial form U+FE7D
    ("ﺷﻜﺮﺍﹰ", "شكرا"),  # fathatan isolated form U+FE70
    # nothing to fold
    ("", ""),
    ("،؟ — …", ""),
]


@pytest.mark.parametrize(("text", "expected"), FOLDING)
def test_normalize_folds(text: str, expected: str) -> None:
    # the match text keeps the text's whitespace (punctuation becomes spaces): compare its words
    assert " ".join(normalize(text).split()) == expected


@pytest.mark.parametrize(
    ("text", "norms"),
    [
        ("إيران،باكستان", ["ايران", "باكستان"]),
        ("“الوحيد”", ["الوحيد"]),
        ("كانون الثاني/يناير", ["كانون", "الثاني", "يناير"]),
        ("إي\u200cران", ["ايران"]),
        ("7 أكتوبر", ["7", "اكتوبر"]),
    ],
)
def test_tokenize_splits_words(text: str, norms: list[str]) -> None:
    assert [t.norm for t in tokenize(text)] == norms


def test_token_spans_give_the_original_surface() -> None:
    text = "قالت وزارة الخارجيةِ الإيرانيّة، الخميس: “إيـــران” و\u200cباكستان ﺇﻳﺮﺍﻥ ٧ أكتوبر"
    tokens = tokenize(text)
    surfaces = [text[t.start : t.end] for t in tokens]
    assert surfaces == [
        "قالت",
        "وزارة",
        "الخارجيةِ",
        "الإيرانيّة",
        "الخميس",
        "إيـــران",
        "و\u200cباكستان",
        "ﺇﻳﺮﺍﻥ",
        "٧",
        "أكتوبر",
    ]
    assert [t.norm for t in tokens] == [
        "قالت",
        "وزاره",
        "الخارجيه",
        "الايرانيه",
        "الخميس",
        "ايران",
        "وباكستان",
        "ايران",
        "7",
        "اكتوبر",
    ]


def test_tokens_are_in_order_and_do_not_overlap() -> None:
    text = "من المقرر أن يجري كبار القادة العسكريين والمدنيين في باكستان مراجعة للأمن القومي."
    tokens = tokenize(text)
    assert len(tokens) == 13
    for left, right in itertools.pairwise(tokens):
        assert left.end < right.start


def test_fold_words_matches_normalize_on_one_word() -> None:
    assert fold_words("بِإيـران") == (normalize("بِإيـران"),) == ("بايران",)


# Text drawn from the scripts marsad reads, plus the characters the folding has to deal with.
ARABIC_ISH = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
        st.characters(min_codepoint=0xFB50, max_codepoint=0xFDFF),
        st.characters(min_codepoint=0xFE70, max_codepoint=0xFEFF),
        st.sampled_from(list("abcXYZ019 .,;:!?\"'()-\n\t\u00a0\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2066\u2069")),
    ),
    max_size=40,
)
ANY_TEXT = st.text(max_size=40)


@given(st.one_of(ARABIC_ISH, ANY_TEXT))
def test_normalize_never_raises(text: str) -> None:
    assert isinstance(normalize(text), str)


@given(st.one_of(ARABIC_ISH, ANY_TEXT))
@example("ﹰ")  # isolated fathatan: NFKC gives a space and a mark
@example("¼")  # NFKC gives 1⁄4
@example("İ")  # lower() gives i + combining dot above
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.one_of(ARABIC_ISH, ANY_TEXT))
@example("¼")  # one display character, two words (1, 4): both map onto it
def test_token_spans_lie_inside_the_text_and_cover_the_word(text: str) -> None:
    previous = None
    for tok in tokenize(text):
        assert 0 <= tok.start < tok.end <= len(text)
        assert tok.norm and tok.norm in fold_words(text[tok.start : tok.end])
        if previous is not None:
            # in order; spans touch or overlap only where one display character (¼) gave
            # characters to two words
            assert previous.start <= tok.start and previous.end <= tok.end
            expanded = any(len(" ".join(fold_words(c)).replace(" ", "")) > 1 for c in text)
            assert previous.end <= tok.start or expanded
        previous = tok
