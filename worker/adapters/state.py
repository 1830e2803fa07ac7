"""Feed schedule, feed state and seen sets in Redis (the story index is in stories.py).

Claims and schedule changes are atomic (a Lua script or MULTI), because two ticks, two
workers or a task delivered twice may run at the same moment. Seen marks are a plain pipeline:
a partial mark only means some work is redone, which publishing makes harmless. See
docs/architecture.md "Running twice".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors
from worker.models import Article, FeedState, Source

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


def _str(value: object) -> str | None:
    """redis-py's replies are typed bytes | str; this client decodes, so they are str or None."""
    if value is None or value == "":
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class State:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.k = keys
        self._claim = client.register_script(_CLAIM)

    # --- sources and schedule -------------------------------------------------------------
    def sync_sources(self, sources: Sequence[Source], now: float) -> tuple[list[str], list[str]]:
        """Make Redis hold exactly ``sources``: new feeds are due now, removed ones are dropped,
        kept ones keep their schedule. Returns (added ids, removed ids)."""
        with redis_errors():
            known = {str(_str(k)) for k in self.r.hkeys(self.k.sources)}
            wanted = {s.id: s for s in sources}
            removed = sorted(known - wanted.keys())
            added = sorted(wanted.keys() - known)
            pipe = self.r.pipeline(transaction=True)
            if wanted:
                pipe.hset(self.k.sources, mapping={i: json.dumps(asdict(s)) for i, s in wanted.items()})
                pipe.zadd(self.k.due, dict.fromkeys(wanted, now), nx=True)
            # An added feed starts afresh: no state left by an earlier life under the same id
            # (a stale ETag would hide its entries behind a 304).
            gone = [self.k.feed(i) for i in (*removed, *added)]
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
            raw = {_str(k): _str(v) for k, v in self.r.hgetall(self.k.feed(feed_id)).items()}
        polled = raw.get("last_polled")
        return FeedState(
            etag=raw.get("etag"),
            last_modified=raw.get("last_modified"),
            failures=int(raw.get("failures") or 0),
            last_status=raw.get("last_status"),
            last_error=raw.get("last_error"),
            last_polled=float(polled) if polled else None,
            last_ok=float(ok) if (ok := raw.get("last_ok")) else None,
        )

    def save_feed(self, feed_id: str, state: FeedState, next_due: float, ttl: float) -> None:
        """Store the state and the next due time together. ZADD XX: a feed removed from
        sources.yaml while it was being polled stays removed; the TTL lets the state of such a
        feed (or of one polled only by ``marsad once``) expire instead of lingering."""
        fields = {k: ("" if v is None else str(v)) for k, v in asdict(state).items()}
        with redis_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.hset(self.k.feed(feed_id), mapping=fields)  # type: ignore[arg-type]  # stubs: invariant Mapping
            pipe.expire(self.k.feed(feed_id), int(ttl))
            pipe.zadd(self.k.due, {feed_id: next_due}, xx=True)
            pipe.execute()

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
