"""What every benchmark shares: the machine line and the rewrite of its docs/benchmarks.md section."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine() -> str:
    """``2 vCPU AMD EPYC ..., Python 3.11.7``: what a result was measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU {model}, Python {platform.python_version()}"


def replace_section(title: str, section: str, docs: Path = DOCS) -> None:
    """Write ``section`` (which starts with the ``title`` heading) into docs/benchmarks.md, in
    place of the section with that heading, or at the end."""
    doc = docs.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: section + "\n", doc, count=1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + section
    docs.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")
