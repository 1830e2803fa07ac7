"""The ``marsad`` command as users run it: a subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL, valid_alert
from tests.feeds import SEED, SEED_TITLE, rss, seed_item
from tests.feedserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "config" / "rules.yaml"


def marsad(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60):
    full_env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
    )


def test_match_prints_one_line_per_article_and_rule_in_input_order(tmp_path: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("- id: iran-pakistan\n  query: إيران AND باكستان\n- id: china\n  query: الصين\n", encoding="utf-8")
    lines = [
        {"id": "seed", "title": SEED_TITLE, "text": SEED},
        {"id": "none", "text": "خبر عن الطقس في القاهرة"},
        {"id": "iran-only", "text": "زيارة إلى طهران في إيران"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"

    res = marsad("match", "--rules", str(rules), stdin=stdin)

    assert res.returncode == 0, res.stderr
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(o["id"], o["rule"]) for o in out] == [("seed", "iran-pakistan"), ("seed", "china")]
    assert all(o["matched"] for o in out)


def test_match_reports_every_bad_line_with_position(tmp_path: Path):
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": "1", "text": "إيران وباكستان"}\n{"id": 2, "text": \n[1]\n{"text": "x"}\n', encoding="utf-8")
    res = marsad("match", "--rules", str(RULES), str(data))
    assert res.returncode == 2
    errors = res.stderr.strip().splitlines()
    col = len('{"id": 2, "text": ') + 1  # just past the end of the line, where a value was expected
    assert errors == [
        f"{data}:2:{col}: invalid JSON: Expecting value",
        f"{data}:3:1: expected a JSON object {{id, title?, text, url?, source?, language?, published?}}",
        f"{data}:4:1: missing id",
    ]
    assert "Traceback" not in res.stderr
    assert json.loads(res.stdout)["id"] == "1"  # the good line is still matched


def test_bad_rules_file_reports_every_problem(tmp_path: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("- id: a\n  query: (إيران\n- id: a\n  query: x\n- idd: b\n", encoding="utf-8")
    res = marsad("match", "--rules", str(rules), stdin="")
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"{rules}:2:16: query: missing ')'",
        "      query: (إيران",
        "    " + " " * 15 + "^",
        f"{rules}:3:7: duplicate id 'a' (first on line 1)",
        f"{rules}:5:3: unknown key 'idd'; expected one of: id, query, name, sources, languages, enabled",
        f"{rules}:5:3: missing 'id'",
        f"{rules}:5:3: missing 'query'",
    ]


@pytest.mark.parametrize("command", ["once", "run"])
def test_bad_sources_file_exit_2_without_traceback(tmp_path: Path, command: str):
    sources = tmp_path / "sources.yaml"
    sources.write_text("- id: x\n  url: ftp://example.org/feed\n  interval: soon\n", encoding="utf-8")
    res = marsad(command, "--sources", str(sources), "--rules", str(RULES))
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"{sources}:2:8: url 'ftp://example.org/feed' must be an http:// or https:// address",
        f"{sources}:3:13: interval: 'soon' is not a duration; write it as 90s, 5m, 1h or 2d",
    ]


def test_missing_file_and_usage_errors_exit_2():
    res = marsad("once", "--sources", "/nonexistent/sources.yaml")
    assert (
        res.returncode == 2
        and res.stderr.strip() == "/nonexistent/sources.yaml: cannot read the file: No such file or directory"
    )
    res = marsad("frobnicate")
    assert res.returncode == 2 and "marsad: argument command: invalid choice" in res.stderr


def _dead_redis_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://:hunter2@127.0.0.1:{port}/0"


@pytest.mark.parametrize("command", [["once"], ["run"], ["tail"]])
def test_redis_down_is_one_line_exit_1_with_password_masked(command: list[str]):
    url = _dead_redis_url()
    res = marsad(*command, env={"MARSAD_REDIS_URL": url})
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"marsad: cannot reach Redis at {url.replace('hunter2', '****')}; start it with")
    assert "hunter2" not in res.stderr


def test_once_prints_new_alerts_then_nothing(
    tmp_path: Path, feed_server: FeedServer, prefix: str, redis_client: redis.Redis
):
    good = feed_server.route("/seed.xml", rss(seed_item("https://news.example.com/a/1")))
    broken = feed_server.route("/broken.xml", status=500)
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"- id: seed\n  url: {good}\n- id: broken\n  url: {broken}\n", encoding="utf-8")
    env = {"MARSAD_KEY_PREFIX": prefix, "MARSAD_ALLOW_PRIVATE_NETWORKS": "true"}

    first = marsad("once", "--sources", str(sources), "--rules", str(RULES), env=env)

    assert first.returncode == 0, first.stderr  # one source failed, not all
    alerts = [valid_alert(line) for line in first.stdout.splitlines()]
    assert [a["rule"] for a in alerts] == ["iran-pakistan"]
    assert "event=feed.failed feed=broken status=temporary_error http=500" in first.stderr
    assert redis_client.xlen(prefix + "alerts") == 1

    second = marsad("once", "--sources", str(sources), "--rules", str(RULES), env=env)
    assert second.returncode == 0 and second.stdout == ""
    assert redis_client.xlen(prefix + "alerts") == 1


def test_once_exits_1_when_every_source_failed(tmp_path: Path, feed_server: FeedServer, prefix: str):
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"- id: broken\n  url: {feed_server.route('/x.xml', status=503)}\n", encoding="utf-8")
    res = marsad(
        "once",
        "--sources",
        str(sources),
        "--rules",
        str(RULES),
        env={"MARSAD_KEY_PREFIX": prefix, "MARSAD_ALLOW_PRIVATE_NETWORKS": "1"},
    )
    assert res.returncode == 1 and res.stdout == ""


def test_bad_setting_is_named(tmp_path: Path):
    res = marsad("match", "--rules", str(RULES), stdin="", env={"MARSAD_TICK_INTERVAL": "often"})
    assert res.returncode == 2
    assert res.stderr.startswith("MARSAD_TICK_INTERVAL: ") and "Traceback" not in res.stderr


def test_tail_prints_alerts_as_they_are_published(prefix: str, redis_client: redis.Redis):
    import time

    from worker.adapters.keys import Keys
    from worker.adapters.publish import Publisher
    from worker.models import Alert

    env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "tail", "--rule", "iran-pakistan"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and "listening on" in proc.stderr.readline()
        keys = Keys(prefix)
        publisher = Publisher(redis_client, keys, ttl=60, retention=3600)
        other = Alert("b" * 40, "other-rule", "s2", json.dumps({"id": "b" * 40, "rule": "other-rule"}))
        mine = Alert("a" * 40, "iran-pakistan", "s1", json.dumps({"id": "a" * 40, "rule": "iran-pakistan"}))
        deadline = time.monotonic() + 10
        while redis_client.pubsub_numsub(keys.rule_channel("iran-pakistan"))[0][1] == 0:
            assert time.monotonic() < deadline, "tail never subscribed"
            time.sleep(0.05)
        assert publisher.publish_article("s2", "b", "{}", [other]) == [other]
        assert publisher.publish_article("s1", "a", "{}", [mine]) == [mine]
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert line == {"id": "a" * 40, "rule": "iran-pakistan", "stream_id": redis_client.xrange(keys.stream)[-1][0]}
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    ("command", "file_var", "content", "expected"),
    [
        (
            "beat",
            "MARSAD_SOURCES_FILE",
            "- id: x\n  url: ftp://nope\n",
            "2:8: url 'ftp://nope' must be an http:// or https:// address",
        ),
        ("worker", "MARSAD_RULES_FILE", "- id: x\n  query: (a\n", "2:12: query: missing ')'"),
    ],
)
def test_celery_processes_refuse_a_bad_config_file(tmp_path: Path, prefix: str, command, file_var, content, expected):
    """docker-compose runs `celery beat` and `celery worker` directly: they too stop with
    path:line:col and exit code 2 instead of logging a traceback and running on."""
    path = tmp_path / "config.yaml"
    path.write_text(content, encoding="utf-8")
    env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix, file_var: str(path)}
    args = [sys.executable, "-m", "celery", "-A", "worker.celery_app:app", command]
    if command == "worker":
        args += ["--pool=solo", "--without-mingle", "--without-gossip"]
    res = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert f"{path}:{expected}" in res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr


PAGES = ROOT / "tests" / "data" / "pages"


def test_extract_file_prints_title_and_body():
    page = PAGES / "cnn_arabic" / "arabic_article.html"
    res = marsad("extract", str(page))
    assert res.returncode == 0, res.stderr
    title, _, body = res.stdout.partition("\n\n")
    assert title == "معارضون يسيطرون على مخازن للصواريخ بريف دمشق"
    assert "تمكنت من السيطرة على مستودعات للأسلحة بريف دمشق" in body
    assert title not in body.splitlines()[0]


def test_extract_url_json_with_a_lying_charset(feed_server: FeedServer):
    """A windows-1256 page served as charset=utf-8: the text comes out as Arabic, not mojibake."""
    html = (
        "<html lang='ar'><head><title>باكستان تجري مراجعة للأمن القومي</title>"
        '<meta property="article:published_time" content="2024-01-19T07:30:00+00:00"></head><body>'
        "<article><h1>باكستان تجري مراجعة للأمن القومي</h1>"
        + "".join(f"<p>{p}</p>" for p in SEED.splitlines()[4:20] if p.strip() and not p.startswith("["))
        + "</article></body></html>"
    )
    url = feed_server.route("/page.html", html.encode("cp1256"), content_type="text/html; charset=utf-8")
    res = marsad("extract", url, "--json", env={"MARSAD_ALLOW_PRIVATE_NETWORKS": "1"})
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) >= {"title", "text", "language", "published"}
    assert out["title"] == "باكستان تجري مراجعة للأمن القومي"
    assert "عقد اجتماع لكبار القادة العسكريين" in out["text"] and "\ufffd" not in out["text"]
    assert out["language"] == "ar"
    assert out["published"] == "2024-01-19T00:00:00Z"  # the page's date (the extractor keeps the day)


def test_extract_errors():
    assert marsad("extract", "/nonexistent.html").returncode == 2
    res = marsad("extract", "http://127.0.0.1:9/x.html", env={"MARSAD_ALLOW_PRIVATE_NETWORKS": "1"})
    assert res.returncode == 1 and res.stderr.startswith("marsad: cannot fetch http://127.0.0.1:9/x.html")
