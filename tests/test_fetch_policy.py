"""Fetch outcomes are data (worker/core/fetch_policy.py): every detailed fetch result maps to one
of the six poll outcomes (or deferred), with the detail kept in the error text."""

from __future__ import annotations

import pytest

from worker.core.fetch_policy import (
    body_hash,
    classify,
    conditional_headers,
    fetch_outcome,
    fresh_for,
    parse_failed,
    retry_after,
)
from worker.models import FeedState, FetchResult

NOW = 1_705_649_400.0  # Fri, 19 Jan 2024 07:30:00 GMT
BODY = "<rss><channel><title>أخبار</title></channel></rss>".encode()
SEEN = FeedState(etag='"v1"', last_modified="Thu, 18 Jan 2024 10:00:00 GMT", body_hash=body_hash(BODY))


def http(status: int, **headers: str) -> FetchResult:
    return classify(status, {k.replace("_", "-"): v for k, v in headers.items()}, b"", "https://example.com/rss")


@pytest.mark.parametrize(
    ("result", "kind", "error"),
    [
        (FetchResult("ok", 200, b"<rss>new</rss>"), "ok", None),
        (FetchResult("ok", 200, BODY), "not_modified", None),  # a stale ETag: same body again
        (FetchResult("not-modified", 304), "not_modified", None),
        (FetchResult("timeout", error="ReadTimeout: timed out"), "temporary_error", "timeout: ReadTimeout: timed out"),
        (FetchResult("connect", error="ConnectError: refused"), "temporary_error", "connect: ConnectError: refused"),
        (http(500), "temporary_error", "HTTP 500"),
        (http(502), "temporary_error", "HTTP 502"),
        (http(504), "temporary_error", "HTTP 504"),
        (FetchResult("http", 200, error="bad gzip body: incorrect header"), "temporary_error", "bad gzip body"),
        (http(503), "rate_limited", "HTTP 503"),
        (http(429), "rate_limited", "HTTP 429"),
        (http(410), "gone", "HTTP 410"),
        (http(404), "permanent_error", "HTTP 404"),
        (http(403), "permanent_error", "HTTP 403"),
        (http(401), "permanent_error", "HTTP 401"),
        (http(400), "permanent_error", "HTTP 400"),
        (http(300), "permanent_error", "HTTP 300"),
        (FetchResult("http", error="too many redirects: Exceeded"), "permanent_error", "too many redirects"),
        (FetchResult("too-large", 200, error="body over 10 bytes"), "permanent_error", "too-large: body over"),
        (FetchResult("blocked", error="resolves to 10.0.0.1"), "permanent_error", "blocked: resolves to 10.0.0.1"),
        (FetchResult("invalid-url", error="No host"), "permanent_error", "invalid-url: No host"),
        (FetchResult("something-new", error="?"), "temporary_error", "something-new: ?"),
    ],
)
def test_every_fetch_result_is_one_outcome_with_its_detail(result: FetchResult, kind: str, error: str | None) -> None:
    outcome = fetch_outcome(result, SEEN, NOW)
    assert outcome.kind == kind
    if error is None:
        assert outcome.error is None and outcome.success
    else:
        assert outcome.error is not None and outcome.error.startswith(error) and not outcome.success
    assert outcome.status == result.status


def test_a_new_body_carries_its_hash_and_validators() -> None:
    result = FetchResult("ok", 200, b"<rss>new</rss>", {}, '"v2"', "Fri, 19 Jan 2024 07:00:00 GMT")
    outcome = fetch_outcome(result, SEEN, NOW)
    assert (outcome.kind, outcome.body_hash) == ("ok", body_hash(b"<rss>new</rss>"))
    assert (outcome.etag, outcome.last_modified) == ('"v2"', "Fri, 19 Jan 2024 07:00:00 GMT")


def test_a_repeated_body_is_not_modified_and_refreshes_the_validators() -> None:
    """A server with a stale ETag: the 200 is not parsed; its new ETag may give a 304 next time."""
    outcome = fetch_outcome(FetchResult("ok", 200, BODY, {}, '"v9"'), SEEN, NOW)
    assert (outcome.kind, outcome.etag, outcome.body_hash) == ("not_modified", '"v9"', SEEN.body_hash)


def test_a_304_brings_no_validators_to_store() -> None:
    outcome = fetch_outcome(FetchResult("not-modified", 304, etag='"other"'), SEEN, NOW)
    assert (outcome.etag, outcome.body_hash) == (None, None)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "120"}, 120.0),
        ({"retry-after": " 0 "}, 0.0),
        ({"retry-after": "Fri, 19 Jan 2024 07:35:00 GMT"}, 300.0),
        ({"retry-after": "Fri, 19 Jan 2024 07:00:00 GMT"}, 0.0),  # in the past: now
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-5"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(headers, NOW) == seconds


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limited_carries_retry_after(status: int) -> None:
    assert fetch_outcome(http(status, retry_after="90"), SEEN, NOW).retry_after == 90.0
    dated = http(status, retry_after="Fri, 19 Jan 2024 08:30:00 GMT")
    assert fetch_outcome(dated, SEEN, NOW).retry_after == 3600.0
    assert fetch_outcome(http(status), SEEN, NOW).retry_after is None


def test_politeness_retry_after_wins_over_the_header() -> None:
    result = FetchResult("http", 429, headers={"retry-after": "600"}, error="HTTP 429", retry_after=30.0)
    assert fetch_outcome(result, SEEN, NOW).retry_after == 30.0


def test_deferred_is_not_a_poll_and_says_when() -> None:
    outcome = fetch_outcome(FetchResult("deferred", retry_after=2.5, error="host busy"), SEEN, NOW)
    assert (outcome.kind, outcome.retry_after, outcome.success) == ("deferred", 2.5, False)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"cache-control": "public, max-age=600"}, 600.0),
        ({"cache-control": "s-maxage=120"}, 120.0),
        ({"cache-control": 'max-age="300"'}, 300.0),
        ({"cache-control": "max-age=0"}, None),
        ({"cache-control": "no-cache"}, None),
        ({"expires": "Fri, 19 Jan 2024 07:40:00 GMT"}, 600.0),
        # measured from the server's Date: a server clock 1 h ahead still means 5 minutes
        ({"expires": "Fri, 19 Jan 2024 08:35:00 GMT", "date": "Fri, 19 Jan 2024 08:30:00 GMT"}, 300.0),
        ({"expires": "0"}, None),
        ({"expires": "-1"}, None),
        ({"expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, None),
        ({"cache-control": "max-age=60", "expires": "Fri, 19 Jan 2024 08:30:00 GMT"}, 60.0),  # max-age wins
        ({}, None),
    ],
)
def test_fresh_for_reads_max_age_then_expires(headers: dict[str, str], seconds: float | None) -> None:
    assert fresh_for(headers, NOW) == seconds


def test_headers_are_kept_on_every_status() -> None:
    result = http(304, cache_control="max-age=900")
    assert fetch_outcome(result, SEEN, NOW).fresh_for == 900.0


def test_parse_failure_is_soft_and_forgets_the_body() -> None:
    ok = fetch_outcome(FetchResult("ok", 200, b"<html>not a feed</html>", {}, '"v2"'), SEEN, NOW)
    failed = parse_failed(ok, "not a feed: syntax error")
    assert (failed.kind, failed.error) == ("permanent_error", "unparsable: not a feed: syntax error")
    assert (failed.body_hash, failed.etag) == (None, None)


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [
        (True, {"If-None-Match": '"v1"', "If-Modified-Since": "Thu, 18 Jan 2024 10:00:00 GMT"}),
        (False, {}),
    ],
)
def test_conditional_get_can_be_switched_off(enabled: bool, expected: dict[str, str]) -> None:
    assert conditional_headers(SEEN, enabled) == expected
