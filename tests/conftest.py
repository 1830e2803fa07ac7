"""Shared fixtures: the real Redis on 127.0.0.1:6379 under a key prefix of the test's own,
and a real HTTP server on 127.0.0.1 serving fixture feeds.

Tests never FLUSH anything: they delete only the keys under their own prefix.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

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


# --- the alert contract (issue 7): schemas/*.json, checked on every payload the tests read ------

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def _closed(node: object) -> object:
    """The schema with every object closed (no properties beyond those it documents): the
    published schema lets consumers meet fields added later within v1, but marsad itself must
    never publish a field the schema does not describe."""
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if "properties" in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


@lru_cache(maxsize=1)
def _validators() -> dict[str, Any]:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = {name: _closed(json.loads((SCHEMAS / name).read_text(encoding="utf-8"))) for name in _SCHEMA_FILES}
    registry = Registry().with_resources(  # type: ignore[call-arg]
        (s["$id"], Resource.from_contents(s))
        for s in schemas.values()  # type: ignore[index]
    )
    return {
        name: Draft202012Validator(s, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
        for name, s in schemas.items()
    }


_SCHEMA_FILES = ("alert.v1.json", "story-updated.v1.json")


def _check(name: str, payload: str | dict[str, Any]) -> dict[str, Any]:
    obj = json.loads(payload) if isinstance(payload, str) else payload
    errors = sorted(_validators()[name].iter_errors(obj), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    return obj


def valid_alert(payload: str | dict[str, Any]) -> dict[str, Any]:
    """The alert (JSON text or object), asserted valid against schemas/alert.v1.json; with a
    ``stream_id``, that it is well formed."""
    obj = _check("alert.v1.json", payload)
    for m in obj["matched"]:
        assert m["start"] <= m["end"]
    return obj


def valid_story_updated(payload: str | dict[str, Any]) -> dict[str, Any]:
    return _check("story-updated.v1.json", payload)
