"""Poll scheduling (worker/core/schedule.py) and durations (worker/core/durations.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.durations import parse_duration
from worker.core.schedule import next_poll_at, next_state
from worker.models import FeedState, FetchResult

NOW = 1_705_649_400.0  # 2024-01-19T07:30:00Z
INTERVAL = 300.0
MAX_BACKOFF = 3600.0

OLD = FeedState(etag='"v1"', last_modified="Thu, 18 Jan 2024 10:00:00 GMT", failures=0, last_status="ok")
FAILING = FeedState(etag='"v1"', last_modified="Thu, 18 Jan 2024 10:00:00 GMT", failures=3, last_status="timeout")


def ok(etag: str | None = '"v2"', last_modified: str | None = "Fri, 19 Jan 2024 07:00:00 GMT") -> FetchResult:
    return FetchResult("ok", 200, b"<rss/>", {}, etag, last_modified, "https://example.com/rss")


def test_success_resets_failures_and_keeps_new_validators() -> None:
    state = next_state(FAILING, ok(), NOW)
    assert state.failures == 0
    assert state.etag == '"v2"'
    assert state.last_modified == "Fri, 19 Jan 2024 07:00:00 GMT"
    assert state.last_status == "ok"
    assert state.last_error is None
    assert state.last_polled == NOW


def test_success_without_validators_keeps_the_old_ones() -> None:
    state = next_state(OLD, ok(etag=None, last_modified=None), NOW)
    assert (state.etag, state.last_modified) == (OLD.etag, OLD.last_modified)


def test_not_modified_keeps_the_old_validators() -> None:
    result = FetchResult("not-modified", 304, etag='"other"', last_modified="Sat, 20 Jan 2024 00:00:00 GMT")
    state = next_state(FAILING, result, NOW)
    assert (state.etag, state.last_modified) == (FAILING.etag, FAILING.last_modified)
    assert state.failures == 0
    assert state.last_status == "not-modified"
    assert state.last_polled == NOW


@pytest.mark.parametrize(
    "result",
    [
        FetchResult("timeout", error="read timed out"),
        FetchResult("connect", error="connection refused"),
        FetchResult("http", 500, error="HTTP 500"),
        FetchResult("too-large", 200, error="body over 5 MB"),
    ],
)
def test_failure_counts_up_and_keeps_validators(result: FetchResult) -> None:
    state = next_state(FAILING, result, NOW)
    assert state.failures == FAILING.failures + 1
    assert (state.etag, state.last_modified) == (FAILING.etag, FAILING.last_modified)
    assert state.last_status == result.outcome
    assert state.last_error == result.error


def test_unparsable_body_is_a_failure_and_does_not_store_its_validators() -> None:
    """A 200 whose body did not parse must be fetched in full again, not answered by a 304."""
    state = next_state(OLD, ok(), NOW, failure=("unparsable", "not a feed: syntax error"))
    assert state.failures == 1
    assert state.last_status == "unparsable"
    assert state.last_error == "not a feed: syntax error"
    assert (state.etag, state.last_modified) == (OLD.etag, OLD.last_modified)


def test_failures_accumulate_over_polls() -> None:
    state = FeedState()
    for n in range(1, 5):
        state = next_state(state, FetchResult("connect", error="refused"), NOW + n)
        assert state.failures == n
    assert next_state(state, ok(), NOW).failures == 0


def test_healthy_feed_is_due_after_its_interval() -> None:
    assert next_poll_at(FeedState(), INTERVAL, NOW, MAX_BACKOFF) == NOW + INTERVAL


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 300), (1, 600), (2, 1200), (3, 2400), (4, 3600), (5, 3600), (30, 3600), (10_000, 3600)],
)
def test_failures_back_off_exponentially_up_to_the_cap(failures: int, delay: float) -> None:
    assert next_poll_at(FeedState(failures=failures), INTERVAL, NOW, MAX_BACKOFF) == NOW + delay


def test_backoff_never_goes_below_the_interval() -> None:
    assert next_poll_at(FeedState(failures=2), 7200.0, NOW, MAX_BACKOFF) == NOW + 7200.0


@given(
    failures=st.integers(min_value=0, max_value=100),
    interval=st.floats(min_value=1, max_value=86_400),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_jitter_stays_within_ten_percent(failures: int, interval: float, jitter: float) -> None:
    state = FeedState(failures=failures)
    base = next_poll_at(state, interval, NOW, MAX_BACKOFF) - NOW
    delay = next_poll_at(state, interval, NOW, MAX_BACKOFF, jitter) - NOW
    assert base <= delay <= base * 1.1 + 1e-6
    assert base <= max(MAX_BACKOFF, interval) + 1e-6


def test_jitter_spreads_feeds() -> None:
    assert next_poll_at(FeedState(), INTERVAL, NOW, MAX_BACKOFF, 0.5) == pytest.approx(NOW + 315.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("2d", 172_800.0),
        ("1.5h", 5400.0),
        (" 10m ", 600.0),
        ("45", 45.0),
        ("0", 0.0),
        (30, 30.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "5 minutes", "5min", "1w", "-5m", "5m30s", "1,5h", "خمس دقائق", -1, True])
def test_parse_duration_rejects(text: str | float) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
