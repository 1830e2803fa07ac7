"""``marsad demo``: the whole system on one machine with no network, in one command.

It starts the replay server (bundled real feeds growing every few seconds), writes a sources
file pointing at it and a rules file into a directory of its own, makes sure a Redis answers
(the one at ``MARSAD_REDIS_URL``, else a private ``redis-server`` it starts on a free port),
then runs ``marsad run`` (beat + worker) and, when this version has it, ``marsad web`` as child
processes under a key prefix of the demo's own, and prints each alert as it is published.

Ctrl-C (or SIGTERM) stops everything in order: the children (each in a process group of its
own, so none is left behind), the replay server, then the demo's keys are deleted and a private
Redis is stopped. Keys left by a demo that was killed outright are deleted at the next start:
the prefix is the demo's alone, which is why it must differ from the environment's own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors
from worker.config import Settings
from worker.demo.data import load_feeds
from worker.demo.files import ENTITIES_YAML, RULES_YAML, sources_yaml
from worker.demo.replay import Replay
from worker.demo.server import ReplayServer
from worker.errors import DemoError

DEFAULT_PREFIX = "marsad-demo:"
# Each demo feed is polled every 2 s, and the adaptive schedule keeps it within 1-3 s: items
# come every few seconds, and a new one must show within seconds.
POLL_INTERVAL = ("2s", "1s", "3s")
_STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class DemoOptions:
    port: int = 0  # the replay server's port (0: a free one)
    web_port: int = 0  # the page's port (0: a free one)
    prefix: str = DEFAULT_PREFIX
    verbose: bool = False  # the children's logs on the terminal rather than in files


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path | None

    def tail(self, lines: int = 25) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _say(message: str) -> None:
    print(f"marsad demo: {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def check_prefix(prefix: str, settings: Settings) -> None:
    """The demo deletes every key under its prefix: refuse one that overlaps the environment's
    own (a real deployment's keys) and anything that is not a plain prefix for a SCAN pattern."""
    own = settings.key_prefix
    if own.startswith(prefix) or prefix.startswith(own):
        raise DemoError(
            f"the demo prefix {prefix!r} overlaps this environment's MARSAD_KEY_PREFIX {own!r}; the demo "
            "deletes every key under its prefix, so give it one of its own (--prefix)"
        )
    if not prefix or any(c in prefix for c in "*?[]\\"):
        raise DemoError(f"the demo prefix {prefix!r} must be non-empty, without * ? [ ] or \\")


def has_web() -> bool:
    """Whether this version of marsad has the live page (``marsad web``)."""
    from worker.cli import COMMANDS

    return "web" in COMMANDS


class Demo:
    def __init__(self, options: DemoOptions, settings: Settings) -> None:
        self.options = options
        self.settings = settings
        self.keys = Keys(options.prefix)
        self.workdir = Path(tempfile.mkdtemp(prefix="marsad-demo-"))
        self.children: list[_Child] = []
        self.server: ReplayServer | None = None
        self.redis_url = settings.redis_url
        self.private_redis: subprocess.Popen[bytes] | None = None
        self.page_url: str | None = None

    # -- start ---------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """The Redis at MARSAD_REDIS_URL if it answers, else a private redis-server on a free
        port, in the demo's directory, without persistence: the demo leaves nothing behind."""
        if _answers(self.redis_url):
            return
        server = shutil.which("redis-server")
        host = urlsplit(self.redis_url).hostname or "127.0.0.1"
        if server is None or host not in ("127.0.0.1", "localhost", "::1"):
            raise DemoError(
                f"nothing answers at {host} (MARSAD_REDIS_URL) and there is no local redis-server to start; "
                "install redis-server or point MARSAD_REDIS_URL at a Redis"
            )
        port = _free_port()
        self.private_redis = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", *self._redis_files()],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while not _answers(self.redis_url):
            if self.private_redis.poll() is not None or time.monotonic() > deadline:
                raise DemoError(f"the private redis-server did not start; see {self.workdir / 'redis.log'}")
            time.sleep(0.1)
        _say(f"no Redis at MARSAD_REDIS_URL: started a private redis-server on 127.0.0.1:{port}")

    def _redis_files(self) -> list[str]:
        """Throwaway: no snapshot, no AOF; its files (the log) in the demo's directory."""
        log = str(self.workdir / "redis.log")
        return ["--save", "", "--appendonly", "no", "--dir", str(self.workdir), "--logfile", log]

    def write_files(self, server: ReplayServer) -> dict[str, str]:
        files = {
            "MARSAD_SOURCES_FILE": self.workdir / "sources.yaml",
            "MARSAD_RULES_FILE": self.workdir / "rules.yaml",
            "MARSAD_ENTITIES_FILE": self.workdir / "entities.yaml",
        }
        feeds = list(server.replay.feeds.values())
        files["MARSAD_SOURCES_FILE"].write_text(sources_yaml(feeds, server.feed_url, POLL_INTERVAL), encoding="utf-8")
        files["MARSAD_RULES_FILE"].write_text(RULES_YAML, encoding="utf-8")
        files["MARSAD_ENTITIES_FILE"].write_text(ENTITIES_YAML, encoding="utf-8")
        return {k: str(v) for k, v in files.items()}

    def child_env(self, files: dict[str, str]) -> dict[str, str]:
        # The page listens on 127.0.0.1 only, where no token is needed: a token from the
        # environment (a real deployment's) would only make the printed URL answer 401.
        inherited = {k: v for k, v in os.environ.items() if k != "MARSAD_WEB_TOKEN"}
        return {
            **inherited,
            **files,
            "MARSAD_REDIS_URL": self.redis_url,
            "MARSAD_BROKER_URL": self.redis_url,
            "MARSAD_KEY_PREFIX": self.options.prefix,
            "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",  # the replay server is on 127.0.0.1
            "MARSAD_TICK_INTERVAL": "1s",  # the sources' intervals are seconds (POLL_INTERVAL)
            # Every demo feed and page is on one host, 127.0.0.1, the demo's own server, which
            # stands for every outlet it replays, each its own site in production: the per-site
            # politeness a real site gets (issue 6) would only queue the demo's polls.
            "MARSAD_HOST_INTERVAL": "0",
            "MARSAD_HOST_CONCURRENCY": "8",
        }

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> _Child:
        log = None if self.options.verbose else self.workdir / f"{name}.log"
        out = sys.stderr if log is None else log.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: stopped as a whole, spared the terminal's Ctrl-C
        )
        if log is not None:
            out.close()
        child = _Child(name, proc, log)
        self.children.append(child)
        return child

    def start(self) -> None:
        feeds = list(load_feeds())
        replay = Replay.plan(feeds, started=time.time())
        self.server = ReplayServer(replay, port=self.options.port).start()
        self.start_redis()
        self.delete_keys()  # a demo killed outright may have left its keys; the prefix is ours
        env = self.child_env(self.write_files(self.server))
        self.spawn("worker", ["run", "--concurrency", "2"], env)
        _say(f"replaying {sum(len(f.items) for f in feeds)} items from {len(feeds)} feeds at {self.server.base_url}/")
        if has_web():
            port = self.options.web_port or _free_port()
            self.spawn("web", ["web", "--host", "127.0.0.1", "--port", str(port)], env)
            self.page_url = f"http://127.0.0.1:{port}/"
            _say(f"the live page: {self.page_url}")
        else:
            _say("this version has no live page (marsad web); alerts are printed here")
        _say(f"keys under {self.options.prefix!r} at {self.redis_url}; logs in {self.workdir}; Ctrl-C stops")

    # -- watch ---------------------------------------------------------------------------------

    def watch(self) -> int:
        """Print each alert as it is published until interrupted; 1 if a child dies. Losing
        Redis is an InfrastructureError (one line, exit 1), after the same clean stop."""
        assert self.server is not None
        client = redis.Redis.from_url(self.redis_url, decode_responses=True, socket_timeout=5)
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        announced = False
        try:
            with redis_errors():
                pubsub.subscribe(self.keys.channel)
                while True:
                    for child in self.children:
                        if child.proc.poll() is not None:
                            _say(f"{child.name} stopped (exit {child.proc.returncode}):\n{child.tail()}")
                            return 1
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None:
                        print(alert_line(message["data"], self.server.elapsed()), flush=True)
                    if not announced and self.server.elapsed() > self.server.replay.last_release:
                        announced = True
                        _say("every bundled item is out; the feeds stay as they are (Ctrl-C stops)")
        finally:
            pubsub.close()
            client.close()

    # -- stop ----------------------------------------------------------------------------------

    def stop_children(self) -> None:
        for child in self.children:
            _signal_group(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT
        for child in self.children:
            # The group outlives its leader while pool processes finish: wait for all of it.
            while _group_alive(child.proc) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _group_alive(child.proc):
                _say(f"{child.name} did not stop in {_STOP_TIMEOUT:.0f} s; killing it")
                _signal_group(child.proc.pid, signal.SIGKILL)
            child.proc.wait()

    def delete_keys(self) -> int:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        deleted = 0
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(match=self.keys.everything, count=1000):
                batch.append(key)
                if len(batch) == 500:
                    deleted += int(client.delete(*batch))
                    batch = []
            if batch:
                deleted += int(client.delete(*batch))
        finally:
            client.close()
        return deleted

    def stop(self) -> None:
        self.stop_children()
        if self.server is not None:
            self.server.stop()
        try:
            if _answers(self.redis_url):
                n = self.delete_keys()
                _say(f"deleted the demo's {n} keys under {self.options.prefix!r}")
        finally:
            if self.private_redis is not None:
                self.private_redis.terminate()
                try:
                    self.private_redis.wait(10)
                except subprocess.TimeoutExpired:
                    self.private_redis.kill()
                    self.private_redis.wait()
            shutil.rmtree(self.workdir, ignore_errors=True)


def _signal_group(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
    proc.poll()  # reap the leader if it exited, so it does not count as alive
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def alert_line(data: str, elapsed: float) -> str:
    """One terminal line for an alert: when (seconds since the start), rule, source, title."""
    try:
        alert = json.loads(data)
        article = alert.get("article", {})
        rule, source = alert.get("rule", "?"), article.get("source", "?")
        return f"+{elapsed:6.1f}s  {rule:<18} {source:<14} {article.get('title', '')}"
    except (ValueError, AttributeError):
        return data


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """Ctrl-C, SIGTERM (a service manager, a test) and SIGHUP (the terminal closed) all stop the
    demo cleanly. Set explicitly: a shell starts background jobs with SIGINT ignored, and Python
    keeps an ignored SIGINT ignored, so ``marsad demo &`` would not stop on ``kill -INT``."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_demo(options: DemoOptions, settings: Settings) -> int:
    check_prefix(options.prefix, settings)
    demo = Demo(options, settings)
    code = 0
    with _stop_signals_interrupt():
        try:
            demo.start()
            code = demo.watch()
        except KeyboardInterrupt:
            _say("stopping")
        finally:
            # A second Ctrl-C must not cut the clean-up short and leave processes behind.
            for sig in _STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            demo.stop()
    return code
