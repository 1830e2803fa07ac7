"""End to end (issue 7, "Latency and throughput"): feeds in, alerts out, real processes.

A local feed server (tests/faultserver.py, no faults) carries 200 RSS feeds, and a publisher
thread adds new items to them round-robin at a steady rate. ``marsad run`` — the repo's default
worker settings (concurrency, tick, timeouts, logging at INFO to a file), on the real Redis at
127.0.0.1:6379 under a prefix of the bench's own, deleted afterwards — polls them with 1,000
rules loaded. Each source is pinned to a 3 s interval (``interval``, ``min_interval`` and
``max_interval: 3s``; the adaptive schedule's floor is 1 min by default): each feed is polled
about every 3 s, when a tick (every ``MARSAD_TICK_INTERVAL``) finds it due.

Items: real Arabic news text. Each item has the title of a document of the ANT corpus window
(../shared/data, read in place, never copied) and a body of 8 sentences drawn from all its
documents, ~1,400 characters like the corpus's articles: every item is its own story (no two
share enough text to be near-duplicates), so each one is new work. Without ../shared/data the
committed newswire passages (tests/data/dedup) stand in, and the JSON says so.

Rules: the 1,000 rules of bench/match.py (same generator and seed: AND rules of real names and
frequent words, phrases, NEAR/n, entity:XX), the last five replaced by rules an editor would
write for this news (``entity:IR NEAR/5 entity:PK``, ``"مجلس الأمن"`` ...). ``alert_share`` is
the share of items that raise at least one alert.

Measured, per rate step (items/s published; each step warms up, then measures ``--step``
seconds):

* latency, per alert: from the moment the feed server finished writing the first response that
  carried the item (the fetch that got it) to the alert's stream entry id (Redis's clock, the
  same machine): what marsad adds between fetching an item and publishing its alert;
* throughput: new articles processed per second end to end (the workers' own counter,
  ``articles`` in ``<prefix>metrics:counts``); the step is *behind* when it processed less than
  90 % of the rate or its backlog (items published but not processed) grew by more than two
  seconds' worth. The rate goes up until a step falls behind; ``sustained_articles_per_s`` is
  the highest rate that kept up.

Prints one JSON line; writes the "## End to end (issue 7)" section of docs/benchmarks.md
(``--no-docs`` to print only). Run: make bench-e2e
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from match import generate_rules  # noqa: E402
from report import machine, replace_section  # noqa: E402

from tests.faultserver import FaultServer, rss_item  # noqa: E402
from worker.adapters.keys import Keys  # noqa: E402
from worker.config import Settings  # noqa: E402
from worker.core.entities import builtin_entities, surfaces  # noqa: E402
from worker.core.match import Matcher, Rule  # noqa: E402

SECTION = "## End to end (issue 7)"
SHARED = ROOT.parent / "shared" / "data" / "ant_multisource"
CORPORA = ("ant_2018-05-07_to_11.jsonl", "ant_iran_and_pakistan.jsonl", "ant_pakistan_mentions.jsonl")
FALLBACK = ROOT / "tests" / "data" / "dedup" / "newsfane" / "passages.jsonl"
REDIS_URL = os.environ.get("MARSAD_REDIS_URL", "redis://127.0.0.1:6379/0")
FEEDS = 200
RULES = 1_000
SENTENCES_PER_ITEM = 8
FEED_ITEMS = 20  # items a feed lists, newest first
PINNED = "  interval: 3s\n  min_interval: 3s\n  max_interval: 3s\n"
TARGET_RATE = 200.0
TARGET_P50_MS = 250.0
TARGET_P99_MS = 1_000.0
EDITOR_RULES = [
    "entity:IR NEAR/5 entity:PK",
    '"مجلس الأمن"',
    "SENTENCE(entity:SY, روسيا)",
    "title:ترامب",
    "entity:PS AND غزة",
]
_SENTENCE_END = re.compile(r"(?<=[.!؟?])\s+|\n+")


def _defaults() -> str:
    """The worker settings the run used, read from the code (not written down by hand)."""
    f = Settings.model_fields
    return (
        f"{f['tick_interval'].default:g} s tick, batches of {f['poll_batch'].default} feeds "
        f"on {f['poll_threads'].default} threads per process"
    )


# --- the news ------------------------------------------------------------------------------------
def load_documents() -> tuple[str, list[dict[str, str]]]:
    paths = [SHARED / name for name in CORPORA if (SHARED / name).exists()]
    if paths:
        docs = [json.loads(line) for p in paths for line in p.open(encoding="utf-8")]
        docs = [d for d in docs if d.get("text") and d.get("title")]
        return f"ANT corpus ({len(docs):,} real articles, ../shared/data read in place)", docs
    docs = [json.loads(line) for line in FALLBACK.open(encoding="utf-8")]
    out = [{"title": " ".join(d["text"].split()[:8]), "text": d["text"]} for d in docs]
    return f"NewsFANE passages ({len(out)}, tests/data; ../shared/data absent)", out


class News:
    """An endless supply of distinct real-text items, made on demand (no pool in memory)."""

    def __init__(self, titles: list[str], sentences: list[str], seed: int = 7) -> None:
        self.titles, self.sentences = titles, sentences
        self.rng = random.Random(seed)

    @classmethod
    def of(cls, docs: list[dict[str, str]], seed: int = 7) -> News:
        sentences = [s.strip() for d in docs for s in _SENTENCE_END.split(d["text"]) if 40 <= len(s.strip()) <= 400]
        return cls([d["title"] for d in docs], sentences, seed)

    def item(self, n: int, published: float) -> tuple[str, str, str, str]:
        """(link, title, body, RSS item XML) of item ``n``."""
        title = self.rng.choice(self.titles)
        body = " ".join(self.rng.sample(self.sentences, SENTENCES_PER_ITEM))
        link = f"https://news.example.com/e2e/{n}"
        return link, title, body, rss_item(title, link, body, published)


def rules_yaml(rules: list[Rule]) -> str:
    # JSON strings are YAML double-quoted scalars: any query is written safely.
    return "".join(f"- id: {r.id}\n  query: {json.dumps(r.query, ensure_ascii=False)}\n" for r in rules)


def build_rules(docs: list[dict[str, str]]) -> list[Rule]:
    entities = builtin_entities()
    generated, _ = generate_rules(docs, sorted(entities))
    editor = [Rule.from_query(f"editor{i}", q) for i, q in enumerate(EDITOR_RULES)]
    return generated[: RULES - len(editor)] + editor


def alert_share(news: News, rules: list[Rule], sample: int = 500) -> float:
    """The share of items that raise at least one alert, on a sample drawn like the bench's."""
    matcher = Matcher(rules, {eid: surfaces(e) for eid, e in builtin_entities().items()})
    probe = News(news.titles, news.sentences, seed=99)
    hits = 0
    for n in range(sample):
        _, title, body, _ = probe.item(n, 0)
        hits += bool(matcher.match(title, body))
    return hits / sample


# --- the run -------------------------------------------------------------------------------------
class Publisher(threading.Thread):
    """Adds items to the feeds at ``rate`` per second, round-robin, until stopped."""

    def __init__(self, server: FaultServer, news: News, paths: list[str]) -> None:
        super().__init__(daemon=True)
        self.server, self.news, self.paths = server, news, paths
        self.rate = 0.0
        self.published = 0
        self.published_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self.rate = rate
            self._base, self._count = time.time(), 0

    def run(self) -> None:
        self.set_rate(self.rate)
        while not self._stop.is_set():
            with self._lock:
                due = int((time.time() - self._base) * self.rate) - self._count
                self._count += max(due, 0)
            for _ in range(max(due, 0)):
                n = self.published
                now = time.time()
                link, _, _, xml = self.news.item(n, now)
                self.server.publish(self.paths[n % len(self.paths)], xml)
                self.published_at[link] = now
                self.published += 1
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()


class StreamReader(threading.Thread):
    """Reads the alert stream as it grows: (entry time in s, article url) per alert."""

    def __init__(self, client: redis.Redis, stream: str) -> None:
        super().__init__(daemon=True)
        self.client, self.stream = client, stream
        self.alerts: list[tuple[float, str]] = []
        self._stop = threading.Event()

    def run(self) -> None:
        last = "0"
        while not self._stop.is_set():
            reply: Any = self.client.xread({self.stream: last}, count=1000, block=500)
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    url = json.loads(fields["alert"])["article"]["url"]
                    self.alerts.append((int(entry_id.split("-")[0]) / 1000, url))

    def stop(self) -> None:
        self._stop.set()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def articles_done(client: redis.Redis, keys: Keys) -> int:
    return int(client.hget(keys.metrics_counts, "articles") or 0)


def measure_step(
    rate: float,
    warmup: float,
    seconds: float,
    client: redis.Redis,
    keys: Keys,
    server: FaultServer,
    pub: Publisher,
    reader: StreamReader,
    worker_pid: int = 0,
    profile_at: float | None = None,
) -> dict[str, Any]:
    pub.set_rate(rate)
    time.sleep(warmup)
    a0, p0, t0 = articles_done(client, keys), pub.published, time.time()
    spy = profile(worker_pid, rate, seconds) if profile_at == rate else None
    time.sleep(seconds)
    a1, p1, t1 = articles_done(client, keys), pub.published, time.time()
    if spy is not None:
        spy.wait(60)
    processed = (a1 - a0) / (t1 - t0)
    backlog_growth = (p1 - a1) - (p0 - a0)
    lat, poll_lag = [], []
    for at, url in list(reader.alerts):
        served = server.first_served.get(url)
        if served is not None and t0 <= served <= t1:
            lat.append(max(0.0, at - served) * 1000)
            poll_lag.append((served - pub.published_at.get(url, served)) * 1000)
    behind = processed < 0.9 * rate or backlog_growth > 2 * rate
    return {
        "rate": rate,
        "processed_per_s": round(processed, 1),
        "backlog_growth": backlog_growth,
        "alerts": len(lat),
        "p50_ms": round(percentile(lat, 0.50), 1),
        "p95_ms": round(percentile(lat, 0.95), 1),
        "p99_ms": round(percentile(lat, 0.99), 1),
        "max_ms": round(max(lat), 1) if lat else None,
        "mean_ms": round(statistics.fmean(lat), 1) if lat else None,
        "publish_to_fetch_p50_ms": round(percentile(poll_lag, 0.5)),
        "behind": behind,
    }


def site(server: FaultServer, i: int) -> str:
    """Feed ``i``'s site: 200 feeds are 200 sites (127.0.0.1 ... 127.0.0.200), as in a real
    deployment, not one site that marsad's politeness would pace at one request a second."""
    return server.url("").rstrip("/") if i == 0 else server.listen_also(f"127.0.0.{i + 1}")


def profile(pid: int, rate: float, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy (sampling, from outside) on the worker and its pool processes for one step:
    collapsed stacks in bench-e2e-<rate>.txt, for a look at where the time goes."""
    out = Path(tempfile.gettempdir()) / f"bench-e2e-{rate:.0f}.txt"
    print(f"profiling the workers at {rate:.0f}/s into {out}", file=sys.stderr)
    spy = str(Path(sys.executable).parent / "py-spy")  # pip install py-spy (not a dependency)
    args = [spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds))]
    return subprocess.Popen([*args, "--rate", "50", "--format", "raw", "--output", str(out)], stdout=subprocess.DEVNULL)


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)


def run(rates: list[float], warmup: float, seconds: float, profile_at: float | None = None) -> dict[str, Any]:
    corpus, docs = load_documents()
    news = News.of(docs)
    rules = build_rules(docs)
    share = alert_share(news, rules)
    prefix = f"bench-e2e:{uuid.uuid4().hex[:8]}:"
    keys = Keys(prefix)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.ping()
    server = FaultServer(max_items=FEED_ITEMS).start()
    paths = [f"/feed{i}.xml" for i in range(FEEDS)]
    for p in paths:
        server.feed(p)
    tmp = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    sources = tmp / "sources.yaml"
    sources.write_text(
        "".join(f"- id: f{i}\n  url: {site(server, i)}{p}\n  language: ar\n{PINNED}" for i, p in enumerate(paths)),
        encoding="utf-8",
    )
    rules_file = tmp / "rules.yaml"
    rules_file.write_text(rules_yaml(rules), encoding="utf-8")
    env = {
        **os.environ,
        "MARSAD_REDIS_URL": REDIS_URL,
        "MARSAD_KEY_PREFIX": prefix,
        "MARSAD_SOURCES_FILE": str(sources),
        "MARSAD_RULES_FILE": str(rules_file),
        "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
    }
    log = tmp / "marsad.log"
    load_before = os.getloadavg()
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pub = Publisher(server, news, paths)
    reader = StreamReader(redis.Redis.from_url(REDIS_URL, decode_responses=True), keys.stream)
    steps: list[dict[str, Any]] = []
    try:
        deadline = time.time() + 120
        while int(client.hget(keys.metrics_counts, "ticks") or 0) < 2:
            if worker.poll() is not None or time.time() > deadline:
                raise SystemExit(f"marsad run did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        pub.start()
        reader.start()
        measure_step(20, 5, 15, client, keys, server, pub, reader)  # warm-up: first polls, caches
        for rate in rates:
            step = measure_step(rate, warmup, seconds, client, keys, server, pub, reader, worker.pid, profile_at)
            print(json.dumps(step), file=sys.stderr, flush=True)
            steps.append(step)
            if step["behind"]:
                break
    finally:
        pub.stop()
        reader.stop()
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        server.stop()
        delete_prefix(client, prefix)
    kept = [s for s in steps if not s["behind"]]
    at_100 = next((s for s in steps if s["rate"] == 100), None)
    return {
        "bench": "e2e",
        "feeds": FEEDS,
        "rules": len(rules),
        "corpus": corpus,
        "alert_share": round(share, 3),
        "sustained_articles_per_s": max((s["rate"] for s in kept), default=0),
        "p50_ms_at_100": at_100["p50_ms"] if at_100 else None,
        "p99_ms_at_100": at_100["p99_ms"] if at_100 else None,
        "targets": {"sustained": TARGET_RATE, "p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS},
        "steps": steps,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
    }


def write_docs(r: dict[str, Any]) -> None:
    rows = "\n".join(
        f"| {s['rate']:.0f} | {s['processed_per_s']} | {s['alerts']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} "
        f"| {s['max_ms']} | {'**behind**' if s['behind'] else 'kept up'} |"
        for s in r["steps"]
    )
    section = f"""{SECTION}

`make bench-e2e` (bench/e2e.py; each run rewrites this section): 200 feeds on a local server
gaining items at a steady rate, `marsad run` with the default worker settings ({_defaults()})
and 1,000 rules, the real Redis; per alert, the time from the feed response
that carried the item to the alert's stream entry; articles processed per second end to end.
The rate goes up until the workers fall behind. Items: {r["corpus"]}; {r["alert_share"]:.0%} of
them raise an alert.

Machine: {r["machine"]}; load average (1, 5, 15 min) {r["load_before"]} before the run,
{r["load_after"]} after (the machine is shared).

| items/s published | articles/s processed | alerts measured | p50 ms | p95 ms | p99 ms | max ms | |
|---|---|---|---|---|---|---|---|
{rows}

Sustained: **{r["sustained_articles_per_s"]} articles/s** (target {TARGET_RATE:.0f}); at 100 articles/s
p50 **{r["p50_ms_at_100"]} ms**, p99 **{r["p99_ms_at_100"]} ms** (targets {TARGET_P50_MS:.0f} ms and
{TARGET_P99_MS:.0f} ms).

```json
{json.dumps(r, ensure_ascii=False)}
```
"""
    replace_section(SECTION, section)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rates", default="50,100,150,200,250,300,400", help="items/s per step, rising")
    p.add_argument("--warmup", type=float, default=8.0, help="seconds at each rate before measuring")
    p.add_argument("--step", type=float, default=20.0, help="seconds measured at each rate")
    p.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    p.add_argument("--profile-at", type=float, default=None, help="run py-spy on the workers during this rate's step")
    args = p.parse_args()
    result = run([float(x) for x in args.rates.split(",")], args.warmup, args.step, args.profile_at)
    print(json.dumps(result, ensure_ascii=False))
    if not args.no_docs:
        write_docs(result)


if __name__ == "__main__":
    main()
