"""The rule query language (issue 2's boolean subset), parsed into a small AST.

Grammar, loosest first::

    query  := or
    or     := and ("OR" and)*
    and    := unary (["AND"] unary)*        # words side by side mean AND
    unary  := "NOT" unary | atom            # NOT binds tightest; "a NOT b" = a AND NOT b
    atom   := WORD | '"' PHRASE '"' | "(" or ")"

Operators are upper-case only, so ``and`` is an ordinary word. A word is folded like text (see
normalize.py) but never stripped of clitics; a word that folds to several words (``إيران،باكستان``)
is a phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.core.normalize import tokenize
from worker.errors import QueryError


@dataclass(frozen=True)
class Term:
    text: str  # as written in the query (quotes removed)
    words: tuple[str, ...]  # folded


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Term | And | Or | Not

_LEX = re.compile(r'\s+|(?P<open>\()|(?P<close>\))|(?P<quote>"[^"]*"?)|(?P<word>[^\s()"]+)')
_OPERATORS = ("AND", "OR", "NOT")


@dataclass(frozen=True)
class _Tok:
    kind: str  # "(", ")", "AND", "OR", "NOT", "term", "end"
    offset: int
    text: str = ""


def _lex(query: str) -> list[_Tok]:
    toks = []
    for m in _LEX.finditer(query):
        if m.group("open"):
            toks.append(_Tok("(", m.start()))
        elif m.group("close"):
            toks.append(_Tok(")", m.start()))
        elif m.group("quote"):
            raw = m.group("quote")
            if len(raw) < 2 or not raw.endswith('"'):
                raise QueryError("unclosed quote", m.start())
            toks.append(_Tok("term", m.start(), raw[1:-1]))
        elif m.group("word"):
            word = m.group("word")
            toks.append(_Tok(word if word in _OPERATORS else "term", m.start(), word))
    toks.append(_Tok("end", len(query)))
    return toks


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
            elif kind not in ("term", "NOT", "("):
                break
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.peek().kind == "NOT":
            self.take()
            return Not(self.unary())
        return self.atom()

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "term":
            words = tuple(t.norm for t in tokenize(tok.text))
            if not words:
                raise QueryError(f"{tok.text!r} has no letters or digits to match", tok.offset)
            return Term(tok.text, words)
        if tok.kind == "(":
            node = self.or_()
            close = self.take()
            if close.kind != ")":
                raise QueryError("missing ')'", close.offset)
            return node
        if tok.kind == "end":
            raise QueryError("the query ends where a word was expected", tok.offset)
        raise QueryError(f"expected a word, a phrase or '(', found {tok.text or tok.kind!r}", tok.offset)


def parse_query(query: str) -> Node:
    """Parse ``query``; raises QueryError with the 0-based offset of the problem."""
    node = _Parser(query).parse()
    if evaluate(node, frozenset()):
        raise QueryError("the query matches articles that contain none of its words; add a word that must appear", 0)
    return node


def terms(node: Node) -> list[Term]:
    """Every term in the query, in order, without repeats."""
    out: dict[Term, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Term):
            out[n] = None
        elif isinstance(n, Not):
            walk(n.item)
        else:
            for item in n.items:
                walk(item)

    walk(node)
    return list(out)


def positive_terms(node: Node) -> list[Term]:
    """The terms not under an odd number of NOTs: the ones an alert shows as matched."""
    out: dict[Term, None] = {}

    def walk(n: Node, negated: bool) -> None:
        if isinstance(n, Term):
            if not negated:
                out[n] = None
        elif isinstance(n, Not):
            walk(n.item, not negated)
        else:
            for item in n.items:
                walk(item, negated)

    walk(node, False)
    return list(out)


def evaluate(node: Node, present: frozenset[Term] | set[Term]) -> bool:
    """Does the query hold when exactly the terms in ``present`` occur?"""
    if isinstance(node, Term):
        return node in present
    if isinstance(node, Not):
        return not evaluate(node.item, present)
    if isinstance(node, And):
        return all(evaluate(i, present) for i in node.items)
    return any(evaluate(i, present) for i in node.items)
