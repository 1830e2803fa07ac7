"""The Redis client, and the conversion of redis-py's failures into InfrastructureError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import redis

from worker.config import Settings, mask_url, scrub_secrets
from worker.errors import InfrastructureError


def connect(settings: Settings) -> redis.Redis:
    """A client with short timeouts: a Redis that hangs must fail a task, not freeze it. With
    ``MARSAD_REDIS_CLUSTER``, a Redis Cluster client (the URL names any node): it routes each
    command, script and transaction to the node of its hash slot (keys.py groups the keys)."""
    if settings.redis_cluster:
        from redis.cluster import RedisCluster

        cluster = RedisCluster.from_url(
            settings.redis_url, decode_responses=True, socket_connect_timeout=5, socket_timeout=10
        )
        return cast(redis.Redis, cluster)  # the same command API; typed as one client
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
        # redis-py's messages name hosts, not passwords; scrubbed all the same, as they go to logs
        raise InfrastructureError(f"Redis failed: {type(e).__name__}: {scrub_secrets(str(e))}") from e


def unreachable_message(settings: Settings, error: BaseException | None = None) -> str:
    """One line for a Redis that does not answer, or refuses our credentials (AUTH, TLS), with
    the URL's password masked."""
    url = mask_url(settings.redis_url)
    cause = error.__cause__ if error is not None else None
    if isinstance(cause, redis.exceptions.AuthenticationError | redis.exceptions.AuthorizationError):
        return (
            f"marsad: Redis at {url} refused the credentials ({scrub_secrets(str(cause))}); "
            "check the user name and password in MARSAD_REDIS_URL"
        )
    reason = f" ({scrub_secrets(str(cause))})" if cause is not None else ""
    return (
        f"marsad: cannot reach Redis at {url}; start it with "
        f"`redis-server` (or `make redis`), or set MARSAD_REDIS_URL{reason}"
    )


def ping(client: redis.Redis) -> None:
    with redis_errors():
        client.ping()
