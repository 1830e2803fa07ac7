"""Reading the alert stream: through a consumer group (``marsad tail --group``), or by time
(``marsad replay``). Issue 7; the contract is docs/alerts.md.

A consumer group remembers, per group, the last entry it delivered and, per consumer, the
entries delivered but not yet acknowledged (the pending entries list, PEL). ``GroupReader``
reads in this order, so that nothing delivered is lost and nothing is skipped:

1. this consumer's own pending entries (``XREADGROUP ... 0``): what it read before a crash and
   never acknowledged;
2. entries pending for *other* consumers for at least ``claim_idle`` (``XAUTOCLAIM``): a
   consumer that died between read and ack; the claim moves them to this consumer;
3. new entries (``XREADGROUP ... >``), blocking.

Each entry is acknowledged (``XACK``) by the caller after it handled it: at-least-once delivery;
the alert id lets the reader drop a repeat. The group is created at ``$`` (only alerts published
from now on: a new integration does not replay the whole retention on its first start) unless
``from_start`` (``0``: everything still retained).

Retention trims the stream by time whatever the groups have read. ``trimmed_unread`` tells how
many entries were trimmed before this group read them (Redis 7's ``entries-added``,
``entries-read`` and ``max-deleted-entry-id``), so the reader can say so instead of silently
missing them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from worker.adapters.redisconn import redis_errors

BATCH = 100

# Create the group with its entries-read counter set, so that Redis can always count what it
# read (else unknown for a group made on an empty stream): at "$", everything added so far; at
# "0", what was already trimmed before the group existed (not this group's loss). One script:
# nothing can be added between reading the counters and creating the group.
# KEYS: 1 the stream. ARGV: 1 group, 2 "$" or "0". Returns 1 when created, 0 when it existed.
_CREATE = """#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    for i = 1, #g, 2 do
      if g[i] == 'name' and g[i + 1] == ARGV[1] then return 0 end
    end
  end
end
local added, length = 0, 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1] end
    if info[i] == 'length' then length = info[i + 1] end
  end
end
local read = added
if ARGV[2] == '0' then read = added - length end
redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM', 'ENTRIESREAD', read)
return 1
"""


@dataclass(frozen=True)
class Entry:
    id: str  # the stream entry id, "<ms>-<seq>"
    fields: dict[str, str]


def _entries(raw: Any) -> list[Entry]:
    # Entries deleted while pending come back as (id, None): nothing left to deliver.
    return [Entry(str(i), dict(f)) for i, f in raw or [] if f is not None]


def id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class GroupReader:
    def __init__(
        self, client: redis.Redis, stream: str, group: str, consumer: str, claim_idle: float, from_start: bool = False
    ) -> None:
        self.r = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = int(claim_idle * 1000)
        self.from_start = from_start
        self._create = client.register_script(_CREATE)

    def ensure_group(self) -> bool:
        """Create the group (and the stream, if none yet); False when it already existed."""
        with redis_errors():
            return bool(self._create(keys=[self.stream], args=[self.group, "0" if self.from_start else "$"]))

    def own_pending(self) -> list[Entry]:
        """Entries delivered to this consumer and never acknowledged (a crash between read and
        ack), oldest first."""
        out: list[Entry] = []
        start = "0"
        with redis_errors():
            while True:
                reply: Any = self.r.xreadgroup(self.group, self.consumer, {self.stream: start}, count=BATCH)
                batch = _entries(reply[0][1]) if reply else []
                if not batch:
                    return out
                out += batch
                start = batch[-1].id

    def claim(self) -> Iterator[Entry]:
        """Entries pending for other consumers at least ``claim_idle``, now this consumer's."""
        cursor = "0-0"
        while True:
            with redis_errors():
                reply = self.r.xautoclaim(
                    self.stream, self.group, self.consumer, self.claim_idle_ms, start_id=cursor, count=BATCH
                )
            cursor = str(reply[0])
            yield from _entries(reply[1])
            if cursor == "0-0":
                return

    def read_new(self, block_ms: int) -> list[Entry]:
        with redis_errors():
            reply: Any = self.r.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=BATCH, block=block_ms)
        return _entries(reply[0][1]) if reply else []

    def ack(self, entry: Entry) -> None:
        with redis_errors():
            self.r.xack(self.stream, self.group, entry.id)

    def trimmed_unread(self) -> int:
        """How many entries were trimmed before this group read them. Retention trims from the
        head: when the oldest entry left is newer than the group's last-delivered id, whatever
        was added after that id and is gone was never delivered. Their number is what was added
        minus what the group read (Redis counts both) minus what is left."""
        with redis_errors():
            info = self.r.xinfo_stream(self.stream)
            groups = {str(g["name"]): g for g in self.r.xinfo_groups(self.stream)}
        group = groups.get(self.group)
        if group is None:
            return 0
        last = str(group["last-delivered-id"])
        first = info.get("first-entry")
        if first is not None and _id_key(str(first[0])) <= _id_key(last):
            return 0  # everything trimmed was older than what the group had read
        read = group.get("entries-read")
        if read is None:  # unknown only before the group read anything (see _CREATE)
            read = 0 if last == "0-0" else int(info["entries-added"]) - int(info["length"])
        return max(0, int(info["entries-added"]) - int(read) - int(info["length"]))


def since_id(ms: int) -> str:
    """The first stream id at or after ``ms`` (Unix milliseconds)."""
    return f"{max(ms, 0)}-0"


def read_range(client: redis.Redis, stream: str, start: str, end: str = "+") -> Iterator[Entry]:
    """Every entry from ``start`` (inclusive) to ``end``, in batches."""
    while True:
        with redis_errors():
            batch = _entries(client.xrange(stream, start, end, count=BATCH))
        yield from batch
        if len(batch) < BATCH:
            return
        start = "(" + batch[-1].id
