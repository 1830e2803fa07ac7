"""The page's two languages: UI strings, direction, and dates in the newsroom's time zone.

Arabic is the default; ``?lang=en`` switches. Times are formatted here with Babel (CLDR) in
``MARSAD_TIMEZONE`` (zoneinfo), so the browser's own clock and locale do not matter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

LANGS = ("ar", "en")

STRINGS: dict[str, dict[str, str]] = {
    "ar": {
        "title": "مرصد · التنبيهات المباشرة",
        "brand": "مرصد",
        "switch": "English",
        "alerts": "التنبيهات",
        "waiting": "بانتظار التنبيهات…",
        "live": "مباشر",
        "offline": "انقطع الاتصال، تجري إعادة المحاولة…",
        "counts": "التنبيهات حسب القاعدة (آخر ٢٤ ساعة)",
        "rule": "القاعدة",
        "count": "العدد",
        "none": "لا شيء بعد",
        "chart": "التنبيهات في الساعة (آخر ٢٤ ساعة)",
        "feeds": "حالة المصادر",
        "feed": "المصدر",
        "health": "الحالة",
        "status": "آخر نتيجة",
        "failures": "الإخفاقات",
        "polled": "آخر جلب",
        "source": "المصدر",
        "timezone": "المنطقة الزمنية",
        "interval": "الفاصل",
        "more": "و{n} مصدرًا آخر",
        "active": "نشط",
        "backing_off": "متراجع",
        "disabled": "معطَّل",
        "gone": "أُزيل",
        "max": "الأقصى",
    },
    "en": {
        "title": "marsad · live alerts",
        "brand": "marsad",
        "switch": "العربية",
        "alerts": "Alerts",
        "waiting": "Waiting for alerts…",
        "live": "live",
        "offline": "Connection lost, retrying…",
        "counts": "Alerts by rule (last 24 h)",
        "rule": "Rule",
        "count": "Count",
        "none": "none yet",
        "chart": "Alerts per hour (last 24 h)",
        "feeds": "Feed health",
        "feed": "Feed",
        "health": "Health",
        "status": "Outcome",
        "failures": "Failures",
        "polled": "Polled",
        "source": "Source",
        "timezone": "Time zone",
        "interval": "Interval",
        "more": "and {n} more",
        "active": "active",
        "backing_off": "backing off",
        "disabled": "disabled",
        "gone": "gone",
        "max": "max",
    },
}


def lang_of(value: str | None) -> str:
    return value if value in LANGS else "ar"


def direction(lang: str) -> str:
    return "rtl" if lang == "ar" else "ltr"


def t(lang: str, key: str) -> str:
    return STRINGS[lang].get(key, key)


def when(ts: float, lang: str, tz: ZoneInfo) -> str:
    """An alert's time: day, month and 24-hour time in the newsroom's zone (``29 نوفمبر 14:05``)."""
    dt = datetime.fromtimestamp(ts, UTC)
    return f"{format_skeleton('MMMd', dt, tzinfo=tz, locale=lang)} {format_skeleton('Hm', dt, tzinfo=tz, locale=lang)}"


def hour_label(ts: float, lang: str, tz: ZoneInfo) -> str:
    return str(format_skeleton("Hm", datetime.fromtimestamp(ts, UTC), tzinfo=tz, locale=lang))
