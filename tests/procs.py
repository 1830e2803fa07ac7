"""Real processes for the fault tests: a private redis-server, Celery workers and beats, ``marsad
run``, a TCP proxy that can cut connections, and the ``Procs`` registry that guarantees no
process outlives its test.

Every child runs in a session of its own (``start_new_session``), so stopping one means signalling
its whole process group: a Celery worker's pool children and an embedded beat die with it. The
helpers poll for conditions with generous deadlines instead of sleeping fixed times: the machine
running the tests may be loaded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 60.0,
    what: str = "condition",
    details: Callable[[], str] | None = None,
    every: float = 0.2,
) -> None:
    """Poll ``predicate`` until it is true; on time-out fail with ``what`` and ``details()`` (the
    processes' logs, usually), so a failure on a loaded CI machine says what was going on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    extra = f"\n{details()}" if details else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")


@dataclass
class Proc:
    """One child process in its own process group, its stdout and stderr in ``log``."""

    name: str
    args: list[str]
    log: Path
    env: dict[str, str]
    cwd: Path = ROOT
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int, group: bool = True) -> None:
        """Send ``sig`` to the process (``group=False``: only the main process, as ``docker stop``
        or a supervisor does) or to its whole group."""
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the whole group at once: no handler runs, nothing is acknowledged or handed back."""
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(10)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the group, then SIGKILL it if it has not exited within ``grace`` seconds. The
        group is killed in any case: pool children orphaned by a killed parent go too."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class RedisServer:
    """A redis-server of the test's own on a free port, its data (AOF) in ``dir``. ``stop`` and
    ``start`` again keep the port and the data directory: a restart, as an operator would do."""

    dir: Path
    procs: Procs
    appendonly: bool = True
    appendfsync: str = "always"
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)

    def start(self) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--save", "", "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", self.appendfsync]
        self.proc = self.procs.start(f"redis-{self.port}", args)
        wait_for(self.pings, timeout=30, what=f"redis-server on port {self.port}", details=self.proc.output)
        return self

    def pings(self) -> bool:
        try:
            with self.client() as c:
                return bool(c.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: the server dies without a chance to write anything more."""
        assert self.proc is not None
        self.proc.kill()

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.stop()


class Procs:
    """Every process a test starts, stopped (process group killed) at the end even on failure."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[Proc] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Proc:
        log = self.tmp / f"{name}-{len(self.started)}.log"
        proc = Proc(name, args, log, {**os.environ, **(env or {})}, cwd).start()
        self.started.append(proc)
        return proc

    def redis(self, name: str = "redis", **kw: object) -> RedisServer:
        return RedisServer(self.tmp / name, self, **kw).start()  # type: ignore[arg-type]

    def celery_worker(self, name: str, env: dict[str, str], concurrency: int = 2, queues: str = "") -> Proc:
        args = [PY, "-m", "celery", "-A", "worker.celery_app:app", "worker", f"--hostname={name}@%h"]
        args += [f"--concurrency={concurrency}", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
        args += [f"--queues={queues or 'marsad.tick,marsad.poll'}"]
        return self.start(name, args, env)

    def celery_beat(self, name: str, env: dict[str, str]) -> Proc:
        # Each beat in a directory of its own: two beats must not share anything but Redis.
        cwd = self.tmp / name
        cwd.mkdir(exist_ok=True)
        return self.start(
            name, [PY, "-m", "celery", "-A", "worker.celery_app:app", "beat", "--loglevel=INFO"], env, cwd
        )

    def marsad_run(self, name: str, env: dict[str, str], concurrency: int = 2) -> Proc:
        return self.start(name, [PY, "-m", "worker.cli", "run", f"--concurrency={concurrency}"], env)

    def logs(self) -> str:
        """The tail of every process's log, for a failure message."""
        parts = []
        for p in self.started:
            text = p.output()
            parts.append(f"----- {p.name} (pid {p.popen.pid if p.popen else '-'}) -----\n{text[-6000:]}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop(grace=5)


class TcpProxy:
    """A TCP proxy on a free port to ``target_port``: ``cut()`` closes every open connection and
    refuses new ones (the port closed) until ``restore()``: a network partition, as the clients see
    it, while the server behind stays up with its data."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            socks, self._socks = self._socks, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for s in socks:
            _reset(s)

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut: the listener was closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _reset(client)
                    _reset(upstream)
                    return
                self._socks += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _reset(sock: socket.socket) -> None:
    """Close with an RST rather than a FIN (SO_LINGER 0): the peer sees 'connection reset'."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def procs_for(tmp: Path) -> Iterator[Procs]:
    procs = Procs(tmp)
    try:
        yield procs
    finally:
        procs.stop_all()
