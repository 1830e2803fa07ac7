"""One error tree for marsad.

::

    MarsadError
    ├── ConfigError            bad input a human wrote: sources/rules files, settings
    │     carries a list of Problem(path, line, col, message), every one found
    ├── QueryError             a rule query that does not parse (position inside the query)
    ├── FeedError              a feed could not be fetched or parsed; recorded as an outcome,
    │   ├── FetchError           never raised out of a poll (see worker/poll.py)
    │   │   ├── BlockedAddress     the URL resolves to a private address and that is not allowed
    │   │   └── HostBusy           the site's politeness limits say not now: retry_after seconds
    │   └── FeedParseError
    ├── InfrastructureError    our own Redis failed: the only reason a task retries
    └── DemoError              ``marsad demo`` cannot start (its bundled data is unreadable, no
                               Redis answers and there is no redis-server to start, a port is
                               taken)

Third-party exceptions are converted at the edge (adapters/) with ``raise ... from e``.
"""

from __future__ import annotations

from dataclasses import dataclass


class MarsadError(Exception):
    """Base of every error marsad raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a file a human wrote (1-based line and column)."""

    path: str
    line: int
    col: int
    message: str
    context: str = ""  # lines shown under the message (the offending line and a caret)

    def __str__(self) -> str:
        if self.line <= 0:  # not from a file (an environment variable, a whole file)
            return f"{self.path}: {self.message}"
        head = f"{self.path}:{self.line}:{self.col}: {self.message}"
        return f"{head}\n{self.context}" if self.context else head


class ConfigError(MarsadError):
    """A configuration file or setting is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class QueryError(MarsadError):
    """A rule query does not parse. ``offset`` is the 0-based code-point offset in the query."""

    def __init__(self, message: str, offset: int) -> None:
        self.message = message
        self.offset = offset
        super().__init__(f"{message} (at character {offset + 1})")


class FeedError(MarsadError):
    """A feed failed; ``kind`` is a short stable word used in logs and feed state."""

    kind = "feed"


class FetchError(FeedError):
    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class BlockedAddress(FetchError):
    def __init__(self, message: str) -> None:
        super().__init__("blocked", message)


class HostBusy(FetchError):
    """The site already has its share of requests in flight or just had one; the fetch is
    deferred (not failed) by ``retry_after`` seconds (adapters/politeness.py)."""

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__("deferred", message)


class FeedParseError(FeedError):
    kind = "unparsable"


class InfrastructureError(MarsadError):
    """Our own Redis failed (unreachable, timed out). Tasks retry on this and only this."""


class DemoError(MarsadError):
    """``marsad demo`` cannot start; the message says why and what to do."""
