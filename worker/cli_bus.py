"""Consumers of the alert stream (issue 7): ``marsad tail --group``, ``marsad replay`` and
``marsad dead``. The contract they read is docs/alerts.md.

Every alert is printed as one JSON line, its payload with ``"stream_id"`` added (the shape of the
channel messages), so a reader can resume from where it stopped. Warnings go to stderr.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any

import redis

from worker.adapters.consumer import Entry, GroupReader, id_ms, read_range, since_id
from worker.cli_common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, redis_ok
from worker.config import Settings
from worker.core.alerts import with_stream_id
from worker.core.dates import parse_date
from worker.core.durations import parse_duration

_BLOCK_MS = 5000


def add_tail_group_options(tail: argparse.ArgumentParser) -> None:
    tail.add_argument("--group", default=None, help="read the stream through this consumer group (acknowledged)")
    tail.add_argument("--consumer", default=None, help="consumer name in the group (default: this host's name)")
    tail.add_argument(
        "--from-start",
        action="store_true",
        help="when the group is new, start at the oldest retained alert instead of the next one",
    )
    tail.add_argument(
        "--claim-idle",
        default="60s",
        help="take over alerts another consumer read but left unacknowledged this long (default 60s)",
    )


def add_bus_tools(sub: Any) -> None:
    r = sub.add_parser("replay", help="print past alerts from the stream")
    r.add_argument("--since", required=True, help="a duration back from now (2h, 30m) or a date (RFC 3339)")
    r.add_argument("--rule", action="append", default=[], help="only this rule (repeatable)")
    d = sub.add_parser("dead", help="the dead-letter stream: work that failed processing too often")
    d_sub = d.add_subparsers(dest="dead_command", required=True)
    ls = d_sub.add_parser("list", help="print the dead letters, oldest first, one JSON line each")
    ls.add_argument("--count", type=int, default=100, help="at most this many (default 100)")
    rq = d_sub.add_parser("requeue", help="send dead letters back to the workers, and remove them")
    rq.add_argument("ids", nargs="+", metavar="ID", help="the dead letter's id (as `dead list` prints it)")


def _wanted(entry: Entry, rules: list[str]) -> bool:
    if not rules:
        return True
    try:
        return str(json.loads(entry.fields.get("alert", "{}")).get("rule")) in rules
    except json.JSONDecodeError:
        return False


def _emit(entry: Entry) -> None:
    payload = entry.fields.get("alert")
    if payload is None:
        print(f"marsad: stream entry {entry.id} has no alert field; skipped", file=sys.stderr)
        return
    print(with_stream_id(payload, entry.id), flush=True)


def cmd_tail_group(args: argparse.Namespace, settings: Settings) -> int:
    """Read the stream through a consumer group: own pending entries first (a crash between
    print and ack), then entries a dead consumer left pending, then new ones; each acknowledged
    after it was printed. Entries of other rules (``--rule``) are acknowledged unprinted."""
    from worker.adapters.keys import Keys
    from worker.adapters.redisconn import connect

    try:
        claim_idle = parse_duration(args.claim_idle)
    except ValueError as e:
        print(f"marsad: --claim-idle: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not redis_ok(settings):
        return EXIT_FAILURE
    keys = Keys(settings.key_prefix)
    consumer = args.consumer or socket.gethostname()
    reader = GroupReader(connect(settings), keys.stream, args.group, consumer, claim_idle, args.from_start)
    created = reader.ensure_group()
    print(
        f"marsad: reading {keys.stream} as {consumer!r} in group {args.group!r}" + (" (new group)" if created else ""),
        file=sys.stderr,
        flush=True,
    )

    def handle(entry: Entry) -> None:
        if _wanted(entry, args.rule):
            _emit(entry)
        reader.ack(entry)  # after printing: a crash before this leaves it pending, read again

    for entry in reader.own_pending():
        handle(entry)
    last_claim = 0.0
    while True:
        if time.monotonic() - last_claim >= min(claim_idle, 30):
            for entry in reader.claim():
                handle(entry)
            last_claim = time.monotonic()
        missed = reader.trimmed_unread()
        if missed:
            print(
                f"marsad: warning: {missed} alert(s) were trimmed from {keys.stream} by retention "
                f"(MARSAD_STREAM_RETENTION) before group {args.group!r} read them",
                file=sys.stderr,
                flush=True,
            )
        for entry in reader.read_new(_BLOCK_MS):
            handle(entry)


def _since_ms(text: str, now: float) -> int | None:
    """``2h`` (back from now) or a date; None when neither."""
    try:
        return int((now - parse_duration(text)) * 1000)
    except ValueError:
        pass
    when = parse_date(text)
    return None if when is None else int(when * 1000)


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Print the alerts published since a time (the stream entry ids are publish times), oldest
    first, as far back as retention kept them."""
    from worker.adapters.keys import Keys
    from worker.adapters.redisconn import connect

    since = _since_ms(args.since, time.time())
    if since is None:
        print(f"marsad: --since: {args.since!r} is neither a duration (2h, 30m) nor a date", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not redis_ok(settings):
        return EXIT_FAILURE
    keys = Keys(settings.key_prefix)
    client = connect(settings)
    first = None
    for entry in read_range(client, keys.stream, since_id(since)):
        first = first or entry
        if _wanted(entry, args.rule):
            _emit(entry)
    if first is None or id_ms(first.id) > since:
        _warn_if_trimmed(client, keys.stream, since)
    return EXIT_OK


def _warn_if_trimmed(client: redis.Redis, stream: str, since: int) -> None:
    """Say so when retention may have trimmed part of the asked period: entries were trimmed,
    and the oldest one left is newer than the start asked for."""
    from worker.adapters.redisconn import redis_errors

    with redis_errors():
        info = client.xinfo_stream(stream) if client.exists(stream) else None
    if info is None or int(info.get("entries-added", 0)) == int(info.get("length", 0)):
        return  # nothing was ever trimmed
    first = info.get("first-entry")
    oldest = id_ms(str(first[0])) if first else None
    if oldest is None or oldest > since:
        print(
            "marsad: warning: alerts older than MARSAD_STREAM_RETENTION were trimmed from the stream; "
            "the period asked for may have had more",
            file=sys.stderr,
        )


def cmd_dead(args: argparse.Namespace, settings: Settings) -> int:
    """``dead list``: one JSON line per dead letter. ``dead requeue ID ...``: an article goes
    back to the workers as a ``marsad.article`` task, a poll as a ``marsad.poll`` task of its
    feed; the letter is removed once the task is sent."""
    from worker.adapters.dead import DeadLetters
    from worker.adapters.keys import Keys
    from worker.adapters.redisconn import connect

    if not redis_ok(settings):
        return EXIT_FAILURE
    keys = Keys(settings.key_prefix)
    letters = DeadLetters(connect(settings), keys, settings.dead_after)
    if args.dead_command == "list":
        for letter in letters.list(args.count):
            print(json.dumps(letter.as_json(), ensure_ascii=False), flush=True)
        return EXIT_OK
    found = {i: letters.get(i) for i in args.ids}
    unknown = [i for i, letter in found.items() if letter is None]
    if unknown:
        print(f"marsad: no dead letter {', '.join(unknown)} in {keys.dead}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from worker.celery_app import app

    for letter in filter(None, found.values()):
        payload = json.loads(letter.payload)
        if letter.kind == "article":
            app.send_task("marsad.article", args=[payload], queue=keys.poll_queue)
        else:
            app.send_task("marsad.poll", args=[payload], queue=keys.poll_queue)
        letters.remove(letter.id)
        print(f"marsad: requeued {letter.kind} {letter.item} ({letter.id})", file=sys.stderr)
    return EXIT_OK
