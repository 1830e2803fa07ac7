"""Date text -> UTC Unix timestamp, for the forms feeds and Arabic news pages use.

feedparser knows RFC 822 and ISO 8601 but not "الجمعة 19 يناير 2024 10:30 م" or
"١٩ كانون الثاني ٢٠٢٤", and an entry without a date is stamped with its fetch time, which puts
old news in today's alerts. Arabic sites name months in three traditions, the same site sometimes
two at once ("19 يناير/كانون الثاني 2024"):

- Egyptian/Gulf, from the European names: يناير فبراير مارس أبريل مايو يونيو ...
- Levantine/Iraqi, the Syriac names: كانون الثاني شباط آذار نيسان أيار حزيران ...
- Maghrebi, from French: جانفي فيفري مارس أفريل ماي جوان جويلية أوت ... (and Moroccan
  يوليوز غشت شتنبر نونبر دجنبر)

Spellings vary in hamza (أبريل/ابريل), final yeh (يونيو/يونيه) and digits (Arabic-Indic ٠-٩,
Persian ۰-۹), so the text is folded before matching. The search is lenient: a date found inside
"نشر في: ..." counts, a lone year or time does not. Without a timezone the time is taken as UTC
(what feeds and most sites' markup mean); a named local zone we do not know is treated the same.
"""

from __future__ import annotations

import calendar
import re
from contextlib import suppress
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "يناير كانون_الثاني جانفي january jan janvier",
        "فبراير شباط فيفري february feb fevrier février",
        "مارس اذار march mar mars",
        "ابريل افريل نيسان april apr avril",
        "مايو ماي ايار may mai",
        "يونيو يونيه حزيران جوان june jun juin",
        "يوليو يوليه يوليوز تموز جويليه جويلية july jul juillet",
        "اغسطس اغشت غشت اب اوت august aug aout août",
        "سبتمبر شتنبر ايلول september sep sept septembre",
        "اكتوبر تشرين_الاول october oct octobre",
        "نوفمبر نونبر تشرين_الثاني november nov novembre",
        "ديسمبر دجنبر كانون_الاول december dec decembre décembre",
    ],
    start=1,
):
    _MONTHS.update((name.replace("_", " "), _number) for name in _names.split())

# Folding: digits to ASCII, hamza-seated alefs to bare alef, alef maqsura to yeh; tashkeel,
# tatweel and bidi marks (which sites wrap around numbers) removed; Arabic comma to comma.
_FOLD = str.maketrans(
    {
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        **dict.fromkeys("أإآٱ", "ا"),
        "ى": "ي",
        "ة": "ه",
        "،": ",",
        "\u00a0": " ",
        **dict.fromkeys(
            "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670\u0640"
            "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        ),
    }
)
# "كانون ثاني" and "تشرين اول" are written without the article too.
_TWO_WORD = re.compile(r"(كانون|تشرين)\s+(?:ال)?(اول|ثاني)")
_LETTER_BEFORE = r"(?<![^\W\d_])"
_LETTER_AFTER = r"(?![^\W\d_])"
_MONTH = (
    _LETTER_BEFORE
    + "(?:"
    + "|".join(re.escape(m).replace(r"\ ", r"\s+") for m in sorted(_MONTHS, key=len, reverse=True))
    + ")"
    + _LETTER_AFTER
)
# A month, optionally with its other name: "يناير/كانون الثاني", "كانون الثاني (يناير)".
_MONTHS_GROUP = rf"{_MONTH}(?:\s*[/(-]\s*{_MONTH}\s*\)?)?"
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th|er)?\s*[-/.]?\s*({_MONTHS_GROUP})\s*[-/.,]?\s*(\d{{4}})(?!\d)", re.IGNORECASE
)
_MONTH_DAY_YEAR = re.compile(rf"({_MONTHS_GROUP})\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(\d{{4}})(?!\d)", re.IGNORECASE)
_NUMERIC_DMY = re.compile(r"(?<![\d/.-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?![\d/.-])")
_NUMERIC_YMD = re.compile(r"(?<![\d/.-])(\d{4})([/.-])(\d{1,2})\2(\d{1,2})(?![\d/.-])")
_TIME = re.compile(
    r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?![\d:])\s*"
    r"(صباحا|مساء|ص|م|a\.?m\.?|p\.?m\.?)?(?![^\W\d_])",
    re.IGNORECASE,
)
_PM = ("م", "مساء", "pm")
_OFFSET = r"([+\-−])\s*(\d{1,2})(?::?(\d{2}))?"  # − is U+2212, the minus sign
_TZ_NAMED = re.compile(
    rf"(?<![^\W\d_])(?:GMT|UTC|غرينتش|جرينتش|غرينيتش|جرينيتش|ت\.?\s?غ)(?![^\W\d_])(?:\s*{_OFFSET})?", re.IGNORECASE
)
_TZ_OFFSET = re.compile(r"(?<![\w:])([+\-−])(\d{2}):?(\d{2})(?!\d)")
_TZ_MECCA = re.compile(r"توقيت\s+مكه")  # Saudi sites: "بتوقيت مكة المكرمة", UTC+3 all year
_RFC822 = re.compile(r"^\s*(?:[A-Za-z]{3},?\s*)?\d{1,2}\s+[A-Za-z]{3,}\s+\d{2,4}\s+\d{1,2}:\d{2}")
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC).timestamp()
_LATEST = datetime(2200, 1, 1, tzinfo=UTC).timestamp()
_ISO = re.compile(r"^\s*\d{4}-?\d{2}-?\d{2}(?:[T ]\d{2}:?\d{2}.*)?$")


def _fold(text: str) -> str:
    return _TWO_WORD.sub(r"\1 ال\2", text.translate(_FOLD))


def _month(group: str) -> int | None:
    """The month a month group names; None when its two names disagree."""
    found = {_MONTHS[re.sub(r"\s+", " ", m.lower())] for m in re.findall(_MONTH, group, re.IGNORECASE)}
    return found.pop() if len(found) == 1 else None


def _find_date(text: str) -> tuple[int, int, int, tuple[int, int]] | None:
    """(year, month, day, span of the date in text), from the first form that matches."""
    if m := _DAY_MONTH_YEAR.search(text):
        month = _month(m.group(2))
        return None if month is None else (int(m.group(3)), month, int(m.group(1)), m.span())
    if m := _MONTH_DAY_YEAR.search(text):
        month = _month(m.group(1))
        return None if month is None else (int(m.group(3)), month, int(m.group(2)), m.span())
    if m := _NUMERIC_YMD.search(text):
        return int(m.group(1)), int(m.group(3)), int(m.group(4)), m.span()
    if m := _NUMERIC_DMY.search(text):  # day first, as everywhere Arabic is written
        return int(m.group(4)), int(m.group(3)), int(m.group(1)), m.span()
    return None


def _find_time(text: str) -> tuple[int, int, int, tuple[int, int]] | None:
    m = _TIME.search(text)
    if m is None:
        return None
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    marker = (m.group(4) or "").lower().replace(".", "")
    if marker and hour <= 12:
        hour = hour % 12 + (12 if marker in _PM else 0)
    return hour, minute, second, m.span()


def _offset(sign: str, hours: str, minutes: str | None) -> timedelta:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return -delta if sign in "-−" else delta


def _find_zone(text: str) -> timedelta:
    if m := _TZ_NAMED.search(text):
        return _offset(m.group(1), m.group(2), m.group(3)) if m.group(1) else timedelta(0)
    if m := _TZ_OFFSET.search(text):
        return _offset(m.group(1), m.group(2), m.group(3))
    if _TZ_MECCA.search(text):
        return timedelta(hours=3)
    return timedelta(0)


def _cut(text: str, span: tuple[int, int]) -> str:
    return text[: span[0]] + " " + text[span[1] :]


def _parse_free(text: str) -> float | None:
    """Day, month and year anywhere in the text; then a time and a zone in what is left."""
    folded = _fold(text)
    date = _find_date(folded)
    if date is None:
        return None
    year, month, day, span = date
    rest = _cut(folded, span)
    time = _find_time(rest)
    hour, minute, second = (0, 0, 0) if time is None else time[:3]
    if time is not None:
        rest = _cut(rest, time[3])
    zone = timezone(_find_zone(rest))  # raises ValueError beyond ±24h
    return datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()


def _parse_rfc822(text: str) -> float | None:
    parts = parsedate_tz(text)
    if parts is None:
        return None
    datetime(*parts[:6])  # raises ValueError on 31 February, which timegm would roll over
    # email.utils.mktime_tz would read a missing zone as local time; it is UTC here.
    return float(calendar.timegm((*parts[:6], 0, 1, 0)) - (parts[9] or 0))


def _parse_iso(text: str) -> float | None:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def parse_date(text: str) -> float | None:
    """The UTC Unix timestamp of a date written in ``text``, or None when it holds no date (or
    an impossible one, such as 31 February). Never raises."""
    if not text or not text.strip():
        return None
    stamp = None
    try:
        if _ISO.match(text):
            with suppress(ValueError):  # not ISO after all: "2024-01-19 10:30 م" goes on below
                stamp = _parse_iso(text)
        if stamp is None and _RFC822.match(text):
            stamp = _parse_rfc822(text)
        if stamp is None:
            stamp = _parse_free(text)
    except (ValueError, OverflowError):
        return None
    # Years like 0001 or 9999 are placeholders for "no date", not dates.
    return stamp if stamp is not None and _EARLIEST <= stamp < _LATEST else None
