"""The simulated feed servers of ``make bench-poll``: one process, one listening socket per host.

Each host is a distinct loopback address (127.0.x.y; Linux routes all of 127.0.0.0/8 to the
loopback device), all on one port, so a fetcher that limits requests per host sees as many
hosts as in production. The process runs one asyncio loop with a raw HTTP/1.1 protocol
(keep-alive, no framework): a few microseconds per request, so that on a 2-core machine it is
not the bottleneck of what it measures (it reports its own CPU time).

Every feed behaves by kind (a field of the spec) once the ``measure`` command has been given;
before it (the warm-up, so that the polls under test are steady-state ones: ETags known, items
seen) every feed answers its base document, and honours If-None-Match:

- ``etag``: honours If-None-Match (304), else its base document with an ETag;
- ``static``: the same body every time, without validators (the worker hashes it);
- ``new``: 1-3 new items per request on top of the ones it served before (the last 10 kept);
- ``slow``: the base document after ``slow_s`` seconds;
- ``error``: HTTP 500; ``reset``: the connection is reset without an answer;
- ``ratelimit``: 429 with ``Retry-After``.

Driven by line commands on stdin, answered by one JSON line on stdout: ``progress`` (request
counts), ``measure`` (start the kinds' behaviour), ``dump PATH`` (the request log as JSON),
``quit``. Started by bench/poll.py and by
tests/test_bench_pollserver.py; ``python bench/pollserver.py SPEC.json`` prints
``{"ready": true, "port": N}`` once every socket listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from pathlib import Path
from typing import Any

KINDS = ("etag", "static", "new", "slow", "error", "reset", "ratelimit")
_KEEP = 10  # items a "new" feed keeps in its document


@dataclass
class Feed:
    index: int
    host: int
    kind: str
    base: list[dict[str, str]]  # items of the base document: title, description, link, pubDate
    items: list[dict[str, str]] = field(default_factory=list)  # a "new" feed's current items
    requests: int = 0
    measured: int = 0  # requests since ``measure``
    body: bytes = b""
    etag: str = ""


def rss(title: str, link: str, items: list[dict[str, str]]) -> bytes:
    """An RSS 2.0 document, as a plain Arabic news feed writes it."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link><language>ar</language>",
    ]
    for it in items:
        parts.append(
            f"<item><title>{escape(it['title'])}</title><link>{escape(it['link'])}</link>"
            f"<guid>{escape(it['link'])}</guid><pubDate>{it['pubDate']}</pubDate>"
            f"<description>{escape(it['description'])}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def host_address(host: int, base: tuple[int, int] = (1, 1)) -> str:
    """Host number -> its loopback address: 127.0.1.1 ... 127.0.1.250, 127.0.2.1 ...
    (never 127.0.0.x, where the real services of the machine listen)."""
    x, y = divmod(host, 250)
    return f"127.0.{base[0] + x}.{base[1] + y}"


class Server:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.addresses: list[str] = spec["addresses"]
        self.port: int = spec.get("port", 0)
        self.slow_s: float = spec.get("slow_s", 3.0)
        self.retry_after: int = spec.get("retry_after", 120)
        self.pool: list[dict[str, str]] = spec.get("new_items", [])
        self.rng = random.Random(spec.get("seed", 1))
        self.feeds = [Feed(f["index"], f["host"], f["kind"], f["base"]) for f in spec["feeds"]]
        self.by_index = {f.index: f for f in self.feeds}
        self.inflight = [0] * len(self.addresses)
        self.peak = [0] * len(self.addresses)
        # One row per request: feed, host, start, end, status, in flight on its host at its start
        self.log: list[list[Any]] = []
        self.served: list[list[Any]] = []  # new items: [link, feed, end of the response that served them]
        self.next_item = 0
        self.total = 0
        self.measuring = False
        self.counts = [0, 0, 0]  # feeds with at least 1 request, at least 2, at least 1 measured
        for f in self.feeds:
            f.body = rss(f"feed {f.index}", self.feed_url(f), f.base)
            f.etag = '"' + hashlib.sha1(f.body).hexdigest()[:16] + '"'

    def feed_url(self, f: Feed) -> str:
        return f"http://{self.addresses[f.host]}:{self.port}/feed/{f.index}"

    # --- answering ------------------------------------------------------------------------
    def answer(self, f: Feed, headers: dict[bytes, bytes], now: float) -> tuple[int, dict[str, str], bytes, list[str]]:
        """(status, headers, body, links of new items) for one request, by the feed's kind."""
        f.requests += 1
        warm = not self.measuring
        f.measured += not warm
        # counts kept as they change: ``progress`` is asked ten times a second
        self.counts[0] += f.requests == 1
        self.counts[1] += f.requests == 2
        self.counts[2] += f.measured == 1
        kind = "etag" if warm and f.kind in ("etag", "slow", "error", "reset", "ratelimit") else f.kind
        if kind == "static":
            return 200, {}, f.body, []
        if kind == "etag" or kind == "slow":
            if headers.get(b"if-none-match", b"").decode() == f.etag:
                return 304, {"ETag": f.etag}, b"", []
            return 200, {"ETag": f.etag}, f.body, []
        if kind == "error":
            return 500, {}, b"internal error", []
        if kind == "ratelimit":
            return 429, {"Retry-After": str(self.retry_after)}, b"slow down", []
        # "new": the warm-up serves the base items; each later request adds 1-3 fresh ones
        if warm:
            f.items = list(f.base)
            if headers.get(b"if-none-match", b"").decode() == f.etag:
                return 304, {"ETag": f.etag}, b"", []
            return 200, {"ETag": f.etag}, f.body, []
        fresh = []
        for _ in range(self.rng.randint(1, 3)):
            src = self.pool[self.next_item % len(self.pool)] if self.pool else {"title": "خبر", "description": "نص"}
            link = f"http://{self.addresses[f.host]}:{self.port}/a/{f.index}/{self.next_item}"
            self.next_item += 1
            fresh.append({**src, "link": link, "pubDate": formatdate(now, usegmt=True)})
        f.items = (fresh + f.items)[:_KEEP]
        body = rss(f"feed {f.index}", self.feed_url(f), f.items)
        return 200, {"ETag": '"' + hashlib.sha1(body).hexdigest()[:16] + '"'}, body, [i["link"] for i in fresh]

    def progress(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "requests": self.total,
            "feeds_1": self.counts[0],
            "feeds_2": self.counts[1],
            "feeds_m": self.counts[2],
            "inflight": sum(self.inflight),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "time": time.time(),
        }

    def dump(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as out:
            json.dump({**self.progress(), "log": self.log, "served": self.served, "peak": self.peak}, out)

    # --- sockets ------------------------------------------------------------------------------
    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        for _ in range(20):  # find one port free on every address
            port = self.port or _free_port(self.addresses[0])
            try:
                servers = []
                for host, address in enumerate(self.addresses):
                    servers.append(
                        await loop.create_server(
                            lambda h=host: _Protocol(self, h), address, port, backlog=1024, reuse_address=True
                        )
                    )
            except OSError:
                for s in servers:
                    s.close()
                if self.port:
                    raise
                continue
            self.port = port
            for f in self.feeds:  # the documents name their own URL
                f.body = rss(f"feed {f.index}", self.feed_url(f), f.base)
                f.etag = '"' + hashlib.sha1(f.body).hexdigest()[:16] + '"'
            return
        raise OSError("no port free on every address")


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, GET only, one request at a time per connection (what an HTTP
    client without pipelining sends)."""

    def __init__(self, server: Server, host: int) -> None:
        self.server = server
        self.host = host
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while not self.busy and b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            self.request(head)

    def request(self, head: bytes) -> None:
        assert self.transport is not None
        srv = self.server
        start = time.time()
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        path = parts[1].decode() if len(parts) > 1 else ""
        feed = None
        if path.startswith("/feed/"):
            with contextlib.suppress(ValueError):
                feed = srv.by_index.get(int(path[6:]))
        if feed is None or feed.host != self.host:
            self.respond(404, {}, b"no such feed")
            return
        srv.total += 1
        srv.inflight[self.host] += 1
        srv.peak[self.host] = max(srv.peak[self.host], srv.inflight[self.host])
        row: list[Any] = [feed.index, self.host, start, None, 0, srv.inflight[self.host]]
        srv.log.append(row)
        status, extra, body, links = srv.answer(feed, headers, start)
        if feed.kind == "reset" and srv.measuring:
            self.finish(row, 0, [])
            sock = self.transport.get_extra_info("socket")
            if sock is not None:  # RST instead of FIN: SO_LINGER with a zero timeout
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.transport.abort()
            return
        if feed.kind == "slow" and srv.measuring:
            self.busy = True
            asyncio.get_running_loop().call_later(srv.slow_s, self.later, row, status, extra, body, links)
            return
        self.respond(status, extra, body)
        self.finish(row, status, links)

    def later(self, row: list[Any], status: int, extra: dict[str, str], body: bytes, links: list[str]) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            self.finish(row, 0, [])
            return
        self.respond(status, extra, body)
        self.finish(row, status, links)
        self.data_received(b"")

    def finish(self, row: list[Any], status: int, links: list[str]) -> None:
        srv = self.server
        end = time.time()
        row[3], row[4] = end, status
        srv.inflight[self.host] -= 1
        srv.served.extend([link, row[0], end] for link in links)

    def respond(self, status: int, extra: dict[str, str], body: bytes) -> None:
        assert self.transport is not None
        reason = {200: "OK", 304: "Not Modified", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Error")
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
        if body:
            head.append("Content-Type: application/rss+xml; charset=utf-8")
        head += [f"{k}: {v}" for k, v in extra.items()]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class ServerProcess:
    """The server in a process of its own, driven through its stdin and stdout."""

    def __init__(self, spec_path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(spec_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self._read()["port"])

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the feed server exited")
        result: dict[str, Any] = json.loads(line)
        return result

    def call(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(RuntimeError, BrokenPipeError):
                self.call("quit")
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def serve(spec: dict[str, Any]) -> None:
    server = Server(spec)
    await server.listen()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True, "port": server.port}), flush=True)
    while line := (await reader.readline()).decode().strip():
        command, _, arg = line.partition(" ")
        if command == "progress":
            print(json.dumps(server.progress()), flush=True)
        elif command == "measure":
            server.measuring = True
            print(json.dumps({"measuring": True, "time": time.time()}), flush=True)
        elif command == "dump":
            server.dump(arg)
            print(json.dumps({"dumped": arg}), flush=True)
        elif command == "quit":
            break
        else:
            print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    asyncio.run(serve(spec))


if __name__ == "__main__":
    main()
