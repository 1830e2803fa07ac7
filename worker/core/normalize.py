"""Arabic-aware normalisation: the match text, with a map back to the display text.

``normalize_with_map(display)`` returns the match text and an ``OffsetMap``, so a match found in
the match text is highlighted on the right characters of the display text (alerts' ``start`` /
``end`` and snippet marks). Folding, per issues 2 and 3:

* all combining marks (tashkeel, superscript alef, Quranic marks ...), format characters
  (bidi marks, zero-width characters, ZWNJ) and tatweel are removed;
* أ إ آ ٱ -> ا; ى -> ي; ة -> ه; ؤ -> و; ئ -> ي; Persian/Urdu ی ې ے -> ي, ک -> ك, ە ہ ھ -> ه;
  Arabic-Indic and Persian digits -> 0-9; Latin (and every cased script) lower-cased;
* every other character that is not a letter, digit or whitespace (punctuation, symbols) becomes
  a space, so ``إيران،باكستان`` is two words.

Why runs, not a per-character table: the display text comes out of cleaning NFKC-normalised, so
the only length changes are removals. The map stores one entry per run of characters between
removals, built from one regex scan in C; a per-character Python loop would cost ~0.7 ms for
3,000 characters. Text that is not NFKC-normalised (other callers, property tests) takes a slower
per-character path that handles expansions such as ﻹ -> لا.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass


def _chars(categories: tuple[str, ...]) -> str:
    """A regex character-class body for the BMP characters in ``categories`` (built at import, ~10 ms)."""
    out, start, prev = [], -2, -2
    for cp in range(0x10000):
        if unicodedata.category(chr(cp)) in categories:
            if cp != prev + 1:
                if start >= 0:
                    out.append((start, prev))
                start = cp
            prev = cp
    out.append((start, prev))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in out)


# Removed inside words: combining and enclosing marks, format characters, tatweel.
_DROP_CLASS = _chars(("Mn", "Me", "Cf")) + "\u0640"
_DROP = re.compile(f"[{_DROP_CLASS}]+")
# Everything that is not a letter, digit or whitespace becomes a space ("_" too, below).
_PUNCT = re.compile(r"[^\w\s]")

_FOLD_TABLE = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ة": "ه",
    "ؤ": "و",
    "ئ": "ي",
    "ی": "ي",  # Persian yeh
    "ې": "ي",  # Pashto/Uyghur e
    "ے": "ي",  # Urdu yeh barree
    "ک": "ك",  # Persian keheh
    "ە": "ه",  # Kurdish ae
    "ہ": "ه",  # Urdu heh goal
    "ھ": "ه",  # heh doachashmee
    **{chr(0x0660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
    **{chr(0x06F0 + i): str(i) for i in range(10)},  # Persian digits
}
_FOLD_PAIRS = tuple(_FOLD_TABLE.items())


def _fold_letters(text: str) -> str:
    # A chain of str.replace is ~30x faster than str.translate with a dict here: most of the
    # table's letters are absent from a given text and each present one is one C-speed pass.
    for src, dst in _FOLD_PAIRS:
        if src in text:
            text = text.replace(src, dst)
    return text


def _spaces(text: str) -> str:
    return _PUNCT.sub(" ", text).replace("_", " ")


@dataclass(frozen=True)
class OffsetMap:
    """Match-text offsets to display-text offsets, one entry per run.

    Run ``i`` starts at match offset ``m_starts[i]`` and display offset ``d_starts[i]``; inside a
    linear run both advance together, inside an expansion (one display character that became
    several match characters) every match offset maps to the run's display character.
    """

    m_starts: tuple[int, ...]
    d_starts: tuple[int, ...]
    linear: tuple[bool, ...]
    m_len: int
    d_len: int

    def to_display(self, m: int) -> int:
        i = max(bisect_right(self.m_starts, m) - 1, 0)
        return self.d_starts[i] + (m - self.m_starts[i] if self.linear[i] else 0)

    def span(self, m_start: int, m_end: int) -> tuple[int, int]:
        """The display span of the match span ``[m_start, m_end)``. The end is the display
        position of the next match character, so marks after a word's last letter (إيرانَ) are
        highlighted with it; a span always covers at least one display character."""
        if not self.d_len:
            return 0, 0
        start = self.to_display(m_start)
        end = self.to_display(max(m_end - 1, m_start)) + 1  # past the last character's source
        if m_end >= self.m_len:
            end = self.d_len
        elif (after := self.to_display(m_end)) > end:
            end = after  # ... and past what was removed after it
        return start, min(end, self.d_len)


def _fold_char(c: str) -> str:
    s = unicodedata.normalize("NFKC", c).replace("İ", "I").lower()
    s = unicodedata.normalize("NFKC", s)
    return _spaces(_fold_letters(_DROP.sub("", s)))


def _fast(text: str) -> tuple[str, OffsetMap]:
    lowered = text.replace("İ", "I").lower()  # İ is the only character lower() lengthens
    m_starts, d_starts, kept = [0], [0], []
    removed = last = 0
    for gap in _DROP.finditer(lowered):
        kept.append(lowered[last : gap.start()])
        last = gap.end()
        removed += gap.end() - gap.start()
        m_starts.append(gap.end() - removed)
        d_starts.append(gap.end())
    kept.append(lowered[last:])
    match = _spaces(_fold_letters("".join(kept)))
    return match, _make_map(m_starts, d_starts, [True] * len(m_starts), len(text), len(match))


def _slow(text: str) -> tuple[str, OffsetMap]:
    parts: list[str] = []
    m_starts: list[int] = []
    d_starts: list[int] = []
    linear: list[bool] = []
    m = 0
    for d, c in enumerate(text):
        out = _fold_char(c)
        if not out:
            continue
        one = len(out) == 1
        # a new run unless this character continues a linear run without a gap
        if not (one and linear and linear[-1] and d_starts[-1] + (m - m_starts[-1]) == d):
            m_starts.append(m)
            d_starts.append(d)
            linear.append(one)
        parts.append(out)
        m += len(out)
    if not m_starts:
        m_starts, d_starts, linear = [0], [0], [True]
    match = "".join(parts)
    return match, _make_map(m_starts, d_starts, linear, len(text), len(match))


def _make_map(m_starts: list[int], d_starts: list[int], linear: list[bool], d_len: int, m_len: int) -> OffsetMap:
    # A removal at the very start or right after another leaves an empty run at the same match
    # offset: keep only the last run that starts at each match offset.
    keep = [i for i in range(len(m_starts)) if i + 1 == len(m_starts) or m_starts[i + 1] != m_starts[i]]
    return OffsetMap(
        tuple(m_starts[i] for i in keep),
        tuple(d_starts[i] for i in keep),
        tuple(linear[i] for i in keep),
        m_len,
        d_len,
    )


# Compatibility spaces (NBSP ...) fold to a space one for one: replacing them first keeps
# raw text with a stray NBSP (27% of raw ANT articles) on the fast path.
_COMPAT_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000]")


def normalize_with_map(text: str) -> tuple[str, OffsetMap]:
    """The match text of ``text`` and the map of its offsets into ``text``. Never raises."""
    text = _COMPAT_SPACES.sub(" ", text)
    if unicodedata.is_normalized("NFKC", text) and unicodedata.is_normalized("NFKC", text.lower()):
        return _fast(text)
    return _slow(text)


@dataclass(frozen=True)
class Token:
    """A folded word of the match text and its span ``[start, end)`` in the display text."""

    norm: str
    start: int
    end: int


_WORD = re.compile(r"\S+")


def tokenize(text: str) -> list[Token]:
    """The words of ``text``'s match text, each with its display span."""
    match, omap = normalize_with_map(text)
    out = []
    for m in _WORD.finditer(match):
        start, end = omap.span(m.start(), m.end())
        out.append(Token(m.group(), start, end))
    return out


def normalize(text: str) -> str:
    """The match text alone (whitespace as in the text)."""
    return normalize_with_map(text)[0]


def fold_words(text: str) -> tuple[str, ...]:
    """The folded words of ``text``: how query words and titles are compared."""
    return tuple(normalize(text).split())
