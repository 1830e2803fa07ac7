"""The rule query language, parsed into a small AST (docs/rules.md is the user's guide).

Grammar, loosest first::

    query    := or
    or       := and ("OR" and)*
    and      := unary (["AND"] unary)*             # words side by side mean AND
    unary    := "NOT" unary | "-" atom | near      # NOT binds tightest; "a NOT b" = a AND NOT b
    near     := atom ["NEAR/n" atom]               # both within n words, either order (n <= 50)
    atom     := [scope] (WORD | WORD* | "PHRASE" | entity:ID | "(" or ")" | SENTENCE(...))
    scope    := "title:" | "text:"                 # on a word, phrase, entity or group
    SENTENCE := "SENTENCE(" leaf ("," leaf)* ")"   # all in one sentence

Operators are upper-case only, so ``and`` is an ordinary word. A word is folded like text (see
normalize.py) but never stripped of clitics; a word that folds to several words
(``إيران،باكستان``) is a phrase. ``word*`` is a prefix of at least 3 letters. A scope on a group
is pushed down to every leaf inside it, so ``title:(a OR b)`` is ``title:a OR title:b``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from worker.core.normalize import fold_words
from worker.errors import QueryError

MAX_NEAR = 50
MIN_PREFIX = 3


@dataclass(frozen=True)
class Term:
    """A word or phrase. ``prefix``: its last word is a prefix (``word*``)."""

    text: str  # as written in the query (quotes removed)
    words: tuple[str, ...]  # folded
    prefix: bool = False
    field: str | None = None  # "title", "text" or None (both)


@dataclass(frozen=True)
class Entity:
    """``entity:ID``: any name or form of the entity."""

    id: str
    field: str | None = None

    @property
    def text(self) -> str:
        return f"entity:{self.id}"


Leaf = Term | Entity


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Near:
    left: Leaf
    right: Leaf
    distance: int


@dataclass(frozen=True)
class Sentence:
    items: tuple[Leaf, ...]


Node = Term | Entity | And | Or | Not | Near | Sentence

_LEX = re.compile(
    r"""\s+
    | (?P<open>\()
    | (?P<close>\))
    | (?P<comma>,)
    | (?P<scope>(?:title|text):)(?=\S)
    | (?P<near>NEAR/(?P<n>\d*))(?=\s|$)
    | (?P<sentence>SENTENCE)(?=\()
    | (?P<entity>entity:(?P<eid>[A-Za-z0-9_.-]*))
    | (?P<quote>"[^"]*"?)
    | (?P<neg>-)(?=[^\s-])
    | (?P<word>[^\s()",]+)
    """,
    re.X,
)
_OPERATORS = ("AND", "OR", "NOT")


@dataclass(frozen=True)
class _Tok:
    kind: str  # "(", ")", ",", "scope", "near", "sentence", "entity", "neg", "AND", "OR", "NOT", "term", "end"
    offset: int
    text: str = ""


def _lex(query: str) -> list[_Tok]:
    toks = []
    for m in _LEX.finditer(query):
        kind = m.lastgroup
        if kind is None:
            continue  # whitespace
        if kind == "quote":
            raw = m.group()
            if len(raw) < 2 or not raw.endswith('"'):
                raise QueryError("unclosed quote", m.start())
            toks.append(_Tok("term", m.start(), raw[1:-1]))
        elif kind in ("open", "close", "comma"):
            toks.append(_Tok(m.group(), m.start()))
        elif kind == "near":
            toks.append(_Tok("near", m.start(), m.group("n")))
        elif kind == "entity":
            if not m.group("eid"):
                raise QueryError("entity: needs an id, such as entity:IR", m.start())
            toks.append(_Tok("entity", m.start(), m.group("eid")))
        elif kind == "word":
            word = m.group()
            toks.append(_Tok(word if word in _OPERATORS else "term", m.start(), word))
        else:  # scope, sentence, neg
            toks.append(_Tok(kind, m.start(), m.group()))
    toks.append(_Tok("end", len(query)))
    return toks


def _scoped(node: Node, field: str) -> Node:
    """Push a field scope down to every leaf of ``node``."""
    if isinstance(node, Term | Entity):
        return replace(node, field=field)
    if isinstance(node, Not):
        return Not(_scoped(node.item, field))
    if isinstance(node, Near):
        return Near(_leaf_scoped(node.left, field), _leaf_scoped(node.right, field), node.distance)
    if isinstance(node, Sentence):
        return Sentence(tuple(_leaf_scoped(i, field) for i in node.items))
    return type(node)(tuple(_scoped(i, field) for i in node.items))


def _leaf_scoped(leaf: Leaf, field: str) -> Leaf:
    return replace(leaf, field=field)


class _Parser:
    def __init__(self, query: str) -> None:
        self.toks = _lex(query)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise QueryError("empty query", 0)
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise QueryError(f"unexpected {tok.text or tok.kind!r}", tok.offset)
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.peek().kind == "OR":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
            elif kind not in ("term", "NOT", "(", "neg", "scope", "entity", "sentence"):
                break
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.peek().kind in ("NOT", "neg"):
            self.take()
            return Not(self.unary())
        return self.near()

    def near(self) -> Node:
        left = self.atom()
        if self.peek().kind != "near":
            return left
        tok = self.take()
        if not tok.text.isdigit() or not 1 <= int(tok.text) <= MAX_NEAR:
            raise QueryError(f"NEAR needs a distance from 1 to {MAX_NEAR}, such as NEAR/5", tok.offset)
        right_at = self.peek().offset
        right = self.atom()
        if not isinstance(left, Term | Entity) or not isinstance(right, Term | Entity):
            at = tok.offset if not isinstance(left, Term | Entity) else right_at
            raise QueryError("NEAR joins two words, phrases or entities", at)
        return Near(left, right, int(tok.text))

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "scope":
            return _scoped(self.atom(), tok.text[:-1])
        if tok.kind == "term":
            return self.term(tok)
        if tok.kind == "entity":
            return Entity(tok.text)
        if tok.kind == "(":
            node = self.or_()
            close = self.take()
            if close.kind != ")":
                raise QueryError("missing ')'", close.offset)
            return node
        if tok.kind == "sentence":
            return self.sentence(tok)
        if tok.kind == "end":
            raise QueryError("the query ends where a word was expected", tok.offset)
        raise QueryError(f"expected a word, a phrase or '(', found {tok.text or tok.kind!r}", tok.offset)

    def term(self, tok: _Tok) -> Term:
        text = tok.text
        prefix = text.endswith("*")
        words = fold_words(text.rstrip("*") if prefix else text)
        if not words:
            raise QueryError(f"{text!r} has no letters or digits to match", tok.offset)
        if prefix and len(words[-1]) < MIN_PREFIX:
            raise QueryError(f"a prefix needs at least {MIN_PREFIX} letters: {text!r}", tok.offset)
        if "*" in text.rstrip("*"):
            raise QueryError("'*' may only end a word (a prefix)", tok.offset + text.index("*"))
        return Term(text, words, prefix)

    def sentence(self, tok: _Tok) -> Sentence:
        self.take()  # "(" (the lexer only makes SENTENCE a keyword right before one)
        items: list[Leaf] = []
        while True:
            at = self.peek().offset
            leaf = self.atom()
            if not isinstance(leaf, Term | Entity):
                raise QueryError("SENTENCE(...) takes words, phrases or entities", at)
            items.append(leaf)
            sep = self.take()
            if sep.kind == ")":
                break
            if sep.kind != ",":
                raise QueryError("expected ',' or ')' in SENTENCE(...)", sep.offset)
        if len(items) < 2:
            raise QueryError("SENTENCE(...) needs at least two words, phrases or entities", tok.offset)
        return Sentence(tuple(items))


def parse_query(query: str) -> Node:
    """Parse ``query``; raises QueryError with the 0-based offset of the problem."""
    node = _Parser(query).parse()
    if evaluate(node, frozenset()):
        raise QueryError("the query matches articles that contain none of its words; add a word that must appear", 0)
    return node


def leaves(node: Node) -> list[Leaf]:
    """Every leaf (term or entity) in the query, in order, without repeats."""
    out: dict[Leaf, None] = {}
    _walk(node, False, lambda leaf, _neg: out.setdefault(leaf, None))
    return list(out)


def positive_leaves(node: Node) -> list[Leaf]:
    """The leaves not under an odd number of NOTs: the ones an alert shows as matched."""
    out: dict[Leaf, None] = {}
    _walk(node, False, lambda leaf, neg: None if neg else out.setdefault(leaf, None))
    return list(out)


def _walk(node: Node, negated: bool, visit: object) -> None:
    assert callable(visit)
    if isinstance(node, Term | Entity):
        visit(node, negated)
    elif isinstance(node, Not):
        _walk(node.item, not negated, visit)
    elif isinstance(node, Near):
        _walk(node.left, negated, visit)
        _walk(node.right, negated, visit)
    else:
        for item in node.items:
            _walk(item, negated, visit)


# The names of issue 2's API, kept for callers that only know words and phrases.
terms = leaves
positive_terms = positive_leaves


def evaluate(node: Node, present: frozenset[Leaf] | set[Leaf], holds: object = None) -> bool:
    """Does the query hold when exactly the leaves in ``present`` occur? ``holds(node)`` decides
    NEAR and SENTENCE (which need positions); without it they hold when all their leaves occur."""
    if isinstance(node, Term | Entity):
        return node in present
    if isinstance(node, Not):
        return not evaluate(node.item, present, holds)
    if isinstance(node, And):
        return all(evaluate(i, present, holds) for i in node.items)
    if isinstance(node, Or):
        return any(evaluate(i, present, holds) for i in node.items)
    parts = (node.left, node.right) if isinstance(node, Near) else node.items
    if not all(p in present for p in parts):
        return False
    return bool(holds(node)) if callable(holds) else True
