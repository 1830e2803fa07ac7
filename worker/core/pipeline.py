"""One feed's entries -> cleaned articles, and one article -> its alerts. Pure.

The I/O around it (which entries were seen, which story an article belongs to, publishing) is in
worker/poll.py; the decisions are here so they are tested without Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from worker.core.alerts import Seen, build_alert
from worker.core.clean import clean_text, clean_title
from worker.core.dedup import article_id, canonical_url, clean_url, text_hash
from worker.core.language import detect_language
from worker.core.match import Matcher
from worker.models import Alert, Article, Entry, Source


@dataclass(frozen=True)
class Candidate:
    """An article and whether it is too old to alert on (recorded as seen all the same)."""

    article: Article
    too_old: bool


def to_article(source: Source, entry: Entry, feed_language: str | None, now: float) -> Article:
    title = clean_title(entry.title)
    text = clean_text(entry.content, is_html=entry.content_is_html, title=title)
    canonical = canonical_url(entry.url)
    return Article(
        id=article_id(canonical),  # every form of the URL is one article
        source=source.id,
        url=clean_url(entry.url),  # the link alerts show
        title=title,
        text=text,
        published=entry.published if entry.published is not None else now,
        language=source.language or entry.language or feed_language,  # as configured; see identify_language
        text_hash=text_hash(title, text),
        date_missing=entry.published is None,
        canonical_url=canonical,
    )


def identify_language(article: Article) -> Article:
    """The article with its language identified from its text (the configured one as the hint).
    Called only for new articles, after any full-text fetch: entries seen before are dropped
    without paying for it, and a page's full text is a better sample than a teaser."""
    language = detect_language(f"{article.title}\n{article.text}", configured=article.language)
    return article if language == article.language else replace(article, language=language)


def candidates(
    source: Source,
    entries: Sequence[Entry],
    feed_language: str | None,
    now: float,
    max_age: float,
    first_poll: bool = False,
) -> list[Candidate]:
    """Articles of the entries, one per canonical URL, flagged when older than ``max_age``
    seconds (0 turns the limit off) so a new feed does not alert on its whole archive. An entry
    without a date has no age: on a feed's first poll it is taken as archive too, afterwards as new."""
    out: dict[str, Candidate] = {}
    for entry in entries:
        article = to_article(source, entry, feed_language, now)
        if max_age <= 0:
            too_old = False
        elif entry.published is None:
            too_old = first_poll
        else:
            too_old = entry.published < now - max_age
        out.setdefault(article.id, Candidate(article, too_old))
    return list(out.values())


def alerts_for(
    article: Article,
    story_id: str,
    matcher: Matcher,
    fetched: float | None = None,
    sources: int = 1,
    clock: Callable[[], float] | None = None,
) -> list[Alert]:
    """The article's alerts. ``fetched``: when the poll that fetched it ran (default: its
    published time); ``sources``: how many sources carried the story; ``clock`` is read once
    after matching for the alerts' ``matched`` time (the caller passes ``time.time``; without
    it, the fetch time stands)."""
    matches = matcher.match(article.title, article.text, source=article.source, language=article.language)
    if not matches:
        return []
    fetch_time = article.published if fetched is None else fetched
    seen = Seen(fetch_time, clock() if clock else fetch_time, sources)
    return [build_alert(article, story_id, m, matcher.version, seen) for m in matches]
