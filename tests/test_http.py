"""The HTTP edge against real sockets on 127.0.0.x: the private-address guard (redirects and
DNS answers included), the total-time cap against a trickling server, bounded decompression."""

from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from worker.adapters.http import Fetcher
from worker.config import Settings


def only(*allowed: str):
    """An address policy: public addresses, plus the loopback addresses named."""
    return lambda ip: ip.is_global or ip in {ipaddress.ip_address(a) for a in allowed}


@pytest.fixture
def server_2() -> Iterator[FeedServer]:
    server = FeedServer().start(host="127.0.0.2")
    yield server
    server.stop()


def settings(**kw: object) -> Settings:
    return Settings(key_prefix="marsadtest:http:", **kw)


def test_loopback_blocked_by_default(feed_server: FeedServer):
    url = feed_server.route("/f.xml", rss())
    result = Fetcher(settings()).fetch(url)
    assert result.outcome == "blocked" and "127.0.0.1" in (result.error or "")
    assert feed_server.hits("/f.xml") == []


def test_redirect_to_a_private_address_is_blocked(feed_server: FeedServer, server_2: FeedServer):
    target = feed_server.route("/admin", b"secret")
    start = server_2.route("/feed.xml", status=302, location=target)
    result = Fetcher(settings(), allowed=only("127.0.0.2")).fetch(start)
    assert result.outcome == "blocked" and "127.0.0.1" in (result.error or "")
    assert len(server_2.hits("/feed.xml")) == 1 and feed_server.hits("/admin") == []


def test_connects_to_the_address_it_checked(server_2: FeedServer):
    """The resolver's answer is the one connected to: a second lookup (DNS rebinding) cannot
    swap in another address. "feeds.test" exists only in this resolver."""
    url = server_2.route("/feed.xml", rss(seed_item("https://news.example.com/1")))
    port = url.split(":")[2].split("/")[0]
    fetcher = Fetcher(settings(), resolver={"feeds.test": ["127.0.0.2"]}.__getitem__, allowed=only("127.0.0.2"))
    result = fetcher.fetch(f"http://feeds.test:{port}/feed.xml")
    assert result.outcome == "ok" and b"<rss" in result.body
    blocked = Fetcher(settings(), resolver={"feeds.test": ["93.184.216.34", "127.0.0.2"]}.__getitem__)
    assert blocked.fetch(f"http://feeds.test:{port}/feed.xml").outcome == "blocked"


def test_permanent_redirect_is_reported(feed_server: FeedServer):
    new = feed_server.route("/new.xml", rss())
    old = feed_server.route("/old.xml", status=301, location=new)
    result = Fetcher(settings(allow_private_networks=True)).fetch(old)
    assert result.outcome == "ok" and result.moved_to == new


@pytest.fixture
def trickle_server() -> Iterator[str]:
    """Answers every connection with a valid response header, one byte every 0.2 s."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Padding: " + b"x" * 500:
                    if stop.is_set():
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"
    stop.set()
    sock.close()


def test_total_time_cap_stops_a_trickling_server(trickle_server: str):
    # Each byte arrives well within the 1 s read timeout; only the 2 s total cap can stop it
    # (without it the headers alone would take 2 minutes).
    fetcher = Fetcher(settings(allow_private_networks=True, http_read_timeout=1, http_total_timeout=2))
    result = fetcher.fetch(trickle_server)
    assert result.outcome == "timeout" and "total time limit" in (result.error or "")


def test_gzip_body_is_decoded(feed_server: FeedServer):
    body = rss(seed_item("https://news.example.com/gz"))
    url = feed_server.route("/gz.xml", body, gzip=True)
    result = Fetcher(settings(allow_private_networks=True)).fetch(url)
    assert result.outcome == "ok" and result.body == body


def test_gzip_bomb_is_refused_within_bounded_memory(feed_server: FeedServer):
    limit = 1024 * 1024
    bomb = b"\0" * (64 * limit)  # 64 MB of zeros, about 64 KB gzipped
    url = feed_server.route("/bomb.xml", bomb, gzip=True)
    fetcher = Fetcher(settings(allow_private_networks=True, max_feed_bytes=limit))
    tracemalloc.start()
    try:
        result = fetcher.fetch(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome == "too-large"
    assert peak < 8 * limit, f"peak {peak} bytes for a {limit}-byte cap"
    assert len(gzip.compress(bomb)) < limit  # the bomb really is small on the wire


def test_a_hanging_resolver_costs_the_fetch_its_deadline_not_the_worker():
    release = threading.Event()

    def hanging(host: str) -> list[str]:
        release.wait(30)  # a resolver that does not answer
        return ["93.184.216.34"]

    fetcher = Fetcher(settings(http_connect_timeout=1, http_total_timeout=2), resolver=hanging)
    try:
        result = fetcher.fetch("http://feeds.example.com/rss")
    finally:
        release.set()
    assert result.outcome == "timeout" and "resolving feeds.example.com timed out" in (result.error or "")
