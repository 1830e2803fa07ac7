"""Settings from ``MARSAD_*`` environment variables: the only reader of the environment.

Settings are read once (``get_settings``), validated, and logged once with secrets masked. Every
field here has a row in the README's settings table; ``tests/test_settings_docs.py`` checks it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker.core.durations import parse_duration
from worker.errors import ConfigError, Problem

# A duration setting accepts "90s", "5m", "1h", "2d" or a number of seconds.
Duration = Annotated[float, BeforeValidator(parse_duration)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARSAD_", frozen=True, extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None  # defaults to redis_url
    key_prefix: str = Field(default="marsad:", min_length=1)
    sources_file: str = "config/sources.yaml"
    rules_file: str = "config/rules.yaml"

    tick_interval: Duration = 5.0
    default_interval: Duration = 300.0
    min_interval: Duration = 30.0
    max_backoff: Duration = 6 * 3600.0
    poll_lease: Duration = 300.0
    tick_batch: int = Field(default=500, ge=1)

    max_article_age: Duration = 48 * 3600.0
    dedup_ttl: Duration = 30 * 86400.0
    stream_maxlen: int = Field(default=100_000, ge=1)

    http_connect_timeout: Duration = 5.0
    http_read_timeout: Duration = 15.0
    http_total_timeout: Duration = 30.0
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0)
    user_agent: str = "marsad/0.1 (+https://github.com/marsad/marsad)"
    allow_private_networks: bool = False

    task_soft_time_limit: Duration = 120.0
    task_time_limit: Duration = 150.0
    log_level: str = "INFO"

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
    """``redis://user:secret@host/0`` -> ``redis://user:****@host/0``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))


def load_settings() -> Settings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as e:
        problems = []
        for err in e.errors():
            name = "MARSAD_" + "_".join(str(p) for p in err["loc"]).upper()
            problems.append(Problem(name, 0, 0, err["msg"]))
        raise ConfigError(problems) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
