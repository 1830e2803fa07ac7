"""Feed schedule, feed state and seen sets in Redis (the story index is in stories.py).

Claims and schedule changes are atomic (a Lua script or MULTI), because two ticks, two
workers or a task delivered twice may run at the same moment. Seen marks are a plain pipeline:
a partial mark only means some work is redone, which publishing makes harmless. See
docs/architecture.md "Running twice".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors
from worker.core.schedule import current_url, enabled, state_change
from worker.models import Article, FeedHealth, FeedState, Source

# Claim the due feeds: take up to N members with score <= now and push each one's score to
# now + lease in the same script, so a concurrent tick cannot claim them again. The poll task
# sets the real next due time when it finishes; if it is lost, the lease expires and the feed
# comes back by itself.
_CLAIM = """#!lua
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id)
end
return due
"""


# Save a feed's state and its place in the due set at once (keys of the schedule's slot group:
# feed hash, due set, sources hash). ARGV: id, TTL, next due ("" = disabled or gone: out of the
# due set), then the hash's field/value pairs.
_SAVE = """#!lua
local known = redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if known then redis.call('PERSIST', KEYS[1]) else redis.call('EXPIRE', KEYS[1], ARGV[2]) end
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], 'XX', ARGV[3], ARGV[1])
end
return 1
"""
FEED_EVENTS_MAXLEN = 10_000  # health changes are rare: this is weeks of history for thousands of feeds

_DECODE: dict[str, Callable[[str], object]] = {
    "float | None": float,
    "int": int,
    "int | None": int,
    "tuple[float, ...]": lambda v: tuple(json.loads(v)),
}


def _str(value: object) -> str | None:
    """redis-py's replies are typed bytes | str; this client decodes, so they are str or None."""
    if value is None or value == "":
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def encode_state(state: FeedState) -> dict[str, str]:
    """FeedState as the feed hash's fields (None: an empty string; the delays as a JSON list)."""
    out = {}
    for f in fields(FeedState):
        value = getattr(state, f.name)
        if f.name == "delays":
            out[f.name] = json.dumps([round(d, 1) for d in value])
        else:
            out[f.name] = "" if value is None else str(value)
    return out


def decode_state(raw: Mapping[Any, Any]) -> FeedState:
    """The feed hash as a FeedState; missing or empty fields take their defaults. A hash written
    before issue 6 names the last success ``last_ok``."""
    values = {str(_str(k)): _str(v) for k, v in raw.items()}
    if "last_ok" in values and "last_success" not in values:
        values["last_success"] = values["last_ok"]
    kwargs: dict[str, object] = {}
    for f in fields(FeedState):
        value = values.get(f.name)
        if value is not None:
            kwargs[f.name] = _DECODE.get(str(f.type), str)(value)
    return FeedState(**kwargs)  # type: ignore[arg-type]


def health(source: Source, state: FeedState, due: float | None = None) -> FeedHealth:
    """A source's health from its state (``due``: its score in the due set, for a feed never
    polled yet)."""
    return FeedHealth(
        id=source.id,
        url=current_url(state, source.url),
        state=state.state,
        last_status=state.last_status,
        last_error=state.last_error,
        last_http=state.last_http,
        last_polled=state.last_polled,
        last_success=state.last_success,
        failures=state.failures,
        soft_failures=state.soft_failures,
        items_per_day=state.items_per_day,
        median_delay=state.median_delay,
        interval=state.interval,
        next_due=state.next_due if state.next_due is not None or state.state != "active" else due,
        changed_at=state.changed_at,
    )


class State:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.k = keys
        self._claim = client.register_script(_CLAIM)
        self._save = client.register_script(_SAVE)

    # --- sources and schedule -------------------------------------------------------------
    def sync_sources(self, sources: Sequence[Source], now: float) -> tuple[list[str], list[str]]:
        """Make Redis hold exactly ``sources``: new feeds are due now, removed ones are dropped,
        kept ones keep their schedule. A disabled or gone feed stays off the due set until
        ``marsad sources enable``, or until its URL is changed in the file (then it starts
        afresh, due now). Returns (added ids, removed ids)."""
        with redis_errors():
            stored = {str(_str(k)): json.loads(str(v)) for k, v in self.r.hgetall(self.k.sources).items()}
            wanted = {s.id: s for s in sources}
            removed = sorted(stored.keys() - wanted.keys())
            added = sorted(wanted.keys() - stored.keys())
            kept = sorted(wanted.keys() & stored.keys())
            pipe = self.r.pipeline(transaction=False)
            for i in kept:
                pipe.hget(self.k.feed(i), "state")
            off = {i for i, st in zip(kept, pipe.execute(), strict=True) if st in ("disabled", "gone")}
            revived = sorted(i for i in off if stored[i].get("url") != wanted[i].url)
            pipe = self.r.pipeline(transaction=True)
            if wanted:
                pipe.hset(self.k.sources, mapping={i: json.dumps(asdict(s)) for i, s in wanted.items()})
                on = [i for i in wanted if i not in off or i in revived]
                if on:
                    pipe.zadd(self.k.due, dict.fromkeys(on, now), nx=True)
            # An added feed starts afresh: no state left by an earlier life under the same id
            # (a stale ETag would hide its entries behind a 304); so does a revived one.
            gone = [self.k.feed(i) for i in (*removed, *added, *revived)]
            if gone:
                pipe.delete(*gone)
            if removed:
                pipe.hdel(self.k.sources, *removed)
                pipe.zrem(self.k.due, *removed)
            pipe.execute()
        return added, removed

    def claim_due(self, now: float, lease: float, limit: int) -> list[str]:
        with redis_errors():
            return list(self._claim(keys=[self.k.due], args=[now, now + lease, limit]))

    def queued(self, queue_key: str) -> int:
        """Messages waiting in a broker queue (a Redis list under kombu's Redis transport)."""
        with redis_errors():
            return int(self.r.llen(queue_key))

    def source(self, feed_id: str) -> Source | None:
        with redis_errors():
            raw = self.r.hget(self.k.sources, feed_id)
        return Source(**json.loads(raw)) if raw else None

    def all_sources(self) -> list[Source]:
        with redis_errors():
            raw = self.r.hgetall(self.k.sources)
        return [Source(**json.loads(v)) for _, v in sorted(raw.items())]

    def feed_state(self, feed_id: str) -> FeedState:
        with redis_errors():
            raw = self.r.hgetall(self.k.feed(feed_id))
        return decode_state(raw)

    def save_feed(self, feed_id: str, state: FeedState, ttl: float, event: Mapping[str, object] | None = None) -> None:
        """Store the state and its next due time in one script, and the feed-events entry of a
        change of health right after it. A feed due again is ZADD XX: one removed from
        the sources while it was being polled stays removed. A disabled or gone feed leaves the
        due set; its state is kept without expiry while it is a source (until ``marsad sources
        enable``), and otherwise expires after ``ttl`` like the state of a feed polled only by
        ``marsad once``.

        The event is not inside the script: the public stream ``<p>feed-events`` is in another
        hash slot than the schedule (Redis Cluster, keys.py). The state is saved first,
        so a crash can lose an event between them but never record a change that
        was not saved."""
        fields = [x for item in encode_state(state).items() for x in item]
        due = "" if state.next_due is None else repr(state.next_due)
        keys = [self.k.feed(feed_id), self.k.due, self.k.sources]
        with redis_errors():
            # Two calls, not one pipeline: a cluster client cannot pipeline a script, and the
            # event (a change of health) is rare.
            self._save(keys=keys, args=[feed_id, int(ttl), due, *fields])
            if event:
                entry = json.dumps(event, ensure_ascii=False)
                self.r.xadd(self.k.feed_events, {"event": entry}, maxlen=FEED_EVENTS_MAXLEN, approximate=True)

    def defer(self, feed_id: str, due: float) -> None:
        """Politeness said "not now": only the due time moves (ZADD XX, as in save_feed)."""
        with redis_errors():
            self.r.zadd(self.k.due, {feed_id: due}, xx=True)

    # --- health ------------------------------------------------------------------------------
    def feed_health(self, feed_id: str) -> FeedHealth | None:
        """One source's health; None when it is not a source."""
        source = self.source(feed_id)
        if source is None:
            return None
        return self._health([source])[0]

    def all_health(self) -> list[FeedHealth]:
        """Every source's health, sorted by id (two round trips however many feeds)."""
        return self._health(self.all_sources())

    def _health(self, sources: Sequence[Source]) -> list[FeedHealth]:
        with redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for s in sources:
                pipe.hgetall(self.k.feed(s.id))
                pipe.zscore(self.k.due, s.id)
            replies = pipe.execute()
        return [health(s, decode_state(replies[2 * i]), replies[2 * i + 1]) for i, s in enumerate(sources)]

    def feed_events(self, count: int = 100) -> list[dict[str, object]]:
        """The latest feed-events entries, oldest first."""
        with redis_errors():
            entries: list[tuple[str, dict[str, str]]] = self.r.xrevrange(self.k.feed_events, count=count)  # type: ignore[assignment]
        return [json.loads(entry["event"]) for _, entry in reversed(entries)]

    # --- live changes (marsad sources ...) ------------------------------------------------------
    def add_source(self, source: Source, now: float) -> bool:
        """Add a feed to the live schedule, due now; False when the id is taken."""
        with redis_errors():
            if not self.r.hsetnx(self.k.sources, source.id, json.dumps(asdict(source))):
                return False
            pipe = self.r.pipeline(transaction=True)
            pipe.delete(self.k.feed(source.id))  # no state from an earlier life under this id
            pipe.zadd(self.k.due, {source.id: now})
            pipe.execute()
        return True

    def remove_source(self, feed_id: str) -> bool:
        with redis_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.hdel(self.k.sources, feed_id)
            pipe.zrem(self.k.due, feed_id)
            pipe.delete(self.k.feed(feed_id))
            removed = pipe.execute()[0]
        return bool(removed)

    def enable(self, feed_id: str, now: float, ttl: float) -> FeedState | None:
        """Back on schedule, due now, failure counts cleared (a feed-events entry when it was
        not active). None when the id is not a source."""
        if self.source(feed_id) is None:
            return None
        before = self.feed_state(feed_id)
        after = enabled(before, now)
        with redis_errors():
            self.r.zadd(self.k.due, {feed_id: now})  # save_feed moves it only when present
        self.save_feed(feed_id, after, ttl, state_change(before, after, feed_id, now))
        return after

    # --- seen articles ---------------------------------------------------------------------
    def triage(self, articles: Sequence[Article]) -> tuple[list[Article], list[Article]]:
        """Split articles into (new, copies); the rest were processed before (this URL with this
        text) and are dropped. A copy is a text already processed under another URL: its page
        need not be fetched again, and it joins that story through its text (a later article of
        an alerted story: a story.updated event, no second alert); its URL must still be tied to
        that story, or a later edit of the copy would look like a story of its own. One round
        trip for the whole feed."""
        if not articles:
            return [], []
        with redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for a in articles:
                pipe.get(self.k.seen_url(a.id))
                pipe.exists(self.k.seen_text(a.text_hash))
            replies = pipe.execute()
        new: list[Article] = []
        copies: list[Article] = []
        for i, a in enumerate(articles):
            url_hash, text_seen = replies[2 * i], replies[2 * i + 1]
            if url_hash == a.text_hash:
                continue
            (copies if text_seen and url_hash is None else new).append(a)
        return new, copies

    def mark_seen(self, articles: Sequence[Article], ttl: float) -> None:
        """Called after publishing: a crash before this point means the work is redone, and the
        publisher's SET NX makes the redo publish nothing twice (at-least-once, made idempotent)."""
        if not articles:
            return
        with redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for a in articles:
                pipe.set(self.k.seen_url(a.id), a.text_hash, ex=int(ttl))
                pipe.set(self.k.seen_text(a.text_hash), a.id, ex=int(ttl), nx=True)
            pipe.execute()
