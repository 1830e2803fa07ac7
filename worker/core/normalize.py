"""Arabic-aware folding and tokenising: the match text.

Matching never runs on the display text directly. The display (cleaned) text is cut into word
tokens, each token is folded, and every token keeps its span in the display text, so a match
found on folded tokens highlights the right characters of the original (alerts' ``start``/``end``).

Folding, per issue 2: tashkeel, superscript alef, Quranic marks and tatweel dropped; أ إ آ ٱ -> ا;
ى -> ي; ة -> ه; ؤ -> و; ئ -> ي; Persian/Urdu ی ې ے -> ي, ک -> ك, ە ہ -> ه; Arabic-Indic and
Persian digits -> 0-9; zero-width and bidi controls dropped; Latin lowercased. Punctuation is a
word break (so ``إيران،باكستان`` is two words), which tokenising gives for free.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Combining marks that sit inside Arabic words: tashkeel (064B-065F), superscript alef (0670),
# Quranic annotation signs (0610-061A, 06D6-06ED, 08D3-08FF), plus Latin combining accents.
_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u08d3-\u08ff\u0300-\u036f"
# Tatweel, zero-width and bidi controls: inside a word they are dropped, never a word break.
_JOINERS = "\u0640\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
# A word: letters and digits (\w without "_"), with marks and joiners inside it.
_WORD = re.compile(rf"(?:[^\W_]|[{_MARKS}{_JOINERS}])+")
_DROP = re.compile(rf"[{_MARKS}{_JOINERS}]+")
# After NFKC a word may hold non-word characters (presentation-form tashkeel becomes space + mark,
# ¼ becomes 1⁄4): they are removed so that folding is idempotent.
_NON_WORD = re.compile(r"[\W_]+")

_FOLD = str.maketrans(
    {
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
)


@dataclass(frozen=True)
class Token:
    """A folded word and its span ``[start, end)`` in the display text."""

    norm: str
    start: int
    end: int


# News vocabulary repeats heavily (a feed's articles share most words), so a bounded cache turns
# most folds into one dict lookup: 3-4x faster tokenising on the seed article.
@lru_cache(maxsize=200_000)
def fold_word(word: str) -> str:
    """Fold one word (no spaces) to its match form. Idempotent."""
    word = unicodedata.normalize("NFKC", word).lower()  # lower() may add marks (İ -> i + U+0307)
    return _NON_WORD.sub("", _DROP.sub("", word).translate(_FOLD))


def tokenize(text: str) -> list[Token]:
    """The folded words of ``text`` with their spans. Words that fold to nothing are skipped."""
    tokens = []
    for m in _WORD.finditer(text):
        norm = fold_word(m.group())
        if norm:
            tokens.append(Token(norm, m.start(), m.end()))
    return tokens


def normalize(text: str) -> str:
    """The whole match text: folded words separated by single spaces."""
    return " ".join(t.norm for t in tokenize(text))
