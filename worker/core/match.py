"""Matching rules against an article's title and text, Arabic-aware.

A text word matches a query word W when it equals W, or equals W behind Arabic proclitics:
an optional conjunction و/ف, then an optional preposition ب/ل/ك, then an optional article ال,
with at least two letters of W left. ل + ال is written لل, so للجزائر matches الجزائر. Only
text words are stripped, never query words: the query لبنان never matches the text بنان. And a
text word whose first letters only look like clitics is never stripped (``UNSTRIPPED``): لبنان is
never read as ل + بنان, nor ولبنان as و + ل + بنان. Suffixes are not stripped (إيراني is an
adjective; entities come in the rules issue).

The text is folded once (normalize.py) and its words indexed; each query word is expanded once
(cached) into the surface forms that may carry it, so matching a word is a few dict lookups
whatever the text length. Display offsets are computed only for hits, through the offset map.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import lru_cache

from worker.core.normalize import normalize_with_map
from worker.core.query import Node, Term, evaluate, parse_query, positive_terms, terms
from worker.models import Field_, Hit, RuleMatch

_WORD = re.compile(r"\S+")
_CONJ = ("", "و", "ف")
_PREP = ("", "ب", "ل", "ك")
_MIN_STEM = 2
# Folded words that begin with و ف ب ل ك but carry no clitic: mostly place names that news
# mentions daily. A text word equal to one of these (after any real clitics) is not stripped
# further. The rules issue replaces this list with its entity gazetteer.
UNSTRIPPED = frozenset(
    """لبنان ليبيا لندن لاهور لاوس لاتفيا ليتوانيا لوكسمبورغ فلسطين فرنسا فنلندا فنزويلا فيتنام
    فيينا فلوريدا بريطانيا بلجيكا بولندا بلغاريا بغداد بيروت باريس برلين بكين بنغلاديش بوليفيا
    بورما بوروندي بنين بيلاروس بروكسل برازيليا كندا كوبا كوريا كينيا كولومبيا كابول كراتشي كييف
    كازاخستان كرواتيا كمبوديا واشنطن وارسو ولينغتون""".split()
)
MAX_HITS_PER_TERM = 10


@dataclass(frozen=True)
class Rule:
    id: str
    query: str
    node: Node
    name: str | None = None
    # derived from node once, not per article
    terms: tuple[Term, ...] = dc_field(init=False, repr=False, compare=False)
    positive: tuple[Term, ...] = dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(terms(self.node)))
        object.__setattr__(self, "positive", tuple(positive_terms(self.node)))

    @classmethod
    def from_query(cls, rule_id: str, query: str, name: str | None = None) -> Rule:
        return cls(rule_id, query, parse_query(query), name)


@lru_cache(maxsize=200_000)
def stems(word: str) -> frozenset[str]:
    """Every form of the folded text word ``word`` a query word may equal (cached: news vocabulary repeats)."""
    if word in UNSTRIPPED:
        return frozenset((word,))
    out = {word}
    for conj in _CONJ:
        if not word.startswith(conj):
            continue
        w1 = word[len(conj) :]
        if w1 in UNSTRIPPED:
            out.add(w1)
            continue
        for prep in _PREP:
            if not w1.startswith(prep):
                continue
            w2 = w1[len(prep) :]
            if w2 in UNSTRIPPED:
                out.add(w2)
                continue
            cands = [w2]
            if w2.startswith("ال"):
                cands.append(w2[2:])
            if prep == "ل" and w2.startswith("ل"):
                # لل: the article's alef is not written after ل (للجزائر = ل + الجزائر)
                cands += ["ا" + w2, w2[1:]]
            out.update(c for c in cands if len(c) >= _MIN_STEM)
    return frozenset(out)


@lru_cache(maxsize=50_000)
def surface_forms(word: str) -> tuple[str, ...]:
    """Every text word that may carry the query word ``word`` behind clitics: the expansion is
    done on the query side (a few dozen forms per query word), so matching costs dict lookups
    per query word instead of stem expansion per text word. ``stems`` stays the one definition:
    a form counts only if ``word`` is among its stems."""
    forms = {c + p + a + word for c in _CONJ for p in _PREP for a in ("", "ال")}
    forms |= {c + "لل" + word for c in _CONJ}
    if word.startswith("ال"):
        forms |= {c + "ل" + word[1:] for c in _CONJ}
    return tuple(sorted(f for f in forms if word in stems(f)))


class FieldIndex:
    """One field's match text, its words and an index from each word to its positions."""

    def __init__(self, field: Field_, text: str) -> None:
        self.field: Field_ = field
        self.text = text
        self.match, self.omap = normalize_with_map(text)
        self.words = self.match.split()
        self.index: dict[str, list[int]] = {}
        for i, word in enumerate(self.words):
            self.index.setdefault(word, []).append(i)
        self._starts: list[int] | None = None

    def positions(self, word: str) -> list[int]:
        """Indexes of the text words that match the query word ``word``, in order."""
        found = [i for form in surface_forms(word) for i in self.index.get(form, ())]
        return sorted(found)

    def _display_span(self, first: int, last: int) -> tuple[int, int]:
        if self._starts is None:  # only articles with a hit pay for word offsets
            self._starts = [m.start() for m in _WORD.finditer(self.match)]
        m_start = self._starts[first]
        m_end = self._starts[last] + len(self.words[last])
        return self.omap.span(m_start, m_end)

    def find(self, term: Term) -> list[Hit]:
        first, rest = term.words[0], term.words[1:]
        hits = []
        for i in self.positions(first):
            if i + len(rest) >= len(self.words):
                continue
            if all(w in stems(self.words[i + k + 1]) for k, w in enumerate(rest)):
                start, end = self._display_span(i, i + len(rest))
                hits.append(Hit(term.text, self.text[start:end], self.field, start, end))
                if len(hits) >= MAX_HITS_PER_TERM:
                    break
        return hits


@dataclass(frozen=True)
class Document:
    """An article's fields, indexed once and matched against every rule."""

    fields: tuple[FieldIndex, ...]

    @classmethod
    def build(cls, title: str, text: str) -> Document:
        return cls((FieldIndex("title", title), FieldIndex("text", text)))

    def find(self, term: Term) -> list[Hit]:
        return [hit for f in self.fields for hit in f.find(term)]


def match_rules(rules: Sequence[Rule], title: str, text: str) -> list[RuleMatch]:
    """The rules that match the article, in rule order, with the hits of their positive terms."""
    doc = Document.build(title, text)
    cache: dict[Term, list[Hit]] = {}

    def hits(term: Term) -> list[Hit]:
        if term not in cache:
            cache[term] = doc.find(term)
        return cache[term]

    out = []
    for rule in rules:
        present = {t for t in rule.terms if hits(t)}
        if evaluate(rule.node, present):
            shown = [h for t in rule.positive if t in present for h in hits(t)]
            shown.sort(key=lambda h: (h.field != "title", h.start))
            out.append(RuleMatch(rule.id, tuple(shown)))
    return out
