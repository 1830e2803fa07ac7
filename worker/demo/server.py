"""The replay server: a real HTTP server on 127.0.0.1 serving the demo feeds as they grow.

``GET /feeds/<id>`` is the feed at this moment (RSS or Atom, with ETag and Last-Modified;
a conditional GET between two releases gets a 304), ``GET /item/<feed>/<key>`` an item's page
once it is released (the bundled article page for full-text items). The decisions are in
``replay.py``; this module only answers requests, with the clock passed in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from worker.demo.data import page_bytes
from worker.demo.replay import Replay, item_page, not_modified, render
from worker.errors import DemoError

_TYPES = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}


@dataclass
class ReplayServer:
    replay: Replay
    clock: Callable[[], float] = time.time
    host: str = "127.0.0.1"
    port: int = 0
    _httpd: ThreadingHTTPServer | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def feed_url(self, feed_id: str) -> str:
        return f"{self.base_url}/feeds/{feed_id}"

    def elapsed(self) -> float:
        return self.clock() - self.replay.started

    def start(self) -> ReplayServer:
        try:
            self._httpd = ThreadingHTTPServer((self.host, self.port), _handler(self))
        except OSError as e:
            raise DemoError(f"cannot serve the demo feeds on {self.host}:{self.port}: {e.strerror or e}") from e
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="demo-replay", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def respond(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for a GET of ``path``: the whole routing, testable alone."""
        parts = [unquote(p) for p in path.split("?")[0].strip("/").split("/")]
        now = self.clock()
        if len(parts) == 2 and parts[0] == "feeds" and parts[1] in self.replay.feeds:
            feed = self.replay.feeds[parts[1]]
            snap = self.replay.snapshot(feed.id, now)
            validators = {"ETag": snap.etag, "Last-Modified": snap.last_modified}
            if not_modified(snap, headers.get("if-none-match"), headers.get("if-modified-since")):
                return 304, validators, b""
            return 200, {"Content-Type": _TYPES[feed.format], **validators}, render(feed, snap, self.base_url)
        if len(parts) == 3 and parts[0] == "item" and parts[1] in self.replay.feeds:
            feed = self.replay.feeds[parts[1]]
            at = self.replay.released_at(feed.id, parts[2])
            if at is not None and self.replay.started + at <= now:
                item = next(i for i in feed.items if i.key == parts[2])
                body = page_bytes(item.page) if item.page else item_page(feed, item)
                return 200, {"Content-Type": "text/html"}, body
        return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"not found (or not published yet)\n"


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, out, body = server.respond(self.path, headers)
            self.send_response(status)
            for name, value in out.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass  # the worker logs every poll already; the replay stays quiet

    return Handler
