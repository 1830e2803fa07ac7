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
from itertools import accumulate
from operator import add
from typing import Any

import ahocorasick

from worker.core.clitics import UNSTRIPPED, stems, surface_forms
from worker.core.normalize import fold_words, normalize_with_map
from worker.core.query import (
    MIN_PREFIX,
    And,
    Entity,
    Leaf,
    Near,
    Node,
    Not,
    Or,
    Sentence,
    Term,
    leaves,
    parse_query,
    positive_leaves,
)
from worker.models import Field_, Hit, RuleMatch

__all__ = ["UNSTRIPPED", "Matcher", "Rule", "match_rules", "stems", "surface_forms"]

MAX_HITS_PER_TERM = 10
_SPACES = re.compile(r"\s+")
# A full stop ends a sentence unless a digit follows (3.5 is one number, not two sentences).
_SENTENCE_END = re.compile(r"[!?؟۔\n]|\.(?!\d)")
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
        """Where each word starts in the match text (only fields with a hit need it)."""
        if self._starts is None:
            # word i+1 starts after word i and the whitespace run after it: summed in C
            # (itertools) rather than one regex match object per word
            lead = len(self.match) - len(self.match.lstrip())
            gaps = [len(g) for g in _SPACES.findall(self.match.strip())] + [0]
            steps = map(add, map(len, self.words), gaps)
            self._starts = list(accumulate(steps, initial=lead))[: len(self.words)]
        return self._starts

    def display_span(self, first: int, last: int) -> tuple[int, int]:
        starts = self.starts()
        return self.omap.span(starts[first], starts[last] + len(self.words[last]))

    def sentence(self, i: int) -> int:
        """The index of the sentence word ``i`` is in (sentence ends: . ! ? ؟ ۔ and line breaks)."""
        if self._sentences is None:
            self._sentences = [m.start() for m in _SENTENCE_END.finditer(self.text)]
        return bisect_right(self._sentences, self.omap.to_display(self.starts()[i]))


# What a text word carries (see Matcher._info); most words carry nothing.
_WordInfo = tuple[frozenset[int], tuple[int, ...], tuple[tuple[int, tuple[int, ...]], ...]]
_NOTHING: _WordInfo = (frozenset(), (), ())

# A rule compiled over leaf ids: ("L", id) | ("A", parts) | ("O", parts) | ("N", part)
# | ("NEAR", id, id, n) | ("S", ids). Leaf ids are ints so that nothing hashes a dataclass per hit.
_Program = tuple[Any, ...]


def _required(node: Node) -> frozenset[Leaf]:
    """Leaves that must occur for ``node`` to hold: the rule's ticket to be evaluated at all."""
    if isinstance(node, Term | Entity):
        return frozenset((node,))
    if isinstance(node, Near):
        return frozenset((node.left, node.right))
    if isinstance(node, Sentence):
        return frozenset(node.items)
    if isinstance(node, And):
        return frozenset().union(*(_required(i) for i in node.items))
    if isinstance(node, Or):
        return frozenset.intersection(*(_required(i) for i in node.items))
    return frozenset()  # NOT


class Matcher:
    """A compiled rule set. ``entities`` maps an entity id to its names and forms (as written);
    ``version`` is the rule set's version (alerts carry it; 0: rules read from a file).

    Rules are filtered by counting before any is evaluated: each rule needs a set of leaves to
    occur (all of an AND, both sides of a NEAR ...); a rule is evaluated only when every one of
    its required leaves was found, so the many rules that share one frequent word with the text
    cost one counter increment each."""

    def __init__(
        self, rules: Iterable[Rule], entities: Mapping[str, Sequence[str]] | None = None, version: int = 0
    ) -> None:
        self.version = version
        self.rules = [r for r in rules if r.enabled]
        self._entities = entities or {}
        self._word_ids: dict[tuple[str, bool], int] = {}
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._prefix = ahocorasick.Automaton()
        # text word -> (its word ids, the leaves it completes alone, the phrases it starts)
        self._word_cache: dict[str, _WordInfo] = {}
        self._leaves: list[Leaf] = []
        self._leaf_id: dict[Leaf, int] = {}
        self._leaf_field: list[int | None] = []
        self._alternatives: list[list[tuple[int, ...]]] = []
        # word id -> the leaves it completes alone, and the (leaf, phrase) pairs it starts
        self._singles: dict[int, list[int]] = defaultdict(list)
        self._by_first: dict[int, list[tuple[int, tuple[int, ...]]]] = defaultdict(list)
        self._prefix_heads: set[str] = set()  # first letters of every prefix: most stems skip the automaton
        self._programs: list[_Program] = []
        self._positive: list[tuple[int, ...]] = []
        self._required: list[int] = []
        self._required_by_leaf: dict[int, list[int]] = defaultdict(list)
        self._loose_by_leaf: dict[int, list[int]] = defaultdict(list)  # rules that require nothing
        for index, rule in enumerate(self.rules):
            self._programs.append(self._program(rule.node))
            self._positive.append(tuple(self._leaf(leaf) for leaf in rule.positive))
            required = _required(rule.node)
            self._required.append(len(required))
            for leaf in required:
                self._required_by_leaf[self._leaf(leaf)].append(index)
            if not required:
                for leaf in rule.leaves:
                    self._loose_by_leaf[self._leaf(leaf)].append(index)
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
                self._prefix_heads.add(word[:MIN_PREFIX])
            else:
                for form in surface_forms(word):
                    self._exact[form].append(wid)
        return self._word_ids[key]

    def _leaf(self, leaf: Leaf) -> int:
        """The id of ``leaf``, compiling it on first sight."""
        if leaf in self._leaf_id:
            return self._leaf_id[leaf]
        if isinstance(leaf, Term):
            phrases = [(leaf.words, leaf.prefix)]
        else:
            if leaf.id not in self._entities:
                raise ValueError(f"unknown entity {leaf.id!r}")
            phrases = [(words, False) for name in self._entities[leaf.id] if (words := fold_words(name))]
        alternatives: list[tuple[int, ...]] = []
        for words, prefix in phrases:
            alt = tuple(self._word_id(w, prefix and k == len(words) - 1) for k, w in enumerate(words))
            if alt not in alternatives:
                alternatives.append(alt)
        lid = self._leaf_id[leaf] = len(self._leaves)
        self._leaves.append(leaf)
        self._leaf_field.append(None if leaf.field is None else _FIELDS.index(leaf.field))
        self._alternatives.append(alternatives)
        for alt in alternatives:
            if len(alt) == 1:
                self._singles[alt[0]].append(lid)
            else:
                self._by_first[alt[0]].append((lid, alt))
        return lid

    def _program(self, node: Node) -> _Program:
        if isinstance(node, Term | Entity):
            return ("L", self._leaf(node))
        if isinstance(node, Not):
            return ("N", self._program(node.item))
        if isinstance(node, Near):
            return ("NEAR", self._leaf(node.left), self._leaf(node.right), node.distance)
        if isinstance(node, Sentence):
            return ("S", tuple(self._leaf(i) for i in node.items))
        return ("A" if isinstance(node, And) else "O", tuple(self._program(i) for i in node.items))

    # --- match --------------------------------------------------------------------------------
    def _info(self, word: str) -> _WordInfo:
        """What a text word carries: its exact forms and the prefixes of its stems, as word ids,
        and the leaves and phrases those start. Cached per word (news vocabulary repeats)."""
        ids = set(self._exact.get(word, ()))
        if self._has_prefix:
            for stem in stems(word):
                if stem[:MIN_PREFIX] not in self._prefix_heads:
                    continue
                for end, (length, wids) in self._prefix.iter(stem):
                    if end + 1 == length:  # the pattern starts the stem: a prefix
                        ids.update(wids)
        singles = tuple(dict.fromkeys(lid for wid in sorted(ids) for lid in self._singles.get(wid, ())))
        multis = tuple(pair for wid in sorted(ids) for pair in self._by_first.get(wid, ()))
        info = (frozenset(ids), singles, multis) if ids else _NOTHING
        if len(self._word_cache) > 200_000:
            self._word_cache.clear()
        self._word_cache[word] = info
        return info

    def _leaf_hits(self, fields: Sequence[_Field]) -> dict[int, list[_Span]]:
        """Every leaf found, with its spans (field, first word, last word) in text order."""
        cache, leaf_field = self._word_cache, self._leaf_field
        found: dict[int, dict[_Span, None]] = {}  # insertion-ordered sets: text order, no repeats
        for f, fld in enumerate(fields):
            words = fld.words
            infos = [cache.get(w) or self._info(w) for w in words]
            for i, info in enumerate(infos):
                if info is _NOTHING:
                    continue
                _ids, singles, multis = info
                for lid in singles:
                    field = leaf_field[lid]
                    if field is None or field == f:
                        found.setdefault(lid, {})[(f, i, i)] = None
                for lid, alt in multis:
                    field = leaf_field[lid]
                    end = i + len(alt) - 1
                    if (
                        (field is None or field == f)
                        and end < len(words)
                        and all(alt[k] in infos[i + k][0] for k in range(1, len(alt)))
                        and fld.sentence(i) == fld.sentence(end)  # a phrase does not cross "مجلس. الأمن"
                    ):
                        found.setdefault(lid, {})[(f, i, end)] = None
        return {lid: list(spans) for lid, spans in found.items()}

    def _candidates(self, hits: Mapping[int, list[_Span]]) -> list[int]:
        count: dict[int, int] = {}
        loose: set[int] = set()
        for lid in hits:
            for r in self._required_by_leaf.get(lid, ()):
                count[r] = count.get(r, 0) + 1
            loose.update(self._loose_by_leaf.get(lid, ()))
        required = self._required
        return sorted(loose.union(r for r, c in count.items() if c == required[r]))

    def match(self, title: str, text: str, source: str | None = None, language: str | None = None) -> list[RuleMatch]:
        """The rules that match, in rule order, each with the evidence of its positive leaves."""
        fields = (_Field("title", title), _Field("text", text))
        hits = self._leaf_hits(fields)
        out = []
        for index in self._candidates(hits):
            rule = self.rules[index]
            if rule.accepts(source, language) and _run(self._programs[index], hits, fields):
                out.append(RuleMatch(rule.id, self._evidence(index, hits, fields)))
        return out

    def _evidence(self, index: int, hits: Mapping[int, list[_Span]], fields: Sequence[_Field]) -> tuple[Hit, ...]:
        out = []
        for lid in self._positive[index]:
            for f, first, last in hits.get(lid, [])[:MAX_HITS_PER_TERM]:
                fld = fields[f]
                start, end = fld.display_span(first, last)
                out.append(Hit(self._leaves[lid].text, fld.text[start:end], fld.name, start, end))
        out.sort(key=lambda h: (h.field != "title", h.start))
        return tuple(out)


def _run(p: _Program, hits: Mapping[int, list[_Span]], fields: Sequence[_Field]) -> bool:
    op = p[0]
    if op == "L":
        return p[1] in hits
    if op == "A":
        return all(_run(c, hits, fields) for c in p[1])
    if op == "O":
        return any(_run(c, hits, fields) for c in p[1])
    if op == "N":
        return not _run(p[1], hits, fields)
    if op == "NEAR":
        _, left, right, distance = p
        return any(
            fa == fb and (a0, a1) != (b0, b1) and _gap(a0, a1, b0, b1) <= distance
            for fa, a0, a1 in hits.get(left, ())
            for fb, b0, b1 in hits.get(right, ())
        )
    per_leaf = [{(f, fields[f].sentence(i)) for f, i, _ in hits.get(lid, ())} for lid in p[1]]
    return all(per_leaf) and bool(set.intersection(*per_leaf))


def _gap(a0: int, a1: int, b0: int, b1: int) -> int:
    """Words from one span to the other: 1 when adjacent, 0 when they overlap."""
    if a1 < b0:
        return b0 - a1
    if b1 < a0:
        return a0 - b1
    return 0


@dataclass(frozen=True)
class LeafReport:
    text: str  # the leaf as written (word, phrase, entity:ID), with its scope
    negated: bool
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class RuleReport:
    rule: Rule
    matched: bool
    skipped: str | None  # why the rule was not evaluated (source, language)
    leaves: tuple[LeafReport, ...]


def explain(
    matcher: Matcher, title: str, text: str, source: str | None = None, language: str | None = None
) -> list[RuleReport]:
    """For every rule, which leaves were found where, and whether the rule matched: what
    ``marsad explain`` prints. Uses the matcher's own compile and hit finding."""
    fields = (_Field("title", title), _Field("text", text))
    hits = matcher._leaf_hits(fields)
    out = []
    for index, rule in enumerate(matcher.rules):
        positive = set(rule.positive)
        skipped = None if rule.accepts(source, language) else "source or language not in the rule's lists"
        matched = skipped is None and _run(matcher._programs[index], hits, fields)
        reports = []
        for leaf in rule.leaves:
            shown = []
            for f, first, last in hits.get(matcher._leaf_id[leaf], [])[:MAX_HITS_PER_TERM]:
                start, end = fields[f].display_span(first, last)
                shown.append(Hit(leaf.text, fields[f].text[start:end], fields[f].name, start, end))
            label = f"{leaf.field}:{leaf.text}" if leaf.field else leaf.text
            reports.append(LeafReport(label, leaf not in positive, tuple(shown)))
        out.append(RuleReport(rule, matched, skipped, tuple(reports)))
    return out


def match_rules(
    rules: Sequence[Rule], title: str, text: str, entities: Mapping[str, Sequence[str]] | None = None
) -> list[RuleMatch]:
    """Compile and match in one call (tests, one-off use); workers keep a compiled Matcher."""
    return Matcher(rules, entities).match(title, text)
