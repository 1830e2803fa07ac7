"""Celery tasks: thin wiring from messages to worker/poll.py.

Retries are for our own infrastructure only (InfrastructureError: Redis failing), with
exponential backoff kept well below the broker's visibility timeout. A failing feed is not a
retry: poll_feed records it and backs the feed off.
"""

from __future__ import annotations

import logging
import random
import time

from celery import Task

from worker.adapters.configfiles import read_ruleset
from worker.adapters.metrics import Metrics
from worker.adapters.rulestore import RuleStore
from worker.batch import poll_batch
from worker.celery_app import app, keys, settings
from worker.config import RETRY_BACKOFF_MAX
from worker.core.ruleset import build_ruleset
from worker.errors import ConfigError, InfrastructureError
from worker.logs import event, setup
from worker.poll import Runtime, reprocess_article

_runtime: Runtime | None = None

# Backoff 2, 4, 8 ... 60 s, 8 tries: about 4 minutes in all, well inside MARSAD_POLL_LEASE
# (15 min), so a retried poll never overlaps the next claim of the same feed.
_MAX_RETRIES = 8
_RETRY = {
    "autoretry_for": (InfrastructureError,),
    "retry_backoff": 2,
    "retry_backoff_max": int(RETRY_BACKOFF_MAX),  # the visibility timeout counts on it
    "retry_jitter": True,
    "max_retries": _MAX_RETRIES,
}


def runtime() -> Runtime:
    """One Runtime (Redis client, HTTP client, compiled rules) per worker process, with the live
    rule set checked at every task (one HGET) and recompiled when its version changed."""
    global _runtime
    if _runtime is None:
        setup(settings.log_level, under_celery=True)
        ruleset = read_ruleset(settings.rules_file, settings.entities_file)
        _runtime = Runtime.build(settings, ruleset.rules, entities=ruleset.entities)
    _refresh_rules(_runtime)
    return _runtime


def _refresh_rules(rt: Runtime) -> None:
    store = RuleStore(rt.redis, keys)
    version = store.version()
    if version == 0 or version == rt.matcher.version:
        return  # no live rule set stored (the file's rules stand), or already current
    stored = store.current()
    if stored is None:
        return
    try:
        ruleset = build_ruleset(
            stored.rules_text, stored.rules_path, stored.entities_text, stored.entities_path, stored.version
        )
    except ConfigError as e:  # validated when stored; only a code change could make it fail now
        event("rules.rejected", logging.ERROR, version=stored.version, problems=len(e.problems), first=e.problems[0])
        return
    rt.matcher = ruleset.matcher()
    event("rules.loaded", version=stored.version, rules=len(ruleset.rules), path=stored.rules_path)


@app.task(name="marsad.tick", **_RETRY)
def tick() -> int:
    rt = runtime()
    size = settings.poll_batch
    # Top the poll queue up to MARSAD_TICK_BATCH feeds rather than claim on top of a backlog: a
    # feed then waits in the due set, in due order, not at the end of a FIFO queue where a feed
    # deferred by a busy host would miss the turn it was given (architecture.md, "Polling
    # throughput"). Counted in messages of up to `size` feeds: an estimate on the safe side.
    room = settings.tick_batch - rt.state.queued(keys.celery_queue(keys.poll_queue)) * size
    due = rt.state.claim_due(time.time(), settings.poll_lease, room) if room > 0 else []
    for start in range(0, len(due), size):
        # A poll still queued when its lease ends is dropped unrun: by then the feed has been
        # claimed again, so a backlog cannot pile up several polls of one feed.
        poll.apply_async((due[start : start + size],), queue=keys.poll_queue, expires=settings.poll_lease)
    Metrics(rt.redis, keys).record_tick(len(due), time.time())
    return len(due)


@app.task(name="marsad.poll", bind=True, max_retries=_MAX_RETRIES)
def poll(self: Task, feed_ids: list[str] | str) -> int:
    """Poll a batch of feeds (worker/batch.py); retry only the feeds our Redis failed on."""
    ids = [feed_ids] if isinstance(feed_ids, str) else feed_ids  # a message queued before batches
    rt = runtime()
    metrics = Metrics(rt.redis, keys)
    result = poll_batch(rt, ids, settings.poll_threads, lambda report: metrics.record_report(report, time.time()))
    if result.retry:
        backoff = min(2 ** (self.request.retries + 1), RETRY_BACKOFF_MAX) * random.uniform(0.5, 1)  # as _RETRY
        raise self.retry(args=(result.retry,), countdown=backoff, exc=result.error)
    return result.published


@app.task(name="marsad.article", **_RETRY)
def article(fields: dict[str, object]) -> int:
    """One article sent back from the dead-letter stream (``marsad dead requeue``)."""
    return len(reprocess_article(runtime(), fields))
