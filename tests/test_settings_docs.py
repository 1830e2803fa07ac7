"""Every setting has a row in the README's settings table, and every row is a real setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worker.config import Settings, load_settings, mask_url
from worker.errors import ConfigError

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_and_every_documented_setting_exists():
    documented = set(re.findall(r"^\| `MARSAD_([A-Z_]+)` \|", README, flags=re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert documented == fields


def test_secrets_are_masked():
    s = Settings(redis_url="redis://user:s3cret@redis.internal:6380/2", broker_url="redis://:pw@b:6379/0")
    text = str(s.masked())
    assert "s3cret" not in text and "pw@" not in text
    assert mask_url("redis://user:s3cret@redis.internal:6380/2") == "redis://user:****@redis.internal:6380/2"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_password_in_query_is_masked():
    assert mask_url("redis://127.0.0.1:1/0?password=s3cret&db=1") == "redis://127.0.0.1:1/0?password=****&db=1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MARSAD_REDIS_URL": "127.0.0.1:6379"},
            "MARSAD_REDIS_URL: must start with one of redis://, rediss://, unix://",
        ),
        ({"MARSAD_LOG_LEVEL": "loud"}, "MARSAD_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"MARSAD_DEDUP_TTL": "0"}, "MARSAD_DEDUP_TTL: must be at least 1s"),
        (
            {"MARSAD_TICK_INTERVAL": "often"},
            "MARSAD_TICK_INTERVAL: 'often' is not a duration; write it as 90s, 5m, 1h or 2d",
        ),
        (
            {"MARSAD_TASK_SOFT_TIME_LIMIT": "1h"},
            "settings: MARSAD_TASK_SOFT_TIME_LIMIT must be below MARSAD_TASK_TIME_LIMIT",
        ),
    ],
)
def test_bad_settings_are_named(monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == message
