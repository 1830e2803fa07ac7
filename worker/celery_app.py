"""The Celery app (``worker.celery_app:app``) and its settings, each with the reason for it.

Run by ``marsad run`` (worker with embedded beat), or as separate ``celery beat`` and
``celery worker`` processes (docker-compose.yml).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, NoReturn

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, beat_init, worker_init

from worker.adapters.keys import Keys
from worker.brokerfix import guard_detached_transport
from worker.config import get_settings
from worker.errors import ConfigError, Problem
from worker.logs import event, setup, use_json

settings = get_settings()
keys = Keys(settings.key_prefix)
guard_detached_transport()  # a Redis restart must not make the worker exit (worker/brokerfix.py)


def broker_transport_options() -> dict[str, object]:
    """kombu's Redis transport keeps each message a worker took in an "unacked" set until the
    task is acknowledged; a sweep in every worker puts back those older than the visibility
    timeout (above the longest a task can take: Settings.visibility_timeout): how a dead
    worker's task comes back. kombu sweeps every 10 s but scans only every 10th sweep (100 s):
    scanning at every sweep costs one ZRANGE, and a short timeout (tests, fast fail-over) then
    means a quick recovery. The sweep's lock expires before a killed sweeper could block the
    others for long."""
    timeout = settings.visibility_timeout
    return {
        # All broker keys under our prefix: one deployment's keys are one pattern, tests are isolated.
        "global_keyprefix": keys.celery_prefix,
        "visibility_timeout": timeout,
        "unacked_restore_interval": min(10, max(1, int(timeout / 10))),
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": int(min(300, max(10, timeout / 2))),
    }


app = Celery("marsad", include=["worker.tasks"])
app.conf.update(
    broker_url=settings.effective_broker_url,
    broker_transport_options=broker_transport_options(),
    broker_connection_retry_on_startup=True,
    # A message is untrusted input: JSON only, never pickle.
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    # Results are never read; alerts go to the stream.
    task_ignore_result=True,
    # At-least-once: acknowledge after the task ran, and redeliver if the worker died. Every
    # task is idempotent (claim leases, SET NX publishing), so running twice does no harm.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # A poll can take seconds; do not hoard messages another process could run.
    worker_prefetch_multiplier=1,
    task_soft_time_limit=settings.task_soft_time_limit,
    task_time_limit=settings.task_time_limit,
    task_routes={"marsad.tick": {"queue": keys.tick_queue}, "marsad.poll": {"queue": keys.poll_queue}},
    task_default_queue=keys.poll_queue,
    # The beat only sends a tick every few seconds; the schedule lives in Redis (the due set),
    # so beat keeps its own state in memory and writes no schedule file.
    beat_scheduler="celery.beat:Scheduler",
    beat_schedule={
        "tick": {
            "task": "marsad.tick",
            "schedule": settings.tick_interval,
            # A tick nobody ran in time is worthless: the next one claims the same feeds.
            "options": {"queue": keys.tick_queue, "expires": max(settings.tick_interval * 2, 5)},
        }
    },
    worker_hijack_root_logger=False,
    worker_send_task_events=True,  # for flower
)


def _exit_on_bad_config(problems: list[Problem]) -> NoReturn:
    """A bad config file stops start-up with ``path:line:col: message`` lines, exit code 2.
    Raising would only make Celery log a traceback and go on with the stale config, so exit."""
    for problem in problems:
        print(problem, file=sys.stderr, flush=True)
    os._exit(2)


@after_setup_logger.connect
@after_setup_task_logger.connect
def json_logs(logger: Any = None, **_: Any) -> None:
    """MARSAD_LOG_FORMAT=json: Celery's handlers (which marsad's events propagate to in the
    worker and beat) render JSON lines too, Celery's own messages included."""
    if settings.log_format == "json" and logger is not None:
        use_json(logger)


@beat_init.connect
def sync_sources_on_beat_start(sender: Any = None, **_: Any) -> None:
    """At beat start, make the due set match sources.yaml (added feeds are polled at the next
    tick, removed ones never again, existing ones keep their schedule: no Redis clearing), and
    store the rules file as the live rule set."""
    from worker.adapters.configfiles import read_ruleset, read_sources
    from worker.adapters.redisconn import connect
    from worker.adapters.rulestore import RuleStore
    from worker.adapters.state import State

    setup(settings.log_level, under_celery=True)
    try:
        sources = read_sources(settings.sources_file)
        ruleset = read_ruleset(settings.rules_file, settings.entities_file)
    except ConfigError as e:
        _exit_on_bad_config(e.problems)
    client = connect(settings)
    _check_layout(client)
    added, removed = State(client, keys).sync_sources(sources, time.time())
    event("sources.synced", file=settings.sources_file, feeds=len(sources), added=len(added), removed=len(removed))
    # At start the rules file is the truth: it becomes the next live version (a `marsad rules
    # load` since the last start is replaced, as documented).
    version = RuleStore(client, keys).store(
        ruleset.rules_text, settings.rules_file, ruleset.entities_text, ruleset.entities_path
    )
    event("rules.stored", file=settings.rules_file, version=version, rules=len(ruleset.rules))


@worker_init.connect
def check_rules_on_worker_start(sender: Any = None, **_: Any) -> None:
    """A worker with a bad rules file must not start (each task would fail on it instead)."""
    from worker.adapters.configfiles import read_ruleset

    try:
        ruleset = read_ruleset(settings.rules_file, settings.entities_file)
    except ConfigError as e:
        _exit_on_bad_config(e.problems)
    event("rules.checked", file=settings.rules_file, rules=len(ruleset.rules))
    from worker.adapters.redisconn import connect

    _check_layout(connect(settings))


def _check_layout(client: Any) -> None:
    """Refuse to start on a namespace of another key layout (exit 2, one line), or when Redis
    does not answer (exit 1, one line, password masked)."""
    from worker.adapters.layout import ensure_layout
    from worker.adapters.redisconn import unreachable_message
    from worker.errors import InfrastructureError

    try:
        ensure_layout(client, keys)
    except ConfigError as e:
        _exit_on_bad_config(e.problems)
    except InfrastructureError as e:
        print(unreachable_message(settings, e), file=sys.stderr, flush=True)
        os._exit(1)
