"""Shared fixtures: the real Redis on 127.0.0.1:6379 under a key prefix of the test's own,
and a real HTTP server on 127.0.0.1 serving fixture feeds.

Tests never FLUSH anything: they delete only the keys under their own prefix.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.feedserver import FeedServer
from worker.config import Settings

REDIS_URL = os.environ.get("MARSAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(match=prefix + "*", count=500):
        client.delete(key)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"the tests need Redis at {REDIS_URL} (`make test` / .ci/run start one)")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    p = f"marsadtest:{uuid.uuid4().hex[:10]}:"
    yield p
    _delete_prefix(redis_client, p)


@pytest.fixture
def settings(prefix: str) -> Settings:
    return Settings(
        redis_url=REDIS_URL,
        key_prefix=prefix,
        allow_private_networks=True,  # the fixture server is on 127.0.0.1
        # The fixture server stands for many outlets (three newspapers and an aggregator...),
        # each its own site in production: no interval between its requests here. Politeness
        # has tests of its own (test_politeness.py), with the limits on.
        host_interval=0,
        http_connect_timeout=2,
        http_read_timeout=2,
        http_total_timeout=5,
    )


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()
