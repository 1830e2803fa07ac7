"""Fingerprints for deduplication: the canonical URL, the article id and the text hash.

Two entries are the same article when their canonical URLs are equal, and the same story when
their folded texts hash the same (the same wire copy reposted under another URL or host).
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from worker.core.normalize import fold_words

# Query parameters that track the reader, not the page. Prefixes end with "_".
TRACKING_PARAMS = frozenset(
    """fbclid gclid dclid gclsrc msclkid yclid mc_cid mc_eid igshid _ga _gl ref ref_src
    ocid cmpid at_medium at_campaign xtor ito __twitter_impression""".split()
)
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "at_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Texts shorter than this (in words) hash with their title: a teaser alone is too weak a key.
_MIN_WORDS_ALONE = 50


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """``url`` with tracking parameters and fragment removed, scheme and host lower-cased,
    the default port dropped. Idempotent; other parameters keep their order."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and _DEFAULT_PORTS.get(scheme) != port:
        host = f"{host}:{port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)])
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def article_id(canonical: str) -> str:
    return hashlib.sha1(canonical.encode()).hexdigest()[:16]


def text_hash(title: str, text: str) -> str:
    """A hash of the folded text (with the title when the text is short)."""
    words = fold_words(text)
    if len(words) < _MIN_WORDS_ALONE:
        words = (*fold_words(title), "\n", *words)
    folded = " ".join(words)
    return hashlib.sha1(folded.encode()).hexdigest()[:20]
