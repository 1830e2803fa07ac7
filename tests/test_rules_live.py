"""The live rule set: `marsad rules load` stores a validated, versioned rule set in Redis; a
worker's runtime picks it up on its next task; alerts carry the version; a new version of a
rule does not re-alert a story it already alerted on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

import worker.tasks as tasks
from tests.conftest import REDIS_URL, valid_alert
from tests.feeds import item, rss
from tests.feedserver import FeedServer
from worker.adapters.keys import Keys
from worker.adapters.rulestore import RuleStore
from worker.config import Settings
from worker.core.ruleset import build_ruleset
from worker.models import Source
from worker.poll import Runtime, poll_feed

ROOT = Path(__file__).resolve().parent.parent


def marsad(*args: str, prefix: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MARSAD_REDIS_URL": REDIS_URL, "MARSAD_KEY_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )


def test_rules_load_validates_then_stores_a_new_version(tmp_path: Path, prefix: str, redis_client: redis.Redis):
    good = tmp_path / "rules.yaml"
    good.write_text("- id: pk\n  query: باكستان\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: pk\n  query: (باكستان\n", encoding="utf-8")

    assert marsad("rules", "load", str(bad), prefix=prefix).returncode == 2
    assert RuleStore(redis_client, Keys(prefix)).version() == 0  # nothing stored

    first = marsad("rules", "load", str(good), prefix=prefix)
    second = marsad("rules", "load", str(good), prefix=prefix)
    assert first.returncode == second.returncode == 0
    assert "rule set version 2 is live (1 rules" in second.stderr
    stored = RuleStore(redis_client, Keys(prefix)).current()
    assert stored is not None and stored.version == 2 and "باكستان" in stored.rules_text


@pytest.fixture
def runtime(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """The worker's per-process runtime, built as a task builds it, on this test's prefix."""
    monkeypatch.setattr(tasks, "settings", settings)
    monkeypatch.setattr(tasks, "keys", Keys(settings.key_prefix))
    monkeypatch.setattr(tasks, "_runtime", None)
    yield tasks.runtime
    if tasks._runtime is not None:
        tasks._runtime.close()


def test_worker_picks_up_a_new_version_and_does_not_realert(runtime, prefix, redis_client, feed_server: FeedServer):
    store = RuleStore(redis_client, Keys(prefix))
    v1 = "- id: iran-pakistan\n  query: إيران AND باكستان\n"
    store.store(v1, "rules.yaml")
    rt: Runtime = runtime()
    assert rt.matcher.version == 1

    body = "وفد من باكستان يزور إيران لبحث أمن الحدود"
    url = feed_server.route("/f.xml", rss(item("خبر", "https://news.example.com/1", body)))
    assert len(poll_feed(rt, Source("f", url)).published) == 1

    # version 2: the same rule, edited, and a new one
    v2 = v1.replace("إيران AND باكستان", "إيران NEAR/10 باكستان") + "- id: border\n  query: الحدود\n"
    store.store(v2, "rules.yaml")
    rt = runtime()
    assert rt.matcher.version == 2 and [r.id for r in rt.matcher.rules] == ["iran-pakistan", "border"]

    feed_server.route("/f.xml", rss(item("خبر", "https://news.example.com/1", body + ". تحديث")))
    published = poll_feed(rt, Source("f", url)).published
    # the edited rule does not re-alert the story; the new rule alerts, with the new version
    assert [a.rule for a in published] == ["border"]
    alerts = [valid_alert(f["alert"]) for _, f in redis_client.xrange(prefix + "alerts")]
    assert [(a["rule"], a["rule_version"]) for a in alerts] == [("iran-pakistan", 1), ("border", 2)]


def test_a_stored_rule_set_is_validated_with_its_entities():
    with pytest.raises(Exception) as err:
        build_ruleset("- id: x\n  query: entity:NOPE\n", "rules.yaml")
    assert "unknown entity 'NOPE'" in str(err.value)
