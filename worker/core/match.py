"""The matcher: every rule compiled into one dictionary of word forms and one prefix automaton.

Cost per article is O(text + hits), whatever the number of rules:

1. compile (once per rule set): every word of every rule, phrase and entity name gets a word id.
   An exact word is entered in a dict under each surface form that may carry it behind clitics
   (clitics.surface_forms: a few dozen per word); a prefix (``word*``) goes into an Aho-Corasick
   automaton (pyahocorasick). Each leaf (term or entity) is a list of alternatives, each a
   sequence of word ids (a phrase); leaves are indexed by their first word id, rules by leaf.
2. match: each field's match text (normalize.py) is split into words; each word is one dict
   lookup (plus, when the rule set has prefixes, one automaton scan of its stems, cached per
   word). Only leaves whose first word occurred are checked, and only rules with such a leaf are
   evaluated: the boolean tree, then NEAR (word distance) and SENTENCE (same sentence) on the
   hits' positions, with field scopes applied to each leaf's hits.
3. evidence: for each satisfied positive leaf, its hits with their display spans (through the
   offset map, for hits only).

Why a dict and not one automaton over the characters: the rule is about whole words with
clitics in front, so the word is the unit; a hash lookup per word is the automaton's transition
table at word granularity, and clitic forms are expanded on the query side at compile time.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import ahocorasick

from worker.core.clitics import UNSTRIPPED, stems, surface_forms
from worker.core.normalize import fold_words, normalize_with_map
from worker.core.query import Entity, Leaf, Near, Node, Sentence, Term, evaluate, leaves, parse_query, positive_leaves
from worker.models import Field_, Hit, RuleMatch

__all__ = ["UNSTRIPPED", "Matcher", "Rule", "match_rules", "stems", "surface_forms"]

MAX_HITS_PER_TERM = 10
_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?؟۔\n]")
_FIELDS: tuple[Field_, ...] = ("title", "text")


@dataclass(frozen=True)
class Rule:
    id: str
    query: str
    node: Node
    name: str | None = None
    sources: frozenset[str] | None = None  # only articles from these sources
    languages: frozenset[str] | None = None  # only articles in these languages
    enabled: bool = True
    # derived from node once, not per article
    leaves: tuple[Leaf, ...] = dc_field(init=False, repr=False, compare=False)
    positive: tuple[Leaf, ...] = dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "leaves", tuple(leaves(self.node)))
        object.__setattr__(self, "positive", tuple(positive_leaves(self.node)))

    @classmethod
    def from_query(cls, rule_id: str, query: str, name: str | None = None, **kw: Any) -> Rule:
        return cls(rule_id, query, parse_query(query), name, **kw)

    def entity_ids(self) -> set[str]:
        return {leaf.id for leaf in self.leaves if isinstance(leaf, Entity)}

    def accepts(self, source: str | None, language: str | None) -> bool:
        if self.sources is not None and source not in self.sources:
            return False
        return self.languages is None or language in self.languages


# A hit of a leaf: field index, first and last word positions, and the alternative matched.
_Span = tuple[int, int, int]


class _Field:
    """One field of one article: its match text, words and (lazily) positions and sentences."""

    def __init__(self, name: Field_, text: str) -> None:
        self.name: Field_ = name
        self.text = text
        self.match, self.omap = normalize_with_map(text)
        self.words = self.match.split()
        self._starts: list[int] | None = None
        self._sentences: list[int] | None = None

    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [m.start() for m in _WORD.finditer(self.match)]
        return self._starts

    def display_span(self, first: int, last: int) -> tuple[int, int]:
        starts = self.starts()
        return self.omap.span(starts[first], starts[last] + len(self.words[last]))

    def sentence(self, i: int) -> int:
        """The index of the sentence word ``i`` is in (sentence ends: . ! ? ؟ ۔ and line breaks)."""
        if self._sentences is None:
            self._sentences = [m.start() for m in _SENTENCE_END.finditer(self.text)]
        return bisect_right(self._sentences, self.omap.to_display(self.starts()[i]))


class Matcher:
    """A compiled rule set. ``entities`` maps an entity id to its names and forms (as written);
    ``version`` is the rule set's version (alerts carry it; 0: rules read from a file)."""

    def __init__(
        self, rules: Iterable[Rule], entities: Mapping[str, Sequence[str]] | None = None, version: int = 0
    ) -> None:
        self.version = version
        self.rules = [r for r in rules if r.enabled]
        entities = entities or {}
        self._word_ids: dict[tuple[str, bool], int] = {}
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._prefix = ahocorasick.Automaton()
        self._prefix_cache: dict[str, tuple[int, ...]] = {}
        self._alternatives: dict[Leaf, list[tuple[int, ...]]] = {}
        self._by_first: dict[int, list[Leaf]] = defaultdict(list)
        self._rules_by_leaf: dict[Leaf, list[int]] = defaultdict(list)
        for index, rule in enumerate(self.rules):
            for leaf in rule.leaves:
                if leaf not in self._alternatives:
                    self._compile_leaf(leaf, entities)
                self._rules_by_leaf[leaf].append(index)
        self._has_prefix = len(self._prefix) > 0
        if self._has_prefix:
            self._prefix.make_automaton()

    # --- compile ------------------------------------------------------------------------------
    def _word_id(self, word: str, prefix: bool) -> int:
        key = (word, prefix)
        if key not in self._word_ids:
            wid = self._word_ids[key] = len(self._word_ids)
            if prefix:
                ids = self._prefix.get(word, (len(word), []))[1]
                self._prefix.add_word(word, (len(word), [*ids, wid]))
            else:
                for form in surface_forms(word):
                    self._exact[form].append(wid)
        return self._word_ids[key]

    def _compile_leaf(self, leaf: Leaf, entities: Mapping[str, Sequence[str]]) -> None:
        if isinstance(leaf, Term):
            phrases = [(leaf.words, leaf.prefix)]
        else:
            if leaf.id not in entities:
                raise ValueError(f"unknown entity {leaf.id!r}")
            phrases = [(words, False) for name in entities[leaf.id] if (words := fold_words(name))]
        alternatives = []
        for words, prefix in phrases:
            alt = tuple(self._word_id(w, prefix and k == len(words) - 1) for k, w in enumerate(words))
            if alt not in alternatives:
                alternatives.append(alt)
        self._alternatives[leaf] = alternatives
        for first in {alt[0] for alt in alternatives}:
            self._by_first[first].append(leaf)

    # --- match --------------------------------------------------------------------------------
    def _prefix_ids(self, word: str) -> tuple[int, ...]:
        ids = self._prefix_cache.get(word)
        if ids is None:
            found: set[int] = set()
            for stem in stems(word):
                for end, (length, wids) in self._prefix.iter(stem):
                    if end + 1 == length:  # the pattern starts the stem: a prefix
                        found.update(wids)
            ids = self._prefix_cache[word] = tuple(sorted(found))
            if len(self._prefix_cache) > 200_000:
                self._prefix_cache.clear()
        return ids

    def _positions(self, fields: Sequence[_Field]) -> dict[tuple[int, int], set[int]]:
        """(field index, word index) -> the word ids found there."""
        at: dict[tuple[int, int], set[int]] = {}
        exact = self._exact
        for f, fld in enumerate(fields):
            for i, word in enumerate(fld.words):
                ids = exact.get(word)
                if self._has_prefix:
                    more = self._prefix_ids(word)
                    if more:
                        ids = [*(ids or ()), *more]
                if ids:
                    at[(f, i)] = set(ids)
        return at

    def _leaf_hits(self, at: dict[tuple[int, int], set[int]]) -> dict[Leaf, list[_Span]]:
        hits: dict[Leaf, list[_Span]] = defaultdict(list)
        for (f, i), ids in sorted(at.items()):
            for wid in ids:
                for leaf in self._by_first.get(wid, ()):
                    if leaf.field is not None and _FIELDS[f] != leaf.field:
                        continue
                    for alt in self._alternatives[leaf]:
                        if alt[0] == wid and all(alt[k] in at.get((f, i + k), ()) for k in range(1, len(alt))):
                            span = (f, i, i + len(alt) - 1)
                            if span not in hits[leaf]:
                                hits[leaf].append(span)
        return hits

    def match(self, title: str, text: str, source: str | None = None, language: str | None = None) -> list[RuleMatch]:
        """The rules that match, in rule order, each with the evidence of its positive leaves."""
        fields = (_Field("title", title), _Field("text", text))
        hits = self._leaf_hits(self._positions(fields))
        candidates = sorted({r for leaf in hits for r in self._rules_by_leaf.get(leaf, ())})
        out = []
        for index in candidates:
            rule = self.rules[index]
            if not rule.accepts(source, language):
                continue
            present = {leaf for leaf in rule.leaves if hits.get(leaf)}
            if evaluate(rule.node, present, lambda node: _holds(node, hits, fields)):
                out.append(RuleMatch(rule.id, _evidence(rule, present, hits, fields)))
        return out


@dataclass(frozen=True)
class LeafReport:
    text: str  # the leaf as written (word, phrase, entity:ID), with its scope
    negated: bool
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class RuleReport:
    rule: Rule
    matched: bool
    skipped: str | None  # why the rule was not evaluated (disabled, source, language)
    leaves: tuple[LeafReport, ...]


def explain(
    matcher: Matcher, title: str, text: str, source: str | None = None, language: str | None = None
) -> list[RuleReport]:
    """For every rule, which leaves were found where, and whether the rule matched: what
    ``marsad explain`` prints. Uses the matcher's own compile and hit finding."""
    fields = (_Field("title", title), _Field("text", text))
    hits = matcher._leaf_hits(matcher._positions(fields))
    out = []
    for rule in matcher.rules:
        positive = set(rule.positive)
        negated = {leaf: leaf not in positive for leaf in rule.leaves}
        present = {leaf for leaf in rule.leaves if hits.get(leaf)}
        skipped = None if rule.accepts(source, language) else "source or language not in the rule's lists"
        matched = skipped is None and evaluate(rule.node, present, lambda node: _holds(node, hits, fields))
        reports = []
        for leaf in rule.leaves:
            shown = []
            for f, first, last in hits.get(leaf, [])[:MAX_HITS_PER_TERM]:
                start, end = fields[f].display_span(first, last)
                shown.append(Hit(leaf.text, fields[f].text[start:end], fields[f].name, start, end))
            label = f"{leaf.field}:{leaf.text}" if leaf.field else leaf.text
            reports.append(LeafReport(label, negated[leaf], tuple(shown)))
        out.append(RuleReport(rule, matched, skipped, tuple(reports)))
    return out


def _holds(node: Node, hits: Mapping[Leaf, list[_Span]], fields: Sequence[_Field]) -> bool:
    if isinstance(node, Near):
        return any(
            fa == fb and _gap(a0, a1, b0, b1) <= node.distance
            for fa, a0, a1 in hits.get(node.left, ())
            for fb, b0, b1 in hits.get(node.right, ())
        )
    if isinstance(node, Sentence):
        per_leaf = [{(f, fields[f].sentence(i)) for f, i, _ in hits.get(leaf, ())} for leaf in node.items]
        return bool(set.intersection(*per_leaf))
    return True


def _gap(a0: int, a1: int, b0: int, b1: int) -> int:
    """Words from one span to the other: 1 when adjacent, 0 when they overlap."""
    if a1 < b0:
        return b0 - a1
    if b1 < a0:
        return a0 - b1
    return 0


def _evidence(
    rule: Rule, present: set[Leaf], hits: Mapping[Leaf, list[_Span]], fields: Sequence[_Field]
) -> tuple[Hit, ...]:
    out = []
    for leaf in rule.positive:
        if leaf not in present:
            continue
        for f, first, last in hits[leaf][:MAX_HITS_PER_TERM]:
            fld = fields[f]
            start, end = fld.display_span(first, last)
            out.append(Hit(leaf.text, fld.text[start:end], fld.name, start, end))
    out.sort(key=lambda h: (h.field != "title", h.start))
    return tuple(out)


def match_rules(
    rules: Sequence[Rule], title: str, text: str, entities: Mapping[str, Sequence[str]] | None = None
) -> list[RuleMatch]:
    """Compile and match in one call (tests, one-off use); workers keep a compiled Matcher."""
    return Matcher(rules, entities).match(title, text)
