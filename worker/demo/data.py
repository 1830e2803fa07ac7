"""The bundled demo data (``worker/data/demo/``, built by scripts/build_demo_data.py): the feeds,
their items in release order, and the article pages, read through importlib.resources so that
an installed package finds them as a checkout does."""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from worker.demo.replay import DemoFeed, DemoItem
from worker.errors import DemoError


def _root() -> Traversable:
    return resources.files("worker.data").joinpath("demo")


def _items(folder: str) -> dict[str, DemoItem]:
    out: dict[str, DemoItem] = {}
    for line in _root().joinpath(folder, "items.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            out[raw["key"]] = DemoItem(raw["key"], raw["title"], raw["summary"], raw.get("link"), raw.get("page"))
    return out


@cache
def load_feeds() -> tuple[DemoFeed, ...]:
    """The demo feeds, each with its items in release order."""
    try:
        spec = json.loads(_root().joinpath("feeds.json").read_text("utf-8"))
        folders: dict[str, dict[str, DemoItem]] = {}
        feeds = []
        for f in spec["feeds"]:
            items = []
            for ref in f["items"]:
                folder, _, key = ref.partition("/")
                if folder not in folders:
                    folders[folder] = _items(folder)
                items.append(folders[folder][key])
            full_text = bool(f.get("full_text", False))
            feeds.append(DemoFeed(f["id"], f["title"], f["language"], f["format"], tuple(items), full_text))
    except (OSError, KeyError, ValueError) as e:
        raise DemoError(f"the bundled demo data (worker/data/demo) is unreadable: {e!r}") from e
    return tuple(feeds)


def page_bytes(path: str) -> bytes:
    """A bundled article page (stored gzip-compressed), decompressed."""
    try:
        return gzip.decompress(_root().joinpath(*path.split("/")).read_bytes())
    except (OSError, EOFError) as e:
        raise DemoError(f"the bundled page {path} is unreadable: {e!r}") from e
