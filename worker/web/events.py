"""Alerts as Server-Sent Events, read from the alert stream.

Each SSE event's ``id`` is the stream entry id, so a browser that reconnects sends it back as
``Last-Event-ID`` and resumes exactly after the last alert it showed: no gap, no repeat. A
fresh connection (a page load) first gets the newest ``BACKLOG`` alerts, oldest first, then
everything after them, so a reload shows the same list plus what arrived meanwhile.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from worker.adapters.keys import Keys
from worker.logs import event
from worker.web.i18n import when

BACKLOG = 50
BLOCK_MS = 15_000  # a keep-alive comment at least this often: proxies and browsers see life
BATCH = 200
RETRY_MS = 2_000
_ENTRY_ID = re.compile(r"^\d+-\d+$")


def valid_id(value: str | None) -> str | None:
    """A stream entry id from a client (``Last-Event-ID``), or None when it is not one."""
    return value if value and _ENTRY_ID.match(value) else None


def alert_event(entry_id: str, fields: dict[str, str], lang: str, tz: ZoneInfo) -> str | None:
    """One SSE event: ``{"alert": <the alert>, "time": <published, in the newsroom's zone>}``;
    the stream entry id's milliseconds are the time the alert was published."""
    raw = fields.get("alert")
    if raw is None:
        return None
    try:
        alert = json.loads(raw)
    except ValueError:
        return None
    ms = int(entry_id.split("-", 1)[0])
    data = json.dumps({"alert": alert, "time": when(ms / 1000, lang, tz), "ts": ms}, ensure_ascii=False)
    return f"id: {entry_id}\nevent: alert\ndata: {data}\n\n"


def _entries(raw: Any) -> list[tuple[str, dict[str, str]]]:
    """redis-py's (id, fields) entry pairs, typed (the client decodes: all text)."""
    return [(str(entry_id), {str(k): str(v) for k, v in (fields or {}).items()}) for entry_id, fields in raw or []]


async def alert_events(
    client: aioredis.Redis, keys: Keys, last_id: str | None, lang: str, tz: ZoneInfo
) -> AsyncIterator[str]:
    """The event stream of one connection. If Redis fails, the stream ends: the browser
    reconnects after ``RETRY_MS`` with the last id it got, so nothing is lost."""
    yield f"retry: {RETRY_MS}\n\n"
    try:
        async for chunk in _alerts(client, keys, last_id, lang, tz):
            yield chunk
    except RedisError as e:
        event("web.events_failed", logging.WARNING, error=f"{type(e).__name__}: {e}")


async def _alerts(
    client: aioredis.Redis, keys: Keys, last_id: str | None, lang: str, tz: ZoneInfo
) -> AsyncIterator[str]:
    if last_id is None:
        newest = _entries(await client.xrevrange(keys.stream, count=BACKLOG))
        for entry_id, fields in reversed(newest):
            if (ev := alert_event(entry_id, fields, lang, tz)) is not None:
                yield ev
        last_id = newest[0][0] if newest else "0-0"
    while True:
        replies: Any = await client.xread({keys.stream: last_id}, count=BATCH, block=BLOCK_MS)
        if not replies:
            yield ": keep-alive\n\n"
            continue
        for _, entries in replies:
            for entry_id, fields in _entries(entries):
                last_id = entry_id
                if (ev := alert_event(entry_id, fields, lang, tz)) is not None:
                    yield ev
