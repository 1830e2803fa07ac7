"""The HTTP edge: one httpx client per process, with timeouts, a total-time and a size cap,
redirects followed, and no fetches from private networks unless allowed.

Every failure becomes a ``FetchResult`` with a failure outcome; nothing raised by httpx leaves
this module. Two guards live below httpx, in the network backend httpcore connects through,
because only there are they exact:

* **Private addresses.** The host is resolved once, every address is checked, and the socket
  connects to the address that was checked: a DNS answer that changes between check and connect
  (rebinding) cannot slip through, and redirects are covered because every hop connects here.
* **Total time.** httpx's timeouts are per socket operation, so a server trickling one byte a
  second holds a request forever; every read and write here gets at most the time left before
  the fetch's deadline, and so does the DNS lookup (on a helper thread: getaddrinfo has no
  timeout of its own).

The body is read raw and decompressed here with a bounded output, so a small gzip bomb cannot
expand past ``max_feed_bytes`` in memory.

Above httpcore, ``_EdgeTransport`` sees every request httpx sends, each redirect hop included:
it refuses any scheme but http and https (a redirect to ``file:`` or ``ftp:`` too), and asks the
per-site politeness gate (adapters/politeness.py) before each request, holding the site's slot
until the response is closed.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any

import httpcore
import httpx

from worker.adapters.politeness import HostGate, Lease
from worker.config import Settings
from worker.core.fetch_policy import classify
from worker.errors import BlockedAddress, FetchError, HostBusy
from worker.models import FetchResult

Resolver = Callable[[str], list[str]]
Allowed = Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool]

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("marsad_fetch_deadline", default=None)
# How long this fetch may wait for its turn at a site (None: the gate's own bound).
_turn_wait: contextvars.ContextVar[float | None] = contextvars.ContextVar("marsad_turn_wait", default=None)


def resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to (the system resolver)."""
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except socket.gaierror as e:
        raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host (mapped, 6to4, NAT64, Teredo)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    return None


def public_only(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A public unicast address: not loopback, private, link-local, shared (CGNAT), reserved,
    documentation or unspecified (``is_global``), and not multicast, which ``is_global`` lets
    through (224.0.0.1 is "global"). An IPv6 address that carries an IPv4 one is judged by both,
    so ``::ffff:127.0.0.1`` or ``64:ff9b::a00:1`` (NAT64 to 10.0.0.1) cannot reach inside."""
    if not ip.is_global or ip.is_multicast:
        return False
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return inner is None or public_only(inner)


def _time_left(timeout: float | None) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total time limit reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _time_left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, _time_left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, resolver: Resolver, allowed: Allowed | None) -> None:
        self.inner = httpcore.SyncBackend()
        self.resolver = resolver
        self.allowed = allowed
        # getaddrinfo takes no timeout: it runs on a helper thread so that a resolver that hangs
        # costs the fetch its deadline, not the worker (the thread ends when the OS gives up)
        self._dns = ThreadPoolExecutor(max_workers=2, thread_name_prefix="marsad-dns")

    def _resolve(self, host: str, timeout: float | None) -> list[str]:
        future = self._dns.submit(self.resolver, host)
        try:
            return future.result(timeout=_time_left(timeout))
        except FutureTimeout:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        target = host
        if self.allowed is not None:
            addresses = [ipaddress.ip_address(a) for a in self._resolve(host, timeout)]
            if not addresses:
                raise httpcore.ConnectError(f"{host} has no address")
            for ip in addresses:
                if not self.allowed(ip):
                    raise BlockedAddress(f"{host} resolves to the non-public address {ip}")
            target = str(addresses[0])  # connect to what was checked, not to a second lookup
        stream = self.inner.connect_tcp(target, port, _time_left(timeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise BlockedAddress("unix sockets are not fetched")


class _Transport(httpx.HTTPTransport):
    """httpx's transport over our backend. httpx has no public option for a network backend,
    so the pool is rebuilt with one; tests/test_http.py fails if httpx changes underneath."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


SCHEMES = ("http", "https")


def _scheme_error(url: httpx.URL) -> FetchError:
    return FetchError("invalid-url", f"only http and https URLs are fetched, not {url.scheme or 'no scheme'}: {url}")


class _ReleasingStream(httpx.SyncByteStream):
    """A response body that gives the site's politeness slot back when it is closed."""

    def __init__(self, inner: httpx.SyncByteStream, release: Callable[[], None]) -> None:
        self.inner = inner
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self.inner

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class _EdgeTransport(httpx.BaseTransport):
    """Every request httpx sends, redirect hops included: http(s) only, and through the gate."""

    def __init__(self, inner: httpx.BaseTransport, gate: HostGate | None) -> None:
        self.inner = inner
        self.gate = gate

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in SCHEMES:
            raise _scheme_error(request.url)
        if self.gate is None:
            return self.inner.handle_request(request)
        gate = self.gate
        lease: Lease = gate.acquire(request.url.host, _turn_wait.get())
        try:
            response = self.inner.handle_request(request)
        except BaseException:
            gate.release(lease)
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, lambda: gate.release(lease)),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.inner.close()


class _Decoder:
    """Content-Encoding undone with a cap on the output: at most ``limit`` + 1 bytes ever exist."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.out = bytearray()
        self.zlib = None if encoding in ("", "identity") else zlib.decompressobj(32 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bool:
        """Add raw bytes; False once the decoded body is over the limit."""
        if self.zlib is None:
            self.out += data
            return len(self.out) <= self.limit
        while data:
            self.out += self.zlib.decompress(data, self.limit - len(self.out) + 1)
            if len(self.out) > self.limit:
                return False
            data = self.zlib.unconsumed_tail
        return True

    def finish(self) -> bytes:
        if self.zlib is not None:
            self.out += self.zlib.flush()
        return bytes(self.out)


_ENCODINGS = ("", "identity", "gzip", "x-gzip", "deflate")


class Fetcher:
    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = resolve,
        allowed: Allowed | None = public_only,
        gate: HostGate | None = None,
    ) -> None:
        """``gate``: the per-site politeness limits shared through Redis; every worker passes
        one (``Runtime.build``). Without one (``marsad extract``, tests) nothing is limited."""
        self.max_bytes = settings.max_feed_bytes
        self.page_wait = settings.host_page_wait
        self.total_timeout = settings.http_total_timeout
        guard = None if settings.allow_private_networks else allowed
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.http_read_timeout, connect=settings.http_connect_timeout),
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            headers={
                "User-Agent": settings.user_agent,
                "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
                "Accept-Encoding": "gzip, deflate",  # what _Decoder can bound
            },
            transport=_EdgeTransport(transport or _Transport(_GuardedBackend(resolver, guard)), gate),
        )

    def close(self) -> None:
        self.client.close()

    def fetch_page(self, url: str) -> FetchResult:
        """An article page: it may wait longer for its turn at the site than a feed
        (``MARSAD_HOST_PAGE_WAIT``), because a page that gives up loses its full text."""
        return self.fetch(url, wait=self.page_wait)

    def fetch(self, url: str, headers: Mapping[str, str] | None = None, wait: float | None = None) -> FetchResult:
        """``wait``: the longest to wait for a turn at each site the fetch asks (None: the
        gate's bound, ``MARSAD_HOST_MAX_WAIT``)."""
        deadline = time.monotonic() + self.total_timeout
        token = _deadline.set(deadline)
        wait_token = _turn_wait.set(wait)
        try:
            return self._fetch(url, headers)
        except HostBusy as e:
            return FetchResult("deferred", error=str(e), retry_after=e.retry_after)
        except FetchError as e:  # BlockedAddress, a scheme other than http(s)
            return FetchResult(e.kind, error=str(e))
        except httpx.TimeoutException as e:
            if time.monotonic() >= deadline - 0.05:  # the last read got only the time left
                return FetchResult("timeout", error=f"total time limit reached ({self.total_timeout:g}s)")
            return FetchResult("timeout", error=f"{type(e).__name__}: {e}")
        except httpx.TooManyRedirects as e:
            return FetchResult("http", error=f"too many redirects: {e}")
        except httpx.TransportError as e:
            return FetchResult("connect", error=f"{type(e).__name__}: {e}")
        except httpx.InvalidURL as e:
            return FetchResult("invalid-url", error=str(e))
        finally:
            _deadline.reset(token)
            _turn_wait.reset(wait_token)

    def _fetch(self, url: str, headers: Mapping[str, str] | None) -> FetchResult:
        if httpx.URL(url).scheme not in SCHEMES:
            raise _scheme_error(httpx.URL(url))
        with self.client.stream("GET", url, headers=dict(headers or {})) as resp:
            moved = next((str(resp.url) for r in resp.history if r.status_code in (301, 308)), None)
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes and "content-encoding" not in resp.headers:
                return FetchResult("too-large", resp.status_code, error=f"Content-Length {declared} over the cap")
            encoding = resp.headers.get("content-encoding", "").strip().lower()
            if encoding not in _ENCODINGS:
                return FetchResult("http", resp.status_code, error=f"unsupported Content-Encoding {encoding!r}")
            decoder = _Decoder(encoding, self.max_bytes)
            try:
                for chunk in resp.iter_raw():
                    if not decoder.feed(chunk):
                        return FetchResult("too-large", resp.status_code, error=f"body over {self.max_bytes} bytes")
                body = decoder.finish()
            except zlib.error as e:
                return FetchResult("http", resp.status_code, error=f"bad {encoding} body: {e}")
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            return replace(classify(resp.status_code, hdrs, body, str(resp.url)), moved_to=moved)
