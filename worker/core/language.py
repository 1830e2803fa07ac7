"""Which language an article is written in: an offline identifier, checked against the source.

Sources say which language they publish in (``sources.yaml``, or the feed's own ``<language>``),
but aggregators mix languages and Iran coverage mixes Arabic and Persian. ``detect_language``
runs lingua, restricted to the languages this worker meets (``LANGUAGES``), and reconciles its
answer with the configured language:

- too little text to tell (fewer than ``MIN_LETTERS`` letters): the configured language;
- detection confident (the best language has at least ``CONFIDENT`` of lingua's relative
  confidence): the detected language, even when it disagrees with the configuration (a source
  configured ``ar`` that publishes an English article);
- otherwise: the configured language, or None when nothing is configured.

A configured language that lingua cannot detect (``ps``, ``ku``...) is kept as is: a detector
restricted to seven languages would otherwise relabel Pashto as Persian.

Plain Arabic is decided without lingua: text written in the Arabic script that holds none of the
letters Persian and Urdu add to it (پ چ ژ گ ی ک ے ہ ...) nor Persian function words (از، را،
است ...) can only be Arabic among ``LANGUAGES``,
and checking that takes two regex scans instead of ~0.6 ms of lingua per article (most of what
marsad reads is Arabic). Everything else goes to lingua.

The detector is built once per process, on first use (loading the models takes about a second;
later calls take well under a millisecond for a 1,000-character sample). It holds no state
between calls, so this stays a pure function of its arguments.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

# ISO 639-1 code -> lingua's Language member name.
LANGUAGES = {
    "ar": "ARABIC",
    "fa": "PERSIAN",
    "ur": "URDU",
    "en": "ENGLISH",
    "fr": "FRENCH",
    "tr": "TURKISH",
    "he": "HEBREW",
}
# Below this many letters a text is too short to tell (a title such as "Iran" or "إيران" alone).
MIN_LETTERS = 20
# Letters of the Arabic script, and those of them that Persian/Urdu use but Arabic does not.
_ARABIC_SCRIPT = re.compile(r"[\u0620-\u064a\u066e-\u06d3\u06d5\u06fa-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_NOT_ARABIC = re.compile(r"[پچژگیکےۓہۀۃھٹڈڑںۆۇۈۋې]")
# Persian function words, written with letters Arabic shares (Persian typed on an Arabic
# keyboard): two of them and the text goes to lingua. None is an Arabic word on its own.
_PERSIAN_WORDS = re.compile(r"\b(?:از|را|است|هاي|براي|خود|با|در|اين|آن|نيز|شده|مي)\b")
_LETTER = re.compile(r"[^\W\d_]")
# The share of letters in the Arabic script above which such text is taken as Arabic outright.
ARABIC_SHARE = 0.9
# lingua's relative confidence of the best language (the values over LANGUAGES sum to 1).
CONFIDENT = 0.75
# Detection reads at most this many characters: a few sentences decide, and the cost is linear.
SAMPLE_CHARS = 1_000


@cache
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in LANGUAGES.values()]
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


def _code(language: str | None) -> str | None:
    """``"ar-SA"``, ``"AR"``, ``"fa_IR"`` -> ``"ar"``, ``"ar"``, ``"fa"``; blank -> None."""
    if not language:
        return None
    code = language.strip().replace("_", "-").split("-")[0].lower()
    return code or None


def detect_language(text: str, configured: str | None = None) -> str | None:
    """The ISO 639-1 code of ``text``'s language, reconciled with the source's ``configured`` one."""
    configured = _code(configured)
    if configured is not None and configured not in LANGUAGES:
        return configured
    sample = text[:SAMPLE_CHARS]
    letters = len(_LETTER.findall(sample))
    if letters < MIN_LETTERS:
        return configured
    if (
        len(_ARABIC_SCRIPT.findall(sample)) >= ARABIC_SHARE * letters
        and not _NOT_ARABIC.search(sample)
        and len(_PERSIAN_WORDS.findall(sample)) < 2
    ):
        return "ar"
    values = _detector().compute_language_confidence_values(sample)
    if values and values[0].value >= CONFIDENT:
        detected: str = values[0].language.iso_code_639_1.name.lower()
        return detected
    return configured
