"""What every ``marsad`` command shares: exit codes, problem reporting, the JSONL article reader."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from worker.adapters.configfiles import undecodable
from worker.config import Settings
from worker.core.dates import parse_date
from worker.errors import InfrastructureError, Problem

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def report_problems(problems: Iterable[Problem]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    return EXIT_BAD_INPUT


def redis_ok(settings: Settings) -> bool:
    """Ping Redis; when it does not answer, say so in one line (password masked)."""
    from worker.adapters.redisconn import connect, ping, unreachable_message

    try:
        ping(connect(settings))
    except InfrastructureError as e:
        print(unreachable_message(settings, e), file=sys.stderr)
        return False
    return True


@dataclass(frozen=True)
class InputArticle:
    id: str
    title: str
    text: str
    url: str | None = None
    source: str | None = None
    language: str | None = None
    published: float | None = None  # Unix seconds


_STRINGS = ("title", "text", "url", "source", "language")
_OBJECT = "expected a JSON object {id, title?, text, url?, source?, language?, published?}"


def _published(value: object) -> float | None:
    """RFC 3339 or 822 (or an Arabic date) as text, or Unix seconds; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return parse_date(value) if isinstance(value, str) else None


def _articles(name: str, stream: IO[bytes], problems: list[Problem]) -> Iterator[InputArticle]:
    for lineno, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(undecodable(name, raw, e, lineno - 1))
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as e:
            # the line holds no newline now, so pos + 1 is the 1-based column in characters
            problems.append(Problem(name, lineno, e.pos + 1, f"invalid JSON: {e.msg}"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(name, lineno, 1, _OBJECT))
            continue
        bad = [k for k in _STRINGS if k in obj and obj[k] is not None and not isinstance(obj[k], str)]
        if "id" in obj and not isinstance(obj["id"], str | int):
            bad.insert(0, "id")
        missing = [k for k in ("id", "text") if k not in obj]
        published = _published(obj.get("published"))
        if missing or bad:
            what = f"missing {', '.join(missing)}" if missing else f"{', '.join(bad)} must be a string"
            problems.append(Problem(name, lineno, 1, what))
            continue
        if obj.get("published") is not None and published is None:
            problems.append(Problem(name, lineno, 1, "published must be a date (RFC 3339 or 822) or Unix seconds"))
            continue
        yield InputArticle(
            str(obj["id"]),
            obj.get("title") or "",
            obj["text"],
            obj.get("url"),
            obj.get("source"),
            obj.get("language"),
            published,
        )


def read_jsonl(paths: Sequence[str], problems: list[Problem]) -> Iterator[InputArticle]:
    """Articles from JSON-lines files (``-`` or none: stdin), in order; bad lines become problems
    (``path:line:col: message``) and are skipped, so one bad line does not hide the others."""
    for path in paths or ["-"]:
        try:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as e:
            problems.append(Problem(path, 0, 0, f"cannot read the file: {e.strerror}"))
            continue
        with stream:
            yield from _articles("<stdin>" if path == "-" else path, stream, problems)
