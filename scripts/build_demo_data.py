"""Build worker/data/demo/ (the bundled feeds `marsad demo` replays, issue 8) from ../shared/data.

What may be copied, per ../shared/data/README.md, each folder with its licence beside it:
- the seed article (the project's own fixture, tests/data/seed-article-ar.txt);
- the Persian feeds of iran-news-mcp (MIT): every item, title, link and description as the
  outlet's feed gave them (feedparser's reading of the XML);
- the Arabic article pages of html_articles (Jawhara FM: Apache-2.0; newspaper's CNN Arabic
  page: MIT): the pages byte for byte, gzip-compressed, served by the replay server so that a
  ``full_text`` source fetches them; the feed item carries the article's first sentence;
- NewsFANE (CC BY-SA 3.0, with its README): passages of consecutive sentences that name a
  country, detokenised as scripts/build_dedup_data.py does, titled with their first words.
ANT, the Urdu items and ANERCorp are never copied (their licences do not allow it).

The output: one folder per origin (``items.jsonl`` + licence), ``feeds.json`` (which demo feed
carries which items, in release order) and README.md (where every item came from).
Run: .venv/bin/python scripts/build_demo_data.py
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_dedup_data import detokenize, sentences

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
SEED = ROOT / "tests" / "data" / "seed-article-ar.txt"
OUT = ROOT / "worker" / "data" / "demo"

PERSIAN = SHARED / "rss_real" / "persian_iran_news_mcp"
PERSIAN_LICENCE = "LICENSE.iran-news-mcp.MIT.txt"
PERSIAN_NEWS = ("mehr", "tabnak", "khabaronline", "entekhab", "hamshahri", "asriran")
PERSIAN_OTHER = ("digiato", "varzesh3", "zoomit", "khabarvarzeshi")
JAWHARA = SHARED / "html_articles" / "jawharafm_antcrawler"
JAWHARA_LICENCE = "LICENSE.RSSCrawlerArabicCorpus.Apache-2.0.txt"
CNN = SHARED / "html_articles" / "newspaper_cnn_arabic"
CNN_LICENCE = "LICENSE.newspaper.MIT.txt"
NEWSFANE = SHARED / "ner"
NEWSFANE_FILES = ("LICENSE.NewsFANE_CC-BY-SA-3.0.txt", "README.NewsFANE.txt")

# NewsFANE passages kept: those naming one of these (the corpus's bare-alef spelling), so the
# demo's entity rules have something to find; the rest of the corpus is left out.
COUNTRIES = ("ايران", "باكستان", "افغانستان", "العراق", "لبنان", "سوريا", "مصر", "الهند", "تونس")
PASSAGE_WORDS = (50, 160)
PASSAGES = 24
TITLE_WORDS = 10


def _write_items(folder: Path, items: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "items.jsonl").open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def seed() -> list[dict[str, Any]]:
    text = SEED.read_text(encoding="utf-8")
    title = text.splitlines()[0].strip()
    # The body as an aggregator scraped it, artifacts ([ad_1], the title twice, المصدر) included:
    # the worker's cleaner is part of what the demo shows.
    item = {"key": "seed", "title": title, "summary": text, "link": None, "page": None, "origin": "seed"}
    _write_items(OUT / "seed", [item])
    return [item]


def persian(names: tuple[str, ...]) -> list[dict[str, Any]]:
    dest = OUT / "persian"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PERSIAN / PERSIAN_LICENCE, dest / PERSIAN_LICENCE)
    per_outlet: list[list[dict[str, Any]]] = []
    for name in names:
        parsed = feedparser.parse((PERSIAN / f"{name}.xml").read_bytes())
        outlet = parsed.feed.get("title", name)
        per_outlet.append(
            [
                {
                    "key": f"{name}-{n}",
                    "title": e.get("title", ""),
                    "summary": e.get("summary", ""),
                    "link": e.get("link") or None,
                    "page": None,
                    "origin": f"persian:{name}",
                    "outlet": outlet,
                }
                for n, e in enumerate(parsed.entries, 1)
            ]
        )
    # Interleaved, one outlet after another, as a mixed feed would carry them.
    return [outlet[i] for i in range(max(map(len, per_outlet))) for outlet in per_outlet if i < len(outlet)]


def _first_sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    match = re.search(r"^.{40,400}?[.!?؟](?=\s|$)", text)
    return match.group(0) if match else text[:300]


def _ant_field(doc: str, name: str) -> str:
    match = re.search(rf"<{name}>(.*?)</{name}>", doc, re.S)
    return match.group(1).strip() if match else ""


def pages() -> list[dict[str, Any]]:
    dest = OUT / "pages"
    (dest / "jawharafm").mkdir(parents=True, exist_ok=True)
    (dest / "cnn_arabic").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(JAWHARA / JAWHARA_LICENCE, dest / "jawharafm" / JAWHARA_LICENCE)
    shutil.copyfile(CNN / CNN_LICENCE, dest / "cnn_arabic" / CNN_LICENCE)
    items: list[dict[str, Any]] = []
    for path in sorted(JAWHARA.glob("JA-*.html")):
        doc = path.with_suffix(".txt").read_text(encoding="utf-8")
        page = f"jawharafm/{path.name}.gz"
        (dest / page).write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        items.append(
            {
                "key": path.stem,
                "title": _ant_field(doc, "TITLE"),
                "summary": _first_sentence(_ant_field(doc, "TEXT")),
                "link": None,
                "page": f"pages/{page}",
                "origin": "pages:jawharafm",
                "original_url": _ant_field(doc, "URL"),
            }
        )
    cnn_text = (CNN / "arabic.txt").read_text(encoding="utf-8")
    page = "cnn_arabic/arabic_article.html.gz"
    (dest / page).write_bytes(gzip.compress((CNN / "arabic_article.html").read_bytes(), mtime=0))
    lead = _first_sentence(cnn_text)
    # The CNN page's own <title>, as the outlet headlined it.
    html = (CNN / "arabic_article.html").read_text(encoding="utf-8", errors="replace")
    title = re.sub(r"\s+", " ", _ant_field(html, "title")).split(" - ")[0].strip() or lead[:80]
    cnn = {"key": "cnn-arabic", "title": title, "summary": lead, "link": None, "page": f"pages/{page}"}
    items.insert(len(items) // 2, {**cnn, "origin": "pages:cnn_arabic", "original_url": None})
    _write_items(dest, items)
    return items


# The corpus splits a pronoun off a word ending in ta marbuta (جلالة ه); joined back, the ة is
# written ت as in the original text (جلالته), not جلالةه.
_TA_MARBUTA_CLITIC = re.compile(r"ة(ه|ها|هم|هما|هن|كم|كما|نا|ي)\b")


def newsfane() -> list[dict[str, Any]]:
    dest = OUT / "newsfane"
    dest.mkdir(parents=True, exist_ok=True)
    for name in NEWSFANE_FILES:
        shutil.copyfile(NEWSFANE / name, dest / name)
    candidates: list[str] = []
    lines: list[str] = []
    for sent in sentences(NEWSFANE / "NewsFANE_Gold_2014_170K.txt"):
        line = _TA_MARBUTA_CLITIC.sub(r"ت\1", detokenize([t for t, _ in sent]))
        if not lines and (line.startswith(("و", "ف")) or not line[:1].isalpha()):
            continue  # a passage starts where a report could: not on "and ..." mid-story
        lines.append(line)
        words = sum(len(x.split()) for x in lines)
        if words >= PASSAGE_WORDS[0]:
            text = " ".join(lines)
            if words <= PASSAGE_WORDS[1] and any(c in text for c in COUNTRIES):
                candidates.append(text)
            lines = []
    # Spread over the whole corpus rather than its first pages, and keep every passage that
    # names both Iran and Pakistan (a later, second story for the demo's main rule).
    both = [t for t in candidates if "ايران" in t and "باكستان" in t]
    step = max(1, len(candidates) // (PASSAGES - len(both)))
    chosen = [t for t in candidates[::step] if t not in both][: PASSAGES - len(both)]
    chosen = sorted(chosen + both, key=candidates.index)
    items = []
    for n, text in enumerate(chosen, 1):
        words = text.split()
        title = " ".join(words[:TITLE_WORDS]).rstrip("،,.:") + ("…" if len(words) > TITLE_WORDS else "")
        items.append(
            {"key": f"newsfane-{n:02d}", "title": title, "summary": text}
            | {"link": None, "page": None, "origin": "newsfane"}
        )
    _write_items(dest, items)
    return items


def _refs(items: list[dict[str, Any]], folder: str) -> list[str]:
    return [f"{folder}/{item['key']}" for item in items]


def main() -> int:
    if not SHARED.is_dir():
        print(f"build_demo_data: {SHARED} is not there; nothing to build from", file=sys.stderr)
        return 1
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    seed_items = seed()
    fa_news = persian(PERSIAN_NEWS)
    fa_other = persian(PERSIAN_OTHER)
    _write_items(OUT / "persian", fa_news + fa_other)
    page_items = pages()
    passages = newsfane()
    half = len(passages) // 2
    # The seed is the wire's second item: released within the first gap (3-10 s) of the start.
    wire = [*_refs(passages[:1], "newsfane"), *_refs(seed_items, "seed"), *_refs(passages[1:half], "newsfane")]
    feeds = [
        {"id": "ar-wire", "title": "وكالة الأنباء · Arabic wire", "language": "ar", "format": "rss", "items": wire},
        {
            "id": "ar-newswire",
            "title": "أخبار عربية · NewsFANE newswire",
            "language": "ar",
            "format": "atom",
            "items": _refs(passages[half:], "newsfane"),
        },
        {
            "id": "ar-pages",
            "title": "صفحات الأخبار · Arabic article pages (full text)",
            "language": "ar",
            "format": "rss",
            "full_text": True,
            "items": _refs(page_items, "pages"),
        },
        {
            "id": "fa-news",
            "title": "اخبار ایران · Persian news",
            "language": "fa",
            "format": "rss",
            "items": _refs(fa_news, "persian"),
        },
        {
            "id": "fa-tech-sport",
            "title": "فناوری و ورزش · Persian tech and sport",
            "language": "fa",
            "format": "atom",
            "items": _refs(fa_other, "persian"),
        },
    ]
    (OUT / "feeds.json").write_text(json.dumps({"feeds": feeds}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    _readme(
        feeds,
        {f"seed/{i['key']}": i for i in seed_items}
        | {f"persian/{i['key']}": i for i in fa_news + fa_other}
        | {f"pages/{i['key']}": i for i in page_items}
        | {f"newsfane/{i['key']}": i for i in passages},
    )
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({size // 1024} KB)")
    return 0


ORIGINS = {
    "seed": "the project's seed article (`tests/data/seed-article-ar.txt`, `../shared/fixtures/`): a real Arabic "
    "report (January 2024) as an aggregator scraped it, artifacts included; the outlet's copyright",
    "persian": "`../shared/data/rss_real/persian_iran_news_mcp/<outlet>.xml`, from the PyPI sdist "
    "`iran-news-mcp==0.2.2` "
    "(`tests/fixtures/`), MIT (`persian/LICENSE.iran-news-mcp.MIT.txt`); title, link and description as feedparser "
    "reads them from the outlet's real feed (Oct 2026); the text is the outlets' (Mehr's feed declares CC BY 4.0)",
    "pages:jawharafm": "`../shared/data/html_articles/jawharafm_antcrawler/`, from "
    "`github.com/antcorpus/RSSCrawlerArabicCorpus` @ `853c674c`, Apache-2.0 "
    "(`pages/jawharafm/LICENSE.RSSCrawlerArabicCorpus.Apache-2.0.txt`): the page byte for byte (gzip), title from "
    "the crawler's `<TITLE>`, summary the first sentence of its `<TEXT>`; Jawhara FM's text, 2014-2017",
    "pages:cnn_arabic": "`../shared/data/html_articles/newspaper_cnn_arabic/`, from `github.com/codelucas/newspaper` "
    "`tests/data/html/arabic_article.html`, MIT (`pages/cnn_arabic/LICENSE.newspaper.MIT.txt`): the page byte for "
    "byte (gzip), title from its `<title>`, summary the first sentence of newspaper's `arabic.txt`; CNN Arabic, 2013",
    "newsfane": "NewsFANE Gold (Alotaibi & Lee, COLING 2014), `github.com/bvanaken/visbert` @ `8c0f4a8b`, "
    "CC BY-SA 3.0 (`newsfane/LICENSE.NewsFANE_CC-BY-SA-3.0.txt`, `newsfane/README.NewsFANE.txt`). **Adapted**: the "
    "corpus has one token per line with clitics split off and no article boundaries; clitics are re-attached "
    "(ة before a pronoun written ت: جلالته) and "
    "consecutive sentences grouped into passages of 50-160 words that name a country (as "
    "`scripts/build_dedup_data.py` does), each titled with its first words. This derived text is CC BY-SA 3.0 too",
}


def _readme(feeds: list[dict[str, Any]], items: dict[str, dict[str, Any]]) -> None:
    lines = [
        "# Demo data (`marsad demo`, issue 8)",
        "",
        "Real feeds for the offline demo, built by `.venv/bin/python scripts/build_demo_data.py` from",
        "`../shared/data/` as its README allows (each folder keeps its licence file). `marsad demo`'s replay",
        "server publishes these items one by one, every few seconds per feed, with the release time as",
        "their date; nothing here is fetched from the network. The text remains the outlets' and the corpus",
        "authors' copyright. Never copied: ANT, the Urdu items, ANERCorp (their licences do not allow it).",
        "",
        "## Origins",
        "",
        "| origin | from |",
        "|---|---|",
        *(f"| `{k}` | {v} |" for k, v in ORIGINS.items()),
        "",
        "## Feeds and items, in release order",
        "",
    ]
    for feed in feeds:
        extra = ", full text fetched from the replay server" if feed.get("full_text") else ""
        heading = f"### `{feed['id']}` ({feed['format']}, {feed['language']}{extra})"
        lines += [heading, "", "| item | origin | title |", "|---|---|---|"]
        for ref in feed["items"]:
            item = items[ref]
            origin = item["origin"].split(":")[0] if item["origin"].startswith("persian") else item["origin"]
            where = item.get("outlet") or item.get("original_url") or ""
            title = item["title"].replace("|", "·")
            lines.append(f"| `{ref}` | `{origin}`{' ' + where.replace('|', '·') if where else ''} | {title} |")
        lines.append("")
    (OUT / "README.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
