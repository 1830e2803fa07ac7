"""The replay's decisions, pure: which items a demo feed shows at a given moment, and the feed's
bytes and validators then. The clock is passed in (``now``, Unix seconds).

Every feed starts with its first item and gains one more after each gap, a few seconds drawn
from a seeded generator, so a run is the same every time and feeds do not all change at once.
An item's date is its release time, as for a story just published. The feed's ETag and
Last-Modified change exactly when an item is released, so a conditional GET between two
releases gets a 304, as from a real server.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from email.utils import formatdate
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from worker.core.alerts import iso_utc

Format = Literal["rss", "atom"]


@dataclass(frozen=True)
class DemoItem:
    """One bundled item. ``link``: the outlet's URL, or None for the replay server's own page
    of the item; ``page``: the bundled article page (a path in the demo data) served for it."""

    key: str
    title: str
    summary: str
    link: str | None = None
    page: str | None = None


@dataclass(frozen=True)
class DemoFeed:
    id: str
    title: str
    language: str
    format: Format
    items: tuple[DemoItem, ...]
    full_text: bool = False


@dataclass(frozen=True)
class Snapshot:
    """What a feed shows at one moment: the released items, newest first, with their release
    times (Unix seconds), and the validators a server sends with it."""

    items: tuple[tuple[DemoItem, float], ...]
    etag: str
    last_modified: str


def release_offsets(count: int, rng: random.Random, gap: tuple[float, float]) -> tuple[float, ...]:
    """When each of ``count`` items is released, in seconds after the start: the first at 0,
    each next one a uniform ``gap`` later."""
    offsets: list[float] = []
    at = 0.0
    for n in range(count):
        if n:
            at += rng.uniform(*gap)
        offsets.append(round(at, 3))
    return tuple(offsets)


@dataclass(frozen=True)
class Replay:
    """Every feed with its release offsets; ``started`` is the Unix time the replay began."""

    feeds: dict[str, DemoFeed]
    offsets: dict[str, tuple[float, ...]]
    started: float

    @classmethod
    def plan(
        cls, feeds: list[DemoFeed], started: float, gap: tuple[float, float] = (3.0, 10.0), seed: int = 8
    ) -> Replay:
        rng = random.Random(seed)
        return cls(
            {f.id: f for f in feeds},
            {f.id: release_offsets(len(f.items), rng, gap) for f in feeds},
            started,
        )

    def released(self, feed_id: str, now: float) -> int:
        """How many of the feed's items are out at ``now``."""
        return sum(1 for at in self.offsets[feed_id] if self.started + at <= now)

    def released_at(self, feed_id: str, key: str) -> float | None:
        """The offset at which the item ``key`` is released; None if the feed has no such item."""
        for item, at in zip(self.feeds[feed_id].items, self.offsets[feed_id], strict=True):
            if item.key == key:
                return at
        return None

    def snapshot(self, feed_id: str, now: float) -> Snapshot:
        feed = self.feeds[feed_id]
        count = self.released(feed_id, now)
        out = tuple((feed.items[n], self.started + self.offsets[feed_id][n]) for n in reversed(range(count)))
        tag = hashlib.sha1(f"{feed_id}\n{self.started}\n{count}".encode()).hexdigest()[:16]
        newest = out[0][1] if out else self.started
        return Snapshot(out, f'"{tag}"', formatdate(newest, usegmt=True))

    @property
    def last_release(self) -> float:
        """Seconds after the start at which the last item of any feed is out."""
        return max((o[-1] for o in self.offsets.values() if o), default=0.0)


def not_modified(snapshot: Snapshot, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether a conditional GET gets a 304: the ETag wins when sent (RFC 9110 13.2.2); else
    the date, compared as the exact string we sent (ours are whole seconds, formatted once)."""
    if if_none_match is not None:
        return snapshot.etag in (t.strip() for t in if_none_match.split(","))
    return if_modified_since is not None and if_modified_since == snapshot.last_modified


def item_link(base_url: str, feed_id: str, item: DemoItem) -> str:
    """The item's link: the outlet's URL when the data has one, else the replay server's page
    for it (the bundled article page for full-text items, a small page of its text otherwise)."""
    return item.link or f"{base_url}/item/{feed_id}/{item.key}"


def render(feed: DemoFeed, snapshot: Snapshot, base_url: str) -> bytes:
    """The feed document (RSS 2.0 or Atom 1.0, UTF-8) of a snapshot."""
    if feed.format == "atom":
        return _atom(feed, snapshot, base_url)
    return _rss(feed, snapshot, base_url)


def _rss(feed: DemoFeed, snapshot: Snapshot, base_url: str) -> bytes:
    items = []
    for item, at in snapshot.items:
        link = item_link(base_url, feed.id, item)
        items.append(
            f"<item><title>{escape(item.title)}</title><link>{escape(link)}</link>"
            f"<guid isPermaLink='false'>{escape(link)}</guid>"
            f"<pubDate>{formatdate(at, usegmt=True)}</pubDate>"
            f"<description>{escape(item.summary)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<rss version="2.0"><channel><title>{escape(feed.title)}</title>'
        f"<link>{escape(base_url)}/</link><description>marsad demo replay</description>"
        f"<language>{feed.language}</language><lastBuildDate>{snapshot.last_modified}</lastBuildDate>"
        f"{''.join(items)}</channel></rss>\n"
    ).encode()


def _atom(feed: DemoFeed, snapshot: Snapshot, base_url: str) -> bytes:
    entries = []
    for item, at in snapshot.items:
        link = item_link(base_url, feed.id, item)
        entries.append(
            f"<entry><title>{escape(item.title)}</title><link href={quoteattr(link)}/>"
            f"<id>{escape(link)}</id><updated>{iso_utc(at)}</updated><published>{iso_utc(at)}</published>"
            f'<summary type="html">{escape(item.summary)}</summary></entry>'
        )
    updated = iso_utc(snapshot.items[0][1]) if snapshot.items else iso_utc(0)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed.language}">'
        f"<title>{escape(feed.title)}</title><id>{escape(base_url)}/feeds/{feed.id}</id>"
        f"<link href={quoteattr(base_url + '/')}/><updated>{updated}</updated>"
        f"{''.join(entries)}</feed>\n"
    ).encode()


def item_page(feed: DemoFeed, item: DemoItem) -> bytes:
    """A small HTML page of an item that has no page of its own (what its link opens)."""
    paragraphs = "".join(f"<p>{escape(p.strip())}</p>" for p in item.summary.split("\n") if p.strip())
    return (
        f'<!doctype html><html lang="{feed.language}" dir="rtl"><head><meta charset="utf-8">'
        f"<title>{escape(item.title)}</title></head><body><article><h1>{escape(item.title)}</h1>"
        f"{paragraphs}</article></body></html>\n"
    ).encode()
