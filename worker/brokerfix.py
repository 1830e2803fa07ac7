"""A workaround for a kombu bug that made a worker exit when Redis went away mid-task.

When the broker connection is lost, Celery's consumer collects and then closes the connection.
By then kombu has detached the transport from its connection (``transport.client = None``), but
closing the channel still tries to put the messages of running tasks back (``restore_unacked``)
and needs a new Redis pool for it, built from ``transport.client``: ``AttributeError: 'NoneType'
object has no attribute 'hostname'``. That is not one of the connection errors the close path
tolerates, so the worker logs "Unrecoverable error" and exits (seen with kombu 5.7.0 in
tests/test_faults.py::test_redis_restart_with_aof_mid_run under load; the same class of crash
as celery/kombu#970 and #582).

The fix raises the connection error kombu does tolerate instead. Nothing is lost: messages that
could not be put back stay in kombu's "unacked" set in Redis, and the visibility-timeout sweep
(``MARSAD_BROKER_VISIBILITY_TIMEOUT``) hands them out again, as after a killed worker.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


def guard_detached_transport() -> None:
    """Make a channel of a detached transport fail with a Redis ConnectionError (idempotent)."""
    channel_cls: Any = kombu_redis.Channel
    if hasattr(channel_cls._connparams, "__wrapped__"):
        return  # already guarded
    original = channel_cls._connparams

    def _connparams(self: Any, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise redis.ConnectionError("broker connection already closed")
        result: dict[str, Any] = original(self, asynchronous=asynchronous)
        return result

    _connparams.__wrapped__ = original  # type: ignore[attr-defined]
    channel_cls._connparams = _connparams
