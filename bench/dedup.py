"""Stories (issue 5): the evaluation, Redis memory per article and articles per second.

1. **Evaluation** (tests/dedup_eval.py): positive pairs of real Arabic articles and realistic
   edits of them, hard negatives of distinct real articles on one topic and day, scored through
   ``marsad stories`` (the command, as a subprocess: once with ``--memory``, once against Redis;
   the two must print the same stories). On the committed data always, and on the ANT corpus
   when ../shared/data is present (read in place, never copied). Both must reach precision
   >= 0.98 and recall >= 0.95 at the shipped threshold; the bench exits 1 otherwise.
2. **Memory and speed**: 100,000 synthetic-but-realistic articles (~3,000 characters made of
   real sentences: the ANT corpus, or the committed NewsFANE passages) go through what a worker
   does for each article that is not a copy: fingerprint, story lookup and insert
   (``StoryIndex.assign``), and the seen marks (``State.mark_seen``), into a redis-server of the
   bench's own (a free port, no persistence, Redis's default compact-hash limits). Their
   publication times are spread over one story window, so the index holds its steady-state
   slices. Reported: ``used_memory`` growth per article, everything included (the near-duplicate
   index, the story keys, the source sets, the seen marks), split by key family; articles per
   second on one core for fingerprint + lookup + insert; and that every key has a TTL, the index
   keys at most the window plus one slice.

Prints one JSON line and writes the "## dedup (issue 5)" section of docs/benchmarks.md.
Run: make bench-dedup   (``--no-docs`` to print only; ``--articles N`` for a quicker run)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import machine, replace_section  # noqa: E402

from tests.dedup_eval import ANT, Corpus, Doc, ant, committed, edit, score  # noqa: E402
from worker.adapters.keys import Keys  # noqa: E402
from worker.adapters.state import State  # noqa: E402
from worker.adapters.stories import StoryIndex  # noqa: E402
from worker.config import Settings  # noqa: E402
from worker.core.clean import clean_text, clean_title  # noqa: E402
from worker.core.dedup import text_hash  # noqa: E402
from worker.core.fingerprint import fingerprint, shingle_hashes, unpack  # noqa: E402
from worker.core.normalize import fold_words  # noqa: E402
from worker.core.stories import SLICES, Member, StoryParams, same_story  # noqa: E402
from worker.models import Article  # noqa: E402

SECTION = "## dedup (issue 5)"
ARTICLES = 100_000
ARTICLE_CHARS = 3_000
TARGET_BYTES = 3_000
TARGET_RATE = 500
PRECISION, RECALL = 0.98, 0.95
DEFAULTS = Settings.model_fields
WINDOW = float(DEFAULTS["story_window"].default)
THRESHOLD = float(DEFAULTS["story_threshold"].default)
TTL = float(DEFAULTS["dedup_ttl"].default)


@contextmanager
def private_redis() -> Iterator[tuple[redis.Redis, str]]:
    """A redis-server of our own on a free port: a fresh database whose memory we may measure."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("bench-dedup needs redis-server on PATH")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                tmp,
                "--save",
                "",
                "--appendonly",
                "no",
                # Redis's defaults, stated because a shared server may be tuned otherwise
                "--hash-max-listpack-entries",
                "128",
                "--hash-max-listpack-value",
                "64",
            ],
            stdout=subprocess.DEVNULL,
        )
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(cores) > 1:  # Redis on the first core, the bench (the worker's side) on the last
            os.sched_setaffinity(proc.pid, {cores[0]})
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url, decode_responses=True)
        try:
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            yield client, url
        finally:
            client.close()
            proc.terminate()
            proc.wait(10)


# --- 1. evaluation ----------------------------------------------------------------------


def marsad_stories(corpus: Corpus, url: str, memory: bool) -> tuple[dict[str, str], float]:
    """Run ``marsad stories`` on the corpus; (stories, seconds)."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as f:
        f.write("".join(d.line() + "\n" for d in corpus.docs))
    env = {**os.environ, "MARSAD_REDIS_URL": url, "MARSAD_KEY_PREFIX": "bench:"}
    args = [sys.executable, "-m", "worker.cli", "stories", *(["--memory"] if memory else []), f.name]
    started = time.perf_counter()
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    os.unlink(f.name)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    return {x["id"]: x["story"] for x in lines}, elapsed


def evaluate(corpus: Corpus, client: redis.Redis, url: str) -> dict[str, Any]:
    in_memory, _ = marsad_stories(corpus, url, memory=True)
    on_redis, seconds = marsad_stories(corpus, url, memory=False)
    if on_redis != in_memory:
        raise SystemExit(f"{corpus.name}: marsad stories --memory and on Redis disagree")
    if client.dbsize():
        raise SystemExit(f"{corpus.name}: marsad stories left keys behind")
    result = score(corpus, on_redis)
    joined = Counter(1 for d in corpus.docs if on_redis[d.id] != d.id)
    return {
        **result.summary(),
        "articles": len(corpus.docs),
        "joined_a_story": joined[1],
        "ms_per_article_cli": round(1000 * seconds / len(corpus.docs), 2),
        "false_positives": [f"{p.a} | {p.b}" for p in result.false_positives],
        "misses": [f"{p.kind}: {p.a}" for p in result.false_negatives],
        "meets_target": result.precision >= PRECISION and result.recall >= RECALL,
    }


# --- 1b. why MinHash: SimHash on the same pairs ----------------------------------------------


def simhash(shingles: Any) -> int:
    """Charikar's 64-bit SimHash over the same 64-bit shingle hashes (each shingle weight 1)."""
    bits = (shingles[:, None] >> np.arange(64, dtype=np.uint64)[None, :]) & np.uint64(1)
    votes = bits.astype(np.int64).sum(axis=0) * 2 - len(shingles)
    return int(sum(1 << i for i in range(64) if votes[i] > 0))


def _spread(kind: str, distances: list[int]) -> dict[str, int]:
    edge = ("min", min(distances)) if kind == "negative" else ("max", max(distances))
    return {"median": int(np.median(distances)), edge[0]: edge[1]}


def choice_study(corpus: Corpus) -> dict[str, Any]:
    """Each labelled pair on its own: the Hamming distance of the SimHashes, and the MinHash
    decision (``same_story`` at the shipped threshold, the earlier article indexed)."""
    by_id = {d.id: d for d in corpus.docs}
    cache: dict[str, Any] = {}

    def shingles_of(doc_id: str) -> Any:
        if doc_id not in cache:
            d = by_id[doc_id]
            text = clean_text(d.text, is_html=False, title=clean_title(d.title))
            cache[doc_id] = (np.unique(shingle_hashes(fold_words(text))), fingerprint(text))
        return cache[doc_id]

    distances: dict[str, list[int]] = {}
    minhash = Counter()
    for pair in corpus.pairs:
        (sa, fa), (sb, fb) = shingles_of(pair.a), shingles_of(pair.b)
        if fa is None or fb is None:
            continue
        kind = pair.kind if pair.same else "negative"
        distances.setdefault(kind, []).append(bin(simhash(sa) ^ simhash(sb)).count("1"))
        first, second = (fa, fb) if by_id[pair.a].published <= by_id[pair.b].published else (fb, fa)
        same = same_story(second, unpack(first.entry), THRESHOLD) is not None
        minhash["tp" if same and pair.same else "fn" if pair.same else "fp" if same else "tn"] += 1
    positives = [d for k, v in distances.items() if k != "negative" for d in v]
    negatives = distances.get("negative", [])
    simhash_at = {}
    # k bits found with k + 1 permuted tables (pigeonhole): 4 tables find k = 3
    for k in (3, 6, 10, 16):
        tp = sum(d <= k for d in positives)
        fp = sum(d <= k for d in negatives)
        simhash_at[f"k={k} ({k + 1} tables)"] = {"recall": round(tp / len(positives), 3), "false_positives": fp}
    return {
        "pairs": len(positives) + len(negatives),
        # positives: the largest distance to reach; negatives: the smallest to stay clear of
        "simhash_hamming_by_kind": {k: _spread(k, v) for k, v in sorted(distances.items())},
        "simhash": simhash_at,
        "minhash_pairwise": {
            "recall": round(minhash["tp"] / max(1, minhash["tp"] + minhash["fn"]), 3),
            "false_positives": minhash["fp"],
        },
    }


# --- 2. memory and speed ------------------------------------------------------------------


class Synthetic:
    """Synthetic but realistic articles: ~3,000 characters drawn from a word-bigram chain of
    real Arabic news (real vocabulary and word frequencies; unrelated articles share about as
    few 3-word sequences as real unrelated ones do), in sentences and paragraphs; and, for
    COPIES of them, a realistic edit of a recent article instead (tests/dedup_eval.py's: a
    teaser, boilerplate, a paragraph added or dropped), so that the index also finds and joins
    stories as it does on a real feed mix."""

    COPIES = 0.15
    KINDS = ("boilerplate", "extra_paragraph", "dropped_paragraph", "teaser")

    def __init__(self, seed: int = 11) -> None:
        if ANT.exists():
            texts = [json.loads(line)["text"] for line in ANT.open(encoding="utf-8")]
            self.source = "a word-bigram chain of the ANT corpus window (1,010 real articles, read in place)"
        else:
            path = ROOT / "tests" / "data" / "dedup" / "newsfane" / "passages.jsonl"
            texts = [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
            self.source = "a word-bigram chain of the committed NewsFANE passages (../shared/data absent)"
        self.words = [w for t in texts for w in t.split()]
        self.next: dict[str, list[str]] = {}
        for a, b in zip(self.words, self.words[1:], strict=False):
            self.next.setdefault(a, []).append(b)
        self.rng = random.Random(seed)
        self.recent: list[Doc] = []
        self.n = 0

    def _fresh(self) -> str:
        rng, paragraphs, words = self.rng, [], [self.rng.choice(self.words)]
        chars = 0
        while chars < ARTICLE_CHARS:
            sentence = []
            for _ in range(rng.randint(12, 30)):
                options = self.next.get(words[-1])
                words.append(rng.choice(options) if options else rng.choice(self.words))
                sentence.append(words[-1])
            text = " ".join(sentence).rstrip(".،") + "."
            chars += len(text) + 1
            if not paragraphs or rng.random() < 0.4:
                paragraphs.append(text)
            else:
                paragraphs[-1] += " " + text
        return "\n".join(paragraphs)

    def article(self) -> str:
        self.n += 1
        if self.recent and self.rng.random() < self.COPIES:
            base = self.rng.choice(self.recent)
            for kind in self.rng.sample(self.KINDS, len(self.KINDS)):
                copy = edit(base, kind, self.recent, self.rng)
                if copy is not None:
                    return copy.text
        text = self._fresh()
        self.recent = [*self.recent[-499:], Doc(f"s{self.n}", "", text, "", "synthetic", 0.0)]
        return text


def key_family(key: str) -> str:
    rest = key.removeprefix("bench:")
    for family in ("stories:", "story:url:", "story:text:", "story:sources:", "seen:url:", "seen:text:"):
        if rest.startswith(family):
            return family.rstrip(":")
    return "other"


def memory_by_family(client: redis.Redis, sample: int = 3000) -> dict[str, int]:
    """Estimated bytes per key family: MEMORY USAGE of up to ``sample`` keys, scaled."""
    counts: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    for key in client.scan_iter(count=5000):
        family = key_family(key)
        counts[family] += 1
        if len(samples.setdefault(family, [])) < sample:
            samples[family].append(key)
    out = {}
    for family, keys in samples.items():
        used = sum(int(client.memory_usage(k, samples=0) or 0) for k in keys)
        out[family] = round(used / len(keys) * counts[family])
    return out


def bench_memory_speed(client: redis.Redis, articles: int) -> dict[str, Any]:
    synthetic = Synthetic()
    rng = random.Random(12)
    keys = Keys("bench:")
    params = StoryParams(WINDOW, THRESHOLD, TTL)
    index = StoryIndex(client, keys, params)
    state = State(client, keys)
    start = 1_750_000_000.0
    base = int(client.info("memory")["used_memory"])
    fp_time = assign_time = 0.0
    via: Counter[str] = Counter()
    batch: list[Article] = []
    chars = 0
    for i in range(articles):
        text = clean_text(synthetic.article(), is_html=False)  # what the worker fingerprints
        chars += len(text)
        now = start + WINDOW * i / articles
        aid = f"{rng.getrandbits(64):016x}"
        digest = text_hash("", text)  # computed with the article (pipeline.to_article), not timed here
        t0 = time.perf_counter()
        fp = fingerprint(text)
        t1 = time.perf_counter()
        story = index.assign(Member(aid, digest, f"feed-{i % 500}", fp), now)
        t2 = time.perf_counter()
        fp_time += t1 - t0
        assign_time += t2 - t1
        via[story.via] += 1
        batch.append(Article(aid, f"feed-{i % 500}", "", "", "", now, "ar", digest))
        if len(batch) == 50:  # one feed poll's worth, as poll.py marks them
            state.mark_seen(batch, TTL)
            batch = []
    state.mark_seen(batch, TTL)
    used = int(client.info("memory")["used_memory"]) - base
    families = memory_by_family(client)
    bound = WINDOW + WINDOW / SLICES
    no_ttl = index_over = 0
    encodings: Counter[str] = Counter()
    for key in client.scan_iter(count=5000):
        ttl = client.ttl(key)
        no_ttl += ttl < 0
        if key_family(key) == "stories":
            index_over += ttl > bound
            encodings[str(client.object("encoding", key))] += 1
    rate = articles / (fp_time + assign_time)
    return {
        "articles": articles,
        "synthetic_from": synthetic.source,
        "mean_chars": round(chars / articles),
        "bytes_per_article": round(used / articles),
        "bytes_per_article_by_family": {k: round(v / articles) for k, v in sorted(families.items())},
        "index_hash_encodings": dict(encodings),
        "articles_per_s": round(rate),
        "ms_fingerprint": round(1000 * fp_time / articles, 3),
        "ms_lookup_insert": round(1000 * assign_time / articles, 3),
        "joined": dict(via),
        "keys_without_ttl": no_ttl,
        "index_keys_beyond_window": index_over,
        "meets_target": used / articles <= TARGET_BYTES and rate >= TARGET_RATE and no_ttl == 0 and index_over == 0,
    }


# --- report -------------------------------------------------------------------------------


def redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    match = re.search(r"v=(\S+)", out)
    return match.group(1) if match else "?"


def write_docs(result: dict[str, Any]) -> None:
    """Write (or replace) the "## dedup (issue 5)" section of docs/benchmarks.md."""
    mem = result["memory_speed"]
    evals = {k: v for k, v in result.items() if k.startswith("eval_")}
    rows = "\n".join(
        f"| {k.removeprefix('eval_')}: {v['articles']:,} articles, {v['pairs']} pairs ({v['positives']} positive) | "
        f"{v['precision']:.4f} | {v['recall']:.4f} | {v['ms_per_article_cli']} ms | "
        f"{'met' if v['meets_target'] else '**not met**'} |"
        for k, v in evals.items()
    )
    names = " / ".join(k.removeprefix("eval_") for k in evals)
    families = ", ".join(f"{k} {v} B" for k, v in mem["bytes_per_article_by_family"].items())
    verdict = "met" if mem["meets_target"] else "**not met**"
    choice_name = "ANT" if "choice_ant" in result else "committed"
    study = result[f"choice_{choice_name.lower()}"]
    simhash = study["simhash"].items()
    choice = "; ".join(
        [f"SimHash {k}: recall {v['recall']}, {v['false_positives']} false positives" for k, v in simhash]
        + [
            f"MinHash containment + lead (shipped): recall {study['minhash_pairwise']['recall']}, "
            f"{study['minhash_pairwise']['false_positives']} false positive(s)"
        ]
    )
    section = f"""{SECTION}

`make bench-dedup` (bench/dedup.py; each run rewrites this section). {result["date"]},
{result["machine"]}.

Evaluation through `marsad stories` ({names}; precision ≥ {PRECISION}, recall ≥ {RECALL} at the
shipped threshold {THRESHOLD}; time per article of the whole command on Redis, start-up included):

| corpus | precision | recall | per article | target |
|---|---|---|---|---|
{rows}

Memory and speed: {mem["articles"]:,} synthetic articles ({mem["mean_chars"]:,} characters, from
{mem["synthetic_from"]}; {Synthetic.COPIES:.0%} of them edited copies of recent ones) over one {WINDOW / 3600:.0f} h window, into a fresh redis-server:

| measure | result | target |
|---|---|---|
| `used_memory` growth per article, everything included | {mem["bytes_per_article"]:,} B | ≤ {TARGET_BYTES:,} B |
| articles/s, fingerprint + lookup + insert, one core | {mem["articles_per_s"]:,} ({mem["ms_fingerprint"]} ms + {mem["ms_lookup_insert"]} ms) | ≥ {TARGET_RATE} |
| keys without a TTL / index keys kept past window + slice | {mem["keys_without_ttl"]} / {mem["index_keys_beyond_window"]} | 0 / 0 |

By key family (MEMORY USAGE, sampled): {families}. Index hashes by encoding:
`{json.dumps(mem["index_hash_encodings"])}`. Overall: {verdict}.

MinHash or SimHash, on the {choice_name} pairs scored one by one (docs/dedup.md): {choice}.
"""  # noqa: E501
    replace_section(SECTION, section)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md")
    parser.add_argument("--articles", type=int, default=ARTICLES, help=f"synthetic articles (default {ARTICLES:,})")
    args = parser.parse_args()
    # A bench stopped with SIGTERM still stops its redis-server (the finally in private_redis).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    machine_line = f"{machine()}, redis-server {redis_version()}"
    result: dict[str, Any] = {"bench": "dedup", "date": datetime.date.today().isoformat(), "machine": machine_line}
    corpora: list[Corpus] = [committed()]
    if ANT.exists():
        corpora.append(ant())
    else:
        print(f"bench-dedup: {ANT} not found; evaluating the committed data only", file=sys.stderr)
    with private_redis() as (client, url):
        for corpus in corpora:
            result[f"eval_{corpus.name}"] = evaluate(corpus, client, url)
            result[f"choice_{corpus.name}"] = choice_study(corpus)
            shown = json.dumps(result[f"eval_{corpus.name}"], ensure_ascii=False)
            print(f"eval {corpus.name}: {shown}", file=sys.stderr)
        if hasattr(os, "sched_setaffinity"):  # the worker's side on one core, Redis on another
            os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
        result["memory_speed"] = bench_memory_speed(client, args.articles)
    print(json.dumps(result, ensure_ascii=False))
    if not args.no_docs:
        write_docs(result)
    ok = all(v["meets_target"] for k, v in result.items() if isinstance(v, dict) and "meets_target" in v)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
