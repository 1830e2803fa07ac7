"""Full article text: the main text, title and date of one article page, with trafilatura.

Used when a source sets ``full_text: true`` (its feed carries only a teaser) and by ``marsad
extract``. The page arrives as a decoded ``str``; nothing here fetches (trafilatura's package
imports urllib3 for its own downloader, which is why it is imported on first use, not with the
core, and why only the HTML string is ever passed to it).

Choices, measured on the real pages in tests/data/pages/:

- trafilatura's default (balanced) extraction, not ``favor_precision``: on a short article
  (Jawhara FM's two-paragraph weather report) precision mode drops the article and returns the
  sidebar's list of related headlines, which would fire rules on words the article never says.
  Balanced mode returns the article plus the site's kicker line (section and time) and the
  headline above it; both go (``_drop_heading``), so ``text`` is the body only, as in the feed.
- no comments, no tables, no images, no links; paragraphs stay one per line, whitespace folded.
- trailing reader-comment disclaimers ("الآراء الواردة أدناه لا تعبر عن رأي...") are dropped, from
  the data list ``TRAILING_BOILERPLATE``; the rest of the cleaning (markers, credits, "read also")
  is ``worker.core.clean``'s job on the returned text.
- the date comes from structured markup only (meta tags, ``<time>``, JSON-LD, the URL), not from a
  free-text search, which on CNN Arabic's page finds the copyright year ("2013-01-01"). The upper
  bound is fixed (``MAX_DATE``) so the result never depends on the wall clock; callers compare it
  with their own ``now``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from worker.core.language import detect_language

# Dates after this are rejected by htmldate (it would otherwise read the wall clock for "today").
MAX_DATE = "2099-12-31"
# Lines at the end of the text that are the site's comment policy, not the article.
TRAILING_BOILERPLATE = (
    re.compile(r"لا\s+تعبر\s+(?:بالضرورة\s+)?عن\s+(?:رأي|وجهة\s+نظر)"),
    re.compile(r"(?:مراجعة|نشر|قواعد)\s+التعليقات|التعليقات\s+(?:المنشورة|الواردة)"),
    re.compile(r"\bdo(?:es)?\s+not\s+(?:necessarily\s+)?reflect\s+the\s+(?:views?|opinions?)\b", re.IGNORECASE),
)
# The headline, when repeated in the body, is looked for in this many first lines (after a kicker).
_HEADING_WINDOW = 3
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Page:
    """What one article page says: ``text`` is the body only (one paragraph per line)."""

    title: str
    text: str
    published: str | None  # ISO date ("2024-01-18") from the page's markup, or None
    language: str | None  # ISO 639-1, detected from the text (the page's <html lang> as a hint)
    canonical: str | None = None  # the page's <link rel="canonical"> (or og:url), as written


def _bare(html: str, url: str | None) -> tuple[Any, str | None]:
    """trafilatura's document for ``html`` (or None) and the page's ``<html lang>``."""
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return None, None
    root = tree.getroottree().getroot()
    lang = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        with_metadata=True,
        date_extraction_params={"original_date": True, "extensive_search": False, "max_date": MAX_DATE},
    )
    return document, lang


def _key(line: str) -> str:
    """A line compared with the title: letters and digits only (titles lose their quotes)."""
    return _NON_WORD.sub("", line).casefold()


def _drop_heading(lines: list[str], title: str) -> tuple[list[str], str]:
    """Drop the headline (and the kicker above it) from the top of the body.

    Returns the remaining lines and the title as the page displays it (the headline keeps the
    quotation marks that the ``<title>`` element often loses).
    """
    key = _key(title)
    if key:
        for i, line in enumerate(lines[:_HEADING_WINDOW]):
            if _key(line) == key:
                return lines[i + 1 :], line
    return lines, title


def extract_page(html: str, url: str | None = None) -> Page | None:
    """The article in an HTML page, or None when no main text is found. ``url`` is metadata only."""
    document, lang = _bare(html, url)
    if document is None:
        return None
    lines = [_SPACES.sub(" ", line).strip() for line in (document.text or "").splitlines()]
    lines = [line for line in lines if line]
    lines, title = _drop_heading(lines, _SPACES.sub(" ", document.title or "").strip())
    while lines and any(p.search(lines[-1]) for p in TRAILING_BOILERPLATE):
        lines.pop()
    if not lines:
        return None
    text = "\n".join(lines)
    published = document.date or None
    language = detect_language(text, configured=lang)
    return Page(title=title, text=text, published=published, language=language, canonical=document.url or None)
