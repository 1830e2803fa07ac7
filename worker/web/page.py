"""The live page: one HTML document, Arabic (RTL) or English, with its assets served locally.

The server renders the frame, the per-rule counts, the chart and the feed table; the page's
script (static/page.js) fills the alert list from the SSE stream and refreshes the summary.
Alert text is never put into HTML by string concatenation: the script builds DOM nodes with
``textContent``, and the snippet's ``<mark>`` elements from the alert's ``snippet_marks``.
"""

from __future__ import annotations

from html import escape

from worker.web.i18n import direction, t

_PAGE = """<!doctype html>
<html lang="{lang}" dir="{dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="static/page.css">
<script src="static/page.js" defer></script>
</head>
<body data-lang="{lang}">
<header>
  <h1><span class="brand">{brand}</span>
    <span id="conn" class="conn off" data-live="{live}" data-off="{offline}">…</span></h1>
  <nav><span class="tz">{tz_label}: <bdi dir="ltr">{tz}</bdi></span>
    <a id="switch" href="?lang={other}" hreflang="{other}" lang="{other}">{switch}</a></nav>
</header>
<main>
  <section class="alerts">
    <h2>{alerts_h}</h2>
    <p id="waiting" class="empty">{waiting}</p>
    <ol id="alerts" aria-live="polite"></ol>
  </section>
  <aside>
    <section><h2>{counts_h}</h2><div id="counts">{counts}</div></section>
    <section><h2>{chart_h}</h2><div id="chart">{chart}</div></section>
    <section><h2>{feeds_h}</h2><div id="feeds">{feeds}</div></section>
  </aside>
</main>
</body>
</html>
"""


def render_page(lang: str, tz: str, counts: str, chart: str, feeds: str) -> str:
    """The page; ``counts``, ``chart`` and ``feeds`` are HTML fragments already escaped."""

    def s(key: str) -> str:
        return escape(t(lang, key))

    return _PAGE.format(
        lang=lang,
        dir=direction(lang),
        other="en" if lang == "ar" else "ar",
        title=s("title"),
        brand=s("brand"),
        live=s("live"),
        offline=s("offline"),
        tz_label=s("timezone"),
        tz=escape(tz),
        switch=s("switch"),
        alerts_h=s("alerts"),
        waiting=s("waiting"),
        counts_h=s("counts"),
        chart_h=s("chart"),
        feeds_h=s("feeds"),
        counts=counts,
        chart=chart,
        feeds=feeds,
    )
