"""worker/brokerfix.py: closing the broker connection after it was lost must not crash the
worker (kombu's AttributeError on a detached transport), and must leave the running tasks'
messages in Redis for the visibility-timeout sweep. Real Redis, real kombu."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection, Exchange, Queue

from tests.conftest import REDIS_URL
from worker.brokerfix import guard_detached_transport


def _detached_connection_with_a_message_in_flight(prefix: str) -> Connection:
    """What Celery's consumer holds when the broker connection was lost while a task ran: a
    channel with one delivered, unacknowledged message; its pools dropped and its transport
    detached by ``Connection.collect()``."""
    conn = Connection(REDIS_URL, transport_options={"global_keyprefix": prefix})
    queue = Queue("q", Exchange("q", type="direct"), routing_key="q")
    channel = conn.default_channel
    queue(channel).declare()
    conn.Producer().publish({"task": "x"}, exchange=queue.exchange, routing_key="q", serializer="json")
    message = queue(channel).get(no_ack=False)
    assert message is not None
    channel._disconnect_pools()
    conn._do_close_transport()
    return conn


def test_without_the_guard_kombu_crashes_with_attribute_error(redis_client: redis.Redis, prefix: str) -> None:
    """The bug the guard works around (if kombu fixes it, this test says so and can go)."""
    from kombu.transport import redis as kombu_redis

    guarded = kombu_redis.Channel._connparams
    kombu_redis.Channel._connparams = getattr(guarded, "__wrapped__", guarded)
    try:
        conn = _detached_connection_with_a_message_in_flight(prefix)
        with pytest.raises(AttributeError):
            conn.close()
    finally:
        kombu_redis.Channel._connparams = guarded


def test_with_the_guard_close_is_a_tolerated_connection_error(redis_client: redis.Redis, prefix: str) -> None:
    guard_detached_transport()
    conn = _detached_connection_with_a_message_in_flight(prefix)
    conn.close()  # no AttributeError: the close path swallows the ConnectionError
    # The message was not lost: it is still in kombu's unacked set, for the sweep to restore.
    assert redis_client.hlen(f"{prefix}unacked") == 1
