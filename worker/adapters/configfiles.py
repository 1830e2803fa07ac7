"""Reading the sources and rules files: the file I/O in front of core/configfile.py."""

from __future__ import annotations

import os

from worker.core.configfile import load_rules, load_sources
from worker.core.match import Rule
from worker.core.ruleset import RuleSet, build_ruleset
from worker.errors import ConfigError, Problem
from worker.models import Source


def _read(path: str) -> str:
    """The file's text; an unreadable or non-UTF-8 file is a ConfigError like any bad content."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError([Problem(path, 0, 0, f"cannot read the file: {e.strerror or e}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError([undecodable(path, data, e)]) from None


def undecodable(path: str, data: bytes, error: UnicodeDecodeError, line_offset: int = 0) -> Problem:
    """Where the first byte that is not UTF-8 sits, as line and column in characters."""
    before = data[: error.start]
    line = before.count(b"\n") + 1 + line_offset
    col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
    return Problem(path, line, col, "not UTF-8 text (a windows-1256 file? save it as UTF-8)")


def read_sources(path: str) -> list[Source]:
    return load_sources(_read(path), path)


def read_rules(path: str) -> list[Rule]:
    return load_rules(_read(path), path)


def read_entities_text(path: str | None) -> str:
    """The user entities file's text; an absent file means no user entities (it is optional)."""
    return _read(path) if path and os.path.exists(path) else ""


def read_ruleset(rules_path: str, entities_path: str | None = None) -> RuleSet:
    """The rules file with the user entities file (absent: the built-in gazetteer alone)."""
    return build_ruleset(_read(rules_path), rules_path, read_entities_text(entities_path), entities_path or "")
