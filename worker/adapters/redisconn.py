"""The Redis client, and the conversion of redis-py's failures into InfrastructureError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from worker.config import Settings, mask_url
from worker.errors import InfrastructureError


def connect(settings: Settings) -> redis.Redis:
    """A client with short timeouts: a Redis that hangs must fail a task, not freeze it."""
    return redis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=5,
        socket_timeout=10,
        health_check_interval=30,
    )


@contextmanager
def redis_errors() -> Iterator[None]:
    """Turn every redis-py failure into InfrastructureError, the one reason a task retries:
    unreachable or slow, but also out of memory (OOM), a read-only replica after a failover,
    or a server still loading its data. All are our Redis failing, none the feed's fault."""
    try:
        yield
    except redis.RedisError as e:
        raise InfrastructureError(f"Redis failed: {type(e).__name__}: {e}") from e


def unreachable_message(settings: Settings) -> str:
    return (
        f"marsad: cannot reach Redis at {mask_url(settings.redis_url)}; start it with "
        "`redis-server` (or `make redis`), or set MARSAD_REDIS_URL"
    )


def ping(client: redis.Redis) -> None:
    with redis_errors():
        client.ping()
