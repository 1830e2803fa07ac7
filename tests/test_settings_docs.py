"""Every setting has a row in the README's settings table, and every row is a real setting."""

from __future__ import annotations

import re
from pathlib import Path

from worker.config import Settings, mask_url

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
