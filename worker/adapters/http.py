"""The HTTP edge: one httpx client per process, with timeouts, a size cap, redirects followed,
and no fetches from private networks unless allowed.

Every failure becomes a ``FetchResult`` with a failure outcome; nothing raised by httpx leaves
this module. The private-address check runs on every request, redirects included, by resolving
the host first (a DNS answer may change between the check and the connection; the check stops
the common SSRF of a feed URL or redirect pointing at 127.0.0.1, 10/8, 169.254.169.254 ...).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Mapping

import httpx

from worker.config import Settings
from worker.core.fetch_policy import classify
from worker.errors import BlockedAddress
from worker.models import FetchResult

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to (the system resolver)."""
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except socket.gaierror as e:
        raise httpx.ConnectError(f"cannot resolve {host}: {e}") from e


class Fetcher:
    def __init__(
        self, settings: Settings, transport: httpx.BaseTransport | None = None, resolver: Resolver = resolve
    ) -> None:
        self.resolver = resolver
        self.max_bytes = settings.max_feed_bytes
        self.total_timeout = settings.http_total_timeout
        hooks = {} if settings.allow_private_networks else {"request": [self._guard]}
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.http_read_timeout, connect=settings.http_connect_timeout),
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            headers={
                "User-Agent": settings.user_agent,
                "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
            },
            event_hooks=hooks,
            transport=transport,
        )

    def _guard(self, request: httpx.Request) -> None:
        host = request.url.host
        for addr in self.resolver(host):
            ip = ipaddress.ip_address(addr)
            if not ip.is_global:
                raise BlockedAddress(f"{host} resolves to the non-public address {ip}")

    def close(self) -> None:
        self.client.close()

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> FetchResult:
        started = time.monotonic()
        try:
            with self.client.stream("GET", url, headers=dict(headers or {})) as resp:
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    return FetchResult("too-large", resp.status_code, error=f"Content-Length {declared} over the cap")
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        return FetchResult("too-large", resp.status_code, error=f"body over {self.max_bytes} bytes")
                    if time.monotonic() - started > self.total_timeout:
                        return FetchResult("timeout", resp.status_code, error="total time limit reached")
                    chunks.append(chunk)
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                return classify(resp.status_code, hdrs, b"".join(chunks), str(resp.url))
        except BlockedAddress as e:
            return FetchResult("blocked", error=str(e))
        except httpx.TimeoutException as e:
            return FetchResult("timeout", error=f"timed out: {type(e).__name__}")
        except httpx.TooManyRedirects as e:
            return FetchResult("http", error=f"too many redirects: {e}")
        except httpx.TransportError as e:
            return FetchResult("connect", error=f"{type(e).__name__}: {e}")
        except httpx.InvalidURL as e:
            return FetchResult("invalid-url", error=str(e))
