"""Exact-duplicate keys: the clean and canonical URLs, the article id, the text hash.

* ``clean_url`` is the link an alert shows: tracking parameters, fragment and default port
  removed, scheme and host lower-cased, everything else as the feed gave it.
* ``canonical_url`` is the page's identity (issue 5): courlan's normalisation (percent-encoding,
  sorted parameters, its list of trackers), then our rules from worker/data/urls.yaml: ``www.``,
  ``m.`` and ``amp.`` hosts, AMP paths, parameters and the Google AMP cache folded to the
  article's own URL, http and https the same, no trailing slash. The article id hashes it, so
  every form of one article is one article. When the page itself was fetched, its
  ``<link rel="canonical">`` joins the story too (``Article.alias``, see worker/fulltext.py).
* ``text_hash`` makes the same wire copy under another URL the same story.

Near-duplicates (the same story with edits) are worker/core/fingerprint.py's job.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

from worker.core.normalize import fold_words

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Texts shorter than this (in words) hash with their title: a teaser alone is too weak a key.
_MIN_WORDS_ALONE = 50
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
# The AMP cache path: /c/s/<host>/<path> (c: content, v: viewer ...; s/: the page is https).
_AMP_CACHE_PATH = re.compile(r"^/[a-z]{1,2}/(s/)?([^/]+\.[^/]+)(/.*)?$")


@dataclass(frozen=True)
class UrlRules:
    """The rules of worker/data/urls.yaml."""

    tracking_params: frozenset[str]
    tracking_prefixes: tuple[str, ...]
    host_prefixes: tuple[str, ...]
    amp_segments: frozenset[str]
    amp_suffixes: tuple[str, ...]
    amp_params: frozenset[str]
    amp_param_values: dict[str, str]
    amp_cache_hosts: tuple[str, ...]

    @classmethod
    def from_yaml(cls, text: str) -> UrlRules:
        data = yaml.safe_load(text)

        def low(key: str) -> tuple[str, ...]:
            return tuple(str(x).lower() for x in data[key])

        return cls(
            frozenset(low("tracking_params")),
            low("tracking_prefixes"),
            low("host_prefixes"),
            frozenset(low("amp_segments")),
            low("amp_suffixes"),
            frozenset(low("amp_params")),
            {str(k).lower(): str(v).lower() for k, v in data["amp_param_values"].items()},
            low("amp_cache_hosts"),
        )

    def is_tracking(self, name: str) -> bool:
        low = name.lower()
        return low in self.tracking_params or low.startswith(self.tracking_prefixes)

    def is_amp(self, name: str, value: str) -> bool:
        low = name.lower()
        return low in self.amp_params or self.amp_param_values.get(low) == value.lower()


@lru_cache(maxsize=1)
def _courlan_normalize() -> Callable[..., str]:
    """courlan's ``normalize_url``, imported on first use: the package also carries a
    downloader that imports urllib3, which the core does not load with itself."""
    from courlan import normalize_url

    return normalize_url


@lru_cache(maxsize=1)
def url_rules() -> UrlRules:
    return UrlRules.from_yaml(resources.files("worker.data").joinpath("urls.yaml").read_text("utf-8"))


def clean_url(url: str) -> str:
    """``url`` with tracking parameters and fragment removed, scheme and host lower-cased,
    the default port dropped. Idempotent; other parameters keep their order."""
    rules = url_rules()
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
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not rules.is_tracking(k)]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(params), ""))


def _unwrap_amp_cache(url: str, rules: UrlRules) -> str:
    """https://www-bbc-com.cdn.ampproject.org/c/s/www.bbc.com/arabic/x -> https://www.bbc.com/arabic/x"""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not any(host == h or host.endswith("." + h) for h in rules.amp_cache_hosts):
        return url
    match = _AMP_CACHE_PATH.match(parts.path)
    if match is None:
        return url
    scheme = "https" if match.group(1) else "http"
    return str(urlunsplit((scheme, match.group(2), match.group(3) or "/", parts.query, "")))


def _fold_host(host: str, rules: UrlRules) -> str:
    labels = host.split(".")
    while len(labels) > 2 and labels[0] in rules.host_prefixes:
        labels = labels[1:]
    return ".".join(labels)


def _fold_path(path: str, rules: UrlRules) -> str:
    segments = [s for s in path.split("/") if s.lower() not in rules.amp_segments]
    last = segments[-1] if segments else ""
    for suffix in rules.amp_suffixes:
        if last.lower().endswith(suffix) and len(last) > len(suffix):
            segments[-1] = last[: -len(suffix)]
    folded = "/".join(segments).rstrip("/")
    folded = _PERCENT.sub(lambda m: m.group().upper(), folded)
    return folded if folded.startswith("/") else "/" + folded


def canonical_url(url: str) -> str:
    """The identity of the page at ``url``: every rendering of one article (tracking
    parameters, www./m./amp. hosts, AMP forms, http or https, parameter order, percent-encoding,
    a trailing slash) gives the same string. Idempotent. It is a key, not a link to show:
    ``clean_url`` is that."""
    rules = url_rules()
    url = _unwrap_amp_cache(clean_url(url), rules)
    try:
        normal = str(_courlan_normalize()(url, trailing_slash=False))
    except ValueError:  # courlan refuses some malformed URLs; ours is already clean
        normal = url
    parts = urlsplit(normal)
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    host = _fold_host(parts.netloc.lower(), rules)
    params = [(k, v) for k, v in parse_qsl(parts.query) if not rules.is_tracking(k) and not rules.is_amp(k, v)]
    return urlunsplit((scheme, host, _fold_path(parts.path, rules), urlencode(sorted(params)), ""))


def article_id(canonical: str) -> str:
    return hashlib.sha1(canonical.encode()).hexdigest()[:16]


def text_hash(title: str, text: str) -> str:
    """A hash of the folded text (with the title when the text is short)."""
    words = fold_words(text)
    if len(words) < _MIN_WORDS_ALONE:
        words = (*fold_words(title), "\n", *words)
    folded = " ".join(words)
    return hashlib.sha1(folded.encode()).hexdigest()[:20]
