"""Dedup fingerprints (worker/core/dedup.py), per issue 2 section 4 "Process"."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.clean import clean_text
from worker.core.dedup import article_id, canonical_url, text_hash

SEED = (Path(__file__).parent / "data" / "seed-article-ar.txt").read_text(encoding="utf-8")
SEED_TITLE = SEED.splitlines()[0]
SEED_TEXT = clean_text(SEED, is_html=False, title=SEED_TITLE)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://www.bbc.com/arabic/articles/c1?utm_source=twitter&utm_medium=social&utm_campaign=x",
            "https://www.bbc.com/arabic/articles/c1",
        ),
        ("https://www.bbc.com/arabic/a?fbclid=IwAR0abc", "https://www.bbc.com/arabic/a"),
        ("https://www.bbc.com/arabic/a?gclid=EAIaIQ&id=7", "https://www.bbc.com/arabic/a?id=7"),
        ("https://www.bbc.com/arabic/a?UTM_Source=rss&id=7", "https://www.bbc.com/arabic/a?id=7"),
        ("https://www.bbc.com/arabic/a#comments", "https://www.bbc.com/arabic/a"),
        ("https://www.bbc.com:443/arabic/a", "https://www.bbc.com/arabic/a"),
        ("http://www.bbc.com:80/arabic/a", "http://www.bbc.com/arabic/a"),
        ("http://www.bbc.com:8080/arabic/a", "http://www.bbc.com:8080/arabic/a"),
        ("https://www.bbc.com:80/arabic/a", "https://www.bbc.com:80/arabic/a"),
        ("HTTPS://WWW.BBC.COM/arabic/Articles/C1", "https://www.bbc.com/arabic/Articles/C1"),
        ("https://www.bbc.com", "https://www.bbc.com/"),
        (
            "https://www.france24.com/ar/a?z=1&utm_source=rss&b=2&a=3&fbclid=x#top",
            "https://www.france24.com/ar/a?z=1&b=2&a=3",
        ),
        ("https://example.com/search?q=&page=2", "https://example.com/search?q=&page=2"),
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_keeps_other_params_in_order() -> None:
    url = "https://www.skynewsarabia.com/middle-east/1?id=5&utm_term=t&lang=ar&page=2&gclid=g&sort=desc"
    query = urlsplit(canonical_url(url)).query
    assert [k for k, _ in parse_qsl(query)] == ["id", "lang", "page", "sort"]


def test_same_article_under_tracking_urls_has_one_id() -> None:
    urls = [
        "https://www.bbc.com/arabic/articles/c1",
        "https://www.bbc.com/arabic/articles/c1?utm_source=rss",
        "HTTPS://www.BBC.com:443/arabic/articles/c1?fbclid=abc#x",
    ]
    assert len({article_id(canonical_url(u)) for u in urls}) == 1
    assert re.fullmatch(r"[0-9a-f]{16}", article_id(canonical_url(urls[0])))
    assert article_id(canonical_url(urls[0])) != article_id(canonical_url("https://www.bbc.com/arabic/articles/c2"))


_TRACKING = ["utm_source", "utm_medium", "UTM_Campaign", "fbclid", "gclid"]
_KEPT = ["id", "page", "q", "lang", "s"]
# Keys that are not tracking parameters whatever they contain: Arabic letters and digits.
_OTHER_KEY = st.text(alphabet="ابتثجحخدذرزسشصضطظعغفقكلمنهوي0123456789", min_size=1, max_size=6)
_KEY = st.one_of(st.sampled_from(_TRACKING + _KEPT), _OTHER_KEY)
_VALUE = st.text(max_size=10)
_PARAMS = st.lists(st.tuples(_KEY, _VALUE), max_size=8)


@given(_PARAMS, st.text(max_size=6))
def test_canonical_url_is_idempotent(params: list[tuple[str, str]], fragment: str) -> None:
    url = "https://Www.Example.com:443/ar/news/1?" + urlencode(params) + "#" + fragment
    once = canonical_url(url)
    assert canonical_url(once) == once


@given(_PARAMS)
def test_canonical_url_drops_exactly_the_tracking_params(params: list[tuple[str, str]]) -> None:
    url = "https://www.example.com/ar/news/1?" + urlencode(params) + "#section"
    canonical = canonical_url(url)
    kept = parse_qsl(urlsplit(canonical).query, keep_blank_values=True)
    assert kept == [(k, v) for k, v in params if k not in _TRACKING]
    assert "#" not in canonical


def test_text_hash_ignores_diacritics_tatweel_and_hamza_forms() -> None:
    plain = "قالت وزارة الخارجية الإيرانية إنها ملتزمة بعلاقات حسن الجوار مع باكستان"
    marked = "قالَت وزارةُ الخارجيّة الإيـــرانية إنّها مُلتزمة بعلاقاتِ حُسن الجوار مع باكـستان"
    assert text_hash("عنوان", plain) == text_hash("عنوان", marked)


def test_text_hash_ignores_punctuation_and_spacing() -> None:
    a = "أبدت كل من باكستان وإيران رغبتها في تهدئة التوترات."
    b = "أبدت كل من  باكستان وإيران، رغبتها\nفي تهدئة التوترات"
    assert text_hash("", a) == text_hash("", b)


def test_text_hash_differs_for_different_texts() -> None:
    a = "أبدت كل من باكستان وإيران رغبتها في تهدئة التوترات."
    b = "أبدت كل من الهند وباكستان رغبتها في تهدئة التوترات."
    assert text_hash("", a) != text_hash("", b)


def test_long_text_hash_is_the_same_under_another_title() -> None:
    """The same wire copy reposted under another headline is the same story."""
    assert len(SEED_TEXT.split()) > 50
    assert text_hash(SEED_TITLE, SEED_TEXT) == text_hash("باكستان وإيران: مراجعة أمنية", SEED_TEXT)
    assert text_hash(SEED_TITLE, SEED_TEXT) != text_hash(SEED_TITLE, SEED_TEXT.replace("تسعة", "عشرة"))


def test_short_text_hash_includes_the_title() -> None:
    teaser = "عقد اجتماع لكبار القادة."
    assert text_hash("باكستان تجري مراجعة", teaser) != text_hash("الهند تجري مراجعة", teaser)
    assert text_hash("باكستان تجري مراجعة", teaser) == text_hash("باكستانُ تجري مراجعـة", teaser)
