"""Logs are events with stable keys: ``event=feed.polled feed=bbc status=ok new=3 ...``.

Never whole article bodies, never secrets (URLs with passwords go through ``mask_url``).
"""

from __future__ import annotations

import logging
import sys

_log = logging.getLogger("marsad")


def _fmt(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def event(name: str, level: int = logging.INFO, /, **fields: object) -> None:
    parts = [f"event={name}"] + [f"{k}={_fmt(v)}" for k, v in fields.items() if v is not None]
    _log.log(level, " ".join(parts))


def setup(level: str = "INFO", *, under_celery: bool = False) -> None:
    """Logs go to stderr (stdout is for alerts in ``marsad once``). Under Celery, the worker's
    own handlers already write to stderr with process names, so events just propagate to them."""
    log = logging.getLogger("marsad")
    log.setLevel(level.upper())
    # httpx logs every request at INFO; event=feed.polled already says the same, once per poll
    # (a log line costs more than a 304 on a busy worker: docs/benchmarks.md "Polling at scale").
    logging.getLogger("httpx").setLevel(max(logging.WARNING, log.level))
    if under_celery:
        log.handlers.clear()
        log.propagate = True
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.handlers[:] = [handler]
    log.propagate = False
