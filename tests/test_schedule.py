"""The schedule and feed health (worker/core/schedule.py), table-driven: every rule of issue 6,
with the clock and the random draw passed in; and durations (worker/core/durations.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.durations import parse_duration
from worker.core.schedule import (
    DELAY_SAMPLE,
    Limits,
    Observation,
    adapt_interval,
    advance,
    current_url,
    enabled,
    limits_for,
    state_change,
)
from worker.models import OUTCOMES, FeedState, Outcome

NOW = 1_705_649_400.0  # 2024-01-19T07:30:00Z
URL = "https://example.com/rss"
LIM = Limits(min_interval=60, max_interval=3600, start_interval=300, max_backoff=6 * 3600, disable_after=30)
# A feed polled before: its last success 5 minutes ago, at its starting interval.
POLLED = FeedState(last_success=NOW - 300, last_polled=NOW - 300, interval=300.0, items_per_day=None)
# A feed at its steady pace: 144 new a day, one new item per 10 minutes, polled every 5.
STEADY = replace(POLLED, last_success=NOW - 600, items_per_day=144.0)


def ok(**kw: object) -> Outcome:
    return Outcome("ok", status=200, body_hash="h2", **kw)  # type: ignore[arg-type]


def seen(outcome: Outcome, entries: int | None = None, new: int = 0, **kw: object) -> Observation:
    return Observation(outcome, URL, entries, new, **kw)  # type: ignore[arg-type]


def due_in(state: FeedState, obs: Observation, lim: Limits = LIM, draw: float = 0.0) -> float | None:
    after = advance(state, obs, lim, NOW, draw)
    return None if after.next_due is None else after.next_due - NOW


# --- the pace of new items ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "state", "entries", "new", "interval"),
    [
        # the first success has nothing to measure from: the starting interval stands
        ("first poll", FeedState(), 20, 20, 300.0),
        # 2 new in 5 min = 576/day; aim at 0.5 per poll = 75 s, but at most halved per poll
        ("busy feed speeds up", POLLED, 20, 2, 150.0),
        # 1 new in 5 min = 288/day: 0.5 * 86400 / 288 = 150 s
        ("one new item", POLLED, 20, 1, 150.0),
        # nothing new: the estimate is 0/day: the interval doubles
        ("nothing new", POLLED, 20, 0, 600.0),
        ("a 304", POLLED, None, 0, 600.0),
        # 3 new in 5 min = 864/day, averaged with 10/day: 0.5 * 86400 / 266.2
        ("moving average", replace(POLLED, items_per_day=10.0), 3, 3, 43_200 / 266.2),
    ],
)
def test_interval_adapts_to_the_pace(case: str, state: FeedState, entries: int | None, new: int, interval: float):
    kind = "not_modified" if entries is None else "ok"
    after = advance(state, seen(Outcome(kind), entries, new), LIM, NOW, 0.0)  # type: ignore[arg-type]
    assert after.interval == pytest.approx(interval), case
    assert after.next_due == pytest.approx(NOW + interval), case


@pytest.mark.parametrize(
    ("previous", "items_per_day", "entries", "new", "expected"),
    [
        (300, 288.0, 20, 1, 150.0),  # target 150
        (300, 144.0, 20, 1, 300.0),  # target 300: steady
        (300, 96.0, 20, 1, 450.0),  # target 450, within x2
        (300, 1.0, 20, 0, 600.0),  # target 43,200: at most doubled
        (3000, 1.0, 20, 0, 3600.0),  # ... and capped at max_interval
        (60, 100_000.0, 20, 5, 60.0),  # a flood: never below min_interval
        (1200, 100_000.0, 20, 5, 600.0),  # at most halved per poll
        (300, None, 20, 1, 300.0),  # no estimate yet: unchanged
        (300, 0.0, 20, 0, 600.0),  # never anything new: doubles
        (400, 144.0, 10, 8, 200.0),  # 20 % seen: halved although the pace says 300
        (400, 144.0, 10, 7, 300.0),  # 30 % seen: the pace rules
    ],
)
def test_adapt_interval_table(previous, items_per_day, entries, new, expected) -> None:
    assert adapt_interval(previous, items_per_day, entries, new, LIM) == pytest.approx(expected)


def test_items_per_day_is_a_moving_average() -> None:
    state = replace(POLLED, items_per_day=100.0)
    after = advance(state, seen(ok(), 20, 1), LIM, NOW, 0.0)  # 1 in 300 s = 288/day
    assert after.items_per_day == pytest.approx(0.3 * 288 + 0.7 * 100)
    quiet = advance(after, seen(Outcome("not_modified")), LIM, NOW + 600, 0.0)
    assert quiet.items_per_day == pytest.approx(0.7 * after.items_per_day)


def test_per_source_limits_clamp_the_interval() -> None:
    own = Limits(min_interval=600, max_interval=7200, start_interval=600, max_backoff=6 * 3600, disable_after=30)
    busy = replace(POLLED, interval=600.0, items_per_day=10_000.0)
    assert advance(busy, seen(ok(), 20, 5), own, NOW, 0.0).interval == 600.0
    quiet = replace(POLLED, interval=5000.0, items_per_day=0.0)
    assert advance(quiet, seen(Outcome("not_modified")), own, NOW, 0.0).interval == 7200.0


@pytest.mark.parametrize(
    ("own", "defaults", "expected"),
    [
        ((None, None, None), (300, 60, 3600), (60, 3600, 300)),
        ((120, None, None), (300, 60, 3600), (60, 3600, 120)),
        ((30, None, None), (300, 60, 3600), (60, 3600, 60)),  # start clamped into the bounds
        ((None, 600, None), (300, 60, 3600), (600, 3600, 600)),
        ((None, 7200, None), (300, 60, 3600), (7200, 7200, 7200)),  # the source's min wins
        ((None, None, 30), (300, 60, 3600), (30, 30, 30)),  # the source's max wins
        ((None, 10, 20), (300, 60, 3600), (10, 20, 20)),
    ],
)
def test_limits_for(own, defaults, expected) -> None:
    lim = limits_for(*own, defaults, max_backoff=6 * 3600, disable_after=30)
    assert (lim.min_interval, lim.max_interval, lim.start_interval) == expected


# --- server hints are lower bounds ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "outcome", "ttl", "delay"),
    [
        ("no hint", ok(), None, 300.0),
        ("max-age above the interval", ok(fresh_for=900.0), None, 900.0),
        ("max-age below the interval", ok(fresh_for=30.0), None, 300.0),
        ("Expires on a 304", Outcome("not_modified", fresh_for=1200.0), None, 1200.0),
        ("RSS <ttl> 30 min", ok(), 1800.0, 1800.0),
        ("sy:updatePeriod daily: max_interval wins", ok(), 86_400.0, 3600.0),
        ("Retry-After on a success", ok(retry_after=2000.0), None, 2000.0),
        ("the largest hint", ok(fresh_for=600.0, retry_after=700.0), 650.0, 700.0),
    ],
)
def test_server_hints_are_lower_bounds_up_to_max_interval(case: str, outcome: Outcome, ttl, delay: float) -> None:
    state = STEADY
    entries = None if outcome.kind == "not_modified" else 20
    new = 0 if entries is None else 1
    assert due_in(state, seen(outcome, entries, new, ttl=ttl)) == pytest.approx(delay), case


def test_hints_do_not_change_the_learnt_interval() -> None:
    after = advance(STEADY, seen(ok(fresh_for=3000.0), 20, 1), LIM, NOW, 0.0)
    assert after.interval == pytest.approx(300.0) and after.next_due == pytest.approx(NOW + 3000.0)


# --- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures_before", "full"),
    [(0, 600), (1, 1200), (2, 2400), (5, 19_200), (6, 21_600), (40, 21_600), (10_000, 21_600)],
)
@pytest.mark.parametrize("kind", ["temporary_error", "permanent_error"])
def test_failures_back_off_exponentially_with_equal_jitter(failures_before: int, full: float, kind: str) -> None:
    state = replace(POLLED, failures=failures_before)
    obs = seen(Outcome(kind, "HTTP 500"))  # type: ignore[arg-type]
    assert due_in(state, obs, draw=0.0) == pytest.approx(full / 2)
    assert due_in(state, obs, draw=0.5) == pytest.approx(full * 0.75)
    assert due_in(state, obs, draw=0.999_999) == pytest.approx(full, rel=1e-5)


def test_backoff_starts_from_the_learnt_interval_and_never_below_min() -> None:
    fast = replace(POLLED, interval=60.0)
    assert due_in(fast, seen(Outcome("temporary_error", "timeout")), draw=0.0) == 60.0  # 120 / 2
    tight = Limits(min_interval=200, max_interval=3600, start_interval=200, max_backoff=6 * 3600, disable_after=30)
    assert due_in(replace(POLLED, interval=200.0), seen(Outcome("temporary_error")), tight, 0.0) == 200.0


def test_feeds_that_failed_together_do_not_retry_together() -> None:
    draws = [i / 10 for i in range(10)]
    dues = {due_in(POLLED, seen(Outcome("temporary_error", "HTTP 502")), draw=d) for d in draws}
    assert len(dues) == 10 and max(dues) - min(dues) >= 0.4 * 600  # spread over half the delay


def test_retry_after_on_an_error_is_a_lower_bound_of_the_backoff() -> None:
    obs = seen(Outcome("temporary_error", "HTTP 500", retry_after=5000.0))
    assert due_in(POLLED, obs) == 5000.0


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        (120.0, 120.0, 132.0),  # honoured, plus up to 10 % so told feeds do not return together
        (3600.0, 3600.0, 3960.0),
        (10.0, 60.0, 66.0),  # never below min_interval
        (86_400.0 * 7, 21_600.0, 23_760.0),  # capped at max_backoff
        (None, 300.0, 600.0),  # no Retry-After: backs off like a temporary error
    ],
)
def test_rate_limited_honours_retry_after(retry_after: float | None, low: float, high: float) -> None:
    obs = seen(Outcome("rate_limited", "HTTP 429", status=429, retry_after=retry_after))
    for draw in (0.0, 0.5, 0.999):
        delay = due_in(POLLED, obs, draw=draw)
        assert delay is not None and low <= delay <= high
    after = advance(POLLED, obs, LIM, NOW, 0.0)
    assert (after.state, after.failures, after.soft_failures, after.last_http) == ("backing_off", 1, 0, 429)


def test_soft_failures_disable_the_feed_only_after_n_in_a_row() -> None:
    state = POLLED
    for n in range(1, 30):
        state = advance(state, seen(Outcome("permanent_error", "HTTP 404", status=404)), LIM, NOW + n, 0.0)
        assert (state.state, state.soft_failures) == ("backing_off", n)
        assert state.next_due is not None
    # a temporary error between them does not clear the count (no success between them) ...
    state = advance(state, seen(Outcome("temporary_error", "timeout")), LIM, NOW + 30, 0.0)
    assert state.soft_failures == 29 and state.failures == 30
    state = advance(state, seen(Outcome("permanent_error", "unparsable: not a feed")), LIM, NOW + 31, 0.0)
    assert (state.state, state.next_due, state.soft_failures) == ("disabled", None, 30)
    assert state.last_error == "unparsable: not a feed"


def test_a_success_clears_both_counts() -> None:
    state = replace(POLLED, state="backing_off", failures=12, soft_failures=10)
    after = advance(state, seen(ok(), 20, 1), LIM, NOW, 0.0)
    assert (after.state, after.failures, after.soft_failures, after.last_error) == ("active", 0, 0, None)


def test_disable_after_is_a_setting() -> None:
    strict = replace(LIM, disable_after=1)
    after = advance(POLLED, seen(Outcome("permanent_error", "HTTP 404")), strict, NOW, 0.0)
    assert after.state == "disabled"


def test_gone_stops_polling_at_once() -> None:
    after = advance(POLLED, seen(Outcome("gone", "HTTP 410", status=410)), LIM, NOW, 0.0)
    assert (after.state, after.next_due, after.last_status, after.last_http) == ("gone", None, "gone", 410)


def test_deferred_changes_nothing_but_the_due_time() -> None:
    state = replace(POLLED, failures=2, state="backing_off", etag='"v1"')
    after = advance(state, seen(Outcome("deferred", retry_after=2.0)), LIM, NOW, 0.5)
    assert after == replace(state, next_due=NOW + 2.0 * 1.05)
    assert advance(state, seen(Outcome("deferred", retry_after=2.0)), LIM, NOW, 0.0).next_due == NOW + 2.0


# --- what a poll stores ---------------------------------------------------------------------------------


OLD = replace(POLLED, etag='"v1"', last_modified="Thu, 18 Jan 2024 10:00:00 GMT", body_hash="h1")


@pytest.mark.parametrize(
    ("outcome", "validators"),
    [
        (Outcome("ok", body_hash="h2", etag='"v2"', last_modified="Fri"), ('"v2"', "Fri", "h2")),
        (Outcome("ok", body_hash="h2"), ('"v1"', "Thu, 18 Jan 2024 10:00:00 GMT", "h2")),
        (Outcome("not_modified"), ('"v1"', "Thu, 18 Jan 2024 10:00:00 GMT", "h1")),
        (Outcome("temporary_error", "HTTP 500"), ('"v1"', "Thu, 18 Jan 2024 10:00:00 GMT", "h1")),
        (Outcome("permanent_error", "unparsable: x"), ('"v1"', "Thu, 18 Jan 2024 10:00:00 GMT", "h1")),
    ],
)
def test_validators_come_only_from_a_processed_body(outcome: Outcome, validators: tuple[str, str, str]) -> None:
    after = advance(OLD, seen(outcome, 0 if outcome.kind == "ok" else None), LIM, NOW, 0.0)
    assert (after.etag, after.last_modified, after.body_hash) == validators


def test_status_fields_after_a_success_and_a_failure() -> None:
    after = advance(POLLED, seen(ok(), 20, 1), LIM, NOW, 0.0)
    assert (after.last_status, after.last_error, after.last_polled, after.last_success, after.last_http) == (
        "ok",
        None,
        NOW,
        NOW,
        200,
    )
    failed = advance(after, seen(Outcome("temporary_error", "connect: refused")), LIM, NOW + 60, 0.0)
    assert (failed.last_status, failed.last_error, failed.last_polled, failed.last_success) == (
        "temporary_error",
        "connect: refused",
        NOW + 60,
        NOW,
    )
    assert failed.last_http == 200  # no new status received: the last one stays


def test_delays_are_a_bounded_sample_with_their_median() -> None:
    state = replace(POLLED, delays=tuple(float(i) for i in range(DELAY_SAMPLE)))
    after = advance(state, seen(ok(), 20, 2, delays=(1000.0, 2000.0)), LIM, NOW, 0.0)
    assert len(after.delays) == DELAY_SAMPLE and after.delays[-2:] == (1000.0, 2000.0)
    assert after.delays[0] == 2.0  # the oldest two dropped
    assert after.median_delay == pytest.approx(17.5)
    assert advance(POLLED, seen(ok(), 5, 1, delays=(90.0,)), LIM, NOW, 0.0).median_delay == 90.0


def test_changed_at_moves_only_with_the_state() -> None:
    failed = advance(POLLED, seen(Outcome("temporary_error")), LIM, NOW, 0.0)
    assert failed.changed_at == NOW
    again = advance(failed, seen(Outcome("temporary_error")), LIM, NOW + 600, 0.0)
    assert again.changed_at == NOW
    back = advance(again, seen(ok(), 1, 0), LIM, NOW + 1200, 0.0)
    assert (back.state, back.changed_at) == ("active", NOW + 1200)


# --- redirects ---------------------------------------------------------------------------------------


NEW_URL = "https://new.example.com/rss"


def test_a_permanent_redirect_moves_the_feed_after_three_polls_in_a_row() -> None:
    state = POLLED
    for n in (1, 2):
        state = advance(state, seen(ok(moved_to=NEW_URL), 1, 0), LIM, NOW + n, 0.0)
        assert (state.redirect_to, state.redirect_count, state.url) == (NEW_URL, n, None)
        assert current_url(state, URL) == URL
    state = advance(state, seen(ok(moved_to=NEW_URL), 1, 0), LIM, NOW + 3, 0.0)
    assert (state.url, state.source_url, state.redirect_to, state.redirect_count) == (NEW_URL, URL, None, 0)
    assert current_url(state, URL) == NEW_URL
    # sources.yaml changed the URL since: the file wins
    assert current_url(state, "https://other.example/feed") == "https://other.example/feed"


@pytest.mark.parametrize(
    ("second", "count"),
    [
        (ok(moved_to="https://elsewhere.example/rss"), 1),  # another target: counting starts again
        (ok(), 0),  # not redirected this time: the row is broken
        (Outcome("not_modified"), 0),
    ],
)
def test_a_redirect_row_is_broken_by_any_other_answer(second: Outcome, count: int) -> None:
    state = advance(POLLED, seen(ok(moved_to=NEW_URL), 1, 0), LIM, NOW, 0.0)
    state = advance(state, seen(second, 1 if second.kind == "ok" else None, 0), LIM, NOW + 1, 0.0)
    assert state.redirect_count == count


def test_a_failure_leaves_the_redirect_count_alone() -> None:
    state = advance(POLLED, seen(ok(moved_to=NEW_URL), 1, 0), LIM, NOW, 0.0)
    state = advance(state, seen(Outcome("temporary_error", "timeout")), LIM, NOW + 1, 0.0)
    assert (state.redirect_to, state.redirect_count) == (NEW_URL, 1)


# --- health events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "outcome", "change"),
    [
        ("active", Outcome("temporary_error", "HTTP 502"), ("active", "backing_off")),
        ("active", Outcome("rate_limited", "HTTP 429"), ("active", "backing_off")),
        ("backing_off", Outcome("ok", body_hash="h"), ("backing_off", "active")),
        ("backing_off", Outcome("gone", "HTTP 410"), ("backing_off", "gone")),
        ("active", Outcome("ok", body_hash="h"), None),
        ("backing_off", Outcome("temporary_error", "HTTP 502"), None),
    ],
)
def test_every_change_of_health_is_an_event(before: str, outcome: Outcome, change) -> None:
    state = replace(POLLED, state=before)  # type: ignore[arg-type]
    after = advance(state, seen(outcome, 1 if outcome.kind == "ok" else None), LIM, NOW, 0.0)
    event = state_change(state, after, "bbc-arabic", NOW)
    if change is None:
        assert event is None
    else:
        assert event is not None
        assert (event["type"], event["feed"], event["from"], event["to"]) == ("feed.state", "bbc-arabic", *change)
        assert (event["status"], event["error"], event["at"]) == (outcome.kind, outcome.error, NOW)


def test_disabling_and_enabling_are_events() -> None:
    state = replace(POLLED, state="backing_off", soft_failures=29, failures=29)
    disabled = advance(state, seen(Outcome("permanent_error", "HTTP 404")), LIM, NOW, 0.0)
    assert state_change(state, disabled, "f", NOW)["to"] == "disabled"  # type: ignore[index]
    back = enabled(disabled, NOW + 10)
    assert (back.state, back.failures, back.soft_failures, back.next_due) == ("active", 0, 0, NOW + 10)
    assert state_change(disabled, back, "f", NOW + 10)["to"] == "active"  # type: ignore[index]


def test_a_confirmed_move_is_an_event() -> None:
    state = replace(POLLED, redirect_to=NEW_URL, redirect_count=2)
    after = advance(state, seen(ok(moved_to=NEW_URL), 1, 0), LIM, NOW, 0.0)
    event = state_change(state, after, "f", NOW)
    assert event is not None and (event["type"], event["url"]) == ("feed.moved", NEW_URL)


# --- invariants ---------------------------------------------------------------------------------------


@given(
    kind=st.sampled_from(OUTCOMES),
    failures=st.integers(min_value=0, max_value=200),
    soft=st.integers(min_value=0, max_value=29),
    interval=st.floats(min_value=60, max_value=3600),
    pace=st.none() | st.floats(min_value=0, max_value=1e6),
    hint=st.none() | st.floats(min_value=0, max_value=1e7),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_never_sooner_than_min_nor_later_than_the_caps(kind, failures, soft, interval, pace, hint, draw) -> None:
    state = replace(POLLED, failures=failures, soft_failures=soft, interval=interval, items_per_day=pace)
    outcome = Outcome(kind, retry_after=hint, fresh_for=hint)
    after = advance(state, seen(outcome, 10 if kind == "ok" else None, 1), LIM, NOW, draw)
    assert LIM.min_interval <= after.interval <= LIM.max_interval  # type: ignore[operator]
    if after.state in ("disabled", "gone"):
        assert after.next_due is None
    else:
        assert after.next_due is not None
        assert LIM.min_interval <= after.next_due - NOW <= max(LIM.max_backoff, LIM.max_interval) * 1.1 + 1e-6


# --- durations ---------------------------------------------------------------------------------------


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
