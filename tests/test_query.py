"""The rule query language (worker/core/query.py), per issue 2 section 5 "Match"."""

from __future__ import annotations

import pytest

from worker.core.normalize import normalize
from worker.core.query import And, Node, Not, Or, Term, evaluate, parse_query, positive_terms, terms
from worker.errors import QueryError


def t(text: str) -> Term:
    return Term(text, tuple(normalize(text).split()))


IRAN, PAKISTAN, INDIA, LEBANON = t("إيران"), t("باكستان"), t("الهند"), t("لبنان")


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("إيران", IRAN),
        ("إيران AND باكستان", And((IRAN, PAKISTAN))),
        ("إيران باكستان", And((IRAN, PAKISTAN))),  # juxtaposition is AND
        ("إيران OR باكستان", Or((IRAN, PAKISTAN))),
        # AND binds tighter than OR, whichever side it is on
        ("إيران OR باكستان AND الهند", Or((IRAN, And((PAKISTAN, INDIA))))),
        ("إيران AND باكستان OR الهند", Or((And((IRAN, PAKISTAN)), INDIA))),
        ("إيران باكستان OR الهند لبنان", Or((And((IRAN, PAKISTAN)), And((INDIA, LEBANON))))),
        # NOT binds tightest and is unary
        ("إيران NOT باكستان", And((IRAN, Not(PAKISTAN)))),
        ("إيران AND NOT باكستان", And((IRAN, Not(PAKISTAN)))),
        ("NOT باكستان AND إيران", And((Not(PAKISTAN), IRAN))),
        ("إيران OR الهند NOT باكستان", Or((IRAN, And((INDIA, Not(PAKISTAN)))))),
        ("إيران AND NOT NOT باكستان", And((IRAN, Not(Not(PAKISTAN))))),
        # parentheses override precedence
        ("(إيران OR الهند) AND باكستان", And((Or((IRAN, INDIA)), PAKISTAN))),
        ("إيران AND NOT (باكستان OR الهند)", And((IRAN, Not(Or((PAKISTAN, INDIA)))))),
        ("((إيران))", IRAN),
        ("إيران(باكستان)", And((IRAN, PAKISTAN))),
        # chains stay flat
        ("إيران AND باكستان AND الهند", And((IRAN, PAKISTAN, INDIA))),
        ("إيران OR باكستان OR الهند", Or((IRAN, PAKISTAN, INDIA))),
    ],
)
def test_precedence_and_grouping(query: str, tree: Node) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("iran and pakistan", And((t("iran"), t("and"), t("pakistan")))),
        ("iran or pakistan", And((t("iran"), t("or"), t("pakistan")))),
        ("إيران not باكستان", And((IRAN, t("not"), PAKISTAN))),
    ],
)
def test_lower_case_operators_are_words(query: str, tree: Node) -> None:
    assert parse_query(query) == tree


def test_phrase_is_one_term_with_folded_words() -> None:
    node = parse_query('"الأمنِ القوميّ" AND إيران')
    assert node == And((Term("الأمنِ القوميّ", ("الامن", "القومي")), IRAN))


def test_operators_inside_a_phrase_are_words() -> None:
    assert parse_query('"إيران AND باكستان"') == Term("إيران AND باكستان", ("ايران", "and", "باكستان"))


def test_query_words_are_folded_but_never_stripped() -> None:
    node = parse_query("وإيـرانُ OR للجزائر OR لبنان")
    assert node == Or((Term("وإيـرانُ", ("وايران",)), Term("للجزائر", ("للجزاير",)), Term("لبنان", ("لبنان",))))


def test_a_word_with_punctuation_inside_is_a_phrase() -> None:
    assert parse_query("إيران،باكستان") == Term("إيران،باكستان", ("ايران", "باكستان"))


def test_terms_and_positive_terms() -> None:
    node = parse_query("(إيران OR باكستان) AND NOT (لبنان AND NOT الهند) AND إيران")
    assert terms(node) == [IRAN, PAKISTAN, LEBANON, INDIA]
    # الهند sits under two NOTs: it is positive again
    assert positive_terms(node) == [IRAN, PAKISTAN, INDIA]


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ({IRAN, PAKISTAN}, True),
        ({IRAN}, False),
        ({IRAN, PAKISTAN, INDIA}, False),
        ({LEBANON}, True),
        ({LEBANON, INDIA}, True),
        (set(), False),
    ],
)
def test_evaluate(present: set[Term], expected: bool) -> None:
    node = parse_query("إيران AND باكستان NOT الهند OR لبنان")
    assert evaluate(node, present) is expected


@pytest.mark.parametrize(
    ("query", "offset", "message"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ('"الأمن القومي', 0, "unclosed quote"),
        ('إيران AND "الأمن القومي', 10, "unclosed quote"),
        ("(إيران OR باكستان", 17, "missing ')'"),
        ("إيران AND (باكستان OR الهند", 27, "missing ')'"),
        ("إيران AND", 9, "ends where a word was expected"),
        ("إيران OR", 8, "ends where a word was expected"),
        ("إيران AND NOT", 13, "ends where a word was expected"),
        ("NOT", 3, "ends where a word was expected"),
        ("إيران)", 5, "')'"),
        ("إيران OR باكستان) AND الهند", 16, "')'"),
        (")", 0, "')'"),
        ("()", 1, "')'"),
        ("AND إيران", 0, "AND"),
        ("إيران AND OR باكستان", 10, "OR"),
        ('إيران AND ""', 10, "no letters or digits"),
        ("إيران AND ،", 10, "no letters or digits"),
    ],
)
def test_syntax_errors_carry_the_offset(query: str, offset: int, message: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_query(query)
    assert err.value.offset == offset
    assert message in err.value.message
    assert f"at character {offset + 1}" in str(err.value)


@pytest.mark.parametrize(
    "query",
    ["NOT إيران", "NOT (إيران OR باكستان)", "إيران OR NOT باكستان", "NOT إيران OR NOT باكستان", "NOT NOT NOT إيران"],
)
def test_a_query_with_no_required_word_is_rejected(query: str) -> None:
    """A query that holds for an article with none of its words would alert on everything."""
    with pytest.raises(QueryError, match="none of its words"):
        parse_query(query)


@pytest.mark.parametrize("query", ["NOT NOT إيران", "إيران AND NOT باكستان", "(NOT إيران AND باكستان) OR الهند"])
def test_a_query_with_a_required_word_is_accepted(query: str) -> None:
    node = parse_query(query)
    assert not evaluate(node, frozenset())
