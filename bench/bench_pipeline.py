"""Baseline: articles per second through the pure pipeline (clean, canonicalise, hash, match,
build alerts), for 1 rule and for 100 rules.

Input: the 1,010 real Arabic articles of the ANT corpus window in ../shared/data (read in place,
never copied: its licence forbids it), or the committed seed article alone when that folder is
absent (then the word caches are unrealistically warm; the JSON says which). Prints one JSON line.
Run: make bench-pipeline
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from worker.core.match import Matcher, Rule, stems
from worker.core.pipeline import alerts_for, identify_language, to_article
from worker.models import Entry, Source

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "ant_multisource" / "ant_2018-05-07_to_11.jsonl"
SEED = ROOT / "tests" / "data" / "seed-article-ar.txt"
WORDS = ["إيران", "باكستان", "الصين", "غزة", "لبنان", "سوريا", "العراق", "مصر", "تركيا", "روسيا", "ترامب", "النووي"]


def load() -> tuple[str, list[Entry]]:
    if CORPUS.exists():
        docs = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
        entries = [Entry(d["url"], d["title"], d["text"], False, 0.0) for d in docs]
        return "ant_2018-05-07_to_11 (1,010 articles)", entries
    text = SEED.read_text(encoding="utf-8")
    return "seed article x 500", [
        Entry(f"https://example.org/{i}", text.splitlines()[0], text, False, 0.0) for i in range(500)
    ]


def run(rules: list[Rule], entries: list[Entry]) -> tuple[float, int]:
    stems.cache_clear()
    source = Source("bench", "https://example.org/rss", "ar")
    matcher = Matcher(rules)
    alerts = 0
    started = time.perf_counter()
    for entry in entries:
        article = identify_language(to_article(source, entry, None, 0.0))
        alerts += len(alerts_for(article, article.id, matcher))
    return len(entries) / (time.perf_counter() - started), alerts


def main() -> None:
    corpus, entries = load()
    one = [Rule.from_query("iran-pakistan", "إيران AND باكستان")]
    many = [Rule.from_query(f"r{i}", f"{WORDS[i % 12]} AND {WORDS[(i * 5 + 1) % 12]}") for i in range(100)]
    run(one, entries[:50])  # warm-up (imports, regex compilation)
    rate1, alerts1 = run(one, entries)
    rate100, alerts100 = run(many, entries)
    chars = sum(len(e.content) for e in entries) / len(entries)
    print(
        json.dumps(
            {
                "bench": "pipeline",
                "corpus": corpus,
                "mean_chars": round(chars),
                "articles_per_s_1_rule": round(rate1),
                "articles_per_s_100_rules": round(rate100),
                "alerts_1_rule": alerts1,
                "alerts_100_rules": alerts100,
                "python": platform.python_version(),
                "machine": platform.machine(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
