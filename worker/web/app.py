"""The web service: metrics, health endpoints and the live page (Starlette, run by uvicorn).

Routes: ``/`` the page, ``/events`` its alerts (SSE), ``/api/summary`` its counts, chart and
feed table, ``/static/*`` its assets, ``/metrics`` (Prometheus), ``/healthz`` (the process is
up) and ``/readyz`` (the deployment works: docs/operations.md). Reading only: nothing here
writes to Redis.

When ``MARSAD_WEB_TOKEN`` is set, every request but ``/healthz`` must carry it, as
``Authorization: Bearer <token>``, a ``token`` query parameter (which also sets an HttpOnly
cookie, so the page's own requests and its EventSource carry it), or that cookie.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import redis
import redis.asyncio as aioredis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.adapters.keys import Keys
from worker.adapters.redisconn import connect
from worker.config import Settings
from worker.core.readiness import readiness, window_for
from worker.errors import InfrastructureError
from worker.web.collector import RedisCollector, read_snapshot
from worker.web.events import alert_events, valid_id
from worker.web.feeds import feed_rows, health_counts
from worker.web.i18n import lang_of
from worker.web.page import render_page
from worker.web.summary import chart_svg, counts_html, health_html, read_hours

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "marsad_token"
OPEN_PATHS = ("/healthz",)


class TokenGuard:
    """ASGI middleware: 401 for a request without the token (constant-time comparison)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _presented(self, scope: Scope) -> tuple[str | None, bool]:
        """The token the request carries, and whether it came in the query string."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if query:
            return query[0], True
        cookie = SimpleCookie(headers.get("cookie", ""))
        return (cookie[COOKIE].value if COOKIE in cookie else None), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented, from_query = self._presented(scope)
        if presented is None or not hmac.compare_digest(presented.encode(), self.token):
            response = PlainTextResponse("401: token required\n", 401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        if not from_query:
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={presented}; HttpOnly; SameSite=Strict; Path=/"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _async_client(settings: Settings) -> aioredis.Redis:
    """The event streams' client: blocking XREADs without a thread each. A cluster client with
    ``MARSAD_REDIS_CLUSTER`` (it routes the stream's commands to its node), as ``connect``."""
    if settings.redis_cluster:
        from redis.asyncio.cluster import RedisCluster

        cluster = RedisCluster.from_url(settings.redis_url, decode_responses=True, socket_connect_timeout=5)
        return cast(aioredis.Redis, cluster)
    return aioredis.Redis.from_url(settings.redis_url, decode_responses=True, socket_connect_timeout=5)


def _broker_client(settings: Settings) -> redis.Redis | None:
    """Celery's queues live on the broker, which may be another Redis than the data's (and is
    never a cluster: MARSAD_REDIS_CLUSTER is the data side only); None: the data client."""
    if settings.redis_cluster or settings.effective_broker_url != settings.redis_url:
        return redis.Redis.from_url(settings.effective_broker_url, decode_responses=True, socket_timeout=10)
    return None


def readiness_response(client: redis.Redis, broker: redis.Redis | None, keys: Keys, tick_interval: float) -> Response:
    """``/readyz``: 200 when Redis answers, ticks run and the poll queue is consumed, else 503
    with the failing check (the rule: core/readiness.py, docs/operations.md)."""
    now = time.time()
    try:
        client.ping()
        snap = read_snapshot(client, keys, (keys.poll_queue,), now, broker)
    except redis.RedisError as e:
        body = {"ready": False, "checks": [{"name": "redis", "ok": False, "detail": type(e).__name__}]}
        return JSONResponse(body, 503)
    checks = readiness(
        now,
        window_for(tick_interval),
        snap.heartbeats.get("tick"),
        snap.heartbeats.get("poll"),
        snap.queues.get(keys.poll_queue, 0),
    )
    ready = all(c.ok for c in checks)
    body = {
        "ready": ready,
        "checks": [{"name": "redis", "ok": True, "detail": "answers"}]
        + [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
    }
    return JSONResponse(body, 200 if ready else 503)


def create_app(settings: Settings) -> Starlette:
    keys = Keys(settings.key_prefix)
    tz = ZoneInfo(settings.timezone)
    client = connect(settings)
    aclient = _async_client(settings)
    broker = _broker_client(settings)
    registry = CollectorRegistry(auto_describe=False)
    queues = (keys.tick_queue, keys.poll_queue)
    registry.register(RedisCollector(client, keys, queues, lambda: health_counts(feed_rows(client, keys)), broker))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for sync in (client, broker or client):
            sync.close()
        await aclient.aclose()

    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def readyz(request: Request) -> Response:
        return readiness_response(client, broker, keys, settings.tick_interval)

    def _fragments(lang: str) -> dict[str, str]:
        hours = read_hours(client, keys, time.time())
        return {
            "counts": counts_html(hours, lang),
            "chart": chart_svg(hours, lang, tz),
            "feeds": health_html(feed_rows(client, keys), lang, tz),
        }

    def page(request: Request) -> Response:
        lang = lang_of(request.query_params.get("lang"))
        f = _fragments(lang)
        html = render_page(lang, settings.timezone, f["counts"], f["chart"], f["feeds"])
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def summary(request: Request) -> Response:
        return JSONResponse(_fragments(lang_of(request.query_params.get("lang"))))

    async def events(request: Request) -> Response:
        lang = lang_of(request.query_params.get("lang"))
        last = valid_id(request.headers.get("last-event-id") or request.query_params.get("after"))
        return StreamingResponse(
            alert_events(aclient, keys, last, lang, tz),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def redis_down(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("503: Redis does not answer\n", 503)

    app = Starlette(
        exception_handlers={redis.RedisError: redis_down, InfrastructureError: redis_down},
        routes=[
            Route("/", page),
            Route("/events", events),
            Route("/api/summary", summary),
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )
    if settings.web_token is not None:
        app.add_middleware(TokenGuard, token=settings.web_token.get_secret_value())
    return app
