"""A feed server on 127.0.0.1 that misbehaves on purpose, and whose feeds grow while it runs.

Each feed is a list of RSS items; ``publish`` adds one (newest first, as feeds list them). A feed
may be given a plan of faults, consumed one per request before it answers normally again:

=============  ==========================================================================
``slow``       answers after ``slow_delay`` seconds (set it past the worker's read timeout
               for a time-out, below it for a merely slow feed)
``reset``      reads the request and closes the connection with a TCP RST, no response
``garbage``    ``200 OK`` with random bytes as an RSS body
``html``       ``200 OK`` with an HTML error page instead of the feed
``truncated``  ``200 OK``, the feed cut off half-way (a partial write)
``error``      ``503 Service Unavailable``
=============  ==========================================================================

Every response is recorded: ``first_served[link]`` is when (server clock, ``time.time()``) the
first complete feed carrying that item was written, the start of the fetch-to-alert latency the
end-to-end bench measures. ETag/If-None-Match is honoured, so an unchanged feed costs a 304.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

FAULTS = ("slow", "reset", "garbage", "html", "truncated", "error")


def rss_item(title: str, link: str, body: str, published: float) -> str:
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid isPermaLink='true'>{escape(link)}</guid><pubDate>{formatdate(published, usegmt=True)}</pubDate>"
        f"<description>{escape(body)}</description></item>"
    )


@dataclass
class Feed:
    items: list[tuple[str, str]] = field(default_factory=list)  # (link, item XML), newest first
    faults: list[str] = field(default_factory=list)
    max_items: int = 50  # like a real feed: only the newest are listed
    version: int = 0
    _body: bytes = b""
    _tag: str = ""
    _links: tuple[str, ...] = ()

    def body(self) -> tuple[bytes, str, tuple[str, ...]]:
        """The feed document, its ETag and the links it carries, rebuilt only when it changed."""
        if not self._tag:
            shown = self.items[: self.max_items]
            xml = (
                '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Fault feed</title>'
                f"<link>http://example.org/</link><language>ar</language>{''.join(x for _, x in shown)}"
                "</channel></rss>"
            )
            self._body = xml.encode()
            self._tag = '"' + hashlib.sha1(self._body).hexdigest()[:16] + '"'
            self._links = tuple(link for link, _ in shown)
        return self._body, self._tag, self._links


class FaultServer:
    def __init__(self, slow_delay: float = 4.0, max_items: int = 50) -> None:
        self.feeds: dict[str, Feed] = {}
        self.slow_delay = slow_delay
        self.max_items = max_items
        self.first_served: dict[str, float] = {}
        self.counts: Counter[str] = Counter()  # (path or fault) -> responses
        self.hits: Counter[str] = Counter()  # path -> requests
        self._lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    # --- set-up ---------------------------------------------------------------------------
    def feed(self, path: str, items: list[str] | None = None, faults: list[str] | None = None) -> str:
        """Add a feed at ``path`` with ``items`` (``rss_item`` strings, newest first); returns its URL."""
        unknown = set(faults or ()) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}"
        with self._lock:
            self.feeds[path] = Feed(faults=list(faults or ()), max_items=self.max_items)
        for item in reversed(items or []):
            self.publish(path, item)
        return self.url(path)

    def publish(self, path: str, item: str) -> None:
        link = item.split("<link>", 1)[1].split("</link>", 1)[0]
        with self._lock:
            feed = self.feeds[path]
            feed.items.insert(0, (link, item))
            del feed.items[feed.max_items :]  # fallen off the feed: gone for good, as on a real site
            feed.version += 1
            feed._tag = ""

    def add_faults(self, path: str, *faults: str) -> None:
        with self._lock:
            self.feeds[path].faults += faults

    def url(self, path: str) -> str:
        assert self.httpd is not None
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    # --- serving --------------------------------------------------------------------------
    def _next(self, path: str) -> tuple[str | None, bytes, str, tuple[str, ...]]:
        with self._lock:
            self.hits[path] += 1
            feed = self.feeds.get(path)
            if feed is None:
                return "missing", b"", "", ()
            fault = feed.faults.pop(0) if feed.faults else None
            body, tag, links = feed.body()
            return fault, body, tag, links

    def start(self) -> FaultServer:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def served(self, links: tuple[str, ...]) -> None:
        served = time.time()  # the whole response is written: the items are fetched now
        with self._lock:
            self.counts["200"] += 1
            for link in links:
                self.first_served.setdefault(link, served)

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    owner: FaultServer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (time-out) or a connection reset on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do
    server: _Server

    def do_GET(self) -> None:
        owner = self.server.owner
        fault, body, tag, links = owner._next(self.path)
        if fault == "missing":
            self._send(404, b"not found", "text/plain")
        elif fault is not None:
            owner.counts[fault] += 1
            self._fault(fault, body)
        elif self.headers.get("If-None-Match") == tag:
            self.send_response(304)
            self.send_header("ETag", tag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            owner.counts["304"] += 1
        else:
            self._send(200, body, "application/rss+xml; charset=utf-8", tag)
            owner.served(links)

    def _fault(self, fault: str, body: bytes) -> None:
        if fault == "slow":
            time.sleep(self.server.owner.slow_delay)
            self._send(200, body, "application/rss+xml; charset=utf-8")
        elif fault == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            self.connection.close()
        elif fault == "garbage":
            self._send(200, os.urandom(2048), "application/rss+xml")
        elif fault == "html":
            page = "<html><body><h1>خطأ في الخادم</h1><p>حاول لاحقا</p></body></html>".encode()
            self._send(200, page, "text/html; charset=utf-8")
        elif fault == "truncated":
            self._send(200, body[: len(body) // 2], "application/rss+xml; charset=utf-8")
        else:  # error
            self._send(503, b"unavailable", "text/plain")

    def _send(self, status: int, body: bytes, ctype: str, tag: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if tag:
            self.send_header("ETag", tag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass
