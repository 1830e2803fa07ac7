"""Display text: HTML to clean text with paragraphs, and scraper artifacts removed.

The cleaned text is what alerts quote and what their offsets count in, so everything that is not
the article (markers, repeated titles, credits) goes here, before matching. The patterns are data
(``LINE_ARTIFACTS``, ``TRAILING_CREDITS``); each is tested on a real-looking sample in
tests/test_clean.py. HTML goes through a real parser (selectolax's lexbor engine: fast, HTML5
correct, and entity decoding for free), never through regexes.
"""

from __future__ import annotations

import re
import unicodedata

from selectolax.lexbor import LexborHTMLParser

from worker.core.normalize import normalize

# Elements whose content is never article text.
_DROP_TAGS = "script, style, noscript, template, figure, figcaption, iframe, svg, form, button"
# Elements that end a paragraph: a line break is inserted before each.
_BLOCK_TAGS = (
    "p, div, br, li, ul, ol, h1, h2, h3, h4, h5, h6, blockquote, pre, table, tr, section, article, header, footer"
)
# A whole line that is a scraper marker: [ad_1], [ad_2], [ads], [/ad] ...
LINE_ARTIFACTS = (re.compile(r"^\[/?\s*ads?(?:[_ -]?\d+)?\s*\]$", re.IGNORECASE),)
# The same markers inside a line.
INLINE_ARTIFACTS = re.compile(r"\[/?\s*ad_\d+\s*\]", re.IGNORECASE)
# A trailing credit line: "المصدر", "المصدر: رويترز", "Source: AFP" (short, at the very end).
TRAILING_CREDITS = (
    re.compile(r"^(?:المصدر|المصادر|مصدر الخبر)\s*[:：]?\s*.{0,60}$"),
    re.compile(r"^source\s*:\s*.{0,60}$|^source$", re.IGNORECASE),
)
# Control characters other than tab/newline: never part of display text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[^\S\n]+")


def html_to_text(html: str) -> str:
    """Text of an HTML fragment, one paragraph per line, entities decoded."""
    tree = LexborHTMLParser(html)
    for node in tree.css(_DROP_TAGS):
        node.decompose()
    for node in tree.css(_BLOCK_TAGS):
        node.insert_before("\n")
    root = tree.body or tree.root
    return root.text(deep=True, separator="") if root is not None else ""


def _lines(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = INLINE_ARTIFACTS.sub(" ", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return [ln for ln in lines if ln and not any(p.match(ln) for p in LINE_ARTIFACTS)]


def clean_title(title: str) -> str:
    return " ".join(_lines(html_to_text(title) if "<" in title else title))


def clean_text(content: str, *, is_html: bool, title: str = "") -> str:
    """The display text of an entry's body: paragraphs separated by a newline."""
    lines = _lines(html_to_text(content) if is_html else content)
    folded_title = normalize(title)
    # The title repeated as the first line(s) of the body (aggregators paste it once or twice).
    while lines and folded_title and normalize(lines[0]) == folded_title:
        lines.pop(0)
    while lines and any(p.match(lines[-1]) for p in TRAILING_CREDITS):
        lines.pop()
    return "\n".join(lines)
