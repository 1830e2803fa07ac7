"""The story evaluation on the committed real Arabic text (issue 5): precision >= 0.98 and
recall >= 0.95 at the shipped threshold, through ``marsad stories``, in memory and on Redis.
The same evaluation on the ANT corpus runs in ``make bench-dedup`` (bench/dedup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL
from tests.dedup_eval import EDITS, Corpus, committed, score, stories
from worker.adapters.keys import Keys
from worker.adapters.stories import StoryIndex
from worker.config import Settings
from worker.core import stories as core_stories
from worker.core.stories import MemoryIndex, StoryParams

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = StoryParams(threshold=Settings.model_fields["story_threshold"].default)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return committed()


def test_the_committed_evaluation_is_big_enough(corpus: Corpus) -> None:
    positives = [p for p in corpus.pairs if p.same]
    negatives = [p for p in corpus.pairs if not p.same]
    assert len(corpus.pairs) >= 100 and len(positives) >= 50 and len(negatives) >= 50
    assert {p.kind for p in positives} == set(EDITS)
    assert sum("+recap" in p.a for p in negatives) >= 10  # shared background, different leads


def test_precision_and_recall_at_the_shipped_threshold(corpus: Corpus) -> None:
    result = score(corpus, stories(corpus.docs, MemoryIndex(SHIPPED)))
    detail = f"{result.summary()} false positives {result.false_positives[:5]} misses {result.false_negatives[:5]}"
    assert result.precision >= 0.98, detail
    assert result.recall >= 0.95, detail


def test_the_lead_check_is_what_keeps_shared_background_apart(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without it, articles that only share their recap paragraphs would be one story."""
    monkeypatch.setattr(core_stories, "LEAD_MIN", 0)
    result = score(corpus, stories(corpus.docs, MemoryIndex(SHIPPED)))
    assert result.precision < 0.98
    assert all("+recap" in p.a for p in result.false_positives)


def test_redis_and_memory_give_the_same_stories(corpus: Corpus, redis_client: redis.Redis, prefix: str) -> None:
    in_memory = stories(corpus.docs, MemoryIndex(SHIPPED))
    on_redis = stories(corpus.docs, StoryIndex(redis_client, Keys(prefix), SHIPPED))
    assert on_redis == in_memory


def test_marsad_stories_command_gives_the_same_stories(corpus: Corpus, tmp_path: Path, prefix: str) -> None:
    """``marsad stories`` (subprocess, on Redis in a throwaway namespace it deletes, and with
    --memory) prints the stories the evaluation scored."""
    path = tmp_path / "articles.jsonl"
    path.write_text("".join(d.line() + "\n" for d in corpus.docs), encoding="utf-8")
    expected = stories(corpus.docs, MemoryIndex(SHIPPED))
    env = {"MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix, "PATH": "/usr/bin:/bin"}
    client = redis.Redis.from_url(REDIS_URL)
    for extra in (["--memory"], []):
        out = subprocess.run(
            [sys.executable, "-m", "worker.cli", "stories", *extra, str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        lines = [json.loads(x) for x in out.stdout.splitlines()]
        assert [x["id"] for x in lines] == [d.id for d in corpus.docs]
        assert {x["id"]: x["story"] for x in lines} == expected
        assert list(client.scan_iter(match=f"{prefix}*")) == []  # the namespace was deleted
    client.close()
