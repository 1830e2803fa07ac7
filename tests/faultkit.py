"""What the fault tests share: real Arabic news items with a known set of expected alerts, the
sources and rules files, the workers' environment, and the one check every test ends with: the
alert stream holds every expected alert exactly once and nothing else.

Each item is a real newswire passage (tests/data/dedup/newsfane, distinct texts: one story each)
under a title built so that the alerts it must raise are known by construction: items with an
even number name إيران and باكستان in the title (rule ``iran-pakistan``), items numbered by a
multiple of three name القاهرة (rule ``cairo``), the others raise no alert.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.conftest import valid_alert
from tests.faultserver import rss_item
from worker.adapters.keys import Keys

DATA = Path(__file__).parent / "data" / "dedup" / "newsfane" / "passages.jsonl"

RULES = """\
- id: iran-pakistan
  query: title:(إيران AND باكستان)
- id: cairo
  query: title:القاهرة
- id: never
  query: title:"هذه العبارة لا ترد في أي خبر"
"""
_MARKED = ("ايران", "إيران", "باكستان", "القاهرة", "القاهره")


def _passages() -> list[str]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"]
        if not any(w in text for w in _MARKED):
            out.append(text)
    return out


PASSAGES = _passages()


@dataclass(frozen=True)
class Item:
    n: int
    link: str
    xml: str
    rules: frozenset[str]


def make_item(n: int, host: str = "news.example.com") -> Item:
    """Item ``n`` (0 <= n < len(PASSAGES)): a real passage, published ten minutes ago."""
    text = PASSAGES[n]
    lead = " ".join(text.split()[:8])
    tags, rules = [], set()
    if n % 2 == 0:
        tags.append("إيران وباكستان:")
        rules.add("iran-pakistan")
    if n % 3 == 0:
        tags.append("من القاهرة:")
        rules.add("cairo")
    title = " ".join([*tags, lead])
    link = f"https://{host}/news/{n}"
    return Item(n, link, rss_item(title, link, text, time.time() - 600), frozenset(rules))


def expected(items: list[Item]) -> Counter[tuple[str, str]]:
    return Counter({(rule, it.link): 1 for it in items for rule in it.rules})


def write_config(tmp: Path, feeds: dict[str, str], interval: str = "2s") -> tuple[Path, Path]:
    sources = tmp / "sources.yaml"
    sources.write_text(
        "".join(
            f"- id: {fid}\n  url: {url}\n  language: ar\n"
            # Pinned: the adaptive schedule would otherwise stretch a quiet feed's interval.
            f"  interval: {interval}\n  min_interval: {interval}\n  max_interval: {interval}\n"
            for fid, url in feeds.items()
        ),
        encoding="utf-8",
    )
    rules = tmp / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    return sources, rules


def worker_env(redis_url: str, prefix: str, sources: Path, rules: Path, **extra: str) -> dict[str, str]:
    """Settings for every process of a fault test: short ticks, intervals and backoffs so a run
    takes seconds; short time limits and visibility timeout so a lost message comes back soon."""
    env = {
        "MARSAD_REDIS_URL": redis_url,
        "MARSAD_KEY_PREFIX": prefix,
        "MARSAD_SOURCES_FILE": str(sources),
        "MARSAD_RULES_FILE": str(rules),
        "MARSAD_ENTITIES_FILE": str(rules.parent / "no-entities.yaml"),
        "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
        "MARSAD_TICK_INTERVAL": "1s",
        "MARSAD_MIN_INTERVAL": "1s",
        "MARSAD_MAX_BACKOFF": "3s",
        "MARSAD_POLL_LEASE": "15s",
        "MARSAD_HTTP_CONNECT_TIMEOUT": "2s",
        "MARSAD_HTTP_READ_TIMEOUT": "2s",
        "MARSAD_HTTP_TOTAL_TIMEOUT": "4s",
        "MARSAD_TASK_SOFT_TIME_LIMIT": "10s",
        "MARSAD_TASK_TIME_LIMIT": "12s",
        "MARSAD_BROKER_VISIBILITY_TIMEOUT": "15s",
        # Two feeds per poll task, polled by two threads: a tick sends several tasks, so a fault
        # finds some running and some queued, and each task has feeds in flight side by side.
        "MARSAD_POLL_BATCH": "2",
        "MARSAD_POLL_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def stream_alerts(client: redis.Redis, prefix: str) -> list[dict[str, object]]:
    return [json.loads(fields["alert"]) for _, fields in client.xrange(Keys(prefix).stream)]


def delivered(client: redis.Redis, prefix: str) -> Counter[tuple[str, str]]:
    return Counter((str(a["rule"]), str(a["article"]["url"])) for a in stream_alerts(client, prefix))  # type: ignore[index]


def all_delivered(client: redis.Redis, prefix: str, want: Counter[tuple[str, str]]) -> bool:
    """True once every expected alert is on the stream (a Redis error counts as not yet)."""
    try:
        return set(delivered(client, prefix)) >= set(want)
    except redis.RedisError:
        return False


def assert_exactly_once(client: redis.Redis, prefix: str, want: Counter[tuple[str, str]], logs: str = "") -> None:
    """Every expected alert on the stream exactly once, none missing, none unexpected, and one
    alert id per (rule, story)."""
    alerts = [valid_alert(fields["alert"]) for _, fields in client.xrange(Keys(prefix).stream)]  # the contract
    got = Counter((str(a["rule"]), str(a["article"]["url"])) for a in alerts)  # type: ignore[index]
    missing = set(want) - set(got)
    extra = set(got) - set(want)
    twice = {k: n for k, n in got.items() if n > 1}
    detail = f"\n{logs[-20000:]}" if (missing or extra or twice) else ""
    assert not missing, f"alerts missing: {sorted(missing)}{detail}"
    assert not twice, f"alerts published more than once: {twice}{detail}"
    assert not extra, f"unexpected alerts: {sorted(extra)}{detail}"
    ids = Counter(str(a["id"]) for a in alerts)
    stories = Counter((str(a["rule"]), str(a["story"])) for a in alerts)
    assert max(ids.values()) == 1 and max(stories.values()) == 1
