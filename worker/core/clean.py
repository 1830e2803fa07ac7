"""Display text: HTML to clean text with paragraphs, and scraper artifacts removed.

The cleaned text is what alerts quote and what their offsets count in, so everything that is not
the article (markers, repeated titles and captions, "read also" blocks, share lines, credits)
goes here, before matching. The patterns are data, in worker/data/boilerplate.yaml; each is
tested on a real-looking sample in tests/test_clean.py. NFKC makes presentation forms (ﻹ, ﺇﻳﺮﺍﻥ)
ordinary letters, so the display text is NFKC-normalised (normalize.py relies on it). HTML goes
through a real parser (selectolax's lexbor engine: fast, HTML5 correct, and entity decoding for
free), never through regexes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml
from selectolax.lexbor import LexborHTMLParser

from worker.core.normalize import fold_words

# Elements whose content is never article text.
_DROP_TAGS = "script, style, noscript, template, figure, figcaption, iframe, svg, form, button, nav, aside"
# Elements that end a paragraph: a line break is inserted before each.
_BLOCK_TAGS = (
    "p, div, br, li, ul, ol, h1, h2, h3, h4, h5, h6, blockquote, pre, table, tr, section, article, header, footer"
)
# Control characters, and invisible characters that carry no meaning in display text: zero-width
# space, word joiner, BOM, soft hyphen, bidi marks/embeddings/isolates. ZWNJ and ZWJ stay: they
# shape Persian words (می‌خواهم) and emoji.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACES = re.compile(r"[^\S\n]+")


@dataclass(frozen=True)
class Boilerplate:
    """The patterns of worker/data/boilerplate.yaml, compiled."""

    marker_line: re.Pattern[str]
    inline_marker: re.Pattern[str]
    read_also: re.Pattern[str]
    share: re.Pattern[str]
    max_share_chars: int
    trailing_credit: re.Pattern[str]
    caption_extra_words: int

    @classmethod
    def from_yaml(cls, text: str) -> Boilerplate:
        data = yaml.safe_load(text)

        def whole(key: str) -> re.Pattern[str]:
            return re.compile("^(?:" + "|".join(f"(?:{p})" for p in data[key]) + r")\s*[:：]?\s*$", re.I)

        def prefix(key: str) -> re.Pattern[str]:
            return re.compile("^(?:" + "|".join(f"(?:{p})" for p in data[key]) + r")\s*[:：]?\s*(.*)$", re.I)

        return cls(
            marker_line=whole("marker_lines"),
            inline_marker=re.compile("|".join(data["inline_markers"]), re.I),
            read_also=prefix("read_also"),
            share=prefix("share"),
            max_share_chars=int(data["max_share_chars"]),
            trailing_credit=whole("trailing_credits"),
            caption_extra_words=int(data["caption_extra_words"]),
        )


@lru_cache(maxsize=1)
def boilerplate() -> Boilerplate:
    """Package data shipped with the code (not user I/O), read once."""
    return Boilerplate.from_yaml(resources.files("worker.data").joinpath("boilerplate.yaml").read_text("utf-8"))


def html_to_text(html: str) -> str:
    """Text of an HTML fragment, one paragraph per line, entities decoded."""
    tree = LexborHTMLParser(html)
    for node in tree.css(_DROP_TAGS):
        node.decompose()
    for node in tree.css(_BLOCK_TAGS):
        node.insert_before("\n")
    root = tree.body or tree.root
    return root.text(deep=True, separator="") if root is not None else ""


# Compatibility spaces (NBSP and friends) are the usual reason a text is not NFKC-normalised;
# they become plain spaces first so that the full NFKC pass is needed only for real compatibility
# characters such as presentation forms.
_COMPAT_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000]")


def _lines(text: str) -> list[str]:
    bp = boilerplate()
    text = _COMPAT_SPACES.sub(" ", text)
    if not unicodedata.is_normalized("NFKC", text):  # the check is ~10x cheaper than the work
        text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACES.sub(" ", bp.inline_marker.sub(" ", text))
    lines = (line.strip() for line in text.split("\n"))
    return [ln for ln in lines if ln and not bp.marker_line.match(ln)]


def clean_title(title: str) -> str:
    return " ".join(_lines(html_to_text(title) if "<" in title else title))


def _is_caption(line: str, title: tuple[str, ...], title_chars: int, extra: int) -> bool:
    """The title's words, in order, plus at most ``extra`` other words (a photo caption)."""
    n = len(title)
    if not n or len(line) > title_chars + 16 * extra:
        return False  # longer than the title and ``extra`` long words: a paragraph, not folded
    words = fold_words(line)
    if len(words) < n or len(words) > n + extra:
        return False
    return any(words[i : i + n] == title for i in range(len(words) - n + 1))


def _drop_boilerplate(lines: list[str], title: str, bp: Boilerplate) -> list[str]:
    title_words = fold_words(title)
    out: list[str] = []
    skip_next = False
    for line in lines:
        if skip_next:  # the headline after a bare "اقرأ أيضاً:"
            skip_next = False
            continue
        if m := bp.read_also.match(line):
            skip_next = not m.group(1)
            continue
        if len(line) <= bp.max_share_chars and bp.share.match(line):
            continue
        if title_words and _is_caption(line, title_words, len(title), bp.caption_extra_words):
            continue  # the title repeated (first line) or a caption repeating it
        out.append(line)
    return out


def clean_text(content: str, *, is_html: bool, title: str = "") -> str:
    """The display text of an entry's body: paragraphs separated by a newline, boilerplate gone."""
    bp = boilerplate()
    lines = _drop_boilerplate(_lines(html_to_text(content) if is_html else content), title, bp)
    while lines and bp.trailing_credit.match(lines[-1]):
        lines.pop()
    return "\n".join(lines)
