"""Redis AUTH and TLS through the URLs (issue 7): ``rediss://user:password@host/0`` for the data
and the Celery broker, on a real redis-server of the test's own with TLS only and an ACL user;
the password never appears in a log line or an error message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import trustme

from tests.conftest import valid_alert
from tests.feeds import rss, seed_item
from tests.feedserver import FeedServer
from tests.test_e2e import wait_for
from worker.adapters.keys import Keys
from worker.config import Settings, mask_url, scrub_secrets

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cret-Pa55-xyzzy"
RULES = ROOT / "config" / "rules.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """(TLS port, CA file) of a redis-server that speaks only TLS and knows only the ACL user
    ``marsad`` (the default user is off: no password, no entry)."""
    work = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(work / "ca.pem"))
    cert.private_key_pem.write_to_path(str(work / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(work / "cert.pem"))
    port = _free_port()
    tls = ["--tls-port", str(port), "--tls-auth-clients", "no"]
    tls += ["--tls-cert-file", str(work / "cert.pem"), "--tls-key-file", str(work / "key.pem")]
    tls += ["--tls-ca-cert-file", str(work / "ca.pem")]
    acl = ["--user", "default", "off", "--user", "marsad", "on", f">{PASSWORD}", "~*", "&*", "+@all"]
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--bind", "127.0.0.1", "--dir", str(work), "--save", "", *tls, *acl],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis.from_url(url(port, work / "ca.pem"))
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the TLS redis-server did not start"
            time.sleep(0.05)
    client.close()
    yield port, work / "ca.pem"
    proc.terminate()
    proc.wait(10)


def url(port: int, ca: Path, password: str = PASSWORD) -> str:
    return f"rediss://marsad:{password}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_masking_helpers() -> None:
    assert mask_url(f"rediss://marsad:{PASSWORD}@h:6380/0?ssl_ca_certs=/ca.pem") == (
        "rediss://marsad:****@h:6380/0?ssl_ca_certs=%2Fca.pem"
    )
    assert mask_url(f"redis://h/0?password={PASSWORD}") == "redis://h/0?password=****"
    said = f"Error connecting to rediss://marsad:{PASSWORD}@h:1/0 and redis://h/0?password={PASSWORD}&db=1"
    assert PASSWORD not in scrub_secrets(said)
    assert "rediss://marsad:****@h:1/0" in scrub_secrets(said)


def test_once_over_tls_with_a_user_and_password(
    tls_redis: tuple[int, Path], feed_server: FeedServer, tmp_path: Path
) -> None:
    port, ca = tls_redis
    sources = tmp_path / "sources.yaml"
    link = feed_server.route("/f.xml", rss(seed_item("https://news.example.com/tls")))
    sources.write_text(f"- id: seed\n  url: {link}\n", encoding="utf-8")
    env = {"MARSAD_REDIS_URL": url(port, ca), "MARSAD_KEY_PREFIX": "tlstest:", "MARSAD_ALLOW_PRIVATE_NETWORKS": "true"}
    done = run_cli(["once", "--sources", str(sources), "--rules", str(RULES)], env)
    assert done.returncode == 0, done.stderr
    [alert] = [valid_alert(line) for line in done.stdout.splitlines()]
    assert alert["rule"] == "iran-pakistan"
    # the settings line is logged, masked
    assert "event=settings.loaded" in done.stderr and "rediss://marsad:****@127.0.0.1" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout


@pytest.mark.parametrize("command", [["once"], ["tail", "--group", "g"], ["replay", "--since", "1h"]])
def test_a_wrong_password_is_one_masked_line(tls_redis: tuple[int, Path], tmp_path: Path, command: list[str]) -> None:
    port, ca = tls_redis
    wrong = "not-the-Pa55word"
    sources = tmp_path / "sources.yaml"
    sources.write_text("- id: x\n  url: http://127.0.0.1:9/f.xml\n", encoding="utf-8")
    extra = ["--sources", str(sources)] if command == ["once"] else []
    done = run_cli([*command, *extra], {"MARSAD_REDIS_URL": url(port, ca, wrong), "MARSAD_KEY_PREFIX": "tlstest:"})
    assert done.returncode == 1
    assert done.stderr.startswith(f"marsad: Redis at rediss://marsad:****@127.0.0.1:{port}/0")
    assert "refused the credentials" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert wrong not in done.stderr and PASSWORD not in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_url_with_a_password_is_masked() -> None:
    dead = f"rediss://marsad:{PASSWORD}@127.0.0.1:{_free_port()}/0"
    done = run_cli(["replay", "--since", "1h"], {"MARSAD_REDIS_URL": dead})
    assert done.returncode == 1
    assert done.stderr.startswith("marsad: cannot reach Redis at rediss://marsad:****@127.0.0.1:")
    assert PASSWORD not in done.stderr and "Traceback" not in done.stderr


def test_settings_repr_and_masked_dump_hide_the_password() -> None:
    s = Settings(redis_url=f"rediss://marsad:{PASSWORD}@h/0", broker_url=f"redis://:{PASSWORD}@b/1")
    assert PASSWORD not in str(s.masked())


@pytest.mark.e2e
def test_run_with_data_and_broker_over_tls(
    tls_redis: tuple[int, Path], feed_server: FeedServer, tmp_path: Path
) -> None:
    """The whole job — beat, broker, worker, stream — on the TLS, password-protected Redis."""
    port, ca = tls_redis
    prefix = f"tlsrun{os.getpid()}:"
    sources = tmp_path / "sources.yaml"
    link = feed_server.route("/r.xml", rss(seed_item("https://news.example.com/tls-run")))
    sources.write_text(f"- id: seed\n  url: {link}\n", encoding="utf-8")
    env = {
        **os.environ,
        "MARSAD_REDIS_URL": url(port, ca),
        "MARSAD_KEY_PREFIX": prefix,
        "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
        "MARSAD_TICK_INTERVAL": "1s",
    }
    log = tmp_path / "run.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "run", "--sources", str(sources), "--rules", str(RULES)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = redis.Redis.from_url(url(port, ca), decode_responses=True)
    try:
        wait_for(lambda: client.xlen(Keys(prefix).stream) >= 1, what="the alert over TLS", timeout=60)
    except AssertionError:
        raise AssertionError(log.read_text(errors="replace")) from None
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    [(_, fields)] = client.xrange(Keys(prefix).stream)
    assert valid_alert(fields["alert"])["rule"] == "iran-pakistan"
    output = log.read_text(errors="replace")
    assert PASSWORD not in output
    assert "rediss://marsad:****@" in output or "rediss://marsad:**@" in output
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()
