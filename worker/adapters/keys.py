"""Every Redis key, stream, channel and queue name marsad uses, in one place.

All start with the ``MARSAD_KEY_PREFIX`` setting (default ``marsad:``), Celery's broker keys
included (through kombu's ``global_keyprefix``), so one deployment's keys can be listed, moved
or deleted with one pattern and tests can use a prefix of their own on the shared server.

=========================  ======  ====================================================
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
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "marsad:"

    @property
    def due(self) -> str:
        return f"{self.prefix}due"

    @property
    def sources(self) -> str:
        return f"{self.prefix}sources"

    @property
    def rules(self) -> str:
        return f"{self.prefix}rules"

    def feed(self, feed_id: str) -> str:
        return f"{self.prefix}feed:{feed_id}"

    def seen_url(self, article_id: str) -> str:
        return f"{self.prefix}seen:url:{article_id}"

    def seen_text(self, text_hash: str) -> str:
        return f"{self.prefix}seen:text:{text_hash}"

    def story_url(self, article_id: str) -> str:
        return f"{self.prefix}story:url:{article_id}"

    def story_text(self, text_hash: str) -> str:
        return f"{self.prefix}story:text:{text_hash}"

    def story_sources(self, story_id: str) -> str:
        return f"{self.prefix}story:sources:{story_id}"

    def story_slice(self, number: int) -> str:
        """The name of one slice of the near-duplicate index, without its shard: the story
        scripts append the shard (``core.stories.shard_of``), ``<p>stories:<slice>:<shard>``."""
        return f"{self.prefix}stories:{number}:"

    def story_done(self, story_id: str, article_id: str) -> str:
        return f"{self.prefix}story:done:{story_id}:{article_id}"

    @property
    def story_updates(self) -> str:
        return f"{self.prefix}story-updates"

    def backtest(self, run: str) -> Keys:
        """The keys of one ``marsad stories`` run: a namespace of its own, deleted afterwards."""
        return Keys(f"{self.prefix}stories-tmp:{run}:")

    def host(self, domain: str) -> str:
        """Politeness state of one registered domain (one key: its script touches no other)."""
        return f"{self.prefix}host:{domain}"

    def alert(self, alert_id: str) -> str:
        return f"{self.prefix}alert:{alert_id}"

    @property
    def stream(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def channel(self) -> str:
        return f"{self.prefix}alerts"

    def rule_channel(self, rule_id: str) -> str:
        return f"{self.prefix}alerts:{rule_id}"

    @property
    def celery_prefix(self) -> str:
        return f"{self.prefix}celery:"

    # Celery queue names (kombu adds celery_prefix in front of their Redis keys).
    @property
    def tick_queue(self) -> str:
        return "marsad.tick"

    @property
    def poll_queue(self) -> str:
        return "marsad.poll"
