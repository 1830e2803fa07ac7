"""One feed poll, end to end: the only place where the adapters and the pure core meet.

fetch (conditional GET) -> parse -> clean -> drop seen -> story -> match -> publish (alerts, and
story.updated events for later articles of an alerted story) -> mark seen -> next state and due
time. Both the Celery task and ``marsad once`` call ``poll_feed``, so the
inline command and the worker run the same code.

Every poll ends in one outcome (ok, not_modified, temporary_error, rate_limited,
permanent_error, gone; or deferred by politeness): core/fetch_policy.py reads it from the fetch,
core/schedule.py turns it into the feed's next state, health and due time. A feed failure is an
outcome stored in the feed's state; only InfrastructureError (our Redis) escapes, and the task
retries on it.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import redis

from worker.adapters.dead import DeadLetters
from worker.adapters.http import Fetcher
from worker.adapters.keys import Keys
from worker.adapters.politeness import HostGate
from worker.adapters.publish import Publisher
from worker.adapters.redisconn import connect
from worker.adapters.state import State
from worker.adapters.stories import StoryIndex
from worker.config import Settings
from worker.core.alerts import article_json
from worker.core.fetch_policy import conditional_headers, failed_processing, fetch_outcome, parse_failed
from worker.core.match import Matcher, Rule
from worker.core.parse import parse_feed
from worker.core.pipeline import alerts_for, candidates, identify_language
from worker.core.schedule import Limits, Observation, advance, current_url, limits_for, state_change
from worker.core.stories import StoryParams, member_of
from worker.errors import FeedParseError, InfrastructureError
from worker.fulltext import fill
from worker.logs import event
from worker.models import Alert, Article, FeedState, Outcome, ParsedFeed, Source


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
    dead: DeadLetters

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
            DeadLetters(client, keys, settings.dead_after),
        )

    def close(self) -> None:
        self.fetcher.close()
        self.redis.close()


STAGES = ("fetch", "parse", "clean", "dedup", "match", "publish")


@dataclass(frozen=True)
class PollReport:
    """What one poll did, for logs, ``marsad once`` and the metrics. ``timings`` holds seconds
    per stage (STAGES; full-text page fetches count as fetch, language identification as clean);
    ``duplicates`` the entries dropped as seen or joined to a known text under another URL."""

    feed: str
    outcome: str  # one of models.OUTCOMES, or "deferred" (politeness: not polled now)
    entries: int = 0
    new: int = 0
    published: list[Alert] = field(default_factory=list)
    error: str | None = None
    duplicates: int = 0
    alerts: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    fetched_at: float = 0.0  # wall clock (Unix seconds) when the poll started
    status: int | None = None  # HTTP status, when one was received
    state: str = "active"  # the feed's health after the poll
    next_due: float | None = None
    matched: int = 0  # articles that matched at least one rule (their alerts may be old news)

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "not_modified", "deferred")


class _Stopwatch:
    """Adds the time since the previous lap to a stage: a lap right after each stage's call
    charges every stage its own time, however the loop around them continues."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        t = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + t - self.t
        self.t = t


@dataclass(frozen=True)
class _Processed:
    candidates: int = 0  # articles in the feed (one per article id)
    fresh: list[Article] = field(default_factory=list)
    copies: int = 0
    published: list[Alert] = field(default_factory=list)
    matched: int = 0  # articles that matched at least one rule
    retry: int = 0  # articles that failed and must be processed again at the next poll


def _process(
    rt: Runtime, source: Source, parsed: ParsedFeed, now: float, first_poll: bool, watch: _Stopwatch
) -> _Processed:
    s = rt.settings
    cands = candidates(source, parsed.entries, parsed.language, now, s.max_article_age, first_poll)
    watch.lap("clean")
    fresh, copies = rt.state.triage([c.article for c in cands])
    watch.lap("dedup")
    if source.full_text:
        fresh = fill(rt.fetcher, fresh, s.full_text_max_per_poll)
        watch.lap("fetch")
    fresh, copies = [identify_language(a) for a in fresh], [identify_language(a) for a in copies]
    watch.lap("clean")
    too_old = {c.article.id for c in cands if c.too_old}
    published: list[Alert] = []
    retry: set[str] = set()
    matched = 0
    for article in fresh + copies:
        try:
            alerts, hit = process_article(rt, article, now, article.id in too_old, watch)
            published += alerts
            matched += hit
        except InfrastructureError:
            raise  # our Redis: the task retries, nothing is counted against the article
        except Exception as e:
            if not _article_failed(rt, article, e):
                retry.add(article.id)
    # Seen marks come last: an article is seen once its alerts are on the stream (or it is in
    # the dead-letter stream); one that failed is not, so the next poll processes it again.
    rt.state.mark_seen([a for a in fresh + copies if a.id not in retry], s.dedup_ttl)
    watch.lap("publish")
    return _Processed(len(cands), fresh, len(copies), published, matched, len(retry))


def process_article(
    rt: Runtime, article: Article, now: float, archive: bool = False, watch: _Stopwatch | None = None
) -> tuple[list[Alert], bool]:
    """One new article: its story, then (unless ``archive``: recorded, no alert and no story
    update) its alerts published, or a story.updated event for rules already alerted. Returns
    the alerts published, and whether any rule matched. Marking it seen is the caller's (after
    publishing)."""
    watch = watch or _Stopwatch({})
    story = rt.stories.assign(member_of(article), now)
    watch.lap("dedup")
    if story.via != "new":
        event("story.joined", logging.DEBUG, article=article.id, story=story.story, via=story.via)
    if archive:
        return [], False
    alerts = alerts_for(article, story.story, rt.matcher, now, story.sources, time.time)
    watch.lap("match")
    if not alerts:
        return [], False
    published = rt.publisher.publish_article(story.story, article.id, article_json(article, now), alerts, story.sources)
    for alert in published:
        event("alert.published", alert=alert.id, rule=alert.rule, story=story.story, feed=article.source)
    watch.lap("publish")
    return published, True


def reprocess_article(rt: Runtime, fields: Mapping[str, object]) -> list[Alert]:
    """An article sent back from the dead-letter stream (``marsad dead requeue``): processed
    again as a new article, marked seen after its alerts are published; a failure counts
    again (and may dead-letter it again)."""
    article = Article(**fields)  # type: ignore[arg-type]  # the JSON of asdict(Article)
    try:
        published, _ = process_article(rt, article, time.time())
    except InfrastructureError:
        raise
    except Exception as e:
        _article_failed(rt, article, e)
        return []
    rt.state.mark_seen([article], rt.settings.dedup_ttl)
    return published


def _article_failed(rt: Runtime, article: Article, error: Exception) -> bool:
    """Count a failure of one article (a bug on this input, most likely): logged with its
    traceback; True when it went to the dead-letter stream (then it is marked seen)."""
    logging.getLogger("marsad").exception("event=article.error article=%s feed=%s", article.id, article.source)
    message = f"{type(error).__name__}: {error}"
    payload = json.dumps(asdict(article), ensure_ascii=False)
    dead = rt.dead.failed("article", article.id, article.source, message, payload)
    if dead:
        event("article.dead", logging.ERROR, article=article.id, feed=article.source, dead=dead, error=message)
    return dead is not None


def _delays(fresh: Sequence[Article], now: float, max_age: float) -> tuple[float, ...]:
    """Publication -> first sight of new articles with a date of their own, within the age
    limit (an old entry newly seen is a backfill, not a delay of ours)."""
    out = []
    for a in fresh:
        delay = now - a.published
        if not a.date_missing and delay >= 0 and (not max_age or delay <= max_age):
            out.append(delay)
    return tuple(out)


def limits(settings: Settings, source: Source) -> Limits:
    s = settings
    defaults = (s.default_interval, s.min_interval, s.max_interval)
    return limits_for(
        source.interval, source.min_interval, source.max_interval, defaults, s.max_backoff, s.disable_after
    )


def _fetch_and_process(
    rt: Runtime, source: Source, state: FeedState, now: float, watch: _Stopwatch
) -> tuple[Outcome, ParsedFeed | None, _Processed]:
    """Fetch, and for a new body parse and process it. Every feed failure comes back as an
    Outcome; only InfrastructureError (our Redis) escapes."""
    outcome = Outcome("temporary_error", "error: not fetched")
    parsed: ParsedFeed | None = None
    try:
        url = current_url(state, source.url)
        result = rt.fetcher.fetch(url, conditional_headers(state, source.conditional))
        watch.lap("fetch")
        outcome = fetch_outcome(result, state, now)
        if result.moved_to:
            event("feed.redirected", logging.INFO, feed=source.id, url=url, to=result.moved_to)
        if outcome.kind != "ok":
            return outcome, None, _Processed()
        parsed = parse_feed(result.body, result.headers, result.final_url or url, kind=source.type)
        watch.lap("parse")
        return outcome, parsed, _process(rt, source, parsed, now, state.last_success is None, watch)
    except FeedParseError as e:
        return parse_failed(outcome, str(e)), None, _Processed()
    except InfrastructureError:
        raise  # our Redis: the task retries
    except Exception as e:
        # A bug, or the task's soft time limit: logged loudly, and recorded like any failure so
        # that one feed cannot poison the schedule (it backs off instead of coming back forever).
        logging.getLogger("marsad").exception("event=feed.error feed=%s", source.id)
        message = f"{type(e).__name__}: {e}"
        dead = rt.dead.failed("poll", source.id, source.id, message, json.dumps(source.id))
        if dead:
            event("poll.dead", logging.ERROR, feed=source.id, dead=dead, error=message)
        return failed_processing(outcome, message), parsed, _Processed()


def poll_feed(rt: Runtime, source: Source, now: float | None = None) -> PollReport:
    started = time.perf_counter()
    now = time.time() if now is None else now
    s = rt.settings
    state = rt.state.feed_state(source.id)
    timings = dict.fromkeys(STAGES, 0.0)
    outcome, parsed, done = _fetch_and_process(rt, source, state, now, _Stopwatch(timings))
    entries = len(parsed.entries) if parsed else 0
    observed = Observation(
        outcome,
        source.url,
        entries=done.candidates if parsed else None,
        new=len(done.fresh) + done.copies,
        delays=_delays(done.fresh, now, s.max_article_age) if state.last_success is not None else (),
        ttl=parsed.ttl if parsed else None,
    )
    after = advance(state, observed, limits(s, source), now, random.random())
    if done.retry:
        # Articles to process again: forget the validators, or an unchanged feed would answer
        # 304 (or repeat its body hash) and they would wait for the feed's next change.
        after = replace(after, etag=None, last_modified=None, body_hash=None)
    if outcome.kind == "deferred":
        rt.state.defer(source.id, after.next_due or now)
    else:
        change = state_change(state, after, source.id, now)
        rt.state.save_feed(source.id, after, s.dedup_ttl, change)
        if change:
            event("feed.state", logging.WARNING, **{k: v for k, v in change.items() if k not in ("schema", "at")})
    report = PollReport(
        source.id,
        outcome.kind,
        entries,
        len(done.fresh),
        done.published,
        outcome.error,
        duplicates=done.candidates - len(done.fresh),
        alerts=len(done.published),
        timings=timings,
        fetched_at=now,
        status=outcome.status,
        state=after.state,
        next_due=after.next_due,
        matched=done.matched,
    )
    event(
        "feed.failed" if report.failed else "feed.deferred" if outcome.kind == "deferred" else "feed.polled",
        logging.WARNING if report.failed else logging.DEBUG if outcome.kind == "deferred" else logging.INFO,
        feed=source.id,
        status=report.outcome,
        http=outcome.status,
        entries=entries,
        new=report.new,
        matched=report.matched,
        alerts=report.alerts,
        failures=after.failures or None,
        error=report.error,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    return report


def poll_by_id(rt: Runtime, feed_id: str) -> PollReport | None:
    """Poll a feed by id; None when it was removed from sources.yaml since it was claimed."""
    source = rt.state.source(feed_id)
    if source is None:
        event("feed.gone", feed=feed_id)
        return None
    return poll_feed(rt, source)
