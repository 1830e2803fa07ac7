"""Arabic proclitics: which text words carry a query word.

A text word matches a query word W when it equals W, or equals W behind Arabic proclitics:
an optional conjunction و/ف, then an optional preposition ب/ل/ك, then an optional article ال,
with at least two letters of W left. ل + ال is written لل, so للجزائر matches الجزائر. Only
text words are stripped, never query words: the query لبنان never matches the text بنان. And a
text word whose first letters only look like clitics is never stripped (``UNSTRIPPED``): لبنان is
never read as ل + بنان, nor ولبنان as و + ل + بنان. Suffixes are not stripped: إيراني is an
adjective, reached through entities (``entity:IR`` lists its forms) or a prefix (``إيران*``).

``stems`` is the one definition of the rule; ``surface_forms`` inverts it for a query word.
"""

from __future__ import annotations

from functools import lru_cache

_CONJ = ("", "و", "ف")
_PREP = ("", "ب", "ل", "ك")
_MIN_STEM = 2
# Folded words that begin with و ف ب ل ك but carry no clitic: place names that news mentions
# daily. A text word equal to one of these (after any real clitics) is not stripped further.
# The hand-written list is completed with every one-word name and form of the built-in gazetteer
# that starts with such a letter (بريطاني, فرنسية, كويتيون ...).
UNSTRIPPED = frozenset(
    """لبنان ليبيا لندن لاهور لاوس لاتفيا ليتوانيا لوكسمبورغ فلسطين فرنسا فنلندا فنزويلا فيتنام
    فيينا فلوريدا بريطانيا بلجيكا بولندا بلغاريا بغداد بيروت باريس برلين بكين بنغلاديش بوليفيا
    بورما بوروندي بنين بيلاروس بروكسل برازيليا كندا كوبا كوريا كينيا كولومبيا كابول كراتشي كييف
    كازاخستان كرواتيا كمبوديا واشنطن وارسو ولينغتون""".split()
)


@lru_cache(maxsize=1)
def unstripped() -> frozenset[str]:
    """``UNSTRIPPED`` and the gazetteer's words, built on first use (entities.py imports the
    matcher through the config loader, so this cannot run at import time)."""
    from worker.core.entities import builtin_entities, surfaces
    from worker.core.normalize import fold_words

    out = set()
    for entity in builtin_entities().values():
        for surface in surfaces(entity):
            words = fold_words(surface)
            if len(words) == 1 and words[0][0] in "وفبلك":
                out.add(words[0])
    return UNSTRIPPED | out


@lru_cache(maxsize=200_000)
def stems(word: str) -> frozenset[str]:
    """Every form of the folded text word ``word`` a query word may equal (cached: news vocabulary repeats)."""
    keep = unstripped()
    if word in keep:
        return frozenset((word,))
    out = {word}
    for conj in _CONJ:
        if not word.startswith(conj):
            continue
        w1 = word[len(conj) :]
        if w1 in keep:
            out.add(w1)
            continue
        for prep in _PREP:
            if not w1.startswith(prep):
                continue
            w2 = w1[len(prep) :]
            if w2 in keep:
                out.add(w2)
                continue
            cands = [w2]
            if w2.startswith("ال"):
                cands.append(w2[2:])
            if prep == "ل" and w2.startswith("ل"):
                # لل: the article's alef is not written after ل (للجزائر = ل + الجزائر)
                cands += ["ا" + w2, w2[1:]]
            out.update(c for c in cands if len(c) >= _MIN_STEM)
    return frozenset(out)


@lru_cache(maxsize=50_000)
def surface_forms(word: str) -> tuple[str, ...]:
    """Every text word that may carry the query word ``word`` behind clitics: the expansion is
    done on the query side (a few dozen forms per query word), so matching costs dict lookups
    per query word instead of stem expansion per text word. ``stems`` stays the one definition:
    a form counts only if ``word`` is among its stems."""
    forms = {c + p + a + word for c in _CONJ for p in _PREP for a in ("", "ال")}
    forms |= {c + "لل" + word for c in _CONJ}
    if word.startswith("ال"):
        forms |= {c + "ل" + word[1:] for c in _CONJ}
    return tuple(sorted(f for f in forms if word in stems(f)))
