"""Fixture feeds built around real text (the seed article), with dates relative to now."""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

DATA = Path(__file__).parent / "data"
SEED = (DATA / "seed-article-ar.txt").read_text(encoding="utf-8")
SEED_TITLE = SEED.splitlines()[0].strip()


def item(title: str, link: str, body: str, age: float = 600.0, guid: str | None = None) -> str:
    published = formatdate(time.time() - age, usegmt=True)
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid isPermaLink='false'>{escape(guid or link)}</guid>"
        f"<pubDate>{published}</pubDate><description>{escape(body)}</description></item>"
    )


def rss(*items: str, encoding: str = "utf-8", title: str = "Fixture feed") -> bytes:
    xml = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<rss version="2.0"><channel><title>{escape(title)}</title><link>http://example.org/</link>'
        f"<language>ar</language>{''.join(items)}</channel></rss>"
    )
    return xml.encode("cp1256" if encoding == "windows-1256" else encoding)


def seed_item(link: str, age: float = 600.0) -> str:
    """The seed article as an aggregator's RSS item: body with artifacts, as plain text lines."""
    return item(SEED_TITLE, link, SEED, age)
