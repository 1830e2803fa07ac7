"""Build tests/data/feeds/: a Google News sitemap and a JSON Feed of real Arabic articles.

The articles are the nine Jawhara FM reports (Tunisian radio, 2014-2017) committed in
tests/data/dedup/jawharafm/ (Apache-2.0, from the RSSCrawlerArabicCorpus; see its README): each
file gives the article's URL, title, time, section and text, which become one ``<url>`` of the
sitemap (title only, as news sitemaps have it; the section in Arabic as ``news:keywords``) and
one item of the JSON Feed (text as ``content_html`` paragraphs; the culture item as
``content_text``, to cover both). Nothing of the text is changed.
Run: .venv/bin/python scripts/build_feed_fixtures.py
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "dedup" / "jawharafm"
OUT = ROOT / "tests" / "data" / "feeds"
LICENCE = "LICENSE.RSSCrawlerArabicCorpus.Apache-2.0.txt"
PUBLICATION = "جوهرة أف أم"
SECTIONS = {
    "politic": "سياسة",
    "economy": "اقتصاد",
    "culture": "ثقافة",
    "diverse": "منوعات",
    "internationalNews": "أخبار عالمية",
    "localNews": "أخبار وطنية",
    "society": "مجتمع",
    "sport": "رياضة",
    "technology": "تكنولوجيا",
}


def field(doc: str, name: str) -> str:
    m = re.search(rf"<{name}>(.*?)</{name}>", doc, re.DOTALL)
    return m.group(1).strip() if m else ""


def articles() -> list[dict[str, str]]:
    out = []
    for path in sorted(SOURCE.glob("JA-*.txt")):
        doc = path.read_text(encoding="utf-8")
        out.append({name.lower(): field(doc, name) for name in ("DOCNO", "URL", "CAT", "TITLE", "TIME", "TEXT")})
    return out


def loc(url: str) -> str:
    """Sitemaps want URLs percent-encoded (sitemaps.org: "entity-escaped", RFC 3986)."""
    return quote(url, safe=":/?=&%")


def sitemap(items: list[dict[str, str]]) -> str:
    urls = "".join(
        f"""  <url>
    <loc>{escape(loc(a["url"]))}</loc>
    <news:news>
      <news:publication>
        <news:name>{PUBLICATION}</news:name>
        <news:language>ar</news:language>
      </news:publication>
      <news:publication_date>{a["time"]}</news:publication_date>
      <news:title>{escape(a["title"])}</news:title>
      <news:keywords>{SECTIONS[a["cat"]]}</news:keywords>
    </news:news>
  </url>
"""
        for a in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"\n'
        '        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        f"{urls}</urlset>\n"
    )


def json_feed(items: list[dict[str, str]]) -> str:
    def item(a: dict[str, str]) -> dict[str, str]:
        paragraphs = [p.strip() for p in a["text"].splitlines() if p.strip()]
        body = (
            {"content_text": "\n\n".join(paragraphs)}
            if a["cat"] == "culture"
            else {"content_html": "".join(f"<p>{escape(p)}</p>" for p in paragraphs)}
        )
        return {
            "id": a["docno"],
            "url": a["url"],
            "title": a["title"],
            **body,
            "summary": paragraphs[0] if paragraphs else "",
            "date_published": a["time"],
            "tags": [SECTIONS[a["cat"]]],
            "language": "ar",
        }

    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": PUBLICATION,
        "home_page_url": "http://www.jawharafm.net/ar/",
        "language": "ar",
        "items": [item(a) for a in items],
    }
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    items = articles()
    (OUT / "jawharafm-news-sitemap.xml").write_text(sitemap(items), encoding="utf-8")
    (OUT / "jawharafm-feed.json").write_text(json_feed(items), encoding="utf-8")
    shutil.copyfile(SOURCE / LICENCE, OUT / LICENCE)
    print(f"{len(items)} articles -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
