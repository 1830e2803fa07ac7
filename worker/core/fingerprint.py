"""The near-duplicate fingerprint of an article's text: MinHash over word 3-shingles. Pure.

Why MinHash, and these numbers: docs/dedup.md (measured on real Arabic news, issue 5). In short:

* **Shingles** are the 3-word sequences of the *match text* (``fold_words``: diacritics, tatweel,
  hamza forms, punctuation folded), so the same wire copy with other punctuation or vowel marks
  shingles the same. The title is left out: a new headline does not make a new story.
* **The signature** is 96 MinHash values (multiply-shift hashes of the 64-bit shingle hashes),
  kept as their low 4 bits ("b-bit minwise hashing", Li & König 2010): in 48 bytes, a standard
  error of 0.05 on a Jaccard similarity of 0.5, where 48 one-byte values would give 0.07.
* **LSH bands**: the first 40 values, 20 bands of 2. Two texts with Jaccard ``J`` share at least
  one band with probability ``1 - (1 - J²)^20``: 0.997 at J = 0.5 (a teaser carrying the first
  half of the article), 0.80 at J = 0.2, 0.18 at J = 0.05. A shared band only makes a candidate:
  the decision is taken on the signature (``containment``) and the lead (``lead_hits``).
* **The lead**: six shingles sampled (bottom-6 by hash) from the first 25 words, kept as 16-bit
  hashes. Wire-based articles of one outlet often share whole background paragraphs ("Trump
  announced on Tuesday the withdrawal ...") while their leads, the news, differ; a candidate
  joins only when its lead is found in the new text.

Every constant here is part of the index format shared by all workers through Redis: changing
one makes old entries unmatchable until they expire with the story window (72 h by default).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from worker.core.normalize import fold_words

SHINGLE = 3  # words per shingle
MIN_WORDS = 40  # shorter texts get no fingerprint: a sentence or two is too short to compare
PERMUTATIONS = 96  # MinHash values in the signature
BITS = 4  # bits kept of each value
BANDS = 20  # LSH bands ...
ROWS = 2  # ... of this many values each (the first BANDS * ROWS values)
LEAD_WORDS = 25  # the lead is the first LEAD_WORDS words of the text ...
LEAD_SAMPLES = 6  # ... sampled as this many shingles

_U64 = np.uint64
_Array = npt.NDArray[np.uint64]


def _constant(tag: str, i: int) -> int:
    """A fixed pseudo-random 64-bit constant (not numpy's RNG: its streams may change)."""
    return int.from_bytes(hashlib.blake2b(f"marsad-{tag}-{i}".encode(), digest_size=8).digest(), "little")


_MUL = tuple(_constant("shingle", i) | 1 for i in range(SHINGLE))
_PERM_A = np.array([_constant("a", i) | 1 for i in range(PERMUTATIONS)], dtype=_U64)[:, None]
_PERM_B = np.array([_constant("b", i) for i in range(PERMUTATIONS)], dtype=_U64)[:, None]
_BAND_SEED = tuple(_constant("band", i) for i in range(BANDS))
_MASK64 = (1 << 64) - 1


@lru_cache(maxsize=1 << 17)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def _mix(x: _Array) -> _Array:
    """splitmix64's finaliser: every output bit depends on every input bit."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _mix_int(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def shingle_hashes(words: tuple[str, ...] | list[str]) -> _Array:
    """The 64-bit hashes of the word 3-shingles, in text order (with repeats)."""
    h = np.fromiter(map(_word_hash, words), dtype=_U64, count=len(words))
    if len(h) < SHINGLE:
        return _mix(h)
    n = len(h) - SHINGLE + 1
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        acc = np.zeros(n, dtype=_U64)
        for i, mul in enumerate(_MUL):
            acc = acc * _U64(mul) + h[i : i + n]
        return _mix(acc)


@dataclass(frozen=True)
class Fingerprint:
    """What the index knows of one text. ``size`` is its number of distinct shingles; ``bands``
    are the LSH band keys (16 hex digits each); ``entry`` is the packed record the index keeps
    (size, lead sample, signature: see ``pack``); ``low16`` are the low 16 bits of every shingle
    hash, to look an indexed lead up in this text."""

    size: int
    signature: bytes
    lead: tuple[int, ...]
    bands: tuple[str, ...]
    low16: frozenset[int]

    @property
    def entry(self) -> bytes:
        return pack(self.size, self.lead, self.signature)


@dataclass(frozen=True)
class Indexed:
    """An indexed text as the index keeps it: ``size``, ``lead`` (16-bit hashes), ``signature``."""

    size: int
    lead: tuple[int, ...]
    signature: bytes


_ENTRY = struct.Struct(f"<H{LEAD_SAMPLES}H{PERMUTATIONS * BITS // 8}s")
ENTRY_BYTES = _ENTRY.size  # 62: under Redis's 64-byte limit for compact (listpack) hash values


def pack(size: int, lead: tuple[int, ...], signature: bytes) -> bytes:
    lead = (*lead, *([0] * (LEAD_SAMPLES - len(lead))))
    return _ENTRY.pack(min(size, 0xFFFF), *lead, signature)


def unpack(entry: bytes) -> Indexed:
    size, *rest = _ENTRY.unpack(entry)
    lead, signature = rest[:LEAD_SAMPLES], rest[LEAD_SAMPLES]
    return Indexed(size, tuple(x for x in lead if x), signature)


def fingerprint(text: str) -> Fingerprint | None:
    """The fingerprint of a cleaned body, or None when it is shorter than MIN_WORDS words."""
    words = fold_words(text)
    if len(words) < MIN_WORDS:
        return None
    hashes = shingle_hashes(words)
    shingles = np.unique(hashes)
    with np.errstate(over="ignore"):
        # multiply-shift: the high 32 bits of a*x + b (mod 2**64), one row per permutation
        mins = ((_PERM_A * shingles[None, :] + _PERM_B) >> _U64(32)).min(axis=1)
    nibbles = (mins & _U64(0xF)).astype(np.uint8)
    signature = (nibbles[0::2] << np.uint8(4) | nibbles[1::2]).tobytes()
    values = [int(v) for v in mins[: BANDS * ROWS]]
    bands = tuple(
        f"{_mix_int(((values[ROWS * b] << 32) | values[ROWS * b + 1]) ^ _BAND_SEED[b]):016x}" for b in range(BANDS)
    )
    lead = np.unique(hashes[: LEAD_WORDS - SHINGLE + 1])[:LEAD_SAMPLES]  # bottom-k: smallest hashes
    low16 = frozenset(_low16(shingles).tolist())
    return Fingerprint(len(shingles), signature, tuple(_low16(lead).tolist()), bands, low16)


def _low16(hashes: _Array) -> npt.NDArray[np.uint16]:
    """The low 16 bits, 0 read as 1 (0 pads a short lead in the packed entry)."""
    low = (hashes & _U64(0xFFFF)).astype(np.uint16)
    low[low == 0] = 1
    return low


def jaccard(a: bytes, b: bytes) -> float:
    """The Jaccard similarity estimated from two b-bit signatures: the share of equal values,
    corrected for the 1/16 chance that two unrelated 4-bit values are equal."""
    x = np.frombuffer(a, dtype=np.uint8)
    y = np.frombuffer(b, dtype=np.uint8)
    equal = int(np.count_nonzero((x & 0xF) == (y & 0xF)) + np.count_nonzero((x >> 4) == (y >> 4)))
    chance = 1 / (1 << BITS)
    return max(0.0, (equal / PERMUTATIONS - chance) / (1 - chance))


def containment(new: Fingerprint, old: Indexed) -> float:
    """The estimated share of the shorter text's shingles found in the longer one:
    |A∩B| = J/(1+J)·(|A|+|B|), divided by min(|A|, |B|)."""
    j = jaccard(new.signature, old.signature)
    return min(1.0, j / (1 + j) * (new.size + old.size) / min(new.size, old.size))


def lead_hits(new: Fingerprint, old: Indexed) -> int:
    """How many of the indexed text's lead samples occur in the new text."""
    return sum(1 for x in old.lead if x in new.low16)
