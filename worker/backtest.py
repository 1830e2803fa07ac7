"""``marsad stories``: story assignment over a JSONL archive, to backtest thresholds (issue 5).

Each line is an article ``{"id", "title"?, "text", "url"?, "source"?, "published"?}`` (read by
``cli_common.read_jsonl``, like ``marsad match``); the
articles go, in order, through the same cleaning, canonical URL, fingerprint and story
assignment as in the workers, and one line ``{"id", "story"}`` is printed per article (the
story's id is the id of its first article). ``published`` (RFC 3339 or 822, or Unix seconds)
places the article in the story window; without it, all articles are taken as published now.

Against Redis the index lives in a throwaway namespace under the key prefix, deleted afterwards
(also on Ctrl-C); with ``--memory`` it is ``worker.core.stories.MemoryIndex``, the same steps in
process memory.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from worker.cli_common import InputArticle, read_jsonl
from worker.config import Settings
from worker.core.clean import clean_text, clean_title
from worker.core.dedup import article_id, canonical_url, text_hash
from worker.core.fingerprint import fingerprint
from worker.core.stories import Assignment, Member, MemoryIndex, StoryParams
from worker.errors import Problem


class Index(Protocol):
    def assign(self, member: Member, now: float) -> Assignment: ...


def member_id(line_id: str) -> str:
    """The 16-hex-digit id the index uses for an input id."""
    return hashlib.sha1(line_id.encode()).hexdigest()[:16]


def to_member(line: InputArticle) -> Member:
    """The line as the workers would see it: cleaned, its URL canonical, its text fingerprinted."""
    title = clean_title(line.title)
    text = clean_text(line.text, is_html="<" in line.text, title=title)
    aliases = (article_id(canonical_url(line.url)),) if line.url else ()
    return Member(member_id(line.id), text_hash(title, text), line.source or "", fingerprint(text), aliases)


@dataclass
class Backtest:
    """Assigns lines in order and maps story ids back to the input ids."""

    index: Index
    now: float  # for lines without ``published``
    names: dict[str, str]

    @classmethod
    def start(cls, index: Index) -> Backtest:
        return cls(index, time.time(), {})

    def assign(self, line: InputArticle) -> dict[str, str]:
        member = to_member(line)
        self.names.setdefault(member.id, line.id)
        story = self.index.assign(member, self.now if line.published is None else line.published)
        return {"id": line.id, "story": self.names.get(story.story, story.story)}


def dumps(result: dict[str, str]) -> str:
    return json.dumps(result, ensure_ascii=False)


def run(files: Sequence[str], memory: bool, threshold: float | None, settings: Settings) -> int:
    """The ``marsad stories`` command: exit 0, 1 (Redis unreachable) or 2 (bad input)."""
    from worker.cli_common import EXIT_BAD_INPUT, EXIT_OK, redis_ok, report_problems

    if threshold is not None and not 0 < threshold <= 1:
        print(f"marsad: --threshold must be in (0, 1], not {threshold}", file=sys.stderr)
        return EXIT_BAD_INPUT
    params = StoryParams(settings.story_window, threshold or settings.story_threshold, settings.dedup_ttl)
    problems: list[Problem] = []
    if memory:
        _print_all(Backtest.start(MemoryIndex(params)), files, problems)
        return report_problems(problems) if problems else EXIT_OK
    from worker.adapters.keys import Keys
    from worker.adapters.redisconn import connect, redis_errors
    from worker.adapters.stories import StoryIndex
    from worker.cli_common import EXIT_FAILURE

    if not redis_ok(settings):
        return EXIT_FAILURE
    client = connect(settings)
    keys = Keys(settings.key_prefix).backtest(uuid.uuid4().hex[:12])
    try:
        _print_all(Backtest.start(StoryIndex(client, keys, params)), files, problems)
    finally:
        with redis_errors():
            for batch in _batches(client.scan_iter(match=keys.prefix + "*", count=1000), 500):
                client.unlink(*batch)
        client.close()
    return report_problems(problems) if problems else EXIT_OK


def _print_all(backtest: Backtest, files: Sequence[str], problems: list[Problem]) -> None:
    for line in read_jsonl(files, problems):
        print(dumps(backtest.assign(line)), flush=True)


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
