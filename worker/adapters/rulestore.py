"""The live rule set in Redis: versioned, so running workers pick up a new one on their next task.

``marsad rules load FILE`` (and ``marsad run`` / beat at start) stores the rules file's text,
with the user entities file's text, under one hash with an incremented version. A worker reads
the version (one HGET) at the start of each poll and recompiles only when it changed. A bad rule
set never gets here: it is validated before it is stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors


@dataclass(frozen=True)
class StoredRules:
    version: int
    rules_text: str
    rules_path: str
    entities_text: str
    entities_path: str


class RuleStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.key = keys.rules

    def store(self, rules_text: str, rules_path: str, entities_text: str = "", entities_path: str = "") -> int:
        """Store a validated rule set as the next version; returns that version."""
        with redis_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.hincrby(self.key, "version", 1)
            pipe.hset(
                self.key,
                mapping={
                    "rules_text": rules_text,
                    "rules_path": rules_path,
                    "entities_text": entities_text,
                    "entities_path": entities_path,
                    "loaded_at": str(time.time()),
                },
            )
            version, _ = pipe.execute()
        return int(version)

    def version(self) -> int:
        """The current version; 0 when no rule set was ever stored."""
        with redis_errors():
            raw = self.r.hget(self.key, "version")
        return int(raw) if raw else 0

    def current(self) -> StoredRules | None:
        with redis_errors():
            raw = {str(k): str(v) for k, v in self.r.hgetall(self.key).items()}  # a decoding client
        if "rules_text" not in raw:
            return None
        return StoredRules(
            int(raw["version"]),
            raw["rules_text"],
            raw.get("rules_path", ""),
            raw.get("entities_text", ""),
            raw.get("entities_path", ""),
        )
