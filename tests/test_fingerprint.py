"""The near-duplicate fingerprint (worker/core/fingerprint.py), on the seed article and the
Jawhara FM articles (real Arabic text)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.dedup_eval import units
from worker.core.clean import clean_text
from worker.core.fingerprint import (
    ENTRY_BYTES,
    MIN_WORDS,
    containment,
    fingerprint,
    jaccard,
    lead_hits,
    shingle_hashes,
    unpack,
)
from worker.core.normalize import fold_words

DATA = Path(__file__).parent / "data"
SEED = (DATA / "seed-article-ar.txt").read_text(encoding="utf-8")
SEED_TITLE = SEED.splitlines()[0]
TEXT = clean_text(SEED, is_html=False, title=SEED_TITLE)
OTHER = clean_text((DATA / "pages" / "cnn_arabic" / "arabic.txt").read_text(encoding="utf-8"), is_html=False)


def fp(text: str):  # type: ignore[no-untyped-def]
    result = fingerprint(text)
    assert result is not None
    return result


def exact_jaccard(a: str, b: str) -> float:
    x = set(shingle_hashes(fold_words(a)).tolist())
    y = set(shingle_hashes(fold_words(b)).tolist())
    return len(x & y) / len(x | y)


def test_short_texts_have_no_fingerprint() -> None:
    words = TEXT.split()
    assert fingerprint(" ".join(words[: MIN_WORDS - 1])) is None
    assert fingerprint(" ".join(words[:MIN_WORDS])) is not None


def test_the_match_text_is_fingerprinted_not_the_display_text() -> None:
    """Tashkeel, tatweel, hamza forms and punctuation do not change the fingerprint."""
    marked = TEXT.replace("باكستان", "باكِسْتـــان").replace("إيران", "ايران").replace("،", " ، ").replace(".", "!")
    assert marked != TEXT
    assert fp(marked) == fp(TEXT)


def test_entry_round_trip_fits_a_compact_redis_hash_value() -> None:
    f = fp(TEXT)
    assert len(f.entry) == ENTRY_BYTES <= 64  # Redis keeps hash values up to 64 bytes compact
    entry = unpack(f.entry)
    assert (entry.size, entry.lead, entry.signature) == (f.size, f.lead, f.signature)
    assert len(f.bands) == 20 and all(len(b) == 16 for b in f.bands)


def test_fingerprint_is_the_same_in_another_process() -> None:
    """Workers share the index through Redis: the fingerprint must not depend on the process
    (Python's own str hash is salted per process; ours is not)."""
    code = (
        "import sys; from worker.core.fingerprint import fingerprint;print(fingerprint(sys.stdin.read()).entry.hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=TEXT, capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "7"},
    )  # fmt: skip
    assert bytes.fromhex(out.stdout.strip()) == fp(TEXT).entry


def test_the_index_format_is_pinned() -> None:
    """Changing the shingles, hashes or permutations makes every indexed entry unmatchable
    until it expires: such a change must be deliberate (docs/dedup.md), hence this pin."""
    f = fp(SEED)  # the raw file, so that a change in cleaning does not move the pin
    assert (f.size, f.bands[0], f.signature[:4].hex()) == (307, "20c30fa1f76a83b3", "25cfa995")


@pytest.mark.parametrize("cut", [0.5, 0.7, 0.9])
def test_estimated_jaccard_is_close_to_the_exact_one(cut: float) -> None:
    words = TEXT.split()
    part = " ".join(words[: int(len(words) * cut)])
    assert abs(jaccard(fp(part).signature, fp(TEXT).signature) - exact_jaccard(part, TEXT)) < 0.15


def test_a_teaser_is_contained_in_the_full_text_and_another_article_is_not() -> None:
    parts, joiner = units(TEXT)
    teaser = joiner.join(parts[: len(parts) // 2 + 1])
    full, half = fp(TEXT), fp(teaser)
    assert containment(half, unpack(full.entry)) > 0.85
    assert containment(full, unpack(half.entry)) > 0.85
    assert containment(fp(OTHER), unpack(full.entry)) < 0.1


def test_the_lead_of_an_article_is_found_in_its_versions_not_in_a_new_story() -> None:
    full = unpack(fp(TEXT).entry)
    parts, joiner = units(TEXT)
    extended = fp(joiner.join([*parts, "وأضاف المتحدث أن الاجتماع سيستأنف الأسبوع المقبل في إسلام آباد لبحث الملف."]))
    assert lead_hits(extended, full) == len(full.lead) == 6
    # the same background under another lead: the lead of one is not in the other
    other_lead = (
        "أعلنت وزارة الخارجية الإيرانية اليوم استدعاء سفير باكستان للاحتجاج على الغارات التي استهدفت قرى حدودية."
    )
    rewritten = fp(joiner.join([other_lead, *parts[2:]]))
    assert lead_hits(rewritten, full) < 3
