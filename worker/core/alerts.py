"""Alert ids and payloads (schema 1, documented in README "The alert").

The alert id is the hex SHA-1 of ``"<rule id>\\n<story id>"``: deterministic, so a retried task,
a message delivered twice or the same story under another URL all build the same id, and the
publisher's SET NX turns the second publish into nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from worker.models import Alert, Article, Hit, RuleMatch

SCHEMA = 1
SNIPPET_CHARS = 200


def alert_id(rule_id: str, story_id: str) -> str:
    return hashlib.sha1(f"{rule_id}\n{story_id}".encode()).hexdigest()


def iso_utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


_SENTENCE_END = re.compile(r"[.!?؟۔\n]")


@dataclass(frozen=True)
class Snippet:
    """Display text around a match, and the matched spans inside it (offsets in ``text``)."""

    text: str
    marks: tuple[tuple[int, int], ...]


def _window(text: str, hit: Hit | None, width: int) -> tuple[int, int]:
    """The sentence holding the hit when it is short enough, else ~``width`` characters around
    the hit, cut on word boundaries."""
    if len(text) <= width:
        return 0, len(text)
    if hit is not None:
        before = [m.end() for m in _SENTENCE_END.finditer(text, 0, hit.start)]
        after = _SENTENCE_END.search(text, hit.end)
        start, end = (before[-1] if before else 0), (after.end() if after else len(text))
        if end - start <= width + width // 5:
            return start, end
    center = (hit.start + hit.end) // 2 if hit else 0
    start = max(0, min(center - width // 2, len(text) - width))
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start, hit.start if hit else end)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", hit.end if hit else start, end)
        end = space if space != -1 else end
    return start, end


def make_snippet(text: str, hits: Sequence[Hit], width: int = SNIPPET_CHARS) -> Snippet:
    """A snippet around the first hit, with every hit that falls inside it marked."""
    start, end = _window(text, hits[0] if hits else None, width)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    lead = "…" if start > 0 and text[start - 1] not in ".!?؟۔\n" else ""
    tail = "…" if end < len(text) and text[end - 1] not in ".!?؟۔" else ""
    shift = len(lead) - start
    marks = tuple((h.start + shift, h.end + shift) for h in hits if start <= h.start and h.end <= end)
    return Snippet(lead + text[start:end] + tail, marks)


def snippet(text: str, hit: Hit | None, width: int = SNIPPET_CHARS) -> str:
    return make_snippet(text, [hit] if hit else [], width).text


@dataclass(frozen=True)
class Seen:
    """What an alert reports beside the match: when the article was fetched and matched (Unix
    seconds) and how many sources carried its story."""

    fetched: float
    matched: float
    sources: int = 1


def article_object(article: Article, first_seen: float | None = None) -> dict[str, object]:
    """The ``article`` object of alerts and of story.updated events (one shape for both;
    schemas/alert.v1.json). ``first_seen``: the fetch that found this version of the article."""
    return {
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url or article.url,
        "title": article.title,
        "source": article.source,
        "language": article.language,
        "published": iso_utc(article.published),
        "date_missing": article.date_missing,
        "first_seen": iso_utc(article.published if first_seen is None else first_seen),
    }


def article_json(article: Article, first_seen: float | None = None) -> str:
    return json.dumps(article_object(article, first_seen), ensure_ascii=False, separators=(",", ":"))


def term_kind(term: str) -> str:
    """What a query term is: ``entity`` (entity:ID), ``prefix`` (word*), ``phrase`` or ``word``."""
    if term.startswith("entity:"):
        return "entity"
    if term.endswith("*"):
        return "prefix"
    return "phrase" if " " in term else "word"


def _ms(ts: float) -> int:
    # Truncated, as Redis stamps stream ids: "matched" never reads later than the stream id.
    return math.floor(ts * 1000)


def build_alert(
    article: Article, story_id: str, match: RuleMatch, rule_version: int = 0, seen: Seen | None = None
) -> Alert:
    """The alert of one rule's match on an article (schema 1: schemas/alert.v1.json). Without
    ``seen`` (tests, backtests), the article's published time stands for fetched and matched."""
    seen = seen or Seen(article.published, article.published)
    in_text = [h for h in match.hits if h.field == "text"]
    if in_text or not article.title:
        snip = make_snippet(article.text, in_text)
    else:
        snip = make_snippet(article.title, [h for h in match.hits if h.field == "title"])
    aid = alert_id(match.rule, story_id)
    payload = {
        "schema": SCHEMA,
        "id": aid,
        "rule": match.rule,
        "rule_version": rule_version,
        "story": story_id,
        "story_sources": seen.sources,
        "matched": [
            {
                "term": h.term,
                "kind": term_kind(h.term),
                "surface": h.surface,
                "field": h.field,
                "start": h.start,
                "end": h.end,
            }
            for h in match.hits
        ],
        "snippet": snip.text,
        "snippet_marks": [list(m) for m in snip.marks],
        "article": article_object(article, seen.fetched),
        # Unix milliseconds; the last step, on the stream, is the stream entry id's time.
        "timings": {"published": _ms(article.published), "fetched": _ms(seen.fetched), "matched": _ms(seen.matched)},
    }
    return Alert(aid, match.rule, story_id, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def with_stream_id(payload: str, entry_id: str) -> str:
    """The alert as it is delivered: its JSON with ``"stream_id"``, the id of its stream entry,
    added last (the publish script does the same for channel messages; docs/alerts.md)."""
    return f'{payload[:-1]},"stream_id":"{entry_id}"}}'
