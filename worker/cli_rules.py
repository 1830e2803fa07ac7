"""The rule writers' commands: ``marsad match``, ``marsad explain``, ``marsad rules load``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from typing import Any

from worker.adapters.configfiles import read_ruleset
from worker.cli_common import EXIT_OK, read_jsonl, redis_ok, report_problems
from worker.config import Settings
from worker.core.clean import clean_text, clean_title
from worker.core.match import RuleReport, explain
from worker.errors import Problem
from worker.models import Hit


def add_rule_tools(sub: Any) -> None:
    m = sub.add_parser("match", help="match JSON-lines articles against the rules; no Redis needed")
    m.add_argument("--rules", default=None, help="rules file (default: MARSAD_RULES_FILE)")
    m.add_argument("--entities", default=None, help="user entities file (default: MARSAD_ENTITIES_FILE)")
    m.add_argument("--stats", action="store_true", help="print per-rule match counts over the input instead")
    m.add_argument("files", nargs="*", help="JSONL files of {id, title?, text, source?, language?}; stdin when none")
    e = sub.add_parser("explain", help="show, per rule, which parts of the query matched where")
    e.add_argument("--rules", default=None, help="rules file (default: MARSAD_RULES_FILE)")
    e.add_argument("--entities", default=None, help="user entities file (default: MARSAD_ENTITIES_FILE)")
    what = e.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="the article text to explain")
    what.add_argument("--jsonl", help="a JSONL file of articles to explain")
    e.add_argument("--title", default="", help="the title, with --text")
    e.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="highlight matches")
    r = sub.add_parser("rules", help="manage the live rule set in Redis")
    rsub = r.add_subparsers(dest="rules_command", required=True)
    load = rsub.add_parser("load", help="validate FILE and make it the live rule set (workers pick it up)")
    load.add_argument("file", metavar="FILE")
    load.add_argument("--entities", default=None, help="user entities file (default: MARSAD_ENTITIES_FILE)")


def _clean(title: str, text: str) -> tuple[str, str]:
    title = clean_title(title)
    return title, clean_text(text, is_html="<" in text, title=title)


def _hit_json(h: Hit) -> dict[str, Any]:
    return {"term": h.term, "surface": h.surface, "field": h.field, "start": h.start, "end": h.end}


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    ruleset = read_ruleset(settings.rules_file, settings.entities_file)
    matcher = ruleset.matcher()
    problems: list[Problem] = []
    counts: Counter[str] = Counter()
    articles = matched_articles = 0
    for art in read_jsonl(args.files, problems):
        title, text = _clean(art.title, art.text)
        found = matcher.match(title, text, source=art.source, language=art.language)
        articles += 1
        matched_articles += bool(found)
        for m in found:
            counts[m.rule] += 1
            if not args.stats:
                line = {"id": art.id, "rule": m.rule, "matched": [_hit_json(h) for h in m.hits]}
                print(json.dumps(line, ensure_ascii=False))
    if args.stats:
        per_rule = {r.id: counts[r.id] for r in matcher.rules}
        print(json.dumps({"articles": articles, "matched_articles": matched_articles, "rules": per_rule}))
    return report_problems(problems) if problems else EXIT_OK


def _highlight(text: str, hits: list[Hit], color: bool) -> str:
    """``text`` with the hits' spans marked: reverse video on a terminal, [[ ]] otherwise."""
    start_mark, end_mark = ("\x1b[7m", "\x1b[0m") if color else ("[[", "]]")
    out, last = [], 0
    for h in sorted(hits, key=lambda h: h.start):
        if h.start < last:
            continue
        out += [text[last : h.start], start_mark, text[h.start : h.end], end_mark]
        last = h.end
    out.append(text[last:])
    return "".join(out)


def _print_report(report: RuleReport, title: str, text: str, color: bool) -> None:
    verdict = "MATCH" if report.matched else ("skipped: " + report.skipped if report.skipped else "no match")
    print(f"rule {report.rule.id}: {verdict}    query: {report.rule.query}")
    for leaf in report.leaves:
        sign = "NOT " if leaf.negated else ""
        where = ", ".join(f"{h.field} {h.start}-{h.end} «{h.surface}»" for h in leaf.hits) or "absent"
        print(f"  {sign}{leaf.text}: {where}")
    if report.matched:
        shown = [h for leaf in report.leaves if not leaf.negated for h in leaf.hits]
        if any(h.field == "title" for h in shown):
            print("  title: " + _highlight(title, [h for h in shown if h.field == "title"], color))
        text_hits = [h for h in shown if h.field == "text"]
        if text_hits:
            print("  text:  " + _highlight(text, text_hits, color).replace("\n", "\n         "))


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    ruleset = read_ruleset(settings.rules_file, settings.entities_file)
    matcher = ruleset.matcher()
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    problems: list[Problem] = []
    inputs: list[tuple[str, str, str, str | None, str | None]]
    if args.text is not None:
        inputs = [("--text", args.title, args.text, None, None)]
    else:
        inputs = [(a.id, a.title, a.text, a.source, a.language) for a in read_jsonl([args.jsonl], problems)]
    for n, (art_id, raw_title, raw_text, source, language) in enumerate(inputs):
        title, text = _clean(raw_title, raw_text)
        if n or args.jsonl:
            print(f"== {art_id}")
        for report in explain(matcher, title, text, source, language):
            _print_report(report, title, text, color)
    return report_problems(problems) if problems else EXIT_OK


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    """``rules load FILE``: validate, then store as the next version of the live rule set."""
    from worker.adapters.keys import Keys
    from worker.adapters.redisconn import connect
    from worker.adapters.rulestore import RuleStore

    ruleset = read_ruleset(args.file, settings.entities_file)
    if not redis_ok(settings):
        return 1
    store = RuleStore(connect(settings), Keys(settings.key_prefix))
    version = store.store(ruleset.rules_text, args.file, ruleset.entities_text, ruleset.entities_path)
    print(f"marsad: rule set version {version} is live ({len(ruleset.rules)} rules from {args.file})", file=sys.stderr)
    return EXIT_OK
