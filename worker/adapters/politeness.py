"""Per-host politeness shared by every worker process and machine, enforced in Redis.

Per registered domain (``a.example.com`` and ``b.example.com`` are one site, ``example.org``
another; an IP address is its own domain): at most ``MARSAD_HOST_CONCURRENCY`` requests in
flight and at least ``MARSAD_HOST_INTERVAL`` seconds between request starts. Every request
counts: feed fetches, every redirect hop (the hop to another site counts for that site) and the
article pages fetched for full text, because all of them go through ``Fetcher``'s transport,
which asks this gate before each one.

One hash per domain, ``<p>host:<domain>`` (a single key: nothing to keep in one cluster slot):

* ``s:<token>`` — one field per slot held, valued with the time its lease ends. A slot is a
  lease, not a counter: a process killed mid-fetch leaves a field whose time passes, and the
  next acquire drops it. The lease is the fetch's total time limit plus a margin, so a live
  fetch never outlives its slot.
* ``next`` — the earliest time the next request may start. A grant *reserves* that start
  (``next`` moves one interval further at once), so waiting callers are served in the order
  they asked, without a retry storm.
* ``tail`` — where the last deferred caller was told to come back; each deferral is sent one
  interval after the previous one, so twenty feeds of one site that fell due together come
  back spread out instead of all at once. It is only an estimate: the limits are enforced by
  ``next`` and the slots alone.

Times are Redis's own clock (``TIME`` inside the script), in milliseconds: every worker on
every machine then measures against one clock, and a machine whose clock is off cannot crowd a
host. The script returns durations, which the caller sleeps locally (no clock comparison across
machines anywhere).

A worker never sleeps long: for a feed it waits for a reserved start of at most
``MARSAD_HOST_MAX_WAIT`` seconds (default 0.2 s), and while every slot is taken it asks again
every 50 ms within the same bound. Past that the fetch is *deferred*: ``HostBusy(retry_after)``
becomes ``FetchResult("deferred", retry_after=...)`` and the poll reschedules the feed then,
which is not a failure. The bound is short because a sleeping worker polls nothing while a
deferral costs one reschedule: with many feeds per site (all due at once after a restart), a
bound of one interval would put most workers to sleep. Article pages (full text) wait up to
``MARSAD_HOST_PAGE_WAIT`` (default 5 s) instead: a page that gives up loses its text, and the
pages of one poll are fetched one after another, one interval apart.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import redis
from publicsuffixlist import PublicSuffixList

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors
from worker.config import Settings
from worker.errors import HostBusy

# KEYS[1]: the domain's hash. ARGV: 1 token, 2 concurrency, 3 interval ms, 4 lease ms,
# 5 longest wait the caller accepts (ms), 6 "1" when the caller would rather poll again than be
# deferred while every slot is taken.
# Returns {1, delay ms}: granted, start after delay; {2, 0}: every slot taken, ask again soon;
# {0, retry ms}: deferred, come back after retry ms.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, interval, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local fields = redis.call('HGETALL', KEYS[1])
local nxt, tail, busy, last = now, 0, 0, now
for i = 1, #fields, 2 do
  local name, value = fields[i], tonumber(fields[i + 1])
  if name == 'next' then
    nxt = math.max(value, now)
  elseif name == 'tail' then
    tail = value
  elseif value <= now then
    redis.call('HDEL', KEYS[1], name)  -- a lease that ran out: its holder died or hung
  else
    busy = busy + 1
    last = math.max(last, value)
  end
end
local start = nxt
if busy < limit and start - now <= max_wait then
  redis.call('HSET', KEYS[1], 's:' .. ARGV[1], start + lease, 'next', start + interval)
  redis.call('PEXPIREAT', KEYS[1], math.max(last, start + lease, start + interval, tail) + 1000)
  return {1, start - now}
end
if busy >= limit and start - now <= max_wait and ARGV[6] == '1' then
  return {2, 0}
end
local at = math.max(tail, start)
if busy >= limit then
  at = math.max(at, now + interval, now + 1000)  -- a slot frees when a fetch ends: not before
end
redis.call('HSET', KEYS[1], 'tail', at + interval)
redis.call('PEXPIREAT', KEYS[1], math.max(last, at + interval) + 1000)
return {0, at - now}
"""

_RELEASE = "return redis.call('HDEL', KEYS[1], 's:' .. ARGV[1])"

POLL_STEP = 0.05  # seconds between asks while every slot of a host is taken


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    # The list bundled with the package (no fetch at run time). ICANN section only, as
    # tldextract does by default: x.blogspot.com and y.blogspot.com share blogspot's servers,
    # and counting them as one site errs on the polite side.
    return PublicSuffixList(only_icann=True)


def registered_domain(host: str) -> str:
    """The site a host belongs to for politeness: its registered domain (``news.bbc.co.uk`` ->
    ``bbc.co.uk``), an IP address as itself, a name with no known suffix (``localhost``) as is."""
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return _suffixes().privatesuffix(host) or host


@dataclass(frozen=True)
class Lease:
    key: str
    token: str


class HostGate:
    """``acquire`` before a request (may sleep up to ``max_wait``; raises ``HostBusy``),
    ``release`` when the response is closed."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        concurrency: int,
        interval: float,
        lease: float,
        max_wait: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.keys = keys
        self.concurrency = concurrency
        self.interval_ms = round(interval * 1000)
        self.lease_ms = round(lease * 1000)
        self.max_wait = max_wait
        self.sleep = sleep
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> HostGate:
        # A slot outlives the longest fetch (its total time limit) by a margin for the
        # response's closing and the worker's own scheduling.
        return cls(
            client,
            Keys(settings.key_prefix),
            settings.host_concurrency,
            settings.host_interval,
            settings.http_total_timeout + 5,
            settings.host_max_wait,
        )

    def acquire(self, host: str, max_wait: float | None = None) -> Lease:
        """A slot for one request to ``host``'s site, waiting at most ``max_wait`` seconds
        (default: the gate's) for it; ``HostBusy`` past that."""
        key = self.keys.host(registered_domain(host))
        token = uuid.uuid4().hex
        deadline = time.monotonic() + (self.max_wait if max_wait is None else max_wait)
        while True:
            left = max(0.0, deadline - time.monotonic())
            args: list[str | int] = [token, self.concurrency, self.interval_ms, self.lease_ms]
            args += [round(left * 1000), int(left > 0)]
            with redis_errors():
                answer, ms = self._acquire(keys=[key], args=args)
            if answer == 1:
                lease = Lease(key, token)
                if ms > 0:
                    try:
                        self.sleep(ms / 1000)
                    except BaseException:  # e.g. the task's time limit: give the slot back now
                        self.release(lease)
                        raise
                return lease
            if answer == 0:
                raise HostBusy(f"{host}: too busy for now (politeness), retry in {ms / 1000:g}s", ms / 1000)
            self.sleep(min(POLL_STEP, left))

    def release(self, lease: Lease) -> None:
        with redis_errors():
            self._release(keys=[lease.key], args=[lease.token])
