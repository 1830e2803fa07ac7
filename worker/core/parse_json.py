"""JSON Feed 1.1 (and 1.0) -> ParsedFeed. https://www.jsonfeed.org/version/1.1/

A JSON Feed is an object with ``version`` (a jsonfeed.org URL), ``title``, optional
``language`` (1.1) and ``items``; each item has ``id`` and optionally ``url``, ``title``,
``content_html`` / ``content_text``, ``summary``, ``date_published`` / ``date_modified``
(RFC 3339) and ``language`` (1.1). Fields of the wrong type are ignored rather than trusted (a
number where a string belongs is common in hand-made feeds; ``id`` may be a number in 1.0).
An item is kept when it has an address: its ``url`` (relative ones joined with the feed's URL),
else an ``id`` that is an absolute http(s) URL (as in Atom).
"""

from __future__ import annotations

import json
from typing import Any

from worker.core.dates import parse_date
from worker.core.parse_rss import link_of
from worker.errors import FeedParseError
from worker.models import Entry, ParsedFeed

VERSION_PREFIX = "jsonfeed.org/version/"


def load_json(body: bytes) -> Any:
    """The JSON value of ``body``; FeedParseError when it is not JSON, or is nested past what
    the decoder can hold (a hostile ``[[[[…`` runs into the recursion limit, cleanly)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError; so are 5,000-digit ints
        raise FeedParseError(f"not a feed: invalid JSON: {str(e)[:200]}") from e


def is_json_feed(value: object) -> bool:
    """An object whose ``version`` names a JSON Feed version."""
    return isinstance(value, dict) and VERSION_PREFIX in str(value.get("version", ""))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _id(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value)


def _content(item: dict[str, Any]) -> tuple[str, bool]:
    """The richest body: HTML content, then plain-text content, then the summary (plain text)."""
    if html := _text(item.get("content_html")):
        return html, True
    return _text(item.get("content_text")) or _text(item.get("summary")), False


def _published(item: dict[str, Any]) -> float | None:
    for key in ("date_published", "date_modified"):
        if (stamp := parse_date(_text(item.get(key)))) is not None:
            return stamp
    return None


def _entry(item: object, base_url: str) -> Entry | None:
    if not isinstance(item, dict):
        return None
    guid = _id(item.get("id"))
    url = link_of(_text(item.get("url")), base_url)
    if url is None and guid and guid.startswith(("http://", "https://")):
        url = guid  # an id is an address only when absolute: "123" is no page of the feed's site
    if url is None:
        return None
    content, is_html = _content(item)
    language = _text(item.get("language")) or None
    return Entry(url, _text(item.get("title")), content, is_html, _published(item), guid, language)


def parse_json_feed(value: object, base_url: str) -> ParsedFeed:
    """A decoded JSON Feed (see ``load_json``). Raises FeedParseError when it is not one."""
    if not isinstance(value, dict) or not isinstance(value.get("items", []), list):
        raise FeedParseError("not a feed: JSON, but not a JSON Feed (an object with an items list)")
    entries = [e for item in value.get("items", []) if (e := _entry(item, base_url)) is not None]
    return ParsedFeed(tuple(entries), _text(value.get("language")) or None, _text(value.get("title")) or None)
