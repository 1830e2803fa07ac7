"""The text stage (issue 3): articles per second for clean + normalise (+ offset map) on one
core, and pages per second for full-article extraction from ~100 KB pages.

Articles: 2,000 real-sized Arabic articles (~3,000 characters of text, as HTML) built from the
1,010 real articles of the ANT corpus window in ../shared/data (read in place, never copied: its
licence forbids it). Article ``i`` joins corpus documents ``i, i+1, ...`` until ~3,000 characters,
wraps each paragraph in ``<p>``, and adds the noise real feeds carry: the title repeated as the
first paragraph, a ``<script>``, a ``<figure>`` whose caption repeats the title, links and
entities inside paragraphs, an ``[ad_1]`` marker, a "اقرأ أيضا" line, a share line and a trailing
credit. With the folder absent, the committed seed article stands in for every document (the JSON
says so). Each article goes through ``clean_text(html, is_html=True, title=title)`` then
``normalize_with_map(display)``.

Pages: the real Arabic article pages of ../shared/data/html_articles (80-100 KB each; or the
committed copies in tests/data/pages when that folder is absent) through ``extract_page``
(trafilatura, the date search and language detection included).

Each rate is the best of RUNS runs (the machine is shared). Prints one JSON line and writes the
"## text (issue 3)" section of docs/benchmarks.md (the other sections are kept).
Run: make bench-text   (``--no-docs`` to print only)
"""

from __future__ import annotations

import datetime
import html
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from report import machine, replace_section

from worker.core.clean import clean_text
from worker.core.extract import extract_page
from worker.core.normalize import normalize_with_map

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CORPUS = SHARED / "ant_multisource" / "ant_2018-05-07_to_11.jsonl"
PAGES = SHARED / "html_articles"
SEED = ROOT / "tests" / "data" / "seed-article-ar.txt"
COMMITTED_PAGES = ROOT / "tests" / "data" / "pages"

ARTICLES = 2_000
ARTICLE_CHARS = 3_000  # text characters per article, before the HTML
MIN_PAGE_BYTES = 50_000  # "~100 KB pages": the CNN Arabic page (29 KB) is left out
EXTRACTIONS = 100
RUNS = 5  # the best run is reported: on a shared machine it is the least disturbed one
TARGET = 1_500  # articles per second, clean + normalise, one core
SECTION = "## text (issue 3)"


def _documents() -> tuple[str, list[tuple[str, list[str]]]]:
    """(description, [(title, paragraphs)]) of the real articles the corpus is built from."""
    if CORPUS.exists():
        docs = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
        out = [(d["title"], [p for p in d["text"].split("\n") if p.strip()] or [d["abstract"]]) for d in docs]
        return f"ant_2018-05-07_to_11 ({len(docs):,} real articles, read in place)", out
    lines = [ln for ln in SEED.read_text(encoding="utf-8").splitlines() if ln.strip()]
    body = [ln for ln in lines[1:] if ln != lines[0] and not ln.startswith("[ad_") and ln != "المصدر"]
    return f"seed article only ({CORPUS} absent)", [(lines[0], body)]


def _article(i: int, docs: list[tuple[str, list[str]]]) -> tuple[str, str]:
    """(title, html) of synthetic article ``i``: real paragraphs, realistic noise."""
    title = docs[i % len(docs)][0]
    chosen: list[str] = []
    size = 0
    j = i
    while size < ARTICLE_CHARS:
        for p in docs[j % len(docs)][1]:
            chosen.append(p)
            size += len(p) + 1
            if size >= ARTICLE_CHARS:
                break
        j += 1
    related = docs[(i + 7) % len(docs)][0]
    body = []
    for k, p in enumerate(chosen):
        text = html.escape(p, quote=False)
        if k % 3 == 1:  # a link around the paragraph's third word, and an entity
            words = text.split(" ")
            if len(words) > 3:
                words[2] = f'<a href="https://example.org/tag/{k}">{words[2]}</a>'
            text = " ".join(words).replace("، ", "،&nbsp;", 1)
        body.append(f"<p>{text}</p>")
        if k == 1:
            body.append(f'<p>اقرأ أيضا: <a href="https://example.org/news/{i + 7}">{html.escape(related)}</a></p>')
    noise_top = [
        f"<p>{html.escape(title)}</p>",
        "<p>[ad_1]</p>",
        f'<script type="text/javascript">var gptSlot_{i} = googletag.defineSlot("/1234/ar/news", [300, 250]);</script>',
        f'<figure><img src="https://example.org/img/{i}.jpg" alt="">'
        f"<figcaption>{html.escape(title)} (أرشيفية)</figcaption></figure>",
    ]
    noise_bottom = [
        "<p>[ad_2]</p>",
        '<p>شارك هذا الخبر: <a href="#">فيسبوك</a> <a href="#">تويتر</a> <a href="#">واتساب</a></p>',
        "<p>المصدر: وكالات</p>",
    ]
    return title, "\n".join([*noise_top, *body, *noise_bottom])


def _rates(fns: dict[str, Callable[[], object]], count: int) -> dict[str, float]:
    """Items per second of each function: the best of RUNS runs, the functions interleaved so
    that a busy spell on the machine does not fall on one of them only."""
    best = dict.fromkeys(fns, 0.0)
    for _ in range(RUNS):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            best[name] = max(best[name], count / (time.perf_counter() - started))
    return best


def bench_articles() -> dict[str, Any]:
    corpus, docs = _documents()
    articles = [_article(i, docs) for i in range(ARTICLES)]
    displays = [clean_text(content, is_html=True, title=title) for title, content in articles]
    for display in displays[:100]:  # warm-up: imports, regex compilation
        normalize_with_map(display)

    def both() -> None:
        for title, content in articles:
            normalize_with_map(clean_text(content, is_html=True, title=title))

    def clean_only() -> None:
        for title, content in articles:
            clean_text(content, is_html=True, title=title)

    def normalise_only() -> None:
        for display in displays:
            normalize_with_map(display)

    rates = _rates({"both": both, "clean": clean_only, "normalise": normalise_only}, ARTICLES)
    return {
        "corpus": f"{ARTICLES:,} articles of ~{ARTICLE_CHARS:,} text characters as HTML, from {corpus}",
        "mean_html_chars": round(statistics.mean(len(c) for _, c in articles)),
        "mean_display_chars": round(statistics.mean(len(d) for d in displays)),
        "articles_per_s": round(rates["both"]),
        "clean_per_s": round(rates["clean"]),
        "normalise_per_s": round(rates["normalise"]),
    }


def bench_pages() -> dict[str, Any]:
    folder, source = (PAGES, "html_articles (read in place)")
    if not folder.exists():
        folder, source = (COMMITTED_PAGES, f"tests/data/pages ({PAGES} absent)")
    paths = [p for p in sorted(folder.rglob("*.html")) if p.stat().st_size >= MIN_PAGE_BYTES]
    pages = [p.read_text(encoding="utf-8") for p in paths]
    for page in pages:  # warm-up: trafilatura's import, the language models (~1 s)
        extract_page(page)
    sample = [pages[i % len(pages)] for i in range(EXTRACTIONS)]
    found = sum(extract_page(page) is not None for page in sample)

    def run() -> None:
        for page in sample:
            extract_page(page)

    return {
        "pages": f"{len(pages)} real Arabic article pages from {source}, {EXTRACTIONS} extractions per run",
        "mean_page_kb": round(statistics.mean(len(p.encode("utf-8")) for p in pages) / 1024),
        "pages_per_s": round(_rates({"run": run}, EXTRACTIONS)["run"], 1),
        "pages_extracted": f"{found}/{EXTRACTIONS}",
    }


def write_docs(result: dict[str, Any]) -> None:
    """Write (or replace) the "## text (issue 3)" section of docs/benchmarks.md."""
    keys = ("mean_display_chars", "articles_per_s", "clean_per_s", "normalise_per_s", "mean_page_kb", "pages_per_s")
    shown = json.dumps({k: result[k] for k in keys}, ensure_ascii=False)
    verdict = "met" if result["meets_target"] else "**not met**"
    target = f"clean + normalise ≥ {TARGET:,} articles/s on one core: {verdict}"
    ms = {k: 1000 / result[k] for k in ("articles_per_s", "clean_per_s", "normalise_per_s", "pages_per_s")}
    section = f"""{SECTION}

`make bench-text` (bench/text.py; each run rewrites this section). One process pinned to one
core; each rate is the best of {RUNS} runs after a warm-up (the machine is shared: the best run
is the least disturbed one).

- articles: `clean_text` (HTML to display text) then `normalize_with_map` (match text and its
  offset map), on {result["corpus"]}.
- pages: `extract_page` (trafilatura, date search, language detection), on {result["pages"]}.

| date | machine | command | result | target |
|---|---|---|---|---|
| {result["date"]} | {result["machine"]} | `make bench-text` | `{shown}` | {target} |

Reading it: {ms["articles_per_s"]:.2f} ms per article for clean + normalise (clean
{ms["clean_per_s"]:.2f} ms, normalise with its offset map {ms["normalise_per_s"]:.2f} ms), and
{ms["pages_per_s"]:.0f} ms per {result["mean_page_kb"]} KB page for extraction, which only runs
for sources with `full_text: true`.
"""
    replace_section(SECTION, section)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):  # one core, whatever the machine has
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    result: dict[str, Any] = {"bench": "text", **bench_articles(), **bench_pages()}
    result["target_articles_per_s"] = TARGET
    result["meets_target"] = result["articles_per_s"] >= TARGET
    result |= {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "python": platform.python_version(),
        "arch": platform.machine(),
    }
    print(json.dumps(result, ensure_ascii=False))
    if "--no-docs" not in sys.argv[1:]:
        write_docs(result)


if __name__ == "__main__":
    main()
