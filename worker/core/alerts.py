"""Alert ids and payloads (schema 1, documented in README "The alert").

The alert id is the hex SHA-1 of ``"<rule id>\\n<story id>"``: deterministic, so a retried task,
a message delivered twice or the same story under another URL all build the same id, and the
publisher's SET NX turns the second publish into nothing.
"""

from __future__ import annotations

import hashlib
import json
import time

from worker.models import Alert, Article, Hit, RuleMatch

SCHEMA = 1
SNIPPET_CHARS = 200


def alert_id(rule_id: str, story_id: str) -> str:
    return hashlib.sha1(f"{rule_id}\n{story_id}".encode()).hexdigest()


def iso_utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def snippet(text: str, hit: Hit | None, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around ``hit``, cut on word boundaries."""
    if len(text) <= width:
        return text
    center = (hit.start + hit.end) // 2 if hit else 0
    start = max(0, min(center - width // 2, len(text) - width))
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start, hit.start if hit else end)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", hit.end if hit else start, end)
        end = space if space != -1 else end
    out = text[start:end].strip()
    return ("…" if start > 0 else "") + out + ("…" if end < len(text) else "")


def build_alert(article: Article, story_id: str, match: RuleMatch) -> Alert:
    first_text = next((h for h in match.hits if h.field == "text"), None)
    if first_text is not None or not article.title:
        snip = snippet(article.text, first_text)
    else:
        snip = snippet(article.title, match.hits[0] if match.hits else None)
    aid = alert_id(match.rule, story_id)
    payload = {
        "schema": SCHEMA,
        "id": aid,
        "rule": match.rule,
        "story": story_id,
        "matched": [
            {"term": h.term, "surface": h.surface, "field": h.field, "start": h.start, "end": h.end} for h in match.hits
        ],
        "snippet": snip,
        "article": {
            "id": article.id,
            "url": article.url,
            "title": article.title,
            "source": article.source,
            "language": article.language,
            "published": iso_utc(article.published),
        },
    }
    return Alert(aid, match.rule, story_id, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
