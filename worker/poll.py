"""One feed poll, end to end: the only place where the adapters and the pure core meet.

fetch (conditional GET) -> parse -> clean -> drop seen -> story -> match -> publish (alerts, and
story.updated events for later articles of an alerted story) -> mark seen -> next state and due
time. Both the Celery task and ``marsad once`` call ``poll_feed``, so the
inline command and the worker run the same code.

A feed failure (timeout, refused, HTTP error, unparsable) is an outcome stored in the feed's
state with a backoff; only InfrastructureError (our Redis) escapes, and the task retries on it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import redis

from worker.adapters.http import Fetcher
from worker.adapters.keys import Keys
from worker.adapters.politeness import HostGate
from worker.adapters.publish import Publisher
from worker.adapters.redisconn import connect
from worker.adapters.state import State
from worker.adapters.stories import StoryIndex
from worker.config import Settings
from worker.core.alerts import article_json
from worker.core.fetch_policy import conditional_headers
from worker.core.match import Matcher, Rule
from worker.core.parse import parse_feed
from worker.core.pipeline import alerts_for, candidates, identify_language
from worker.core.schedule import next_poll_at, next_state
from worker.core.stories import StoryParams, member_of
from worker.errors import FeedParseError, InfrastructureError
from worker.fulltext import fill
from worker.logs import event
from worker.models import Alert, FetchResult, ParsedFeed, Source


@dataclass
class Runtime:
    """Everything a poll needs, built once per process."""

    settings: Settings
    matcher: Matcher  # the compiled rules (replaced when a new live rule set is picked up)
    redis: redis.Redis
    state: State
    stories: StoryIndex
    publisher: Publisher
    fetcher: Fetcher

    @classmethod
    def build(
        cls,
        settings: Settings,
        rules: Iterable[Rule],
        fetcher: Fetcher | None = None,
        entities: Mapping[str, Sequence[str]] | None = None,
    ) -> Runtime:
        client = connect(settings)
        keys = Keys(settings.key_prefix)
        return cls(
            settings,
            Matcher(rules, entities),
            client,
            State(client, keys),
            StoryIndex(client, keys, StoryParams(settings.story_window, settings.story_threshold, settings.dedup_ttl)),
            Publisher(client, keys, settings.dedup_ttl, settings.stream_retention),
            fetcher or Fetcher(settings, gate=HostGate.from_settings(client, settings)),
        )

    def close(self) -> None:
        self.fetcher.close()
        self.redis.close()


@dataclass(frozen=True)
class PollReport:
    feed: str
    outcome: str  # "ok", "not-modified", or a failure kind
    entries: int = 0
    new: int = 0
    published: list[Alert] = field(default_factory=list)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "not-modified")


def _process(rt: Runtime, source: Source, parsed: ParsedFeed, now: float, first_poll: bool) -> tuple[int, list[Alert]]:
    s = rt.settings
    cands = candidates(source, parsed.entries, parsed.language, now, s.max_article_age, first_poll)
    fresh, copies = rt.state.triage([c.article for c in cands])
    if source.full_text:
        fresh = fill(rt.fetcher, fresh, s.full_text_max_per_poll)
    fresh, copies = [identify_language(a) for a in fresh], [identify_language(a) for a in copies]
    too_old = {c.article.id for c in cands if c.too_old}
    published: list[Alert] = []
    for article in fresh + copies:
        story = rt.stories.assign(member_of(article), now)
        if story.via != "new":
            event("story.joined", logging.DEBUG, article=article.id, story=story.story, via=story.via)
        if article.id in too_old:
            continue  # archive: recorded (story and seen) but no alert and no story update
        alerts = alerts_for(article, story.story, rt.matcher)
        if not alerts:
            continue
        for alert in rt.publisher.publish_article(
            story.story, article.id, article_json(article), alerts, story.sources
        ):
            published.append(alert)
            event("alert.published", alert=alert.id, rule=alert.rule, story=story.story, feed=source.id)
    rt.state.mark_seen(fresh + copies, s.dedup_ttl)
    return len(fresh), published


def poll_feed(rt: Runtime, source: Source, now: float | None = None) -> PollReport:
    started = time.monotonic()
    now = time.time() if now is None else now
    s = rt.settings
    state = rt.state.feed_state(source.id)
    result = FetchResult("error")
    failure: tuple[str, str] | None = None
    entries, new, published = 0, 0, list[Alert]()
    try:
        result = rt.fetcher.fetch(source.url, conditional_headers(state))
        if result.outcome == "ok":
            parsed = parse_feed(result.body, result.headers, result.final_url or source.url)
            entries = len(parsed.entries)
            new, published = _process(rt, source, parsed, now, first_poll=state.last_ok is None)
    except FeedParseError as e:
        failure = ("unparsable", str(e))
    except InfrastructureError:
        raise  # our Redis: the task retries
    except Exception as e:
        # A bug, or the task's soft time limit: logged loudly, and recorded like any failure so
        # that one feed cannot poison the schedule (it backs off instead of coming back forever).
        logging.getLogger("marsad").exception("event=feed.error feed=%s", source.id)
        failure = ("error", f"{type(e).__name__}: {e}")
    new_state = next_state(state, result, now, failure)
    interval = max(source.interval or s.default_interval, s.min_interval)
    next_due = next_poll_at(new_state, interval, now, s.max_backoff, random.random())
    rt.state.save_feed(source.id, new_state, next_due, s.dedup_ttl)
    report = PollReport(source.id, new_state.last_status or "error", entries, new, published, new_state.last_error)
    if result.moved_to:
        event("feed.moved", logging.WARNING, feed=source.id, url=source.url, to=result.moved_to)
    event(
        "feed.failed" if report.failed else "feed.polled",
        logging.WARNING if report.failed else logging.INFO,
        feed=source.id,
        status=report.outcome,
        http=result.status,
        entries=entries,
        new=new,
        alerts=len(published),
        failures=new_state.failures or None,
        error=report.error,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    return report


def poll_by_id(rt: Runtime, feed_id: str) -> PollReport | None:
    """Poll a feed by id; None when it was removed from sources.yaml since it was claimed."""
    source = rt.state.source(feed_id)
    if source is None:
        event("feed.gone", feed=feed_id)
        return None
    return poll_feed(rt, source)
