"""Logs are events with stable keys: ``event=feed.polled feed=bbc status=ok new=3 ...``.

Two renderings of the same event (``MARSAD_LOG_FORMAT``):

- ``text`` (the default, for a terminal): ``2026-11-29 11:30:22,086 INFO event=feed.polled
  feed=bbc status=ok new=3 matched=1 duration_ms=84``;
- ``json`` (for a log collector): one JSON object per line, ``{"ts": "2026-11-29T11:30:22.086Z",
  "level": "info", "event": "feed.polled", "feed": "bbc", "status": "ok", "new": 3, ...}``,
  the event's fields with their JSON types. Lines that are not marsad events (Celery's own, a
  traceback) become ``{"ts", "level", "event": "log", "logger", "message"}`` (+ ``"exc"``).

Field names are a contract (dashboards and alerting read them): ``event``, ``feed``,
``status``, ``new``, ``matched``, ``alerts``, ``duration_ms``, ``error``. Never whole article
bodies, never secrets (URLs with passwords go through ``mask_url``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_log = logging.getLogger("marsad")


def _fmt(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def event(name: str, level: int = logging.INFO, /, **fields: object) -> None:
    if not _log.isEnabledFor(level):
        return
    kept = {k: v for k, v in fields.items() if v is not None}
    text = " ".join([f"event={name}"] + [f"{k}={_fmt(v)}" for k, v in kept.items()])
    _log.log(level, text, extra={"marsad_event": name, "marsad_fields": kept})


def _jsonable(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) else str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; a marsad event's fields become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out: dict[str, object] = {"ts": ts, "level": record.levelname.lower()}
        name = getattr(record, "marsad_event", None)
        if name is not None:
            out["event"] = name
            for key, value in getattr(record, "marsad_fields", {}).items():
                out.setdefault(key, _jsonable(value))
        else:
            out.update(event="log", logger=record.name, message=record.getMessage())
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def use_json(logger: logging.Logger) -> None:
    """Render every handler of ``logger`` as JSON (Celery's own handlers, at its logging setup)."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())


def setup(level: str = "INFO", *, under_celery: bool = False, json_format: bool = False) -> None:
    """Logs go to stderr (stdout is for alerts in ``marsad once``). Under Celery, the worker's
    own handlers already write to stderr with process names, so events just propagate to them
    (in JSON mode Celery's handlers get the JSON formatter: ``worker/celery_app.py``)."""
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
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.handlers[:] = [handler]
    log.propagate = False
