"""Make sure a Redis answers at the given URL; if none does and redis-server is on PATH, start a
private one for a local URL, with its data under .marsad/, and say so. Used by `make run`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def main(url: str) -> int:
    if answers(url):
        return 0
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    server = shutil.which("redis-server")
    if host not in ("127.0.0.1", "localhost", "::1") or server is None:
        print(f"marsad: nothing answers at {host}:{port} and no local redis-server to start", file=sys.stderr)
        return 1
    data = Path(".marsad").resolve()
    data.mkdir(exist_ok=True)
    subprocess.run(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--logfile",
            str(data / "redis.log"),
            "--pidfile",
            str(data / "redis.pid"),
        ],
        check=True,
    )
    for _ in range(50):
        if answers(url):
            print(f"marsad: started a private redis-server on 127.0.0.1:{port} (data in {data})", file=sys.stderr)
            return 0
        time.sleep(0.1)
    print(f"marsad: started redis-server but it does not answer; see {data / 'redis.log'}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
