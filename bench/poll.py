"""Polling at scale (issue 6): 10,000 feeds on 500 hosts, all due at once, polled by ``marsad run``.

``make bench-poll`` (this file, ``--record`` writes docs/benchmarks.md "Polling at scale").

1. bench/pollserver.py starts in its own process: 500 loopback addresses 127.0.x.y, one socket
   each on one port, 20 feeds per host (spread at random, seeded). Kinds: 95 % unchanged (two
   thirds answer 304 to If-None-Match, one third the same body without validators), 4 % with
   1-3 new real Arabic items per poll (ANT corpus titles and abstracts mentioning Pakistan, some
   Iran too), 1 % slow (3 s), HTTP 500, reset, or 429 + Retry-After.
2. ``marsad run`` starts as a subprocess with the repo's DEFAULT worker settings: only the key
   prefix (the bench's own, deleted afterwards), the sources and rules files and
   MARSAD_ALLOW_PRIVATE_NETWORKS=true are set; every other MARSAD_* variable is removed.
3. Warm-up: the first poll of every feed (everything new: ETags learnt, items seen). Then the
   measured cycle: the server switches to the kinds' behaviour and every feed is made due at the
   same instant T (one ZADD on the due set; the worker keeps running, as in production).
4. The server logs every request (feed, host, start, end, status, in flight on the host); the
   alerts come from the stream. Printed: polls/s and the time until every feed was polled once
   after T, lateness p50/p99 (first request - T), feeds polled twice within the cycle, the peak
   of requests in flight on one host and the least gap between two request starts on one host,
   and for new items the time from the end of the response that carried them to their alert's
   stream entry (its id is Redis' clock in ms; same machine).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import redis  # noqa: E402
from pollserver import ServerProcess  # noqa: E402
from report import machine, replace_section  # noqa: E402

from worker.adapters.keys import Keys  # noqa: E402

ANT = ROOT.parent / "shared" / "data" / "ant_multisource"
SECTION = "## Polling at scale (issue 6)"
RULES = """\
- id: iran-pakistan
  name: Iran and Pakistan
  query: إيران AND باكستان
- id: pakistan
  name: Pakistan
  query: entity:PK
"""
SPECIAL = ("slow", "error", "reset", "ratelimit")


def _items(path: Path) -> list[dict[str, str]]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            out.append({"title": doc["title"], "description": doc["abstract"] or doc["text"][:400]})
    return out


def make_spec(
    feeds: int, hosts: int, seed: int, new_pool: list[dict[str, str]], base_pool: list[dict[str, str]]
) -> dict[str, Any]:
    """Feeds spread at random over hosts (as many per host, seeded), kinds in the issue's shares."""
    from pollserver import host_address

    rng = random.Random(seed)
    host_of = [i % hosts for i in range(feeds)]
    rng.shuffle(host_of)
    n_special = max(len(SPECIAL), round(feeds * 0.01))
    n_new = max(1, round(feeds * 0.04))
    n_rest = feeds - n_special - n_new
    kinds = [SPECIAL[i % len(SPECIAL)] for i in range(n_special)] + ["new"] * n_new
    kinds += ["etag" if i % 3 else "static" for i in range(n_rest)]
    rng.shuffle(kinds)
    # Base items, three days old (older than MARSAD_MAX_ARTICLE_AGE): seen in the warm-up, never
    # alerted, so that the stream holds only the measured cycle's alerts. Two per feed whose
    # body is read again in the measured cycle; one for the feeds that answer 304 then (the
    # warm-up, where every item is new, is the slow part of the run).
    old = formatdate(time.time() - 3 * 86400, usegmt=True)
    spec_feeds = []
    for i in range(feeds):
        base = []
        for k in range(1 if kinds[i] == "etag" else 2):
            src = base_pool[(2 * i + k) % len(base_pool)]
            base.append({**src, "link": f"https://h{host_of[i]}.example.com/b/{i}/{k}", "pubDate": old})
        spec_feeds.append({"index": i, "host": host_of[i], "kind": kinds[i], "base": base})
    return {
        "addresses": [host_address(h) for h in range(hosts)],
        "feeds": spec_feeds,
        "new_items": new_pool,
        "seed": seed,
        "slow_s": 3.0,
        "retry_after": 120,
    }


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of a process and each of its descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, todo = {}, [pid]
    while todo:
        p = todo.pop()
        tree[p] = cpu.get(p, 0.0)
        todo += [c for c, pp in parent.items() if pp == p]
    return tree


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


def wait_for(what: str, check: Any, timeout: float, every: float = 0.2) -> None:
    started = time.monotonic()
    shown = started
    while not check():
        now = time.monotonic()
        if now > started + timeout:
            raise TimeoutError(what)
        if now - shown > 10:
            print(f"bench-poll: waiting for the {what}, {now - started:.0f} s", file=sys.stderr, flush=True)
            shown = now
        time.sleep(every)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not ANT.exists():
        raise SystemExit(f"bench-poll: {ANT} is absent; the bench needs its real Arabic items")
    new_pool = _items(ANT / "ant_iran_and_pakistan.jsonl") + _items(ANT / "ant_pakistan_mentions.jsonl")
    base_pool = _items(ANT / "ant_2018-05-07_to_11.jsonl")
    tmp = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    spec = make_spec(args.feeds, args.hosts, args.seed, new_pool, base_pool)
    spec_path = tmp / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    server = ServerProcess(spec_path)
    prefix = f"bench-poll-{os.getpid()}:"
    keys = Keys(prefix)
    r = redis.Redis.from_url(args.redis, decode_responses=True)
    worker: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    try:
        sources = tmp / "sources.yaml"
        with sources.open("w", encoding="utf-8") as f:
            for feed in spec["feeds"]:
                url = f"http://{spec['addresses'][feed['host']]}:{server.port}/feed/{feed['index']}"
                f.write(f"- id: feed-{feed['index']:05d}\n  url: {url}\n  language: ar\n")
        rules = tmp / "rules.yaml"
        rules.write_text(RULES, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
        env.update(
            MARSAD_KEY_PREFIX=prefix,
            MARSAD_SOURCES_FILE=str(sources),
            MARSAD_RULES_FILE=str(rules),
            MARSAD_ALLOW_PRIVATE_NETWORKS="true",
        )
        env.update(kv.split("=", 1) for kv in args.env)  # experiments only: recorded in the command
        log = (tmp / "worker.log").open("wb")
        started = time.time()
        marsad = str(ROOT / ".venv" / "bin" / "marsad")
        worker = subprocess.Popen([marsad, "run"], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        n = args.feeds
        # Warm-up: every feed polled once, then quiet (no request for 3 s, none in flight).
        wait_for("warm-up", lambda: server.call("progress")["feeds_1"] >= n or worker.poll() is not None, args.timeout)
        if worker.poll() is not None:
            raise RuntimeError(f"marsad run exited with {worker.returncode}; see {tmp / 'worker.log'}")
        warm_s = time.time() - started
        last = [server.call("progress")]

        def quiet() -> bool:
            now = server.call("progress")
            calm = now["requests"] == last[0]["requests"] and now["inflight"] == 0
            last[0] = now
            return bool(calm)

        wait_for("quiet", quiet, 120, every=3.0)
        # The measured cycle: the server starts the kinds' behaviour, then every feed is due now.
        server.call("measure")
        cpu0, srv0, rcpu0 = tree_cpu(worker.pid), server.call("progress")["cpu_s"], _redis_cpu(r)
        polls0 = _outcomes(r, keys)
        t0 = time.time()
        ids = [f"feed-{i:05d}" for i in range(n)]
        r.zadd(keys.due, dict.fromkeys(ids, t0), xx=True)
        try:
            wait_for("cycle", lambda: server.call("progress")["feeds_m"] >= n, args.timeout, every=0.1)
        except TimeoutError:
            print("bench-poll: the cycle did not complete; see never_polled", file=sys.stderr, flush=True)
        cycle_end = time.time()
        cpu1, srv1, rcpu1 = tree_cpu(worker.pid), server.call("progress")["cpu_s"], _redis_cpu(r)
        polls1 = _outcomes(r, keys)
        time.sleep(args.drain)  # the last polls publish their alerts
        dump = tmp / "requests.json"
        server.call(f"dump {dump}")
        data = json.loads(dump.read_text(encoding="utf-8"))
        stream = r.xrange(keys.stream)
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        if log is not None:
            log.close()
        server.close()
        _delete_prefix(r, prefix)
    # CPU of the run's processes in the cycle: the main one (consumer, beat) first, then the pool's
    by_process = [round(cpu1[p] - cpu0.get(p, 0.0), 1) for p in sorted(cpu1)]
    outcomes = {k: v - polls0.get(k, 0) for k, v in sorted(polls1.items()) if v - polls0.get(k, 0)}
    result = summarise(args, data, stream, t0, cycle_end, warm_s, by_process, srv1 - srv0, rcpu1 - rcpu0, tmp)
    if not args.keep:  # the spec, the request log and the worker's log: ~25 MB a run
        shutil.rmtree(tmp, ignore_errors=True)
        del result["tmp"]
    return {**result, "outcomes_in_cycle": outcomes}


def _outcomes(r: redis.Redis, keys: Keys) -> dict[str, int]:
    """The workers' poll counts by outcome (deferred included), from their metrics hash."""
    counts = r.hgetall(keys.metrics_counts)
    return {k.removeprefix("polls:"): int(v) for k, v in counts.items() if k.startswith("polls:")}


def _redis_cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _delete_prefix(r: redis.Redis, prefix: str) -> None:
    batch: list[str] = []
    for key in r.scan_iter(match=prefix.replace("[", "\\[") + "*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            r.unlink(*batch)
            batch = []
    if batch:
        r.unlink(*batch)


def summarise(
    args: argparse.Namespace,
    data: dict[str, Any],
    stream: list[Any],
    t0: float,
    cycle_end: float,
    warm_s: float,
    worker_cpu: list[float],
    server_cpu: float,
    redis_cpu: float,
    tmp: Path,
) -> dict[str, Any]:
    rows = data["log"]  # [feed, host, start, end, status, in flight on the host at start]
    measured = [row for row in rows if row[2] >= t0]
    first: dict[int, float] = {}
    count: dict[int, int] = {}
    for feed, _host, start, *_ in measured:
        if start <= cycle_end:
            first[feed] = min(first.get(feed, start), start)
            count[feed] = count.get(feed, 0) + 1
    lateness = [s - t0 for s in first.values()]
    cycle = max(lateness) if lateness else float("nan")
    starts: dict[int, list[float]] = {}
    for _feed, host, start, *_ in rows:
        starts.setdefault(host, []).append(start)
    gaps = [b - a for s in map(sorted, starts.values()) for a, b in itertools.pairwise(s)]
    served = {link.split("/a/", 1)[1]: end for link, _feed, end in data["served"]}
    latency = []
    for entry_id, fields in stream:
        alert = json.loads(fields["alert"])
        url = alert["article"]["url"]
        key = url.split("/a/", 1)[1] if "/a/" in url else None
        if key in served:
            latency.append(int(entry_id.split("-")[0]) / 1000 - served[key])
    try:
        from worker.config import Settings

        limit = int(getattr(Settings(), "host_concurrency", 2))
    except Exception:
        limit = 2
    return {
        "bench": "poll",
        "feeds": args.feeds,
        "hosts": args.hosts,
        "polls_per_s": round(args.feeds / cycle, 1),
        "cycle_s": round(cycle, 2),
        "lateness_p50_s": pct(lateness, 0.5),
        "lateness_p99_s": pct(lateness, 0.99),
        "polled_twice": sum(c > 1 for c in count.values()),
        "never_polled": args.feeds - len(first),
        "peak_inflight_per_host": max(data["peak"]),
        "host_limit": limit,
        "min_start_gap_per_host_s": round(min(gaps), 3) if gaps else None,
        "new_items": len(served),
        "alerts": len(latency),
        "alert_latency_p50_s": pct(latency, 0.5),
        "alert_latency_p99_s": pct(latency, 0.99),
        "warmup_s": round(warm_s, 1),
        "worker_cpu_s": round(sum(worker_cpu), 1),
        "worker_cpu_by_process_s": worker_cpu,
        "server_cpu_s": round(server_cpu, 2),
        "redis_cpu_s": round(redis_cpu, 1),
        "load": os.getloadavg()[0],
        "tmp": str(tmp),
    }


def record(result: dict[str, Any], command: str) -> None:
    """Append the run to the section's table (the rows of earlier runs are kept)."""
    from report import DOCS

    doc = DOCS.read_text(encoding="utf-8")
    old_rows: list[str] = []
    if SECTION in doc:
        part = doc.split(SECTION, 1)[1].split("\n## ", 1)[0]
        old_rows = [line for line in part.splitlines() if line.startswith("| 20")]
    shown = {k: v for k, v in result.items() if k not in ("bench", "tmp")}
    row = f"| {datetime.date.today()} | {machine()} | load {result['load']:.2f} | `{command}` | `{json.dumps(shown)}` |"
    notes = ""
    if SECTION in doc:
        part = doc.split(SECTION, 1)[1].split("\n## ", 1)[0]
        notes = part.split("<!-- notes -->", 1)[1].strip() if "<!-- notes -->" in part else ""
    section = f"""{SECTION}

`make bench-poll` (bench/poll.py, bench/pollserver.py): 10,000 feeds on 500 loopback hosts
(127.0.x.y, one socket each, 20 feeds per host), all due at the same instant after a warm-up
poll of each, polled by `marsad run` with the default worker settings. Targets: the full cycle
in at most 60 s (at least 170 polls/s), no feed polled twice, at most the per-host limit in
flight on any host, new items as alerts within 5 s of their poll.

| date | machine | load (1 min) | command | result |
|---|---|---|---|---|
{chr(10).join([*old_rows, row])}

<!-- notes -->
{notes}
"""
    replace_section(SECTION, section)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feeds", type=int, default=10_000)
    p.add_argument("--hosts", type=int, default=500)
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--redis", default=os.environ.get("MARSAD_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--timeout", type=float, default=600.0, help="give up on a phase after this many seconds")
    p.add_argument("--drain", type=float, default=8.0, help="seconds after the cycle for the last alerts")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for marsad run (experiments, not defaults)")
    p.add_argument("--keep", action="store_true", help="keep the run's files (request log, worker log) in /tmp")
    p.add_argument("--record", action="store_true", help="add the result to docs/benchmarks.md")
    args = p.parse_args()
    # Ctrl-C or SIGTERM still runs the clean-up: worker stopped, the bench's keys deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    result = run(args)
    print(json.dumps(result), flush=True)
    if args.record:
        default = (args.feeds, args.hosts, args.env) == (10_000, 500, [])
        command = "make bench-poll" if default else "bench/poll.py " + " ".join(sys.argv[1:])
        record(result, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
