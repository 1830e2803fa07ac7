"""The operators' commands for feeds: ``marsad status`` and ``marsad sources add|remove|enable|list``.

They change the live schedule in Redis, read by the running workers at their next tick: no
restart. sources.yaml stays the source of truth: the next start syncs Redis to the file again
(a feed added here and not saved is dropped then), unless ``--save`` wrote the change to the
file, keeping its comments and order (ruamel.yaml's round trip; PyYAML, which reads the file
everywhere else, drops comments when it writes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict
from io import StringIO
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from worker.cli_common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, redis_ok, report_problems
from worker.config import Settings
from worker.errors import ConfigError, Problem
from worker.models import SOURCE_TYPES, FeedHealth, Source

if TYPE_CHECKING:
    from worker.adapters.state import State

# Unhealthy first: the order of ``marsad status``.
_SEVERITY = {"gone": 0, "disabled": 1, "backing_off": 2, "active": 3}
_STATE_STYLE = {"gone": "bold red", "disabled": "red", "backing_off": "yellow", "active": "green"}


def add_sources_tools(sub: Any) -> None:
    s = sub.add_parser("status", help="every feed's health, unhealthy first (--json for scripts)")
    s.add_argument("--json", action="store_true", help="one JSON array of the feeds' health")
    src = sub.add_parser("sources", help="change the live schedule without a restart")
    src.add_argument("--sources", default=None, help="sources file --save writes (default: MARSAD_SOURCES_FILE)")
    ssub = src.add_subparsers(dest="sources_command", required=True)
    add = ssub.add_parser("add", help="add a feed, due now")
    add.add_argument("url", metavar="URL")
    add.add_argument("--id", default=None, help="its id (default: made from the URL)")
    add.add_argument("--language", default=None, help="its language, such as ar")
    add.add_argument("--interval", default=None, help="its starting interval, such as 5m")
    add.add_argument("--type", default=None, choices=SOURCE_TYPES, help="its type (default auto)")
    add.add_argument("--save", action="store_true", help="also append it to the sources file")
    rm = ssub.add_parser("remove", help="stop polling a feed and forget its state")
    rm.add_argument("id", metavar="ID")
    rm.add_argument("--save", action="store_true", help="also remove it from the sources file")
    en = ssub.add_parser("enable", help="put a disabled or gone feed back on the schedule, due now")
    en.add_argument("id", metavar="ID")
    ls = ssub.add_parser("list", help="the live sources in Redis")
    ls.add_argument("--json", action="store_true", help="one JSON array of the sources")


def _state(settings: Settings) -> State:
    from worker.adapters.keys import Keys
    from worker.adapters.layout import ensure_layout
    from worker.adapters.redisconn import connect
    from worker.adapters.state import State

    client = connect(settings)
    keys = Keys(settings.key_prefix)
    ensure_layout(client, keys)  # another key layout: ConfigError, exit 2
    return State(client, keys)


# --- marsad status ---------------------------------------------------------------------------


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "—"
    return _span(now - ts) + " ago" if now >= ts else "in " + _span(ts - now)


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}".replace(".0", "")
    return f"{seconds:.0f}s"


def _order(h: FeedHealth) -> tuple[int, int, str]:
    return (_SEVERITY.get(h.state, 9), -h.failures, h.id)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    if not redis_ok(settings):
        return EXIT_FAILURE
    feeds = sorted(_state(settings).all_health(), key=_order)
    if args.json:
        print(json.dumps([asdict(h) for h in feeds], ensure_ascii=False))
        return EXIT_OK
    if not feeds:
        print("marsad: no sources in Redis yet (`marsad run` syncs sources.yaml at start)", file=sys.stderr)
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    now = time.time()
    table = Table(title=f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''}, unhealthy first", title_justify="left")
    right = ("http", "failures", "per day", "delay", "every")
    for name in ("feed", "state", "status", "http", "failures", "success", "per day", "delay", "every", "due"):
        table.add_column(name, justify="right" if name in right else "left", no_wrap=name != "feed")
    table.add_column("error", overflow="fold")
    for h in feeds:
        table.add_row(
            h.id,
            f"[{_STATE_STYLE.get(h.state, '')}]{h.state}[/]",
            h.last_status or "never polled",
            str(h.last_http or "—"),
            str(h.failures or ""),
            _ago(h.last_success, now),
            f"{h.items_per_day:.1f}" if h.items_per_day is not None else "—",
            _span(h.median_delay) if h.median_delay is not None else "—",
            _span(h.interval) if h.interval is not None else "—",
            ("now" if h.next_due <= now else _ago(h.next_due, now)) if h.next_due is not None else "off",
            h.last_error or "",
        )
    # On a terminal, its width; piped (to a file, a pager), wide enough not to cut the columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    console.print(table)
    return EXIT_OK


# --- marsad sources ... ------------------------------------------------------------------------


def _id_from(url: str) -> str:
    """An id from a URL: host and path, letters, digits and '.-_' only, at most 64 characters."""
    parts = urlsplit(url)
    host = (parts.hostname or "feed").removeprefix("www.")
    words = [host, *(w for w in re.split(r"[^A-Za-z0-9._-]+", parts.path) if w)]
    return re.sub(r"-{2,}", "-", "-".join(words)).strip("-._")[:64] or "feed"


def _entry(args: argparse.Namespace) -> dict[str, str]:
    entry = {"id": args.id or _id_from(args.url), "url": args.url}
    for key in ("language", "interval", "type"):
        if getattr(args, key, None):
            entry[key] = getattr(args, key)
    return entry


def _validate(entry: dict[str, str]) -> Source:
    """The command line's feed, checked by the same rules as sources.yaml's (ConfigError)."""
    from worker.core.configfile import load_sources

    text = "- " + "\n  ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in entry.items()) + "\n"
    try:
        [source] = load_sources(text, "<command line>")
    except ConfigError as e:
        raise ConfigError([Problem("marsad sources add", 0, 0, p.message) for p in e.problems]) from None
    return source


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments, order, quoting kept
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([Problem(path, 0, 0, f"cannot read the file: {e}")]) from None


def _write_file(path: str, text: str, check: bool = True) -> None:
    """Check the new text as the worker will read it, then replace the file atomically."""
    from worker.core.configfile import load_sources

    if check:
        load_sources(text, path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sources-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _dump(yaml: Any, data: Any) -> str:
    out = StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def save_added(path: str, entry: dict[str, str]) -> None:
    """Append one feed to the sources file, its comments and order kept."""
    from ruamel.yaml.comments import CommentedMap

    yaml = _yaml()
    text = _read_file(path)
    data = yaml.load(text) if text.strip() else None
    item = CommentedMap(entry)
    if data is None:  # empty, or comments only: keep them, then the list
        new = text + ("" if not text or text.endswith("\n") else "\n") + _dump(yaml, [item])
    else:
        if any(str(s.get("id")) == entry["id"] for s in data if hasattr(s, "get")):
            raise ConfigError([Problem(path, 0, 0, f"id {entry['id']!r} is already in the file")])
        data.append(item)
        new = _dump(yaml, data)
    _write_file(path, new)


def save_removed(path: str, feed_id: str) -> bool:
    """Remove one feed from the sources file, the rest of it kept; False when it is not there."""
    yaml = _yaml()
    text = _read_file(path)
    data = yaml.load(text) if text.strip() else None
    if not data:
        return False
    index = next((i for i, s in enumerate(data) if hasattr(s, "get") and str(s.get("id")) == feed_id), None)
    if index is None:
        return False
    del data[index]
    if len(data):
        _write_file(path, _dump(yaml, data))
        return True
    # The last feed: only the file's comments remain. Written anyway (the operator asked), with
    # a warning, since a start refuses a sources file without feeds.
    print(f"marsad: {path} now lists no feed; a start refuses it until one is added", file=sys.stderr)
    _write_file(path, "".join(ln for ln in text.splitlines(keepends=True) if ln.lstrip().startswith("#")), check=False)
    return True


_NOTE = "sources.yaml ({path}) is the source of truth at the next start"


def _add(args: argparse.Namespace, settings: Settings, state: State) -> int:
    entry = _entry(args)
    source = _validate(entry)
    if state.source(source.id) is not None:
        return report_problems([Problem("marsad sources add", 0, 0, f"id {source.id!r} is already a source")])
    if args.save:
        save_added(settings.sources_file, entry)  # first: a bad file changes nothing live
    if not state.add_source(source, time.time()):
        return report_problems([Problem("marsad sources add", 0, 0, f"id {source.id!r} is already a source")])
    print(f"marsad: added {source.id} ({source.url}), due now", file=sys.stderr)
    if args.save:
        print(f"marsad: saved to {settings.sources_file}", file=sys.stderr)
    else:
        note = _NOTE.format(path=settings.sources_file)
        print(f"marsad: {note}: {source.id} is dropped then unless added there (or use --save)", file=sys.stderr)
    return EXIT_OK


def _remove(args: argparse.Namespace, settings: Settings, state: State) -> int:
    saved = save_removed(settings.sources_file, args.id) if args.save else False
    removed = state.remove_source(args.id)
    if not removed and not saved:
        return report_problems([Problem("marsad sources remove", 0, 0, f"no source {args.id!r}")])
    print(f"marsad: removed {args.id}: no longer polled, its state forgotten", file=sys.stderr)
    if saved:
        print(f"marsad: removed from {settings.sources_file}", file=sys.stderr)
    else:
        note = _NOTE.format(path=settings.sources_file)
        print(f"marsad: {note}: {args.id} comes back then if it is listed there (or use --save)", file=sys.stderr)
    return EXIT_OK


def _enable(args: argparse.Namespace, settings: Settings, state: State) -> int:
    before = state.feed_health(args.id)
    if before is None:
        return report_problems([Problem("marsad sources enable", 0, 0, f"no source {args.id!r}")])
    state.enable(args.id, time.time(), settings.dedup_ttl)
    print(f"marsad: {args.id} was {before.state}, now active and due now", file=sys.stderr)
    return EXIT_OK


def _list(args: argparse.Namespace, settings: Settings, state: State) -> int:
    sources = state.all_sources()
    if args.json:
        print(json.dumps([asdict(s) for s in sources], ensure_ascii=False))
        return EXIT_OK
    for s in sources:
        interval = f" every {_span(s.interval)}" if s.interval else ""
        print(f"{s.id}\t{s.url}\t{s.type}{interval}")
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    if not redis_ok(settings):
        return EXIT_FAILURE
    state = _state(settings)
    handlers = {"add": _add, "remove": _remove, "enable": _enable, "list": _list}
    try:
        return handlers[args.sources_command](args, settings, state)
    except OSError as e:
        print(f"marsad: cannot write {settings.sources_file}: {e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
