"""The ``marsad`` command: run, once, match, tail.

Exit codes: 0 success (also when nothing matched), 1 runtime failure (Redis unreachable; in
``once``, every source failed), 2 bad input (usage, a sources or rules file, a JSONL line),
reported on stderr as ``path:line:col: message`` for every problem found, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import IO, NoReturn

from worker.adapters.configfiles import read_rules, read_sources, undecodable
from worker.config import Settings, load_settings
from worker.core.clean import clean_text, clean_title
from worker.core.match import Matcher, Rule
from worker.errors import ConfigError, InfrastructureError, Problem
from worker.logs import event

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"marsad: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="marsad", description="Watch news feeds and publish alerts to Redis.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_ in (
        ("run", "beat and worker in one process group: poll on schedule, publish alerts"),
        ("once", "poll every source once, inline; print new alerts as JSON lines"),
    ):
        c = sub.add_parser(name, help=help_)
        c.add_argument("--sources", default=None, help="sources file (default: MARSAD_SOURCES_FILE)")
        c.add_argument("--rules", default=None, help="rules file (default: MARSAD_RULES_FILE)")
        if name == "run":
            c.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    m = sub.add_parser("match", help="match JSON-lines articles against the rules; no Redis needed")
    m.add_argument("--rules", default=None, help="rules file (default: MARSAD_RULES_FILE)")
    m.add_argument("files", nargs="*", help="JSONL files of {id, title?, text}; stdin when none")
    x = sub.add_parser("extract", help="show the title and cleaned text marsad reads from one article page")
    x.add_argument("target", metavar="FILE_OR_URL", help="a saved HTML page, or an http(s) URL to fetch")
    x.add_argument("--json", action="store_true", help="one JSON object: title, text, language, published, url")
    t = sub.add_parser("tail", help="print alerts as they are published")
    t.add_argument("--rule", action="append", default=[], help="only this rule (repeatable)")
    return p


def _problems(problems: Iterable[Problem]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    return EXIT_BAD_INPUT


def _settings(args: argparse.Namespace) -> Settings:
    # Command-line files win over the environment; they are passed on through the environment
    # so that the worker processes ``marsad run`` starts read the same files.
    if getattr(args, "sources", None):
        os.environ["MARSAD_SOURCES_FILE"] = args.sources
    if getattr(args, "rules", None):
        os.environ["MARSAD_RULES_FILE"] = args.rules
    return load_settings()


def _redis_ok(settings: Settings) -> bool:
    from worker.adapters.redisconn import connect, ping, unreachable_message

    try:
        ping(connect(settings))
    except InfrastructureError:
        print(unreachable_message(settings), file=sys.stderr)
        return False
    return True


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    read_sources(settings.sources_file)  # fail fast with exit 2; beat re-reads it
    read_rules(settings.rules_file)
    if not _redis_ok(settings):
        return EXIT_FAILURE
    event("settings.loaded", **settings.masked())
    from worker.celery_app import app, keys

    app.worker_main(
        [
            "worker",
            "--beat",
            f"--queues={keys.tick_queue},{keys.poll_queue}",
            f"--concurrency={args.concurrency}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return EXIT_OK


def cmd_once(args: argparse.Namespace, settings: Settings) -> int:
    from worker.poll import Runtime, poll_feed

    sources = read_sources(settings.sources_file)
    rules = read_rules(settings.rules_file)
    if not _redis_ok(settings):
        return EXIT_FAILURE
    event("settings.loaded", **settings.masked())
    rt = Runtime.build(settings, rules)
    failed = 0
    try:
        for source in sources:
            report = poll_feed(rt, source)
            failed += report.failed
            for alert in report.published:
                print(alert.payload, flush=True)
    finally:
        rt.close()
    return EXIT_FAILURE if sources and failed == len(sources) else EXIT_OK


def _articles(name: str, stream: IO[bytes], problems: list[Problem]) -> Iterable[tuple[str, str, str]]:
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
            problems.append(Problem(name, lineno, 1, "expected a JSON object {id, title?, text}"))
            continue
        bad = [
            k
            for k, typ in (("id", (str, int)), ("title", str), ("text", str))
            if k in obj and not isinstance(obj[k], typ)
        ]
        missing = [k for k in ("id", "text") if k not in obj]
        if missing or bad:
            what = f"missing {', '.join(missing)}" if missing else f"{', '.join(bad)} must be a string"
            problems.append(Problem(name, lineno, 1, what))
            continue
        yield str(obj["id"]), obj.get("title", ""), obj["text"]


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    rules: list[Rule] = read_rules(settings.rules_file)
    matcher = Matcher(rules)
    problems: list[Problem] = []
    inputs: Sequence[str] = args.files or ["-"]
    for path in inputs:
        try:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as e:
            problems.append(Problem(path, 0, 0, f"cannot read the file: {e.strerror}"))
            continue
        with stream:
            name = "<stdin>" if path == "-" else path
            for art_id, title, text in _articles(name, stream, problems):
                title = clean_title(title)
                text = clean_text(text, is_html="<" in text, title=title)
                for m in matcher.match(title, text):
                    matched = [
                        {"term": h.term, "surface": h.surface, "field": h.field, "start": h.start, "end": h.end}
                        for h in m.hits
                    ]
                    print(json.dumps({"id": art_id, "rule": m.rule, "matched": matched}, ensure_ascii=False))
    return _problems(problems) if problems else EXIT_OK


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from worker.adapters.keys import Keys
    from worker.adapters.redisconn import connect, redis_errors

    if not _redis_ok(settings):
        return EXIT_FAILURE
    keys = Keys(settings.key_prefix)
    channels = [keys.rule_channel(r) for r in args.rule] or [keys.channel]
    pubsub = connect(settings).pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    with redis_errors():
        pubsub.subscribe(*channels)
        print(f"marsad: listening on {', '.join(channels)}", file=sys.stderr)
        for message in pubsub.listen():
            print(message["data"], flush=True)
    return EXIT_OK


def cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch (for a URL), decode, extract and clean one article page, as the worker would for a
    ``full_text`` source: how a user checks a new source before adding it."""
    from worker.adapters.http import Fetcher
    from worker.core.alerts import iso_utc
    from worker.core.dates import parse_date
    from worker.core.language import detect_language
    from worker.fulltext import page_from_bytes, page_of

    target: str = args.target
    url: str | None = None
    if target.startswith(("http://", "https://")):
        fetcher = Fetcher(settings)
        try:
            result, page = page_of(fetcher, target)
        finally:
            fetcher.close()
        if result.outcome != "ok":
            print(f"marsad: cannot fetch {target}: {result.error or result.outcome}", file=sys.stderr)
            return EXIT_FAILURE
        url = result.final_url or target
    else:
        try:
            with open(target, "rb") as f:
                body = f.read()
        except OSError as e:
            return _problems([Problem(target, 0, 0, f"cannot read the file: {e.strerror or e}")])
        page = page_from_bytes(body, None, None)
    if page is None:
        print(f"marsad: no article text found in {target}", file=sys.stderr)
        return EXIT_FAILURE
    title = clean_title(page.title)
    text = clean_text(page.text, is_html=False, title=title)
    published = parse_date(page.published) if page.published else None
    out = {
        "title": title,
        "text": text,
        "language": detect_language(f"{title}\n{text}", configured=page.language),
        "published": iso_utc(published) if published is not None else None,
        "url": url,
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"{title}\n\n{text}")
    return EXIT_OK


COMMANDS = {"run": cmd_run, "once": cmd_once, "match": cmd_match, "extract": cmd_extract, "tail": cmd_tail}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        from worker.logs import setup

        setup(settings.log_level)
        return COMMANDS[args.command](args, settings)
    except ConfigError as e:
        return _problems(e.problems)
    except InfrastructureError as e:
        print(f"marsad: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
