"""Safe fetching, the network side (issue 6): http and https only, no private addresses (on the
resolved address, after every redirect), and the caps on body size, decompressed size,
redirects and total time, each proven against a real socket that records what it managed to
send. Only loopback addresses are ever connected to: a "public" site is simulated by a
resolver that answers 127.0.0.2 and a policy that counts that one address as public."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.feeds import rss
from tests.feedserver import FeedServer
from worker import __version__
from worker.adapters.http import Fetcher, public_only, resolve
from worker.config import Settings

MB = 1024 * 1024


def settings(**kw: object) -> Settings:
    return Settings(key_prefix="marsadtest:safe:", **kw)


def local(**kw: object) -> Fetcher:
    return Fetcher(settings(allow_private_networks=True, **kw))


# --- schemes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://ftp.example.com/feed.xml",
        "gopher://example.com/1",
        "data:application/rss+xml,<rss/>",
        "javascript:alert(1)",
        "feeds/rss.xml",
    ],
)
def test_only_http_and_https_are_fetched(url: str):
    result = local().fetch(url)
    assert result.outcome == "invalid-url" and "only http and https" in (result.error or ""), result


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "gopher://127.0.0.1/"])
def test_a_redirect_to_another_scheme_is_refused(feed_server: FeedServer, target: str):
    url = feed_server.route("/feed.xml", status=302, location=target)
    result = local().fetch(url)
    assert result.outcome == "invalid-url" and "only http and https" in (result.error or ""), result


# --- private addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "::1",
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.1.1",
        "fc00::1",
        "169.254.169.254",  # link-local (cloud metadata)
        "fe80::1",
        "100.64.0.1",  # shared address space (carrier NAT)
        "224.0.0.1",  # multicast: ipaddress calls it "global"
        "239.255.255.250",
        "ff02::1",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "0.0.0.0",  # unspecified
        "::",
        "192.0.2.1",  # documentation
        "2001:db8::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str):
    assert not public_only(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "64:ff9b::808:808"])
def test_public_addresses_pass(address: str):
    assert public_only(ipaddress.ip_address(address))


@pytest.fixture
def server_2() -> Iterator[FeedServer]:
    server = FeedServer().start(host="127.0.0.2")
    yield server
    server.stop()


def public_127_0_0_2(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """The policy under test, with 127.0.0.2 standing in for a public server."""
    return ip == ipaddress.ip_address("127.0.0.2") or public_only(ip)


def resolver(names: dict[str, str]) -> Callable[[str], list[str]]:
    return lambda host: [names[host]] if host in names else resolve(host)


@pytest.mark.parametrize(
    "where",
    [
        "http://127.0.0.1:{port}/admin",  # an address in the Location
        "http://intranet.example:{port}/admin",  # a name that resolves inside
        "http://[::ffff:127.0.0.1]:{port}/admin",  # the same address, IPv6-mapped
        "http://2130706433:{port}/admin",  # 127.0.0.1 as one number: the system resolver reads it
    ],
)
def test_a_public_site_redirecting_inside_is_refused(feed_server: FeedServer, server_2: FeedServer, where: str):
    feed_server.route("/admin", b"secret")
    port = feed_server.url("/").split(":")[2].split("/")[0]
    server_2.route("/feed.xml", status=302, location=where.format(port=port))
    s2_port = server_2.url("/").split(":")[2].split("/")[0]
    names = {"news.example": "127.0.0.2", "intranet.example": "127.0.0.1"}
    fetcher = Fetcher(settings(), resolver=resolver(names), allowed=public_127_0_0_2)
    result = fetcher.fetch(f"http://news.example:{s2_port}/feed.xml")
    assert result.outcome == "blocked" and "non-public address" in (result.error or ""), result
    assert len(server_2.hits("/feed.xml")) == 1 and feed_server.hits("/admin") == []


def test_the_setting_allows_private_networks(feed_server: FeedServer, server_2: FeedServer):
    target = feed_server.route("/feed.xml", rss())
    start = server_2.route("/old.xml", status=302, location=target)
    assert Fetcher(settings()).fetch(start).outcome == "blocked"
    result = Fetcher(settings(allow_private_networks=True)).fetch(start)
    assert result.outcome == "ok" and result.final_url == target


# --- redirects -----------------------------------------------------------------------------


def redirect_chain(server: FeedServer, hops: int) -> str:
    server.route("/feed.xml", rss())
    for i in range(hops):
        nxt = "/feed.xml" if i == hops - 1 else f"/hop{i + 1}"
        server.route(f"/hop{i}", status=302, location=server.url(nxt))
    return server.url("/hop0")


def test_five_redirects_are_followed(feed_server: FeedServer):
    result = local().fetch(redirect_chain(feed_server, 5))
    assert result.outcome == "ok" and len(feed_server.hits("/feed.xml")) == 1


def test_a_sixth_redirect_is_refused(feed_server: FeedServer):
    result = local().fetch(redirect_chain(feed_server, 6))
    assert result.outcome == "http" and "too many redirects" in (result.error or "")
    # hop0 and the five redirects after it were followed; the sixth (hop5 -> feed) was not
    assert [len(feed_server.hits(f"/hop{i}")) for i in range(6)] == [1] * 6
    assert feed_server.hits("/feed.xml") == []


# --- caps against a raw socket that records what it sent -----------------------------------


@dataclass
class Sent:
    """What a one-response server managed to send before the client hung up."""

    bytes: int = 0
    cut: bool = False  # a send failed: the client closed the connection first
    done: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes, Iterator[bytes], float], tuple[str, Sent]]]:
    socks: list[socket.socket] = []

    def start(head: bytes, body: Iterator[bytes], pause: float = 0.0) -> tuple[str, Sent]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        socks.append(sock)
        sent = Sent()

        def serve() -> None:
            try:
                conn, _ = sock.accept()
            except OSError:
                sent.done.set()
                return
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(head)
                    for chunk in body:
                        conn.sendall(chunk)
                        sent.bytes += len(chunk)
                        if pause:
                            time.sleep(pause)
                except OSError:
                    sent.cut = True
            sent.done.set()

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml", sent

    yield start
    for s in socks:
        s.close()


def zeros(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // chunk):
        yield b"\0" * chunk


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"


@pytest.mark.parametrize(
    "framing",
    [
        b"Connection: close\r\n\r\n",  # no length: read to the end of the connection
        b"Content-Length: 67108864\r\n\r\n",  # declared, and over the cap: refused unread
    ],
)
def test_a_body_over_the_cap_stops_the_download(raw_server, framing: bytes):
    total = 64 * MB
    url, sent = raw_server(OK_HEAD + framing, zeros(total))
    result = local(max_feed_bytes=MB).fetch(url)
    assert result.outcome == "too-large"
    assert sent.done.wait(30)
    # the server saw the connection closed under it; what it got out is the cap plus what the
    # kernel's socket buffers took (a few MB on loopback), far from the 64 MB it had
    assert sent.cut and sent.bytes < total // 4, sent.bytes


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compression_bomb_stops_at_the_decompressed_cap(raw_server, encoding: str):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    bomb = packer.compress(b"\0" * (256 * MB)) + packer.flush()  # 256 MB of zeros in ~250 KB
    assert len(bomb) < MB // 2
    head = OK_HEAD + f"Content-Encoding: {encoding}\r\nContent-Length: {len(bomb)}\r\n\r\n".encode()
    url, _ = raw_server(head, iter([bomb]))
    result = local(max_feed_bytes=MB).fetch(url)
    assert result.outcome == "too-large" and f"over {MB} bytes" in (result.error or "")


def test_an_encoding_that_cannot_be_bounded_is_refused(raw_server):
    url, _ = raw_server(OK_HEAD + b"Content-Encoding: br\r\nContent-Length: 4\r\n\r\n", iter([b"abcd"]))
    result = local().fetch(url)
    assert result.outcome == "http" and "unsupported Content-Encoding 'br'" in (result.error or "")


def test_total_time_cap_stops_a_trickling_body(raw_server):
    # Headers at once, then one byte every 0.2 s: each read is well within the 1 s read
    # timeout, only the 2 s total cap can stop it (the whole body would take 100 s).
    head = OK_HEAD + b"Content-Length: 500\r\n\r\n"
    url, sent = raw_server(head, iter([b"x"] * 500), 0.2)
    result = local(http_read_timeout=1, http_total_timeout=2).fetch(url)
    assert result.outcome == "timeout" and "total time limit" in (result.error or "")
    assert sent.done.wait(10) and sent.cut and sent.bytes < 100


def test_every_request_names_marsad_and_its_contact(feed_server: FeedServer):
    target = feed_server.route("/feed.xml", rss())
    start = feed_server.route("/old.xml", status=301, location=target)
    fetcher = Fetcher(settings(allow_private_networks=True, contact_url="https://newsroom.example/bot"))
    assert fetcher.fetch(start).outcome == "ok"
    agents = [h["user-agent"] for _, h in feed_server.requests]
    assert agents == [f"marsad/{__version__} (+https://newsroom.example/bot)"] * 2  # the redirect hop too
