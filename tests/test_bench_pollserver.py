"""The simulated feed server of ``make bench-poll`` (bench/pollserver.py), on three hosts: each
kind of feed answers as the bench's docstring says, and the request log it reports is right.
The 10,000-feed bench itself is not run here."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import httpx
import pytest

from worker.core.parse import parse_feed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from pollserver import ServerProcess, host_address

ITEMS = [
    {"title": "باكستان تجري مراجعة للأمن القومي وسط الأزمة مع إيران", "description": "عقد اجتماع لكبار القادة"},
    {"title": "إسلام آباد تستدعي السفير الإيراني", "description": "احتجاجا على الضربات الجوية"},
]
KINDS = ["etag", "static", "new", "slow", "error", "reset", "ratelimit"]


@pytest.fixture
def server(tmp_path: Path):
    base = [{"title": "خبر قديم", "description": "نص", "link": "https://h0.example.com/b/0", "pubDate": "x"}]
    spec = {
        "addresses": [host_address(h) for h in range(3)],
        "feeds": [{"index": i, "host": i % 3, "kind": k, "base": base} for i, k in enumerate(KINDS)],
        "new_items": ITEMS,
        "slow_s": 0.5,
        "retry_after": 77,
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    proc = ServerProcess(tmp_path / "spec.json")
    yield proc, spec
    proc.close()


def url(spec: dict, proc: ServerProcess, index: int) -> str:
    return f"http://{spec['addresses'][index % 3]}:{proc.port}/feed/{index}"


def test_every_kind_answers_as_documented(server, tmp_path: Path):
    proc, spec = server
    with httpx.Client() as client:
        # warm-up: every feed answers its base document; a known ETag gets a 304
        warm = {i: client.get(url(spec, proc, i)) for i in range(len(KINDS))}
        assert all(r.status_code == 200 for r in warm.values())
        etag = warm[0].headers["etag"]
        assert client.get(url(spec, proc, 0), headers={"If-None-Match": etag}).status_code == 304
        assert "etag" not in warm[1].headers  # static: no validators
        titles = [e.title for e in parse_feed(warm[2].content, dict(warm[2].headers), url(spec, proc, 2)).entries]
        assert titles == ["خبر قديم"]

        assert proc.call("measure")["measuring"] is True
        assert client.get(url(spec, proc, 0), headers={"If-None-Match": etag}).status_code == 304
        again = client.get(url(spec, proc, 1))
        assert (again.status_code, again.content) == (200, warm[1].content)
        fresh = client.get(url(spec, proc, 2))
        entries = parse_feed(fresh.content, dict(fresh.headers), url(spec, proc, 2)).entries
        assert 2 <= len(entries) <= 4 and entries[-1].title == "خبر قديم"
        assert {e.title for e in entries[:-1]} <= {i["title"] for i in ITEMS}
        assert client.get(url(spec, proc, 4)).status_code == 500
        limited = client.get(url(spec, proc, 6))
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "77")
        with pytest.raises(httpx.TransportError):
            client.get(url(spec, proc, 5))
        # a feed asked on a host that does not serve it: 404, not logged
        assert client.get(f"http://{spec['addresses'][1]}:{proc.port}/feed/0").status_code == 404

    # two slow requests at once on one host: both in flight together
    replies: list[int] = []
    threads = [threading.Thread(target=lambda: replies.append(httpx.get(url(spec, proc, 3)).status_code)) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert replies == [200, 200]

    progress = proc.call("progress")
    assert (progress["feeds_1"], progress["feeds_m"], progress["inflight"]) == (7, 7, 0)
    proc.call(f"dump {tmp_path / 'log.json'}")
    data = json.loads((tmp_path / "log.json").read_text(encoding="utf-8"))
    log = data["log"]  # [feed, host, start, end, status, in flight on the host at start]
    assert len(log) == progress["requests"] == 7 + 1 + 6 + 2
    assert all(row[1] == row[0] % 3 and row[3] >= row[2] for row in log)
    assert [row[4] for row in log if row[0] == 4] == [200, 500] and [row[4] for row in log if row[0] == 5][-1] == 0
    slow = [row for row in log if row[0] == 3][1:]
    assert all(row[3] - row[2] >= 0.5 for row in slow)  # the server's own delay, as it logged it
    assert data["peak"][3 % 3] == 2 and max(row[5] for row in slow) == 2
    served = data["served"]  # [link, feed, end of the response]
    assert len(served) == len(entries) - 1 and all(s[1] == 2 and "/a/2/" in s[0] for s in served)
