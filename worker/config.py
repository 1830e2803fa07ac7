"""Settings from ``MARSAD_*`` environment variables: the only reader of the environment.

Settings are read once (``get_settings``), validated, and logged once with secrets masked. Every
field here has a row in the README's settings table; ``tests/test_settings_docs.py`` checks it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker import __version__
from worker.core.durations import parse_duration
from worker.errors import ConfigError, Problem


def _positive(seconds: float) -> float:
    if seconds < 1:
        raise ValueError("must be at least 1s")
    return seconds


# A duration setting accepts "90s", "5m", "1h", "2d" or a number of seconds.
Duration = Annotated[float, BeforeValidator(parse_duration)]
# ... and most must be at least a second (0 would mean "expire at once" or "no time at all").
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_positive)]
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# The longest countdown between two tries of a task (worker/tasks.py); the broker's visibility
# timeout is derived from it.
RETRY_BACKOFF_MAX = 60.0
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARSAD_", frozen=True, extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None  # defaults to redis_url
    redis_cluster: bool = False  # redis_url names a node of a Redis Cluster (the data side only)
    key_prefix: str = Field(default="marsad:", min_length=1)
    sources_file: str = "config/sources.yaml"
    rules_file: str = "config/rules.yaml"
    entities_file: str = "config/entities.yaml"

    tick_interval: PositiveDuration = 1.0  # with tick_batch: at most 500 claims/s (benchmarks.md)
    # The schedule (issue 6, core/schedule.py): a feed starts at default_interval (or its own
    # ``interval``) and adapts within min_interval..max_interval (or the source's own bounds).
    default_interval: PositiveDuration = 300.0
    min_interval: PositiveDuration = 60.0
    max_interval: PositiveDuration = 3600.0
    max_backoff: PositiveDuration = 6 * 3600.0
    disable_after: int = Field(default=30, ge=1)  # soft failures in a row before a feed is disabled
    poll_lease: PositiveDuration = 900.0
    tick_batch: int = Field(default=500, ge=1)
    # Feeds per poll task, and threads per worker process polling a task's feeds (worker/batch.py;
    # docs/benchmarks.md "Polling at scale" has the measurements behind the defaults).
    poll_batch: int = Field(default=32, ge=1)
    poll_threads: int = Field(default=16, ge=1)

    max_article_age: Duration = 48 * 3600.0
    dedup_ttl: PositiveDuration = 30 * 86400.0
    # Alert and story-updates streams keep this much history (MINID trimming, issue 7).
    stream_retention: PositiveDuration = 7 * 86400.0
    # Work (an article, a feed's poll) that failed processing this many times (within a day)
    # goes to the dead-letter stream <prefix>dead instead of being retried again.
    dead_after: int = Field(default=3, ge=1)
    # Stories (issue 5, docs/dedup.md): how long an article can be found as a near-duplicate,
    # and the least estimated share of the shorter text found in the longer one.
    story_window: PositiveDuration = 72 * 3600.0
    story_threshold: float = Field(default=0.7, gt=0, le=1)

    http_connect_timeout: PositiveDuration = 5.0
    http_read_timeout: PositiveDuration = 15.0
    http_total_timeout: PositiveDuration = 30.0
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0)
    # Sent in the User-Agent, ``marsad/<version> (+<contact_url>)``: where a site's operator
    # finds who is fetching and how to reach them.
    contact_url: str = Field(default="https://github.com/marsad/marsad", min_length=1)
    allow_private_networks: bool = False
    # Politeness per registered domain, shared by all workers through Redis
    # (adapters/politeness.py): requests in flight, least time between request starts, the
    # longest a worker waits for its turn at a feed before the poll is deferred (short: a
    # sleeping worker polls nothing, a deferral costs one reschedule), and the longest an
    # article page (or ``marsad once``, where a person waits) waits for its turn (longer: a
    # page that gives up loses its full text).
    host_concurrency: int = Field(default=2, ge=1)
    host_interval: Duration = Field(default=1.0, ge=0)
    host_max_wait: Duration = Field(default=0.2, ge=0)
    host_page_wait: Duration = Field(default=5.0, ge=0)
    full_text_max_per_poll: int = Field(default=20, ge=0)

    task_soft_time_limit: PositiveDuration = 120.0
    task_time_limit: PositiveDuration = 150.0
    # Overrides the derived visibility timeout (the ``visibility_timeout`` property): faster
    # recovery from a dead worker, at the price of a task delivered twice now and then.
    broker_visibility_timeout: PositiveDuration | None = None
    log_level: str = "INFO"
    # Logs: "text" (key=value, for a terminal) or "json" (one object per event, for collectors).
    log_format: Literal["text", "json"] = "text"

    # The web service (``marsad web``): the newsroom's time zone for the page, and the token
    # required when it listens on anything but loopback (never logged: SecretStr).
    timezone: str = "UTC"
    web_token: SecretStr | None = None

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(_REDIS_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(_REDIS_SCHEMES)}")
        return url

    @field_validator("key_prefix")
    @classmethod
    def _key_prefix(cls, prefix: str) -> str:
        # Braces would become a hash tag of their own and break the slot groups (keys.py).
        if "{" in prefix or "}" in prefix:
            raise ValueError("must not contain { or }")
        return prefix

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, level: str) -> str:
        if level.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return level.upper()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Riyadh)") from None
        return name

    @field_validator("web_token")
    @classmethod
    def _web_token(cls, token: SecretStr | None) -> SecretStr | None:
        # An empty MARSAD_WEB_TOKEN (as in .env.example) means "not set", not "the empty token".
        if token is None or not token.get_secret_value():
            return None
        # Long enough not to be guessed, and safe as it travels: a header, a query parameter, a
        # cookie value. The message never repeats the token.
        if not re.fullmatch(r"[A-Za-z0-9._~-]{16,}", token.get_secret_value()):
            raise ValueError("must be at least 16 characters among A-Z a-z 0-9 . _ ~ - (e.g. `openssl rand -hex 32`)")
        return token

    @model_validator(mode="after")
    def _limits(self) -> Settings:
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError("MARSAD_TASK_SOFT_TIME_LIMIT must be below MARSAD_TASK_TIME_LIMIT")
        if self.broker_visibility_timeout is not None and self.broker_visibility_timeout <= self.task_time_limit:
            raise ValueError("MARSAD_BROKER_VISIBILITY_TIMEOUT must be above MARSAD_TASK_TIME_LIMIT")
        if self.min_interval > self.max_interval:
            raise ValueError("MARSAD_MIN_INTERVAL must not be above MARSAD_MAX_INTERVAL")
        return self

    @property
    def user_agent(self) -> str:
        return f"marsad/{__version__} (+{self.contact_url})"

    @property
    def visibility_timeout(self) -> float:
        """How long the Redis broker waits for a delivered task's acknowledgement before it
        delivers the task again (kombu's ``visibility_timeout``). It must be above the longest a
        message can stay unacknowledged, or a slow task would run twice at once: a prefetched
        message waits for the task before it (one hard limit), then runs (another), and a retry
        is held as a countdown of up to ``RETRY_BACKOFF_MAX`` before it runs; a minute of margin
        on top. Redelivery after a worker dies takes this long, so it is kept no longer.

        ``MARSAD_BROKER_VISIBILITY_TIMEOUT`` overrides it (the fault tests recover in seconds):
        above the hard time limit a running task is never handed out beside itself, but a
        prefetched message or a retry's countdown may outlast a shorter timeout and run twice,
        which the idempotent publishing makes harmless."""
        if self.broker_visibility_timeout is not None:
            return self.broker_visibility_timeout
        return 2 * self.task_time_limit + RETRY_BACKOFF_MAX + 60

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    def masked(self) -> dict[str, object]:
        """The settings as a dict fit for a log line: passwords in URLs replaced by ``****``."""
        out: dict[str, object] = self.model_dump()
        for name in ("redis_url", "broker_url"):
            if out.get(name):
                out[name] = mask_url(str(out[name]))
        return out


def mask_url(url: str) -> str:
    """``redis://user:secret@host/0`` -> ``redis://user:****@host/0``; a ``password=`` query
    parameter (which redis-py also accepts) is masked the same way."""
    parts = urlsplit(url)
    if parts.password is not None:
        user = parts.username or ""
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=f"{user}:****@{host}")
    if parts.query:
        query = [
            (k, "****" if k.lower() == "password" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        parts = parts._replace(query=urlencode(query, safe="*"))
    return urlunsplit(parts)


_URL_SECRET = re.compile(r"(\w+://[^:/@\s]*:)[^@\s]+@")
_QUERY_SECRET = re.compile(r"((?:^|[?&\s])password=)[^&\s]+", re.IGNORECASE)


def scrub_secrets(text: str) -> str:
    """``text`` (an error message, a log line) with any password in a URL masked: for messages
    that come from libraries and might quote a URL."""
    return _QUERY_SECRET.sub(r"\1****", _URL_SECRET.sub(r"\1****@", text))


def load_settings() -> Settings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = "_".join(str(p) for p in err["loc"]).upper()
            name = f"MARSAD_{loc}" if loc else "settings"
            problems.append(Problem(name, 0, 0, err["msg"].removeprefix("Value error, ")))
        raise ConfigError(problems) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
