"""The story index in Redis, shared by all workers: one Lua script, one or two round trips.

1. ``lookup``: the script reads the story of the article's URL ids and text. If one is set, or
   if no indexed article shares an LSH band with this one, the decision needs nothing more and
   the script records it at once (one round trip: most articles). Otherwise it returns the
   candidates: of the article ids stored under its 20 band keys in the live slices of the story
   window, the 8 sharing most bands, each with its packed fingerprint and its story.
2. The decision among candidates is taken in Python, by ``worker.core.stories.choose`` (the
   same code as the in-memory index of ``marsad stories --memory``).
3. ``assign``: the script records it — but first re-reads the URL and text keys, and the
   article's band keys in the current slice: when another worker indexed a new article there
   since step 1 (two near-duplicates processed at the same moment), it answers "retry" and the
   steps run again, so concurrent workers end up as if they had run one after the other.

Recording is: ``SET NX`` of the story for the URL ids and the text (the first writer wins, so
two workers holding the same wire copy agree), the fingerprint indexed in the current slice,
the source added to the story's sources. Running it twice for one article gives the same story
(its URL key holds it) and indexes nothing twice. An article too short to be fingerprinted is
recorded in the first round trip.

Key names come from ``Keys``; the script appends the shard (``shard_of``) to a slice name and
an id to a key prefix, so it touches keys not listed in KEYS. All of them carry the stories hash
tag (keys.py), so they are in the slot of KEYS[1], where Redis Cluster routes the script: the
story index is one slot, on one node (its size is bounded by the story window).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import redis

from worker.adapters.keys import Keys
from worker.adapters.redisconn import redis_errors
from worker.core.fingerprint import unpack
from worker.core.stories import (
    BAND_IDS,
    ID_CHARS,
    MAX_CANDIDATES,
    SHARDS,
    Assignment,
    Candidate,
    Member,
    StoryParams,
    band_field,
    choose,
    entry_field,
    live_slices,
    slice_of,
    slice_ttl,
)
from worker.logs import event

# KEYS: the story:url keys of the URL ids, then the story:text key.
# ARGV: 1 mode ("lookup" or "assign"), 2 own id, 3 the story decided (assign), 4 key TTL,
# 5 source, 6 sources prefix, 7 story:url prefix, 8 the ids the lookup met in the current slice
# (",id,id,"; "*": do not check), 9 most candidates, 10 current slice name ('' without a
# fingerprint), 11 its TTL, 12 packed entry, 13 entry shard, 14 number of live slices n,
# 15 .. 14+n the live slice names, then (shard, field) per band.
# Returns {'done', story, i, n} (i: the KEYS index that held the story, 0 when it was decided;
# n: how many sources carried the story),
# {'candidates', {id, story, entry hex, ...}, ids met in the current slice}, or {'retry'}.
_STORY = """#!lua
local mode, own, slice = ARGV[1], ARGV[2], ARGV[10]
local first = 15 + tonumber(ARGV[14])

local function record(story, found, bands)
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], story, 'NX', 'EX', ARGV[4])
  end
  if slice ~= '' then
    for b = first, #ARGV, 2 do
      local key = slice .. ARGV[b]
      local ids = bands[b]
      if ids == nil then ids = redis.call('HGET', key, ARGV[b + 1]) or '' end
      local known = false
      for p = 1, #ids, 16 do
        if string.sub(ids, p, p + 15) == own then known = true end
      end
      if not known then
        redis.call('HSET', key, ARGV[b + 1], string.sub(own .. ids, 1, KEEP))
        redis.call('EXPIRE', key, ARGV[11])
      end
    end
    local key = slice .. ARGV[13]
    redis.call('HSET', key, 's' .. own, ARGV[12])
    redis.call('EXPIRE', key, ARGV[11])
  end
  local sources = ARGV[6] .. story
  redis.call('SADD', sources, ARGV[5])
  redis.call('EXPIRE', sources, ARGV[4])
  return {'done', story, found, redis.call('SCARD', sources)}
end

for i = 1, #KEYS do
  local story = redis.call('GET', KEYS[i])
  if story then return record(story, i, {}) end
end

if mode == 'assign' then
  local bands, check = {}, ARGV[8]
  if slice ~= '' then
    for b = first, #ARGV, 2 do
      local ids = redis.call('HGET', slice .. ARGV[b], ARGV[b + 1]) or ''
      bands[b] = ids
      if check ~= '*' then
        for p = 1, #ids, 16 do
          local id = string.sub(ids, p, p + 15)
          if id ~= own and not string.find(check, ',' .. id .. ',', 1, true) then return {'retry'} end
        end
      end
    end
  end
  return record(ARGV[3], 0, bands)
end

local shared, where, order, current, currentbands = {}, {}, {}, {}, {}
for s = 15, first - 1 do
  for b = first, #ARGV, 2 do
    local ids = redis.call('HGET', ARGV[s] .. ARGV[b], ARGV[b + 1])
    if ARGV[s] == slice then currentbands[b] = ids or '' end
    if ids then
      for p = 1, #ids, 16 do
        local id = string.sub(ids, p, p + 15)
        if id ~= own then
          if not shared[id] then
            shared[id], where[id] = 0, ARGV[s]
            order[#order + 1] = id
          end
          shared[id] = shared[id] + 1
          if ARGV[s] == slice then current[id] = true end
        end
      end
    end
  end
end
if #order == 0 then return record(own, 0, currentbands) end
table.sort(order, function(a, b)
  if shared[a] ~= shared[b] then return shared[a] > shared[b] end
  return a < b
end)
local out = {}
for i = 1, math.min(#order, tonumber(ARGV[9])) do
  local id = order[i]
  local shard = string.format('%x', tonumber(string.sub(id, 1, 4), 16) % SHARDS)
  local entry = redis.call('HGET', where[id] .. shard, 's' .. id)
  if entry then
    out[#out + 1] = id
    out[#out + 1] = redis.call('GET', ARGV[7] .. id) or id
    out[#out + 1] = string.format(string.rep('%02x', #entry), string.byte(entry, 1, -1))
  end
end
if #out == 0 then return record(own, 0, currentbands) end
local seen = {}
for id in pairs(current) do seen[#seen + 1] = id end
return {'candidates', out, ',' .. table.concat(seen, ',') .. ','}
""".replace("KEEP", str(BAND_IDS * ID_CHARS)).replace("SHARDS", str(SHARDS))

_MAX_TRIES = 4


def _band_args(member: Member) -> list[str]:
    """(shard, field) of each band key, flat, as the scripts take them."""
    fp = member.fingerprint
    return [x for i, band in enumerate(fp.bands) for x in band_field(i, band)] if fp else []


class StoryIndex:
    def __init__(self, client: redis.Redis, keys: Keys, params: StoryParams) -> None:
        self.k = keys
        self.params = params
        self._story = client.register_script(_STORY)

    def _keys(self, member: Member) -> list[str]:
        return [self.k.story_url(i) for i in member.url_ids] + [self.k.story_text(member.text_hash)]

    def _run(self, mode: str, member: Member, now: float, decided: str = "", met: str = "*") -> list[Any]:
        fp = member.fingerprint
        window = self.params.window
        args: list[str | bytes | int] = [mode, member.id, decided, int(self.params.ttl), member.source]
        args += [self.k.story_sources(""), self.k.story_url(""), met, MAX_CANDIDATES]
        if fp is None:
            args += ["", 0, b"", "", 0]
        else:
            live = [self.k.story_slice(n) for n in live_slices(now, window)] if mode == "lookup" else []
            args += [self.k.story_slice(slice_of(now, window)), slice_ttl(now, window), fp.entry]
            args += [entry_field(member.id)[0], len(live), *live, *_band_args(member)]
        with redis_errors():
            return list(self._story(keys=self._keys(member), args=args))

    def _done(self, reply: list[Any], member: Member, decided: Assignment | None = None) -> Assignment:
        story, found, sources = str(reply[1]), int(reply[2]), int(reply[3])
        if found:
            return Assignment(story, "text" if found == len(member.url_ids) + 1 else "url", sources=sources)
        return replace(decided or Assignment(story, "new"), sources=sources)

    def assign(self, member: Member, now: float) -> Assignment:
        """The story of ``member``, recorded: one round trip when the URL or text is known or
        no indexed article shares a band with it, two when candidates must be compared; more
        only when another worker indexed a near-duplicate at the same moment."""
        for attempt in range(1, _MAX_TRIES + 1):
            reply = self._run("lookup", member, now)
            if reply[0] == "done":
                return self._done(reply, member)
            data, met = reply[1], str(reply[2])
            cands = [
                Candidate(str(data[i]), str(data[i + 1]), unpack(bytes.fromhex(str(data[i + 2]))))
                for i in range(0, len(data), 3)
            ]
            assert member.fingerprint is not None  # candidates come from its bands
            best = choose(member.fingerprint, cands, self.params.threshold)
            decided = Assignment(best[0].story, "near", best[1]) if best else Assignment(member.id, "new")
            # The last try does not check: an article racing that long takes its decision.
            reply = self._run("assign", member, now, decided.story, met if attempt < _MAX_TRIES else "*")
            if reply[0] == "done":
                return self._done(reply, member, decided)
            event("story.retry", logging.DEBUG, article=member.id, attempt=attempt)
        raise AssertionError("unreachable: the last try does not check for races")
