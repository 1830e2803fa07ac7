"""worker.core stays pure: no network, broker or Redis client, no environment, no wall clock."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "worker" / "core"
MODULES = sorted(f"worker.core.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__")
FORBIDDEN_IMPORTS = ("httpx", "redis", "celery", "kombu")
FORBIDDEN_CALLS = ("os.environ", "time.time(", "datetime.now(")

_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_core_has_the_expected_modules() -> None:
    """Guards the tests below against a wrong path: they would pass vacuously on an empty list."""
    assert {"worker.core.normalize", "worker.core.match", "worker.core.pipeline"} <= set(MODULES)


def test_importing_the_core_loads_no_io_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "worker.core", *MODULES],
        cwd=CORE.parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout)
    assert set(MODULES) <= set(loaded)
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN_IMPORTS]
    assert bad == []


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_source_reads_no_environment_or_clock(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for needle in FORBIDDEN_CALLS:
        assert needle not in source, f"{path.name} mentions {needle}"
    # the same calls written through an import alias
    assert not re.search(r"^\s*from\s+os\s+import\s+.*\benviron\b", source, re.MULTILINE)
    assert not re.search(r"\bgetenv\s*\(", source)
