"""The ``marsad`` command: run, once, match, tail (consumers of the stream: cli_bus.py).

Exit codes: 0 success (also when nothing matched), 1 runtime failure (Redis unreachable; in
``once``, every source failed), 2 bad input (usage, a sources or rules file, a JSONL line),
reported on stderr as ``path:line:col: message`` for every problem found, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from worker.adapters.configfiles import read_ruleset, read_sources
from worker.cli_bus import add_bus_tools, add_tail_group_options, cmd_dead, cmd_replay, cmd_tail_group
from worker.cli_common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, redis_ok, report_problems
from worker.cli_rules import add_rule_tools, cmd_explain, cmd_match, cmd_rules
from worker.cli_sources import add_sources_tools, cmd_sources, cmd_status
from worker.cli_web import add_web, cmd_web
from worker.config import Settings, load_settings
from worker.core.clean import clean_text, clean_title
from worker.errors import ConfigError, DemoError, InfrastructureError, Problem
from worker.logs import event


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
            c.add_argument("--concurrency", type=int, default=4, help="worker processes (default 4)")
    add_rule_tools(sub)
    add_sources_tools(sub)
    en = sub.add_parser("entities", help="the entities rules can name as entity:ID")
    en_sub = en.add_subparsers(dest="entities_command", required=True, parser_class=_Parser)
    show = en_sub.add_parser("show", help="list every name and form of an entity that will match")
    show.add_argument("id", help="a country code such as IR, or an id from the entities file")
    show.add_argument("--entities", default=None, help="user entities file (default: MARSAD_ENTITIES_FILE)")
    x = sub.add_parser("extract", help="show the title and cleaned text marsad reads from one article page")
    x.add_argument("target", metavar="FILE_OR_URL", help="a saved HTML page, or an http(s) URL to fetch")
    x.add_argument("--json", action="store_true", help="one JSON object: title, text, language, published, url")
    st = sub.add_parser("stories", help="assign JSON-lines articles to stories as the workers do (backtesting)")
    st.add_argument("--memory", action="store_true", help="an in-process index instead of a throwaway one in Redis")
    st.add_argument("--threshold", type=float, default=None, help="story threshold (default: MARSAD_STORY_THRESHOLD)")
    st.add_argument("files", nargs="*", help="JSONL files of {id, title?, text, url?, source?, published?}; or stdin")
    t = sub.add_parser("tail", help="print alerts as they are published")
    t.add_argument("--rule", action="append", default=[], help="only this rule (repeatable)")
    add_tail_group_options(t)
    add_bus_tools(sub)
    add_web(sub)
    d = sub.add_parser("demo", help="offline demo: replay bundled feeds, run beat, worker and page; Ctrl-C stops")
    d.add_argument("--port", type=int, default=0, help="replay server port (default: a free one)")
    d.add_argument("--web-port", type=int, default=0, help="live page port (default: a free one)")
    d.add_argument("--prefix", default="marsad-demo:", help="key prefix of the demo's own (default marsad-demo:)")
    d.add_argument("--verbose", action="store_true", help="the worker's and page's logs on the terminal")
    return p


def _settings(args: argparse.Namespace) -> Settings:
    # Command-line files win over the environment; they are passed on through the environment
    # so that the worker processes ``marsad run`` starts read the same files.
    if getattr(args, "sources", None):
        os.environ["MARSAD_SOURCES_FILE"] = args.sources
    if getattr(args, "rules", None):
        os.environ["MARSAD_RULES_FILE"] = args.rules
    if getattr(args, "entities", None):
        os.environ["MARSAD_ENTITIES_FILE"] = args.entities
    return load_settings()


def _check_layout(settings: Settings) -> None:
    """A start against a namespace of another key layout stops here: ConfigError, exit 2."""
    from worker.adapters.keys import Keys
    from worker.adapters.layout import ensure_layout
    from worker.adapters.redisconn import connect

    client = connect(settings)
    try:
        ensure_layout(client, Keys(settings.key_prefix))
    finally:
        client.close()


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    read_sources(settings.sources_file)  # fail fast with exit 2; beat re-reads and stores them
    read_ruleset(settings.rules_file, settings.entities_file)
    if not redis_ok(settings):
        return EXIT_FAILURE
    event("settings.loaded", **settings.masked())
    _check_layout(settings)
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
    import time

    from worker.adapters.keys import Keys
    from worker.adapters.metrics import Metrics
    from worker.poll import Runtime, poll_feed

    sources = read_sources(settings.sources_file)
    ruleset = read_ruleset(settings.rules_file, settings.entities_file)
    if not redis_ok(settings):
        return EXIT_FAILURE
    event("settings.loaded", **settings.masked())
    _check_layout(settings)
    # A person waits for `once`: each feed waits its turn at its site (politeness) rather than
    # being deferred to a later run.
    patient = settings.model_copy(update={"host_max_wait": settings.host_page_wait})
    rt = Runtime.build(patient, ruleset.rules, entities=ruleset.entities)
    failed = 0
    try:
        metrics = Metrics(rt.redis, Keys(settings.key_prefix))
        for source in sources:
            report = poll_feed(rt, source)
            metrics.record_report(report, time.time())
            failed += report.failed
            for alert in report.published:
                print(alert.payload, flush=True)
    finally:
        rt.close()
    return EXIT_FAILURE if sources and failed == len(sources) else EXIT_OK


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from worker.adapters.keys import Keys
    from worker.adapters.redisconn import connect, redis_errors

    if args.group:
        return cmd_tail_group(args, settings)
    if not redis_ok(settings):
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
            return report_problems([Problem(target, 0, 0, f"cannot read the file: {e.strerror or e}")])
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


def cmd_entities(args: argparse.Namespace, settings: Settings) -> int:
    """``entities show ID``: the entity's names by language, then its forms, from the built-in
    gazetteer and the entities file (absent: the built-ins alone, as for the rules). A name that
    folds to one already listed matches the same text; it is marked ``(= first)``."""
    from worker.adapters.configfiles import read_entities_text
    from worker.core.entities import LANGUAGES, builtin_entities, load_entities, merge
    from worker.core.normalize import fold_words

    path = settings.entities_file
    text = read_entities_text(path)
    user = load_entities(text, path) if text.strip() else {}
    builtin = builtin_entities()
    entity = merge(builtin, user).get(args.id)
    if entity is None:
        print(f"marsad: unknown entity {args.id!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    origins = (["built-in"] if args.id in builtin else []) + ([path] if args.id in user else [])
    print(f"{entity.id} ({' + '.join(origins)})")
    langs = [*(g for g in LANGUAGES if g in entity.names), *(g for g in entity.names if g not in LANGUAGES)]
    rows = [("names", f"{g:<4}", n) for g in langs for n in entity.names[g]] + [("forms", "", f) for f in entity.forms]
    first: dict[tuple[str, ...], str] = {}
    heading = ""
    for group, tag, name in rows:
        if group != heading:
            print(heading := group)
        same = first.setdefault(fold_words(name), name)
        print(f"  {tag}{name}" + (f"  (= {same})" if same != name else ""))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The whole system offline: replay server, Redis, beat + worker, page (issue 8)."""
    from worker.demo.run import DemoOptions, run_demo

    return run_demo(DemoOptions(args.port, args.web_port, args.prefix, args.verbose), settings)


def cmd_stories(args: argparse.Namespace, settings: Settings) -> int:
    """Print {"id", "story"} per input article: the story assignment of the workers (issue 5)."""
    from worker.backtest import run

    return run(args.files, args.memory, args.threshold, settings)


COMMANDS = {
    "run": cmd_run,
    "status": cmd_status,
    "sources": cmd_sources,
    "once": cmd_once,
    "match": cmd_match,
    "explain": cmd_explain,
    "rules": cmd_rules,
    "extract": cmd_extract,
    "tail": cmd_tail,
    "entities": cmd_entities,
    "stories": cmd_stories,
    "replay": cmd_replay,
    "dead": cmd_dead,
    "web": cmd_web,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        from worker.logs import setup

        setup(settings.log_level, json_format=settings.log_format == "json")
        return COMMANDS[args.command](args, settings)
    except ConfigError as e:
        return report_problems(e.problems)
    except (InfrastructureError, DemoError) as e:
        print(f"marsad: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # `marsad ... | head`: the reader left; not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
