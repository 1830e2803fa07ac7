"""The page's summary: alerts per rule over the last 24 h, alerts per hour as an inline SVG
chart, and the feed health table, rendered as HTML fragments (escaped here, once).

The counts come from the per-hour hashes every worker increments when it publishes
(``<p>metrics:hour:<hour>``, adapters/metrics.py): 24 hourly buckets, the current hour and the
23 before it, read in one round trip. "Last 24 h" therefore means those whole UTC hours, not a
sliding window to the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

import redis

from worker.adapters.keys import Keys
from worker.adapters.metrics import hour_of
from worker.models import FeedHealth
from worker.web.i18n import direction, hour_label, t, when

HOURS = 24
MAX_FEED_ROWS = 50


@dataclass(frozen=True)
class HourCounts:
    hour: int  # Unix hour number (hour start = hour * 3600)
    by_rule: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_rule.values())


def read_hours(client: redis.Redis, keys: Keys, now: float) -> list[HourCounts]:
    """The last 24 hourly buckets, oldest first."""
    hours = [hour_of(now) - i for i in range(HOURS - 1, -1, -1)]
    pipe = client.pipeline(transaction=False)
    for h in hours:
        pipe.hgetall(keys.metrics_hour(h))
    return [
        HourCounts(h, {str(k): int(v) for k, v in raw.items()}) for h, raw in zip(hours, pipe.execute(), strict=True)
    ]


def rule_totals(hours: list[HourCounts]) -> list[tuple[str, int]]:
    """Per-rule totals, most alerts first (ties by rule id)."""
    totals: dict[str, int] = {}
    for h in hours:
        for rule, n in h.by_rule.items():
            totals[rule] = totals.get(rule, 0) + n
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def counts_html(hours: list[HourCounts], lang: str) -> str:
    rows = rule_totals(hours)
    if not rows:
        return f'<p class="empty">{escape(t(lang, "none"))}</p>'
    body = "".join(
        f'<tr><td dir="auto" class="rule">{escape(rule)}</td><td class="num">{n}</td></tr>' for rule, n in rows
    )
    return (
        f'<table class="counts"><thead><tr><th>{escape(t(lang, "rule"))}</th>'
        f'<th class="num">{escape(t(lang, "count"))}</th></tr></thead><tbody>{body}</tbody></table>'
    )


def chart_svg(hours: list[HourCounts], lang: str, tz: ZoneInfo) -> str:
    """Bars of alerts per hour. In Arabic the time axis runs right to left (newest hour on the
    left), as an RTL reader scans; in English left to right."""
    width, height, top, bottom, side = 480, 140, 16, 22, 18
    n = len(hours)
    slot = (width - 2 * side) / max(n, 1)
    peak = max((h.total for h in hours), default=0) or 1
    rtl = direction(lang) == "rtl"
    parts = [
        # direction="ltr": coordinates and text anchors mean the same on both pages (an RTL
        # context would flip what text-anchor "end" means); the bars are placed for RTL above.
        f'<svg class="chart" viewBox="0 0 {width} {height}" direction="ltr" role="img" '
        f'aria-label="{escape(t(lang, "chart"))}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{side}" y1="{height - bottom}" x2="{width - side}" y2="{height - bottom}" class="axis"/>',
    ]
    for i, h in enumerate(hours):
        x = side + ((n - 1 - i) if rtl else i) * slot
        bar = (height - top - bottom) * h.total / peak
        label = hour_label(h.hour * 3600, lang, tz)
        parts.append(
            f'<rect x="{x + 1.5:.1f}" y="{height - bottom - bar:.1f}" width="{slot - 3:.1f}" '
            f'height="{bar:.1f}" class="bar"><title>{escape(label)}: {h.total}</title></rect>'
        )
        if i % 6 == 5 or i == n - 1:
            at = f'x="{x + slot / 2:.1f}" y="{height - 6}"'
            parts.append(f'<text {at} text-anchor="middle" class="tick">{escape(label)}</text>')
    anchor, x0 = ("end", width - side) if rtl else ("start", side)
    parts.append(f'<text x="{x0}" y="11" class="peak" text-anchor="{anchor}">{escape(t(lang, "max"))}: {peak}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.0f}s"


def health_html(rows: list[FeedHealth], lang: str, tz: ZoneInfo) -> str:
    if not rows:
        return f'<p class="empty">{escape(t(lang, "none"))}</p>'
    numeric = ("failures", "interval")
    head = "".join(
        ('<th class="num">' if k in numeric else "<th>") + f"{escape(t(lang, k))}</th>"
        for k in ("feed", "health", "status", "failures", "interval", "polled")
    )
    # Trouble first (gone, disabled, backing off), then the active feeds; a long list is cut at
    # MAX_FEED_ROWS with a count of the rest (all of them are in /metrics and `marsad status`).
    rank = {"gone": 0, "disabled": 1, "backing_off": 2}
    ordered = sorted(rows, key=lambda r: (rank.get(r.state, 3), r.id))
    body = []
    for r in ordered[:MAX_FEED_ROWS]:
        polled = hour_label(r.last_polled, lang, tz) if r.last_polled else "—"
        full = f' title="{escape(when(r.last_polled, lang, tz))}"' if r.last_polled else ""
        title = f' title="{escape(r.last_error)}"' if r.last_error else ""
        body.append(
            f'<tr class="h-{escape(r.state)}"><td dir="auto">{escape(r.id)}</td>'
            f'<td><span class="badge {escape(r.state)}">{escape(t(lang, r.state))}</span></td>'
            f'<td dir="ltr"{title}>{escape(r.last_status or "—")}</td><td class="num">{r.failures}</td>'
            f'<td class="num" dir="ltr">{_duration(r.interval)}</td><td{full}>{escape(polled)}</td></tr>'
        )
    if len(ordered) > MAX_FEED_ROWS:
        more = t(lang, "more").format(n=len(ordered) - MAX_FEED_ROWS)
        body.append(f'<tr class="more"><td colspan="6">{escape(more)}</td></tr>')
    return f'<table class="feeds"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
