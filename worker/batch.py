"""Poll a batch of feeds in one task, a few at a time on a small thread pool.

Why batches (measured in docs/benchmarks.md "Polling at scale"): with one Celery task per feed,
the broker round trips, the task events and the prefork pool's hand-over cost more CPU than
the poll itself (a 304 is a few hundred microseconds of our code). One message of
``MARSAD_POLL_BATCH`` feeds pays that once. Why threads: a poll is mostly waiting (the network,
Redis), a slow feed must not hold up the others of its batch more than it has to, and one
``httpx.Client`` and one Redis pool per process are shared safely by threads. Per-host
politeness never blocks a thread: a busy host answers "deferred" at once and the feed is
rescheduled.

Failures stay per feed: ``poll_by_id`` records a feed's failure in its state; only our own
infrastructure failing (InfrastructureError: Redis) is returned, per feed, so that the task
retries those feeds alone and does not poll the rest of its batch twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from worker.errors import InfrastructureError
from worker.poll import PollReport, Runtime, poll_by_id

_pool: tuple[int, ThreadPoolExecutor] | None = None


def _executor(threads: int) -> ThreadPoolExecutor:
    """One pool per process, made after the fork (a pool's threads do not survive a fork)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=threads, thread_name_prefix="marsad-poll"))
    return _pool[1]


@dataclass(frozen=True)
class BatchResult:
    published: int  # alerts published by the batch
    retry: list[str]  # feeds whose poll hit InfrastructureError: to be polled again
    error: InfrastructureError | None = None  # the first such error, for the retry


def poll_batch(
    rt: Runtime, feed_ids: Sequence[str], threads: int, then: Callable[[PollReport | None], None]
) -> BatchResult:
    """Poll every feed of the batch, calling ``then`` with each feed's report (None: the feed
    was removed since it was claimed); the batch ends when its slowest feed does."""
    if len(feed_ids) == 1 or threads <= 1:
        results = [_poll_one(rt, feed_id, then) for feed_id in feed_ids]
    else:
        results = list(_executor(threads).map(lambda feed_id: _poll_one(rt, feed_id, then), feed_ids))
    published = sum(n for n, _ in results if n)
    failed = [(feed_id, e) for feed_id, (_, e) in zip(feed_ids, results, strict=True) if e is not None]
    return BatchResult(published, [f for f, _ in failed], failed[0][1] if failed else None)


def _poll_one(
    rt: Runtime, feed_id: str, then: Callable[[PollReport | None], None]
) -> tuple[int, InfrastructureError | None]:
    try:
        report = poll_by_id(rt, feed_id)
        then(report)
    except InfrastructureError as e:
        return 0, e
    return (len(report.published) if report else 0), None
