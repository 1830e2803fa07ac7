"""Date parsing (worker/core/dates.py), per issue 3 "Dates": every result a UTC Unix timestamp."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.dates import parse_date

# (text, UTC timestamp): the timestamps are literals, checked by hand against the comment.
DATES = [
    # the forms in the issue
    ("الجمعة 19 يناير 2024 10:30 م", 1705703400),  # 2024-01-19 22:30Z
    ("١٩ كانون الثاني ٢٠٢٤", 1705622400),  # 2024-01-19 00:00Z
    ("19 جانفي 2024 - 08:15", 1705652100),  # 2024-01-19 08:15Z
    ("2024-01-19T10:30:00+03:00", 1705649400),  # 2024-01-19 07:30Z
    ("Fri, 19 Jan 2024 07:30:00 GMT", 1705649400),
    ("19/01/2024 10:30", 1705660200),  # day first; 10:30Z
    # RFC 822 as feeds write it
    ("Fri, 19 Jan 2024 10:30:00 +0300", 1705649400),
    ("Fri, 19 Jan 2024 10:30:45 GMT", 1705660245),
    ("19 Jan 2024 10:30 EST", 1705678200),  # 15:30Z
    ("Fri, 19 Jan 24 07:30:00 -0000", 1705649400),  # two-digit year, "unknown" zone
    ("Fri, 19 Jan 2024 07:30:00", 1705649400),  # no zone: UTC, not the machine's local time
    # RFC 3339 / ISO 8601
    ("2024-01-19T07:30:00Z", 1705649400),
    ("2024-01-19T07:30:00.250Z", 1705649400.25),
    ("2024-01-19T10:30:00", 1705660200),
    ("2024-01-19 10:30", 1705660200),
    ("2024-01-19", 1705622400),
    ("2024-01-19T02:30:00-05:00", 1705649400),
    # Arabic: digits, weekday and comma, hamza, AM/PM, zones
    ("الجمعة، 19 يناير 2024 10:30 ص", 1705660200),
    ("الجمعة ١٩ يناير ٢٠٢٤ ١٠:٣٠ م", 1705703400),
    ("۱۹ ژانویه", None),  # Persian month names are not Arabic ones
    ("الجمعة ۱۹ يناير ۲۰۲۴", 1705622400),  # Persian digits
    ("19 يناير 2024 12:15 ص", 1705623300),  # 12 AM is 00
    ("19 يناير 2024 12:15 م", 1705666500),  # 12 PM is 12
    ("19 يناير 2024 10:30 صباحاً", 1705660200),
    ("19 يناير 2024 10:30 مساءً", 1705703400),
    ("19 يناير 2024 22:30", 1705703400),  # 24h
    ("19 يناير 2024 10:30 بتوقيت غرينتش", 1705660200),
    ("19 يناير 2024 10:30 (ت.غ)", 1705660200),
    ("19 يناير 2024 10:30 GMT+3", 1705649400),
    ("19 يناير 2024 10:30 +03:00", 1705649400),
    ("19 يناير 2024 10:30 UTC", 1705660200),
    ("الجمعة 19 يناير 2024 - 13:30 بتوقيت مكة المكرمة", 1705660200),
    ("19 إبريل 2024 10:30 GMT+3", 1713511800),  # Egyptian spelling; 07:30Z
    ("19 ابريل 2024 10:30 GMT+3", 1713511800),
    ("19 أبريل 2024 10:30 GMT+3", 1713511800),
    ("19 يناير/كانون الثاني 2024", 1705622400),  # both names, as Al Jazeera writes them
    ("19 كانون الثاني (يناير) 2024", 1705622400),
    ("19 كانون ثاني 2024", 1705622400),  # without the article
    ("19 تشرين أول 2023", 1697673600),
    ("19 تشرين الثاني 2023", 1700352000),
    ("19 كانون الأول 2024", 1734566400),
    ("19 يناير/شباط 2024", None),  # two names that disagree: no date
    ("الاثنين 22 تموز 2024 - 14:05 بتوقيت مكة المكرمة", 1721646300),  # 11:05Z
    ("نشر في: 5 آب 2023", 1691193600),  # inside a page's byline
    ("السبت 5 اب 2023", 1691193600),
    ("الجمعة 7 رجب 1445 هـ الموافق 19 يناير 2024 م", 1705622400),  # the Hijri date is skipped
    ("1 ماي 2024", 1714521600),  # Maghrebi May
    ("1 جوان 2024", 1717200000),
    ("1 شتنبر 2024", 1725148800),  # Moroccan September
    ("19.01.2024 10:30", 1705660200),
    ("2024/01/19 10:30 م", 1705703400),
    ("January 19, 2024 10:30 PM", 1705703400),
    ("1er janvier 2024", 1704067200),
    ("29 فبراير 2024", 1709164800),  # a leap day
    # not dates
    ("31 فبراير 2024", None),
    ("29 فبراير 2023", None),
    ("32/01/2024", None),
    ("19/13/2024", None),
    ("19 يناير 2024 25:00", None),
    ("0001-01-01T00:00:00Z", None),  # a placeholder, not a date
    ("مرحبا بكم في موقعنا", None),
    ("2024", None),
    ("10:30 م", None),
    ("يناير", None),
    ("", None),
    ("   ", None),
    ("not a date", None),
]


@pytest.mark.parametrize(("text", "expected"), DATES, ids=[t or "empty" for t, _ in DATES])
def test_parse_date(text: str, expected: float | None) -> None:
    assert parse_date(text) == expected


MONTHS = [
    (1, "يناير كانون الثاني جانفي"),
    (2, "فبراير شباط فيفري"),
    (3, "مارس آذار اذار"),
    (4, "أبريل ابريل إبريل نيسان أفريل افريل"),
    (5, "مايو أيار ايار ماي"),
    (6, "يونيو يونيه حزيران جوان"),
    (7, "يوليو يوليه تموز جويلية يوليوز"),
    (8, "أغسطس اغسطس آب اب أوت اوت غشت"),
    (9, "سبتمبر أيلول ايلول شتنبر"),
    (10, "أكتوبر اكتوبر تشرين الأول تشرين الاول"),
    (11, "نوفمبر تشرين الثاني نونبر"),
    (12, "ديسمبر كانون الأول كانون الاول دجنبر"),
]
# The two-word names are split on purpose: "تشرين الأول" is one name.
_TWO_WORDS = ("كانون", "تشرين")


def _names(spelled: str) -> list[str]:
    words, names = spelled.split(), []
    while words:
        word = words.pop(0)
        names.append(f"{word} {words.pop(0)}" if word in _TWO_WORDS else word)
    return names


@pytest.mark.parametrize(
    ("month", "name"), [(m, n) for m, spelled in MONTHS for n in _names(spelled)], ids=lambda v: str(v)
)
def test_every_month_name(month: int, name: str) -> None:
    assert parse_date(f"15 {name} 2024") == datetime(2024, month, 15, tzinfo=UTC).timestamp()


@given(st.text(max_size=80))
def test_parse_date_never_raises(text: str) -> None:
    result = parse_date(text)
    assert result is None or isinstance(result, float)


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=UTC)
    )
)
def test_iso_and_rfc822_round_trip(moment: datetime) -> None:
    assert parse_date(moment.isoformat()) == moment.timestamp()
    assert parse_date(moment.strftime("%a, %d %b %Y %H:%M:%S GMT")) == moment.timestamp()
