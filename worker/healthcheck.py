"""Container healthchecks (docker-compose.yml): exit 0 when healthy, 1 when not.

``python -m worker.healthcheck web [URL]``: the web service answers ``/healthz``.
``python -m worker.healthcheck tick``: a tick task ran within ``/readyz``'s window (the beat's
check: beat sends the tick, a worker runs it, so this fails when either is missing).
"""

from __future__ import annotations

import sys
import time
import urllib.request
from collections.abc import Sequence

from worker.adapters.keys import Keys
from worker.adapters.redisconn import connect
from worker.config import load_settings
from worker.core.readiness import window_for


def web(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return int(r.status) == 200
    except OSError:
        return False


def tick() -> bool:
    settings = load_settings()
    try:
        at = connect(settings).get(Keys(settings.key_prefix).heartbeat("tick"))
    except Exception:  # any Redis failure: unhealthy, not a traceback in `docker inspect`
        return False
    return at is not None and time.time() - float(str(at)) <= window_for(settings.tick_interval)


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["web"]:
        return 0 if web(argv[1] if len(argv) > 1 else "http://127.0.0.1:8484/healthz") else 1
    if argv[:1] == ["tick"]:
        return 0 if tick() else 1
    print("usage: python -m worker.healthcheck web [URL] | tick", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
