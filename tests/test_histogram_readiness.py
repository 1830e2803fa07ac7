"""The pure parts of metrics and health: histogram buckets, /readyz's rule, JSON log lines."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from worker.core.histogram import bucket_of, cumulative
from worker.core.readiness import readiness, window_for
from worker.logs import JsonFormatter, event

BOUNDS = (0.1, 1.0, 10.0)


@pytest.mark.parametrize(
    ("value", "bucket"),
    [(0.0, "0.1"), (0.1, "0.1"), (0.10001, "1"), (1.0, "1"), (9.99, "10"), (10.0, "10"), (10.5, "+Inf")],
)
def test_bucket_is_the_smallest_bound_not_below_the_value(value: float, bucket: str) -> None:
    assert bucket_of(value, BOUNDS) == bucket


def test_cumulative_buckets_end_with_the_total() -> None:
    counts = {"0.1": 2, "10": 1, "+Inf": 4}
    assert cumulative(counts, BOUNDS) == [("0.1", 2), ("1", 2), ("10", 3), ("+Inf", 7)]
    # A bucket of bounds no longer used (an older version's) still counts in +Inf.
    assert cumulative({"0.5": 3, "1": 1}, BOUNDS)[-1] == ("+Inf", 4)


@pytest.mark.parametrize(
    ("tick_age", "poll_age", "depth", "beat_ok", "workers_ok"),
    [
        (None, None, 0, False, True),  # nothing ran: beat missing, but an empty queue is fine
        (5.0, None, 0, True, True),  # ticks run, no feed due: idle workers are ready
        (5.0, None, 3, True, False),  # polls wait and none finished: stuck
        (5.0, 30.0, 3, True, True),  # polls wait but are being consumed
        (5.0, 61.0, 3, True, False),  # last poll finished too long ago
        (61.0, 5.0, 0, False, True),  # beat stopped a minute ago
    ],
)
def test_readiness_rule(
    tick_age: float | None, poll_age: float | None, depth: int, beat_ok: bool, workers_ok: bool
) -> None:
    now = 1_000_000.0
    checks = readiness(
        now,
        60.0,
        None if tick_age is None else now - tick_age,
        None if poll_age is None else now - poll_age,
        depth,
    )
    assert [(c.name, c.ok) for c in checks] == [("beat", beat_ok), ("workers", workers_ok)]


def test_readiness_window_follows_a_slow_tick() -> None:
    assert window_for(5) == 60 and window_for(30) == 90


def test_json_log_line_has_stable_keys(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="marsad"):
        event("feed.polled", feed="bbc-arabic", status="ok", new=3, matched=1, duration_ms=84, error=None)
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line.pop("ts").endswith("Z")
    assert line == {
        "level": "info",
        "event": "feed.polled",
        "feed": "bbc-arabic",
        "status": "ok",
        "new": 3,
        "matched": 1,
        "duration_ms": 84,
    }
    text = "event=feed.polled feed=bbc-arabic status=ok new=3 matched=1 duration_ms=84"
    assert caplog.records[-1].getMessage() == text


def test_json_log_line_of_a_foreign_record_and_a_traceback() -> None:
    try:
        raise ValueError("إيران")
    except ValueError:
        exc = sys.exc_info()
    record = logging.LogRecord("celery.app.trace", logging.ERROR, __file__, 1, "Task %s failed", ("x",), exc)
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "log" and line["logger"] == "celery.app.trace" and line["message"] == "Task x failed"
    assert "ValueError: إيران" in line["exc"]
