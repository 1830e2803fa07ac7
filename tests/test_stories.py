"""Story assignment (worker/core/stories.py) and its Redis index (worker/adapters/stories.py).

The behaviour tests run on both indexes, in memory and on the real Redis: they are the same
steps, and ``marsad stories --memory`` must answer what the workers do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL
from tests.dedup_eval import units
from worker.adapters.keys import Keys
from worker.adapters.stories import StoryIndex
from worker.core.clean import clean_text
from worker.core.dedup import text_hash
from worker.core.fingerprint import Indexed, fingerprint, unpack
from worker.core.stories import (
    SLICES,
    Assignment,
    Candidate,
    Member,
    MemoryIndex,
    StoryParams,
    choose,
    live_slices,
    push_id,
    same_story,
    slice_of,
    slice_ttl,
)

DATA = Path(__file__).parent / "data"
SEED = (DATA / "seed-article-ar.txt").read_text(encoding="utf-8")
SEED_TITLE = SEED.splitlines()[0]
TEXT = clean_text(SEED, is_html=False, title=SEED_TITLE)
PARTS, JOIN = units(TEXT)
TEASER = JOIN.join(PARTS[: len(PARTS) // 2 + 1])
UPDATED = JOIN.join([*PARTS, "وأضاف المتحدث أن الاجتماع سيستأنف الأسبوع المقبل في إسلام آباد لبحث الملف الأمني."])
OTHER = clean_text((DATA / "pages" / "cnn_arabic" / "arabic.txt").read_text(encoding="utf-8"), is_html=False)
WINDOW = 72 * 3600.0
NOW = 1_700_000_000.0
PARAMS = StoryParams(window=WINDOW, threshold=0.7, ttl=30 * 86400)


def member(aid: str, text: str, source: str = "src", aliases: tuple[str, ...] = ()) -> Member:
    return Member(aid.ljust(16, "0"), text_hash("", text), source, fingerprint(text), aliases)


def sid(name: str) -> str:
    return name.ljust(16, "0")


class Redis:
    """StoryIndex plus what the tests look at."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.keys = Keys(prefix)
        self.index = StoryIndex(client, self.keys, PARAMS)

    def assign(self, m: Member, now: float) -> Assignment:
        return self.index.assign(m, now)

    def sources(self, story: str) -> set[str]:
        return set(self.client.smembers(self.keys.story_sources(story)))


class Memory:
    def __init__(self) -> None:
        self.index = MemoryIndex(PARAMS)

    def assign(self, m: Member, now: float) -> Assignment:
        return self.index.assign(m, now)

    def sources(self, story: str) -> set[str]:
        return self.index.sources.get(story, set())


@pytest.fixture(params=["memory", "redis"])
def index(request: pytest.FixtureRequest) -> Iterator[Memory | Redis]:
    if request.param == "memory":
        yield Memory()
    else:
        yield Redis(request.getfixturevalue("redis_client"), request.getfixturevalue("prefix"))


# --- the decision -----------------------------------------------------------------------


def entry(text: str) -> Indexed:
    f = fingerprint(text)
    assert f is not None
    return unpack(f.entry)


def test_same_story_needs_containment_size_and_lead() -> None:
    full, teaser, other = fingerprint(TEXT), fingerprint(TEASER), fingerprint(OTHER)
    assert full and teaser and other
    assert same_story(teaser, entry(TEXT), 0.7) is not None  # a teaser with half the text
    assert same_story(full, entry(TEASER), 0.7) is not None  # ... in either order
    assert same_story(other, entry(TEXT), 0.7) is None  # another article
    short = " ".join(TEXT.split()[:45])  # far less than half: too short to judge by text
    short_fp = fingerprint(short)
    assert short_fp and same_story(short_fp, entry(TEXT), 0.1) is None
    # the same background paragraphs under another lead is another story
    other_lead = (
        "أعلنت وزارة الخارجية الإيرانية اليوم استدعاء سفير باكستان للاحتجاج على الغارات التي استهدفت قرى حدودية."
    )
    rewritten = fingerprint(JOIN.join([other_lead, *PARTS[2:]]))
    assert rewritten and same_story(rewritten, entry(TEXT), 0.7) is None
    assert same_story(rewritten, entry(TEXT), 0.7) is None


def test_choose_takes_the_best_score_and_breaks_ties_by_id() -> None:
    full = fingerprint(TEXT)
    assert full
    cands = [Candidate(sid("b"), "s-b", entry(TEXT)), Candidate(sid("a"), "s-a", entry(TEXT))]
    cands.append(Candidate(sid("c"), "s-c", entry(TEASER)))
    cands.append(Candidate(sid("d"), "s-d", entry(OTHER)))
    best = choose(full, cands, 0.7)
    assert best is not None and best[0].story == "s-a" and best[1] == pytest.approx(1.0)
    assert choose(full, cands[3:], 0.7) is None


def test_push_id_keeps_the_last_three_once() -> None:
    a, b, c, d = (sid(x) for x in "abcd")
    assert push_id(None, a) == a
    assert push_id(a, a) is None
    assert push_id(a + b + c, d) == d + a + b
    assert push_id(a + b + c, b) is None


def test_slices_cover_the_window() -> None:
    length = WINDOW / SLICES
    now = 1000 * length + 5
    assert slice_of(now, WINDOW) == 1000
    assert list(live_slices(now, WINDOW)) == list(range(1000 - SLICES, 1001))
    # the current slice is kept until the window has passed after its end
    assert slice_ttl(now, WINDOW) == pytest.approx(length - 5 + WINDOW, abs=1)


# --- the indexes: same behaviour in memory and in Redis -----------------------------------


def test_first_article_starts_the_story_and_its_id_is_the_story(index: Memory | Redis) -> None:
    assert index.assign(member("a", TEXT), NOW) == Assignment(sid("a"), "new")


def test_same_url_same_text_near_duplicate_and_distinct(index: Memory | Redis) -> None:
    first = index.assign(member("a", TEXT, "outlet-1"), NOW)
    assert index.assign(member("a", UPDATED), NOW + 60).via == "url"  # edited at the same URL
    assert index.assign(member("b", TEXT, "outlet-2"), NOW + 120) == Assignment(first.story, "text")
    near = index.assign(member("c", TEASER, "outlet-3"), NOW + 180)
    assert (near.story, near.via) == (first.story, "near") and near.score and near.score >= 0.7
    assert index.assign(member("d", OTHER), NOW + 240) == Assignment(sid("d"), "new")
    assert index.sources(first.story) == {"outlet-1", "outlet-2", "outlet-3", "src"}


def test_an_alias_joins_the_story_of_the_canonical_page(index: Memory | Redis) -> None:
    """A full-text page whose rel=canonical names an article already seen joins its story,
    even with a text too short to compare."""
    story = index.assign(member("a", TEXT), NOW)
    assert index.assign(member("e", "نص قصير", aliases=(sid("a"),)), NOW + 1) == Assignment(story.story, "url")


def test_near_duplicates_are_found_within_the_window_only(index: Memory | Redis) -> None:
    index.assign(member("a", TEXT), NOW)
    assert index.assign(member("b", UPDATED), NOW + WINDOW - 60).story == sid("a")
    # past the window after the last version, and the slice it was kept in
    late = NOW + WINDOW - 60 + WINDOW + WINDOW / SLICES + 60
    assert index.assign(member("c", TEASER), late) == Assignment(sid("c"), "new")


def test_assigning_twice_gives_the_same_story(index: Memory | Redis) -> None:
    index.assign(member("a", TEXT), NOW)
    once = index.assign(member("b", UPDATED), NOW + 1)
    again = index.assign(member("b", UPDATED), NOW + 2)
    assert once.story == again.story == sid("a")


# --- Redis only -------------------------------------------------------------------------


def test_index_keys_expire_with_the_window(redis_client: redis.Redis, prefix: str) -> None:
    idx = Redis(redis_client, prefix)
    idx.assign(member("a", TEXT), NOW)
    slice_keys = list(redis_client.scan_iter(match=Keys(prefix).story_slice(0).removesuffix("0:") + "*"))
    assert len(slice_keys) == 21  # 20 band shards + the entry's shard (distinct here)
    for key in slice_keys:
        assert 0 < redis_client.ttl(key) <= WINDOW + WINDOW / SLICES
        assert redis_client.object("encoding", key) == "listpack"  # compact: small hashes
    assert 0 < redis_client.ttl(idx.keys.story_url(sid("a"))) <= PARAMS.ttl
    assert 0 < redis_client.ttl(idx.keys.story_sources(sid("a"))) <= PARAMS.ttl


def test_band_values_are_not_duplicated_by_a_retry(redis_client: redis.Redis, prefix: str) -> None:
    idx = Redis(redis_client, prefix)
    raw = redis.Redis(connection_pool=redis.ConnectionPool.from_url(REDIS_URL))  # entries are bytes

    def index_state() -> dict[bytes, dict[bytes, bytes]]:
        return {k: raw.hgetall(k) for k in raw.scan_iter(match=Keys(prefix).story_slice(0).removesuffix("0:") + "*")}

    idx.assign(member("a", TEXT), NOW)
    idx.assign(member("b", UPDATED), NOW)
    before = index_state()
    idx.assign(member("b", UPDATED), NOW)
    assert index_state() == before
    raw.close()


def test_a_near_duplicate_indexed_during_the_lookup_is_not_missed(
    redis_client: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup found only candidates that are other stories; before the article is
    recorded, another worker indexes its original: the assign step sees the new band entry,
    answers retry, and the article joins the original's story."""
    idx = Redis(redis_client, prefix)
    real_run = idx.index._run
    modes: list[str] = []

    def racing_run(mode: str, m: Member, now: float, decided: str = "", met: str = "*") -> list[object]:
        if m.id != sid("b"):
            return real_run(mode, m, now, decided, met)  # the other worker
        modes.append(mode)
        if len(modes) == 1:  # this lookup ran just before the other worker indexed the original
            idx.assign(member("a", TEXT), now)
            return ["candidates", [], ",,"]
        return real_run(mode, m, now, decided, met)

    monkeypatch.setattr(idx.index, "_run", racing_run)
    assert idx.assign(member("b", UPDATED), NOW) == Assignment(sid("a"), "near", pytest.approx(1.0, abs=0.3))
    assert modes == ["lookup", "assign", "lookup", "assign"]  # retry, then the original is a candidate


def test_concurrent_workers_agree_on_one_story(redis_client: redis.Redis, prefix: str) -> None:
    """Versions of one story assigned by eight threads at once end in one story."""
    versions = [TEXT, UPDATED, TEASER, TEXT + "\nتابعونا على فيسبوك", JOIN.join(PARTS[:-1])] * 2
    barrier = threading.Barrier(len(versions))
    results: list[str] = []

    def work(i: int, text: str) -> Callable[[], None]:
        def run() -> None:
            idx = Redis(redis.Redis(connection_pool=redis_client.connection_pool), prefix)
            barrier.wait()
            results.append(idx.assign(member(f"9{i}", text, f"outlet-{i}"), NOW).story)

        return run

    threads = [threading.Thread(target=work(i, t)) for i, t in enumerate(versions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == len(versions) and len(set(results)) == 1
