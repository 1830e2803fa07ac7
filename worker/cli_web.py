"""``marsad web``: metrics, health endpoints and the live alerts page (worker/web/).

Listening on loopback needs no login. Listening on any other address exposes the alerts to
the network, so it needs ``MARSAD_WEB_TOKEN``: without it the command refuses to start (exit 2).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from typing import Any

from worker.cli_common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK
from worker.config import Settings
from worker.logs import event

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8484


def add_web(sub: Any) -> None:
    w = sub.add_parser("web", help="serve /metrics, /healthz, /readyz and the live alerts page")
    w.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    w.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _check_layout(settings: Settings) -> None:
    """Refuse (ConfigError, exit 2) a namespace of another key layout: the page would read the
    wrong keys and show nothing. Read-only, unlike the workers' check; a Redis that does not
    answer yet is no reason to stay down (``/readyz`` reports it)."""
    from worker.adapters.keys import LAYOUT, Keys
    from worker.adapters.layout import ensure_layout, stored_layout
    from worker.adapters.redisconn import connect
    from worker.errors import InfrastructureError

    keys = Keys(settings.key_prefix)
    client = connect(settings)
    try:
        if stored_layout(client, keys) not in (None, LAYOUT):
            ensure_layout(client, keys)  # writes nothing here: raises the one refusal message
    except InfrastructureError:
        pass
    finally:
        client.close()


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    if not is_loopback(args.host) and settings.web_token is None:
        print(
            f"marsad: refusing to listen on {args.host} without a token: set MARSAD_WEB_TOKEN to a long random "
            "string (e.g. `openssl rand -hex 32`), or listen on 127.0.0.1",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if not 0 < args.port < 65536:
        print(f"marsad: --port must be between 1 and 65535, not {args.port}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _check_layout(settings)
    import uvicorn

    from worker.web.app import create_app

    app = create_app(settings)
    host = f"[{args.host}]" if ":" in args.host else args.host
    event("web.starting", url=f"http://{host}:{args.port}/", token=settings.web_token is not None)
    # uvicorn's own lines (only its problems: marsad's events say what happens) go through
    # marsad's handler, so MARSAD_LOG_FORMAT=json covers them too.
    server_log = logging.getLogger("uvicorn")
    server_log.handlers[:] = logging.getLogger("marsad").handlers
    server_log.setLevel(logging.WARNING)
    server_log.propagate = False
    try:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,  # open SSE streams must not hold a shutdown forever
        )
    except SystemExit as e:  # uvicorn exits 3 when it cannot start (the port is taken, ...)
        if e.code in (0, None):
            return EXIT_OK
        print(f"marsad: the web service could not start on {host}:{args.port} (see the line above)", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
