"""Full article text for sources with ``full_text: true``.

The feed often carries only a teaser; the article page has the story. For each *new* article of
such a source, the page is fetched with the same Fetcher as feeds (same private-address guard,
time and size caps), decoded (charset traps included), its main text extracted with trafilatura
and cleaned like any body. Any failure keeps the feed's own content: the entry is never lost,
and the failure is logged (``event=fulltext.failed``).

It runs inside the poll task, capped at ``MARSAD_FULL_TEXT_MAX_PER_POLL`` pages per poll so one
busy feed cannot run into the task's time limit; articles past the cap keep the feed content.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from worker.adapters.http import Fetcher
from worker.core.clean import clean_text
from worker.core.dedup import article_id, canonical_url
from worker.core.encoding import charset_from_content_type, decode
from worker.core.extract import Page, extract_page
from worker.logs import event
from worker.models import Article, FetchResult


def page_from_bytes(body: bytes, content_type: str | None, url: str | None) -> Page | None:
    """Decode (charset traps included) and extract one article page."""
    html = decode(body, charset_from_content_type(content_type), markup="html")
    return extract_page(html.text, url)


def page_of(fetcher: Fetcher, url: str) -> tuple[FetchResult, Page | None]:
    """Fetch and extract one article page."""
    result = fetcher.fetch_page(url)
    if result.outcome != "ok":
        return result, None
    return result, page_from_bytes(result.body, result.headers.get("content-type"), result.final_url or url)


def _alias(article: Article, result: FetchResult, page: Page | None) -> str | None:
    """The article id of the page's own URL (its rel=canonical link, else where the redirects
    ended) when that is another article id than the feed's link (issue 5)."""
    own = (page.canonical if page else None) or (result.final_url if result.outcome == "ok" else None)
    if not own:
        return None
    canonical = canonical_url(own)
    # A site that gives every page its home or section page as canonical must not make all its
    # articles one story: a canonical link counts only when it names a page deeper than that.
    if len(urlsplit(canonical).path.strip("/")) <= 3:
        return None
    alias = article_id(canonical)
    return alias if alias != article.id else None


def with_full_text(fetcher: Fetcher, article: Article) -> Article:
    """The article with its page's main text, or unchanged when the page gives nothing better;
    in both cases with the page's canonical URL as ``alias`` (it joins the story of that URL)."""
    try:
        result, page = page_of(fetcher, article.url)
    except Exception as e:  # extraction is third-party code on hostile input: never lose the entry
        logging.getLogger("marsad").exception("event=fulltext.error url=%s", article.url)
        result, page = FetchResult("error", error=f"{type(e).__name__}: {e}"), None
    if (alias := _alias(article, result, page)) is not None:
        article = replace(article, alias=alias)
    text = clean_text(page.text, is_html=False, title=article.title) if page else ""
    if len(text) <= len(article.text):
        event(
            "fulltext.failed",
            logging.WARNING,
            url=article.url,
            status=result.outcome,
            http=result.status,
            error=result.error or ("nothing extracted" if page is None else "extracted text shorter than the feed's"),
        )
        return article
    return replace(article, text=text)


def fill(fetcher: Fetcher, articles: Sequence[Article], limit: int) -> list[Article]:
    """Full text for the first ``limit`` articles; the others keep the feed content (logged)."""
    out = [with_full_text(fetcher, a) for a in articles[:limit]]
    if len(articles) > limit:
        event("fulltext.capped", logging.WARNING, skipped=len(articles) - limit, limit=limit)
    return out + list(articles[limit:])
