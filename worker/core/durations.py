"""Durations as people write them in config files and settings: ``90s``, ``5m``, ``1h``, ``2d``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``; a bare number is seconds. Raises ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 5m or 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a duration; write it as 90s, 5m, 1h or 2d")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]
