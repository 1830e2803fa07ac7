"""Which story an article joins. Pure: the clock is passed in.

An article joins, in this order (issue 5):

1. the story of its canonical URL, or of the page's ``<link rel="canonical">`` (an edited or
   re-fetched article stays in its story);
2. the story of its exact text (the same wire copy under another URL or host);
3. the story of a near-duplicate indexed within the story window (``same_story``);
4. else it starts a story, whose id is its own id.

The story id is the id of the story's first article, so alert ids (sha1 of rule and story) stay
what the foundation made them. The Redis index (worker/adapters/stories.py) and ``MemoryIndex``
below run the same steps with the same decision, ``choose``; ``marsad stories --memory`` uses
the latter, and a test checks that both give the same stories on the evaluation data.

The near-duplicate index is bounded by the story window: it is kept in ``SLICES`` slices per
window (24 h each for 72 h), and a slice is dropped ``window`` after it ends, so an entry is
looked up for between ``window`` and ``window + window / SLICES`` after it was indexed. Fewer,
longer slices keep the lookup short (it reads every live slice); more, shorter ones would hold
entries closer to exactly the window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from worker.core.fingerprint import Fingerprint, Indexed, containment, fingerprint, lead_hits, unpack
from worker.models import Article

SLICES = 3  # slices per story window: a lookup reads SLICES + 1 of them (20 band keys each)
MIN_RATIO = 0.4  # the shorter text has at least this share of the longer one's shingles
LEAD_MIN = 3  # of the indexed text's 6 lead samples, at least this many in the new text
BAND_IDS = 3  # a band value remembers the last 3 articles that had it
MAX_CANDIDATES = 8  # candidates compared: those sharing most bands (a true version shares many)
ID_CHARS = 16  # article ids in the index are 16 hex digits
# Small hashes per slice: ~85 fields each at 100,000 articles a window (21 fields an article, a
# third of the window in a slice), under Redis's 128-field limit for compact hashes.
SHARDS = 8192


@dataclass(frozen=True)
class StoryParams:
    window: float = 72 * 3600.0  # seconds; MARSAD_STORY_WINDOW
    threshold: float = 0.7  # least estimated containment; MARSAD_STORY_THRESHOLD
    ttl: float = 30 * 86400.0  # how long URL and text keys are kept; MARSAD_DEDUP_TTL


@dataclass(frozen=True)
class Member:
    """What an article brings to story assignment. ``id`` is 16 hex digits (the article id);
    ``aliases`` are the ids of other URLs of the same page (its rel=canonical link)."""

    id: str
    text_hash: str
    source: str
    fingerprint: Fingerprint | None
    aliases: tuple[str, ...] = ()

    @property
    def url_ids(self) -> tuple[str, ...]:
        return (self.id, *(a for a in self.aliases if a != self.id))


@dataclass(frozen=True)
class Candidate:
    """An indexed article that shares an LSH band with the new one."""

    article: str
    story: str
    entry: Indexed


@dataclass(frozen=True)
class Assignment:
    story: str
    via: str  # "url", "text", "near" or "new"
    score: float | None = None  # the estimated containment, for "near"
    # How many sources carried the story, this one included (alerts and story.updated events
    # report it); not part of the decision, so not compared.
    sources: int = field(default=1, compare=False)


def same_story(new: Fingerprint, old: Indexed, threshold: float) -> float | None:
    """The estimated containment when ``new`` and ``old`` are one story, else None: sizes within
    MIN_RATIO of each other, containment at least ``threshold``, and ``old``'s lead in ``new``."""
    if min(new.size, old.size) < MIN_RATIO * max(new.size, old.size):
        return None
    if lead_hits(new, old) < min(LEAD_MIN, len(old.lead)):
        return None
    score = containment(new, old)
    return score if score >= threshold else None


def choose(new: Fingerprint, candidates: Iterable[Candidate], threshold: float) -> tuple[Candidate, float] | None:
    """The candidate of highest score that is the same story (ties: the smaller id), or None."""
    best: tuple[Candidate, float] | None = None
    for cand in candidates:
        score = same_story(new, cand.entry, threshold)
        if score is None:
            continue
        if best is None or score > best[1] or (score == best[1] and cand.article < best[0].article):
            best = (cand, score)
    return best


def slice_of(now: float, window: float) -> int:
    return math.floor(now / (window / SLICES))


def live_slices(now: float, window: float) -> range:
    """The slices an entry indexed now or earlier may still be in: SLICES + 1 of them."""
    current = slice_of(now, window)
    return range(current - SLICES, current + 1)


def slice_ttl(now: float, window: float) -> int:
    """Seconds until the current slice expires: ``window`` after its end."""
    length = window / SLICES
    return max(1, math.ceil((slice_of(now, window) + 1) * length + window - now))


def shard_of(hex_key: str) -> str:
    """The shard of a hex key: SHARDS small hashes per slice, so that each stays small enough
    for Redis to store compactly (a listpack: at most 128 fields by default). The Redis lookup
    script computes the same for a candidate's id."""
    return f"{int(hex_key[:4], 16) % SHARDS:x}"


def band_field(index: int, band: str) -> tuple[str, str]:
    """(shard, field) of band ``index``'s key in a slice."""
    return shard_of(band), f"b{index:02x}{band[4:12]}"


def entry_field(article: str) -> tuple[str, str]:
    """(shard, field) of an article's packed entry in a slice."""
    return shard_of(article), f"s{article}"


def band_ids(value: str | None) -> list[str]:
    if not value:
        return []
    return [value[i : i + ID_CHARS] for i in range(0, len(value), ID_CHARS)]


def push_id(value: str | None, article: str) -> str | None:
    """The band value with ``article`` first, at most BAND_IDS ids; None when already there."""
    ids = band_ids(value)
    if article in ids:
        return None
    return "".join([article, *ids][:BAND_IDS])


@dataclass
class _Slice:
    bands: dict[tuple[str, str], str] = field(default_factory=dict)
    entries: dict[tuple[str, str], bytes] = field(default_factory=dict)


@dataclass
class MemoryIndex:
    """The story index in process memory: the same steps as the Redis one, for ``marsad
    stories --memory`` and the evaluation. URL and text keys expire after ``params.ttl``."""

    params: StoryParams
    keys: dict[str, tuple[str, float]] = field(default_factory=dict)  # key -> (story, expires)
    slices: dict[int, _Slice] = field(default_factory=dict)
    sources: dict[str, set[str]] = field(default_factory=dict)

    def _get(self, key: str, now: float) -> str | None:
        hit = self.keys.get(key)
        return hit[0] if hit and hit[1] > now else None

    def _keys(self, member: Member) -> list[str]:
        return [f"url:{i}" for i in member.url_ids] + [f"text:{member.text_hash}"]

    def candidates(self, member: Member, now: float) -> list[Candidate]:
        """The indexed articles sharing most LSH bands with ``member`` (at most MAX_CANDIDATES;
        ties: the smaller id), as the Redis lookup script picks them."""
        fp = member.fingerprint
        if fp is None:
            return []
        shared: dict[str, int] = {}
        where: dict[str, _Slice] = {}
        for number in live_slices(now, self.params.window):
            data = self.slices.get(number)
            if data is None:
                continue
            for i, band in enumerate(fp.bands):
                for cand in band_ids(data.bands.get(band_field(i, band))):
                    if cand != member.id:
                        shared[cand] = shared.get(cand, 0) + 1
                        where.setdefault(cand, data)
        out = []
        for cand in sorted(shared, key=lambda c: (-shared[c], c))[:MAX_CANDIDATES]:
            raw = where[cand].entries.get(entry_field(cand))
            if raw is not None:
                out.append(Candidate(cand, self._get(f"url:{cand}", now) or cand, unpack(raw)))
        return out

    def assign(self, member: Member, now: float) -> Assignment:
        keys = self._keys(member)
        found = next(((i, s) for i, k in enumerate(keys) if (s := self._get(k, now)) is not None), None)
        if found is not None:
            result = Assignment(found[1], "text" if found[0] == len(keys) - 1 else "url")
        else:
            result = Assignment(member.id, "new")
            if member.fingerprint is not None:
                best = choose(member.fingerprint, self.candidates(member, now), self.params.threshold)
                if best is not None:
                    result = Assignment(best[0].story, "near", best[1])
        for key in keys:
            if self._get(key, now) is None:
                self.keys[key] = (result.story, now + self.params.ttl)
        self._index(member, now)
        carried = self.sources.setdefault(result.story, set())
        carried.add(member.source)
        return replace(result, sources=len(carried))

    def _index(self, member: Member, now: float) -> None:
        fp = member.fingerprint
        if fp is None:
            return
        current = slice_of(now, self.params.window)
        oldest = live_slices(now, self.params.window).start
        for number in [n for n in self.slices if n < oldest]:
            del self.slices[number]
        data = self.slices.setdefault(current, _Slice())
        for i, band in enumerate(fp.bands):
            key = band_field(i, band)
            value = push_id(data.bands.get(key), member.id)
            if value is not None:
                data.bands[key] = value
        data.entries[entry_field(member.id)] = fp.entry


def member_of(article: Article) -> Member:
    """What an article of a feed brings: its id, text hash, source, the fingerprint of its body,
    and the id of its page's canonical link when that is another URL."""
    aliases = (article.alias,) if article.alias else ()
    return Member(article.id, article.text_hash, article.source, fingerprint(article.text), aliases)
