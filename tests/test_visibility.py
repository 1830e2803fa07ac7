"""MARSAD_BROKER_VISIBILITY_TIMEOUT overrides the derived visibility timeout (tests/test_keys.py
has the derivation): the fault tests use it to recover from a killed worker in seconds."""

from __future__ import annotations

import pytest

from worker.config import Settings
from worker.errors import ConfigError


def test_the_override_replaces_the_derived_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARSAD_BROKER_VISIBILITY_TIMEOUT", "15s")
    monkeypatch.setenv("MARSAD_TASK_SOFT_TIME_LIMIT", "10s")
    monkeypatch.setenv("MARSAD_TASK_TIME_LIMIT", "12s")
    assert Settings().visibility_timeout == 15
    monkeypatch.delenv("MARSAD_BROKER_VISIBILITY_TIMEOUT")
    assert Settings().visibility_timeout == 2 * 12 + 60 + 60


def test_an_override_not_above_the_hard_time_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A running task would be handed out a second time beside itself."""
    from worker.config import load_settings

    monkeypatch.setenv("MARSAD_BROKER_VISIBILITY_TIMEOUT", "2m")
    monkeypatch.setenv("MARSAD_TASK_TIME_LIMIT", "150s")
    with pytest.raises(ConfigError, match="MARSAD_BROKER_VISIBILITY_TIMEOUT must be above MARSAD_TASK_TIME_LIMIT"):
        load_settings()
