"""Publish-if-new: SET NX of the alert id, XADD to the stream and PUBLISH, in one Lua script.

Redis runs a script atomically, so either the alert id is recorded *and* the alert is on the
stream, or neither: a task that dies half-way and is redelivered publishes it then, and a task
that runs twice publishes it once. Pub/sub is fire-and-forget by nature; the stream is the
record (integrations that must not miss an alert read the stream, see README).
"""

from __future__ import annotations

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors
from worker.models import Alert

_PUBLISH = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'alert', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[3])
redis.call('PUBLISH', ARGV[5], ARGV[3])
return 1
"""


class Publisher:
    def __init__(self, client: redis.Redis, keys: Keys, ttl: float, maxlen: int) -> None:
        self.k = keys
        self.ttl = int(ttl)
        self.maxlen = maxlen
        self._publish = client.register_script(_PUBLISH)

    def publish(self, alert: Alert) -> bool:
        """True when the alert was new and is now published; False when it was already."""
        with redis_errors():
            done = self._publish(
                keys=[self.k.alert(alert.id), self.k.stream],
                args=[self.ttl, self.maxlen, alert.payload, self.k.channel, self.k.rule_channel(alert.rule)],
            )
        return bool(done)
