"""Every Redis key, stream, channel and queue name marsad uses, in one place, and their layout.

All start with the ``MARSAD_KEY_PREFIX`` setting (``<p>``, default ``marsad:``), Celery's broker
keys included (through kombu's ``global_keyprefix``), so one deployment's keys can be listed,
moved or deleted with one pattern, several deployments can share one Redis, and tests use a
prefix of their own on the shared server.

name                       type    holds
=========================  ======  ====================================================
<p>due                     zset    feed id -> when it is next due (Unix seconds)
<p>sources                 hash    feed id -> Source as JSON (synced from sources.yaml)
<p>rules                   hash    the live rule set: version, rules_text, entities_text ...
<p>feed:<id>               hash    FeedState fields (etag, last_modified, failures, ...)
<p>seen:url:<article id>   string  text hash last processed for this canonical URL (TTL)
<p>seen:text:<text hash>   string  article id that first processed this text (TTL)
<p>story:url:<article id>  string  story id of the article (TTL)
<p>story:text:<text hash>  string  story id of the text (TTL)
<p>story:sources:<story>   set     the source ids that carried the story (TTL)
<p>stories:<slice>:<shard> hash    near-duplicate index, one slice of the story window (TTL:
                                   the window after the slice ends); ``b<band><key>`` -> the
                                   last 3 article ids with that LSH band, ``s<article>`` -> its
                                   packed fingerprint (size, lead, signature; 62 bytes)
<p>story:done:<story>:<a>  string  "1" once article <a> was published for its story: makes
                                   the story.updated event idempotent (TTL)
<p>host:<domain>           hash    politeness of one registered domain: ``s:<token>`` -> when
                                   that request's slot lease ends, ``next`` -> earliest next
                                   request start, ``tail`` -> where deferrals queue (ms, Redis
                                   clock; expires when idle; adapters/politeness.py)
<p>alert:<alert id>        string  "1" once the alert is published: the SET NX guard (TTL)
<p>alerts                  stream  every alert, field ``alert`` = JSON (approx. MAXLEN)
<p>alerts                  channel every alert (pub/sub; a separate namespace from keys)
<p>alerts:<rule id>        channel the alerts of one rule
<p>story-updates           stream  ``story.updated`` events: a later article of an alerted
                                   story, field ``event`` = JSON (approx. MAXLEN)
<p>stories-tmp:<run>:*     -       ``marsad stories``' throwaway index, deleted after the run
<p>celery:*                -       Celery's broker keys (queues ``<p>tick``, ``<p>poll``)
=========================  ======  ====================================================
=======
Redis Cluster (issue 7): a Lua script or a MULTI may only touch keys of one hash slot. Redis
hashes only the part of a key between the first ``{`` and the next ``}`` when there is one (the
hash tag), so keys that a script or transaction touches together carry the same tag. The slot
groups:

==============  ===================  ========================================================
group           hash tag             touched together by
==============  ===================  ========================================================
schedule        ``<p>schedule``      the claim script; ``save_feed``'s and ``sync_sources``'
                                     MULTIs (due set, sources hash, feed state hashes)
stories         ``<p>stories``       the story script (URL and text keys, sources sets, the
                                     near-duplicate index slices)
alerts          ``<p>alerts``        the publish script: the public stream ``<p>alerts``
                                     (no braces: it hashes as its whole name, which is the
                                     tag) and the alert ids' ``SET NX`` guards
story-updates   ``<p>story-updates`` the story.updated script: the public stream and the
                                     (story, article) guards
dead            ``<p>dead``          the dead-letter script: the public stream ``<p>dead``
                                     and the failure counters
==============  ===================  ========================================================

A public stream keeps its exact name (``<p>alerts``, ``<p>story-updates``, ``<p>dead``) and the
keys scripted with it take the stream's whole name as their tag: ``marsad:{marsad:alerts}:alert:
<id>`` hashes like ``marsad:alerts``. Other keys are single-key operations (seen marks, the rule
set, the layout) and carry no tag, so they spread over the cluster. Channels are not keys (pub/sub
is cluster-wide). ``tests/test_keys.py`` checks every multi-key call the code makes.

=====================================  ======  ==============================================
name                                   type    holds
=====================================  ======  ==============================================
<p>layout                              string  the key layout version (``LAYOUT``); see below
<p>{<p>schedule}:due                   zset    feed id -> when it is next due (Unix seconds)
<p>{<p>schedule}:sources               hash    feed id -> Source as JSON (from sources.yaml)
<p>{<p>schedule}:feed:<id>             hash    FeedState fields: health (state, last_status,
                                               failures, items_per_day, median_delay,
                                               next_due, url ...) and validators (etag,
                                               last_modified, body_hash); models.FeedState
<p>feed-events                         stream  a feed's health changed (to backing_off,
                                               disabled, gone, back to active) or its URL
                                               moved: field ``event`` = JSON (approx. MAXLEN)
<p>rules                               hash    the live rule set: version, rules_text, ...
<p>seen:url:<article id>               string  text hash last processed for this URL (TTL)
<p>seen:text:<text hash>               string  article id that first processed this text (TTL)
<p>{<p>stories}:url:<article id>       string  story id of the article (TTL)
<p>{<p>stories}:text:<text hash>       string  story id of the text (TTL)
<p>{<p>stories}:sources:<story>        set     the source ids that carried the story (TTL)
<p>{<p>stories}:slice:<n>:<shard>      hash    near-duplicate index, one slice of the story
                                               window (TTL: the window after the slice ends);
                                               ``b<band><key>`` -> the last 3 article ids with
                                               that LSH band, ``s<article>`` -> its packed
                                               fingerprint (size, lead, signature; 62 bytes)
<p>{<p>alerts}:alert:<alert id>        string  the id of the article that published the
                                               alert: the SET NX guard (TTL)
<p>alerts                              stream  every alert, field ``alert`` = JSON (MINID
                                               retention, ``MARSAD_STREAM_RETENTION``)
<p>alerts                              channel every alert (pub/sub: not a key)
<p>alerts:<rule id>                    channel the alerts of one rule
<p>story-updates                       stream  ``story.updated`` events, field ``event``
<p>{<p>story-updates}:done:<s>:<a>     string  "1" once article <a> was handled for story
                                               <s>: one story.updated event at most (TTL)
<p>dead                                stream  dead letters: work that failed too often
<p>{<p>dead}:fails:<kind>:<id>         string  failures counted so far for one piece of
                                               work (TTL)
<p>host:<domain>                       hash    politeness of one registered domain:
                                               ``s:<token>`` -> when that request's slot lease
                                               ends, ``next`` -> earliest next request start,
                                               ``tail`` -> where deferrals queue (ms, Redis
                                               clock; expires when idle; one-key script:
                                               adapters/politeness.py)
<p>stories-tmp:<run>:*                 -       ``marsad stories``' throwaway namespace
<p>celery:*                            -       Celery's broker keys (queues ``marsad.tick``,
                                               ``marsad.poll``)
<p>metrics:counts                      hash    deployment-wide counters (``polls:<outcome>``,
                                               ``articles``, ``alerts:<rule>``, ...): HINCRBY
                                               by every worker (adapters/metrics.py)
<p>metrics:hist:<name>                 hash    one histogram: ``<label>|<bound>`` -> count in
                                               that bucket (not cumulative), ``<label>|sum``,
                                               ``<label>|count``
<p>metrics:hour:<hour>                 hash    rule id -> alerts published in that UTC hour
                                               (Unix hour number; TTL 26 h): the page's 24 h
<p>heartbeat:<task>                    string  Unix time the last ``tick``/``poll`` task ran
                                               (TTL): ``/readyz``
=====================================  ======  ==============================================

The layout version: ``<p>layout`` holds ``LAYOUT``; the foundation's layout (1, before the key
was written) had the schedule, story and guard keys untagged. Every start (``marsad run`` /
``once``, a beat or a worker) checks it (``worker/adapters/layout.py``): a fresh namespace gets the
current version, an incompatible one stops the start with a message and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass

# Bump when a key name or a value format changes incompatibly, and say in layout.py what the
# older layouts were.
LAYOUT = 2


@dataclass(frozen=True)
class Keys:
    prefix: str = "marsad:"

    def _tagged(self, group: str, rest: str) -> str:
        """``<p>{<p><group>}:<rest>``: a key of slot group ``group`` (see the table above)."""
        return f"{self.prefix}{{{self.prefix}{group}}}:{rest}"

    def tag(self, group: str) -> str:
        """The hash tag of a slot group (what every key of the group hashes as)."""
        return f"{self.prefix}{group}"

    @property
    def layout(self) -> str:
        return f"{self.prefix}layout"

    @property
    def layout1_marks(self) -> tuple[str, ...]:
        """Keys only the foundation's layout (1) created, always there once its beat started:
        their presence without ``layout`` means a layout-1 namespace."""
        return (f"{self.prefix}due", f"{self.prefix}sources")

    # --- schedule -------------------------------------------------------------------------
    @property
    def due(self) -> str:
        return self._tagged("schedule", "due")

    @property
    def sources(self) -> str:
        return self._tagged("schedule", "sources")

    def feed(self, feed_id: str) -> str:
        return self._tagged("schedule", f"feed:{feed_id}")

    @property
    def feed_events(self) -> str:
        """Public name, untagged: appended in the same round trip as the state save, but not in
        its script (a stream in the schedule's slot would need a tagged name)."""
        return f"{self.prefix}feed-events"

    @property
    def rules(self) -> str:
        return f"{self.prefix}rules"

    # --- seen marks (single-key operations: untagged) ---------------------------------------
    def seen_url(self, article_id: str) -> str:
        return f"{self.prefix}seen:url:{article_id}"

    def seen_text(self, text_hash: str) -> str:
        return f"{self.prefix}seen:text:{text_hash}"

    # --- politeness (a one-key script per site: untagged, sites spread over the cluster) ----
    def host(self, domain: str) -> str:
        """Politeness state of one registered domain (one key: its script touches no other)."""
        return f"{self.prefix}host:{domain}"

    # --- stories --------------------------------------------------------------------------
    def story_url(self, article_id: str) -> str:
        return self._tagged("stories", f"url:{article_id}")

    def story_text(self, text_hash: str) -> str:
        return self._tagged("stories", f"text:{text_hash}")

    def story_sources(self, story_id: str) -> str:
        return self._tagged("stories", f"sources:{story_id}")

    def story_slice(self, number: int) -> str:
        """The name of one slice of the near-duplicate index, without its shard: the story
        scripts append the shard (``core.stories.shard_of``)."""
        return self._tagged("stories", f"slice:{number}:")

    def backtest(self, run: str) -> Keys:
        """The keys of one ``marsad stories`` run: a namespace of its own, deleted afterwards."""
        return Keys(f"{self.prefix}stories-tmp:{run}:")

    # --- alerts ---------------------------------------------------------------------------
    def alert(self, alert_id: str) -> str:
        return self._tagged("alerts", f"alert:{alert_id}")

    @property
    def stream(self) -> str:
        """The alert stream; public name, and the tag of its slot group."""
        return f"{self.prefix}alerts"

    @property
    def channel(self) -> str:
        return f"{self.prefix}alerts"

    def rule_channel(self, rule_id: str) -> str:
        return f"{self.prefix}alerts:{rule_id}"

    # --- story updates --------------------------------------------------------------------
    @property
    def story_updates(self) -> str:
        return f"{self.prefix}story-updates"

    def story_done(self, story_id: str, article_id: str) -> str:
        return self._tagged("story-updates", f"done:{story_id}:{article_id}")

    # --- dead letters ---------------------------------------------------------------------
    @property
    def dead(self) -> str:
        return f"{self.prefix}dead"

    def failures(self, kind: str, item: str) -> str:
        return self._tagged("dead", f"fails:{kind}:{item}")

    # --- metrics and health (issue 8; a non-transactional pipeline: untagged) --------------
    @property
    def metrics_counts(self) -> str:
        return f"{self.prefix}metrics:counts"

    def metrics_histogram(self, name: str) -> str:
        return f"{self.prefix}metrics:hist:{name}"

    def metrics_hour(self, hour: int) -> str:
        return f"{self.prefix}metrics:hour:{hour}"

    def heartbeat(self, task: str) -> str:
        return f"{self.prefix}heartbeat:{task}"

    @property
    def everything(self) -> str:
        """A SCAN pattern for every key under the prefix (``marsad demo`` deletes its own at exit)."""
        return f"{self.prefix}*"

    # --- Celery ---------------------------------------------------------------------------
    @property
    def celery_prefix(self) -> str:
        return f"{self.prefix}celery:"

    def celery_queue(self, queue: str) -> str:
        """The Redis list of a Celery queue (kombu's key, under ``global_keyprefix``). Messages
        with a priority go to ``<queue>\x06\x16<priority>`` lists beside it (kombu's
        ``priority_steps``); marsad sends none, but the depth gauge sums them all."""
        return f"{self.celery_prefix}{queue}"

    @property
    def celery_unacked(self) -> str:
        """kombu's hash of the messages delivered and not yet acknowledged (``acks_late``: a
        task's message stays here until the task ends; redelivered after the visibility
        timeout)."""
        return f"{self.celery_prefix}unacked"

    # Celery queue names (kombu adds celery_prefix in front of their Redis keys).
    @property
    def tick_queue(self) -> str:
        return "marsad.tick"

    @property
    def poll_queue(self) -> str:
        return "marsad.poll"
