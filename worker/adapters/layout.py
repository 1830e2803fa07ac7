"""The key layout version: a start against a namespace written by an incompatible marsad refuses.

``<p>layout`` holds the layout version (``keys.LAYOUT``) the namespace was written with. Every
start (``marsad run`` and ``once``, a beat, a worker) calls ``ensure_layout``:

- no version and no data: a fresh namespace; the current version is written (``SET NX``, so
  two processes starting at once agree);
- no version but keys only layout 1 (the foundation's, before the key existed) wrote: layout 1;
- a version other than ``LAYOUT``: refused.

Refusing raises ``ConfigError`` naming ``MARSAD_KEY_PREFIX``: the command prints one line and
exits with code 2 (bad configuration, like a bad setting: starting again will not help), and a
beat or worker process stops the same way, without a traceback. The way out is in
docs/scaling.md ("Key layout"): a new prefix, or deleting the old namespace.

Layouts: 1, the foundation's (schedule, story and guard keys without hash tags); 2, the hash
tags of Redis Cluster (issue 7, keys.py).
"""

from __future__ import annotations

import redis

from worker.adapters.keys import LAYOUT, Keys
from worker.adapters.redisconn import redis_errors
from worker.errors import ConfigError, Problem


def stored_layout(client: redis.Redis, keys: Keys) -> int | None:
    """The namespace's layout version; None when the namespace is fresh."""
    with redis_errors():
        raw = client.get(keys.layout)
        if raw is not None:
            return int(raw)
        # One key at a time: on Redis Cluster they may be in different slots.
        pipe = client.pipeline(transaction=False)
        for name in keys.layout1_marks:
            pipe.exists(name)
        if any(pipe.execute()):
            return 1
    return None


def ensure_layout(client: redis.Redis, keys: Keys) -> int:
    """Check (and, on a fresh namespace, write) the layout version; ConfigError when it is not
    the one this code uses."""
    found = stored_layout(client, keys)
    if found is None:
        with redis_errors():
            client.set(keys.layout, LAYOUT, nx=True)
        found = stored_layout(client, keys)
    if found != LAYOUT:
        message = (
            f"the Redis keys under {keys.prefix!r} use key layout {found}, this marsad uses layout "
            f"{LAYOUT}; use a new MARSAD_KEY_PREFIX, or delete the old keys (docs/scaling.md, "
            '"Key layout")'
        )
        raise ConfigError([Problem("MARSAD_KEY_PREFIX", 0, 0, message)])
    return found
