"""The dead-letter stream ``<p>dead``: work that failed processing too many times (issue 7).

Two kinds of work are counted: an **article** whose processing (story, match, publish) raised,
and a **poll** of a feed whose processing raised (a bug, or the task's time limit: the feed's
``feed.error``). Each failure increments a counter (``<p>{<p>dead}:fails:<kind>:<id>``, kept a
day); the failure that reaches ``MARSAD_DEAD_AFTER`` appends the work to ``<p>dead`` with the
error, and resets the counter, in one script (both keys in the dead slot group). Until then the
work is simply retried: an article that failed is not marked seen, so the next poll of its feed
processes it again, while the feed's other articles go on; a feed comes back at its next due
time. Once dead-lettered, an article is marked seen (it is kept here, not lost) and stops
blocking anything.

A failure of our own Redis (``InfrastructureError``) is not counted: the task retries, and there
would be nowhere to write the letter.

Entry fields: ``kind`` (``article`` | ``poll``), ``item`` (the article or feed id), ``feed``,
``error``, ``attempts``, ``at`` (UTC), ``payload`` (JSON: the Article for an article, the feed id
for a poll) — what ``marsad dead requeue`` sends back to the workers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors

COUNT_TTL = 86400  # failures are counted over a day: sporadic ones do not add up forever
MAXLEN = 10_000  # dead letters are rare; this keeps the stream bounded if something goes very wrong

# KEYS: 1 the dead stream, 2 the failure counter. ARGV: 1 counter TTL, 2 limit, 3 MAXLEN, then
# the entry's field/value pairs (without attempts). Returns the new entry id, or the count so far.
_FAILED = """#!lua
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
if n < tonumber(ARGV[2]) then return n end
redis.call('DEL', KEYS[2])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'attempts', n, unpack(ARGV, 4))
"""


@dataclass(frozen=True)
class DeadLetter:
    id: str  # the stream entry id
    kind: str
    item: str
    feed: str
    error: str
    attempts: int
    at: str
    payload: str

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "item": self.item,
            "feed": self.feed,
            "error": self.error,
            "attempts": self.attempts,
            "at": self.at,
        }
        try:
            out["payload"] = json.loads(self.payload)
        except json.JSONDecodeError:
            out["payload"] = self.payload
        return out


def _letter(entry_id: str, fields: dict[str, str]) -> DeadLetter:
    return DeadLetter(
        entry_id,
        fields.get("kind", ""),
        fields.get("item", ""),
        fields.get("feed", ""),
        fields.get("error", ""),
        int(fields.get("attempts", 0)),
        fields.get("at", ""),
        fields.get("payload", ""),
    )


class DeadLetters:
    def __init__(self, client: redis.Redis, keys: Keys, after: int) -> None:
        self.r = client
        self.k = keys
        self.after = after
        self._failed = client.register_script(_FAILED)

    def failed(self, kind: str, item: str, feed: str, error: str, payload: str) -> str | None:
        """Count one failure of a piece of work; the id of its dead letter when this failure
        made it one (the caller then stops retrying it), else None."""
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        fields = ["kind", kind, "item", item, "feed", feed, "error", error[:2000], "at", at, "payload", payload]
        with redis_errors():
            reply = self._failed(
                keys=[self.k.dead, self.k.failures(kind, item)], args=[COUNT_TTL, self.after, MAXLEN, *fields]
            )
        return reply if isinstance(reply, str) else None

    def list(self, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead letters."""
        with redis_errors():
            entries: Any = self.r.xrange(self.k.dead, count=count)
        return [_letter(str(i), dict(f)) for i, f in entries]

    def get(self, entry_id: str) -> DeadLetter | None:
        with redis_errors():
            try:
                entries: Any = self.r.xrange(self.k.dead, entry_id, entry_id)
            except redis.ResponseError:
                return None  # not a stream id at all
        return _letter(str(entries[0][0]), dict(entries[0][1])) if entries else None

    def remove(self, entry_id: str) -> None:
        with redis_errors():
            self.r.xdel(self.k.dead, entry_id)
