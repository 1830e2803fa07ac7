"""Each source type end to end: ``marsad once`` (the worker's poll, inline) fetches a Google News
sitemap and a JSON Feed of real Arabic articles from a local HTTP server, detects the type, and
publishes the alert of a rule that matches one of the articles, on the real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL
from tests.feedserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT / "tests" / "data" / "feeds"
TITLE = 'حمة الهمامي : اعتذار الغرياني عن الوزارة "مخرج من ورطة"'

TYPES = {
    # id: (fixture, Content-Type the server sends)
    "sitemap": ("jawharafm-news-sitemap.xml", "application/xml; charset=utf-8"),
    "jsonfeed": ("jawharafm-feed.json", "application/feed+json"),
}


@pytest.mark.parametrize("declared", [False, True], ids=["detected", "declared"])
@pytest.mark.parametrize("source_type", TYPES)
def test_once_alerts_from_each_source_type(
    tmp_path: Path, feed_server: FeedServer, prefix: str, redis_client: redis.Redis, source_type: str, declared: bool
) -> None:
    fixture, content_type = TYPES[source_type]
    url = feed_server.route(f"/{fixture}", (FEEDS / fixture).read_bytes(), content_type=content_type)
    sources = tmp_path / "sources.yaml"
    # ``type:`` in sources.yaml reaches the parser; without it the body is sniffed
    declaration = f"  type: {source_type}\n" if declared else ""
    sources.write_text(f"- id: jawhara-{source_type}\n  url: {url}\n{declaration}", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    # Both words are in the politic article's title: a sitemap entry has its title only.
    rules.write_text("- id: hammami\n  query: الهمامي AND الغرياني\n", encoding="utf-8")
    env = {
        **os.environ,
        "MARSAD_REDIS_URL": REDIS_URL,
        "MARSAD_KEY_PREFIX": prefix,
        "MARSAD_ALLOW_PRIVATE_NETWORKS": "true",
        "MARSAD_MAX_ARTICLE_AGE": "0",  # the articles are from 2017
    }
    res = subprocess.run(
        [sys.executable, "-m", "worker.cli", "once", "--sources", str(sources), "--rules", str(rules)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert f"event=feed.polled feed=jawhara-{source_type} status=ok" in res.stderr
    assert "entries=9" in res.stderr
    (alert,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert alert["rule"] == "hammami"
    assert alert["article"]["title"] == TITLE
    assert alert["article"]["source"] == f"jawhara-{source_type}"
    assert alert["article"]["language"] == "ar"
    assert alert["article"]["published"] == "2017-03-02T12:44:00Z"
    assert "jawharafm.net/ar/article/" in alert["article"]["url"]
    assert {m["field"] for m in alert["matched"]} >= {"title"}
    assert redis_client.xlen(prefix + "alerts") == 1
