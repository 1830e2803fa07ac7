"""Publish-if-new: SET NX of each alert id, XADD to the stream and PUBLISH, in one Lua script.

Redis runs a script atomically, so either the alert id is recorded *and* the alert is on the
stream, or neither: a task that dies half-way and is redelivered publishes it then, and a task
that runs twice publishes it once. Pub/sub is fire-and-forget by nature; the stream is the
record (integrations that must not miss an alert read the stream, see README).

``publish_article`` does it for all the alerts of one article of a story, and in the same
script appends one ``story.updated`` event to ``<p>story-updates`` for the rules whose alert for
this story already existed (a later article of an alerted story, issue 5): the event is guarded
by a ``SET NX`` on (story, article), taken whenever the script runs for that pair, so a retried
task neither appends it twice nor mistakes its own first run's alerts for earlier ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors
from worker.models import Alert

# KEYS: 1 alert stream, 2 story-updates stream, 3 the (story, article) guard, 4 the story's
# sources set, then one alert key per alert.
# ARGV: 1 TTL, 2 stream MAXLEN, 3 all-rules channel, 4 event head (JSON up to "rules":),
# 5 the article's JSON, then per alert: payload, rule channel, rule id, alert id.
# Returns the (1-based) positions of the alerts published.
_PUBLISH_ARTICLE = """
local first = redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[1])
local published, rules, ids = {}, {}, {}
for i = 1, #KEYS - 4 do
  local a = 6 + (i - 1) * 4
  if redis.call('SET', KEYS[4 + i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'alert', ARGV[a])
    redis.call('PUBLISH', ARGV[3], ARGV[a])
    redis.call('PUBLISH', ARGV[a + 1], ARGV[a])
    published[#published + 1] = i
  else
    rules[#rules + 1] = ARGV[a + 2]
    ids[#ids + 1] = ARGV[a + 3]
  end
end
if first and #rules > 0 then
  local event = ARGV[4] .. cjson.encode(rules) .. ',"alerts":' .. cjson.encode(ids)
    .. ',"sources":' .. redis.call('SCARD', KEYS[4]) .. ',"article":' .. ARGV[5] .. '}'
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', event)
end
return published
"""


class Publisher:
    def __init__(self, client: redis.Redis, keys: Keys, ttl: float, maxlen: int) -> None:
        self.k = keys
        self.ttl = int(ttl)
        self.maxlen = maxlen
        self._publish_article = client.register_script(_PUBLISH_ARTICLE)

    def publish_article(self, story: str, article_id: str, article_json: str, alerts: Sequence[Alert]) -> list[Alert]:
        """Publish the new ones of one article's alerts (all for ``story``); the rules already
        alerted for the story go into one ``story.updated`` event, appended at most once per
        (story, article). Returns the alerts published now. ``article_json`` is the alert
        payloads' ``article`` object."""
        if not alerts:
            return []
        head = f'{{"schema":1,"type":"story.updated","story":{json.dumps(story)},"rules":'
        args: list[str | int] = [self.ttl, self.maxlen, self.k.channel, head, article_json]
        for alert in alerts:
            args += [alert.payload, self.k.rule_channel(alert.rule), alert.rule, alert.id]
        keys = [self.k.stream, self.k.story_updates, self.k.story_done(story, article_id)]
        keys += [self.k.story_sources(story), *(self.k.alert(a.id) for a in alerts)]
        with redis_errors():
            done = self._publish_article(keys=keys, args=args)
        return [alerts[int(i) - 1] for i in done]
