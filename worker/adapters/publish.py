"""Publish-if-new: SET NX of each alert id, XADD to the stream and PUBLISH, in one Lua script.

Redis runs a script atomically, so either the alert id is recorded *and* the alert is on the
stream, or neither: a task that dies half-way and is redelivered publishes it then, and a task
that runs twice publishes it once. Pub/sub is fire-and-forget by nature; the stream is the
record (integrations that must not miss an alert read the stream, docs/alerts.md). Each channel
message is the alert with the ``stream_id`` of its stream entry added, so a live subscriber can
switch to the stream and resume from there without a gap.

The alert id's guard holds the id of the article that published it. ``publish_article`` does it
for all the alerts of one article of a story; an alert whose guard holds *another* article's id
was raised by an earlier article of the story, and those rules go into one ``story.updated``
event appended to ``<p>story-updates`` (a later article of an alerted story, issue 5), guarded
by a ``SET NX`` on (story, article) in a second script. A retried task finds its own article's
id in the guards of the alerts its first run published, so it never mistakes them for earlier
ones; and a task that died between the two scripts appends the event on its retry.

Two scripts, not one, because the alert stream and the story-updates stream are two public
names in two hash slots (Redis Cluster; see keys.py). Both trim by MINID: entries older than
``MARSAD_STREAM_RETENTION`` go, approximately (``~``: whole macro nodes, cheap).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors
from worker.models import Alert

# KEYS: 1 the alert stream, then one guard key per alert (all in the alerts slot group).
# ARGV: 1 TTL, 2 MINID (ms), 3 all-rules channel, 4 the article id, then per alert: payload,
# rule channel.
# Returns per alert its new stream entry id, or {0, article} when its guard was already taken
# (by ``article``: this one on a redo, another one for a later article of the story).
_PUBLISH = """#!lua
local out = {}
for i = 1, #KEYS - 1 do
  local a = 5 + (i - 1) * 2
  if redis.call('SET', KEYS[1 + i], ARGV[4], 'NX', 'EX', ARGV[1]) then
    local id = redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[2], '*', 'alert', ARGV[a])
    local live = string.sub(ARGV[a], 1, -2) .. ',"stream_id":"' .. id .. '"}'
    redis.call('PUBLISH', ARGV[3], live)
    redis.call('PUBLISH', ARGV[a + 1], live)
    out[i] = id
  else
    out[i] = {0, redis.call('GET', KEYS[1 + i])}
  end
end
return out
"""

# KEYS: 1 the story-updates stream, 2 the (story, article) guard. ARGV: 1 TTL, 2 MINID, 3 event.
_UPDATE = """#!lua
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[2], '*', 'event', ARGV[3])
end
return false
"""


def minid(now: float, retention: float) -> int:
    """The MINID (ms) that keeps the entries of the last ``retention`` seconds."""
    return max(0, int((now - retention) * 1000))


class Publisher:
    def __init__(self, client: redis.Redis, keys: Keys, ttl: float, retention: float) -> None:
        self.k = keys
        self.ttl = int(ttl)
        self.retention = retention
        self._publish = client.register_script(_PUBLISH)
        self._update = client.register_script(_UPDATE)

    def publish_article(
        self, story: str, article_id: str, article_json: str, alerts: Sequence[Alert], sources: int = 1
    ) -> list[Alert]:
        """Publish the new ones of one article's alerts (all for ``story``); the rules alerted
        for the story by earlier articles go into one ``story.updated`` event, appended at most
        once per (story, article). Returns the alerts published now. ``article_json`` is the
        alert payloads' ``article`` object; ``sources``: how many sources carried the story."""
        if not alerts:
            return []
        floor = minid(time.time(), self.retention)
        args: list[str | int] = [self.ttl, floor, self.k.channel, article_id]
        for alert in alerts:
            args += [alert.payload, self.k.rule_channel(alert.rule)]
        keys = [self.k.stream, *(self.k.alert(a.id) for a in alerts)]
        with redis_errors():
            replies = self._publish(keys=keys, args=args)
        published: list[Alert] = []
        earlier: list[Alert] = []
        for alert, reply in zip(alerts, replies, strict=True):
            if not isinstance(reply, list):
                published.append(alert)
            elif reply[1] != article_id:
                earlier.append(alert)
        if earlier:
            event = (
                f'{{"schema":1,"type":"story.updated","story":{json.dumps(story)},'
                f'"rules":{json.dumps([a.rule for a in earlier], ensure_ascii=False)},'
                f'"alerts":{json.dumps([a.id for a in earlier])},"sources":{int(sources)},'
                f'"article":{article_json}}}'
            )
            guard = self.k.story_done(story, article_id)
            with redis_errors():
                self._update(keys=[self.k.story_updates, guard], args=[self.ttl, floor, event])
        return published
