"""sources.yaml and rules.yaml: parsed with positions, validated, every problem reported.

YAML is composed into nodes (which carry line and column) rather than loaded into plain dicts,
so every problem is reported as ``path:line:col: message`` pointing at the offending key or
value, and all problems are collected before anything starts. Unknown keys are errors: a typo
(``intervall``) must not silently fall back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

import yaml

from worker.core.durations import parse_duration
from worker.core.match import Rule
from worker.core.query import parse_query
from worker.errors import ConfigError, Problem, QueryError
from worker.models import SOURCE_TYPES, Source

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LANG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


@dataclass
class _Item:
    """One mapping of the list: its values as strings with their nodes, for positions."""

    node: yaml.MappingNode
    values: dict[str, yaml.ScalarNode]
    lists: dict[str, list[yaml.ScalarNode]]


class _Reader:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.problems: list[Problem] = []

    def at(self, node: yaml.Node, message: str, offset: int = 0, caret: bool = False) -> None:
        mark = node.start_mark
        line, col = mark.line + 1, mark.column + 1 + offset
        context = ""
        if caret:  # the offending line, and a caret under the column
            source = self.text.splitlines()[line - 1] if line <= len(self.text.splitlines()) else ""
            context = f"    {source}\n    {' ' * (col - 1)}^"
        self.problems.append(Problem(self.path, line, col, message, context))

    def root(self, what: str, empty_ok: bool) -> yaml.SequenceNode | None:
        """The file's top-level list, composed with positions; None (with a problem recorded,
        unless the file is empty and ``empty_ok``) when there is none."""
        try:
            root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            self.problems.append(Problem(self.path, line, col, f"invalid YAML: {e.problem or e.context}"))
            return None
        except yaml.YAMLError as e:
            self.problems.append(Problem(self.path, 1, 1, f"invalid YAML: {e}"))
            return None
        if root is None:
            if not empty_ok:
                self.problems.append(Problem(self.path, 1, 1, f"the file is empty; expected a list of {what}"))
            return None
        if not isinstance(root, yaml.SequenceNode):
            self.at(root, f"expected a list of {what} (each line starting with '- ')")
            return None
        return root

    def items(self, what: str, keys: dict[str, bool], lists: tuple[str, ...] = ()) -> list[_Item]:
        """The list of mappings in the file; ``keys`` maps allowed key -> required; keys in
        ``lists`` take a list of values (or one value)."""
        root = self.root(what, empty_ok=False)
        if root is None:
            return []
        return [item for node in root.value if (item := self._item(node, keys, lists)) is not None]

    def _item(self, node: yaml.Node, keys: dict[str, bool], lists: tuple[str, ...]) -> _Item | None:
        if not isinstance(node, yaml.MappingNode):
            self.at(node, f"expected a mapping such as {{{', '.join(keys)}}}")
            return None
        values: dict[str, yaml.ScalarNode] = {}
        listed: dict[str, list[yaml.ScalarNode]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in keys:
                self.at(key_node, f"unknown key {key!r}; expected one of: {', '.join(keys)}")
            elif key in values or key in listed:
                self.at(key_node, f"duplicate key {key!r}")
            elif key in lists and isinstance(value_node, yaml.SequenceNode):
                scalars = [v for v in value_node.value if isinstance(v, yaml.ScalarNode)]
                if len(scalars) != len(value_node.value) or not scalars:
                    self.at(value_node, f"{key!r} must be a list of values such as [a, b]")
                else:
                    listed[key] = scalars
            elif not isinstance(value_node, yaml.ScalarNode) or value_node.tag == "tag:yaml.org,2002:null":
                self.at(value_node, f"{key!r} must be a single value")
            elif key in lists:
                listed[key] = [value_node]
            else:
                values[key] = value_node
        for key, required in keys.items():
            if required and key not in values and not any(k.value == key for k, _ in node.value):
                self.at(node, f"missing {key!r}")
        return _Item(node, values, listed)

    def unique_ids(self, items: list[_Item]) -> None:
        seen: dict[str, int] = {}
        for item in items:
            node = item.values.get("id")
            if node is None:
                continue
            if not _ID.match(node.value):
                self.at(node, f"id {node.value!r} must be letters, digits, '.', '_' or '-' (at most 64)")
            elif node.value in seen:
                self.at(node, f"duplicate id {node.value!r} (first on line {seen[node.value]})")
            else:
                seen[node.value] = node.start_mark.line + 1

    def check(self, node: yaml.ScalarNode | None, test: Callable[[str], str | None]) -> None:
        if node is not None and (message := test(node.value)):
            self.at(node, message)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(sorted(self.problems, key=lambda p: (p.line, p.col)))


def _check_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"url {url!r} must be an http:// or https:// address"
    return None


def _check_duration(name: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            seconds = parse_duration(value)
        except ValueError as e:
            return f"{name}: {e}"
        return None if seconds > 0 else f"{name} must be more than zero"

    return check


def _check_type(value: str) -> str | None:
    return None if value in SOURCE_TYPES else f"type {value!r} must be one of: {', '.join(SOURCE_TYPES)}"


_TRUE = ("true", "yes", "on")
_BOOLS = (*_TRUE, "false", "no", "off")


def _check_bool(value: str) -> str | None:
    return None if value.lower() in _BOOLS else f"expected true or false, not {value!r}"


def _check_language(value: str) -> str | None:
    return None if _LANG.match(value) else f"language {value!r} must be a code such as ar, fa, ur or en"


_SOURCE_KEYS = {
    "id": True,
    "url": True,
    "language": False,
    "interval": False,
    "full_text": False,
    "type": False,
    "min_interval": False,
    "max_interval": False,
    "conditional": False,
}
_DURATIONS = ("interval", "min_interval", "max_interval")


def _seconds(item: _Item, key: str) -> float | None:
    return parse_duration(item.values[key].value) if key in item.values else None


def _flag(item: _Item, key: str, default: bool) -> bool:
    return item.values[key].value.lower() in _TRUE if key in item.values else default


def _check_bounds(r: _Reader, item: _Item) -> None:
    lo, hi = item.values.get("min_interval"), item.values.get("max_interval")
    if lo is None or hi is None or r.problems:
        return
    if parse_duration(lo.value) > parse_duration(hi.value):
        r.at(hi, f"max_interval {hi.value} is below min_interval {lo.value}")


def load_sources(text: str, path: str = "sources.yaml") -> list[Source]:
    """Parse sources.yaml; raises ConfigError listing every problem."""
    r = _Reader(path, text)
    items = r.items("sources", _SOURCE_KEYS)
    r.unique_ids(items)
    for item in items:
        r.check(item.values.get("url"), _check_url)
        for key in _DURATIONS:
            r.check(item.values.get(key), _check_duration(key))
        r.check(item.values.get("language"), _check_language)
        r.check(item.values.get("type"), _check_type)
        r.check(item.values.get("full_text"), _check_bool)
        r.check(item.values.get("conditional"), _check_bool)
        _check_bounds(r, item)
    r.raise_if_any()
    return [
        Source(
            id=i.values["id"].value,
            url=i.values["url"].value,
            language=i.values["language"].value if "language" in i.values else None,
            interval=_seconds(i, "interval"),
            full_text=_flag(i, "full_text", False),
            min_interval=_seconds(i, "min_interval"),
            max_interval=_seconds(i, "max_interval"),
            conditional=_flag(i, "conditional", True),
            type=i.values["type"].value if "type" in i.values else "auto",  # checked above
        )
        for i in items
    ]


def _query_column(text: str, node: yaml.ScalarNode, offset: int) -> int:
    """Columns from the node's mark to the query character at ``offset``. Exact when the value
    stands in the file as written (one line, no escapes); otherwise the value's first column."""
    raw = text[node.start_mark.index : node.end_mark.index]
    quoted = node.style in ("'", '"')
    if (raw[1:-1] if quoted else raw) == node.value:
        return offset + (1 if quoted else 0)
    return 0


def _entity_offset(query: str, entity_id: str) -> int:
    at = query.find(f"entity:{entity_id}")
    return max(at, 0)


def load_rules(text: str, path: str = "rules.yaml", entity_ids: Collection[str] | None = None) -> list[Rule]:
    """Parse rules.yaml; raises ConfigError listing every problem. A query error points inside
    the query, with the line and a caret under it. ``entity_ids``: the known entities (None:
    not checked)."""
    r = _Reader(path, text)
    keys = {"id": True, "query": True, "name": False, "sources": False, "languages": False, "enabled": False}
    items = r.items("rules", keys, lists=("sources", "languages"))
    r.unique_ids(items)
    rules = []
    for item in items:
        qnode = item.values.get("query")
        r.check(item.values.get("enabled"), _check_bool)
        for lang in item.lists.get("languages", []):
            r.check(lang, _check_language)
        if qnode is None or "id" not in item.values:
            continue
        try:
            node = parse_query(qnode.value)
        except QueryError as e:
            r.at(qnode, f"query: {e.message}", _query_column(text, qnode, e.offset), caret=True)
            continue
        rule = Rule(
            item.values["id"].value,
            qnode.value,
            node,
            item.values["name"].value if "name" in item.values else None,
            sources=frozenset(n.value for n in item.lists["sources"]) if "sources" in item.lists else None,
            languages=frozenset(n.value for n in item.lists["languages"]) if "languages" in item.lists else None,
            enabled=item.values["enabled"].value.lower() in _TRUE if "enabled" in item.values else True,
        )
        for eid in sorted(rule.entity_ids() - set(entity_ids if entity_ids is not None else rule.entity_ids())):
            offset = _query_column(text, qnode, _entity_offset(qnode.value, eid))
            r.at(qnode, f"query: unknown entity {eid!r} (see `marsad entities show`)", offset, caret=True)
        rules.append(rule)
    r.raise_if_any()
    return rules
