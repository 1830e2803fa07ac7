"""What to ask and how to read the answer: conditional-GET headers, response classification."""

from __future__ import annotations

from worker.models import FeedState, FetchResult


def conditional_headers(state: FeedState) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the last successful fetch (RFC 9110 §13.1)."""
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def classify(status: int, headers: dict[str, str], body: bytes, final_url: str) -> FetchResult:
    """A completed HTTP exchange as an outcome: 304 ends the work, 2xx is a body, others fail."""
    etag = headers.get("etag")
    last_modified = headers.get("last-modified")
    if status == 304:
        return FetchResult("not-modified", status, final_url=final_url, etag=etag, last_modified=last_modified)
    if 200 <= status < 300:
        return FetchResult("ok", status, body, headers, etag, last_modified, final_url)
    return FetchResult("http", status, final_url=final_url, error=f"HTTP {status}")
