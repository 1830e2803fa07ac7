"""Exact-duplicate keys (worker/core/dedup.py): the clean and canonical URLs (issue 5), the text hash
(issue 2 section 4 "Process")."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.clean import clean_text
from worker.core.dedup import article_id, canonical_url, clean_url, text_hash

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
        # the link alerts show keeps the host and the AMP form: they are real pages
        ("https://m.youm7.com/story/2024/1/18/x/6445?ref=home", "https://m.youm7.com/story/2024/1/18/x/6445"),
    ],
)
def test_clean_url(url: str, expected: str) -> None:
    assert clean_url(url) == expected


def test_clean_url_keeps_other_params_in_order() -> None:
    url = "https://www.skynewsarabia.com/middle-east/1?id=5&utm_term=t&lang=ar&page=2&gclid=g&sort=desc"
    query = urlsplit(clean_url(url)).query
    assert [k for k, _ in parse_qsl(query)] == ["id", "lang", "page", "sort"]


# Real URL forms of Arabic outlets (the ANT corpus's own links for Sky News Arabia, Al Arabiya,
# BBC Arabic, France 24 and CNN Arabic; the AMP and mobile forms these sites serve).
SKY = "https://skynewsarabia.com/world/1045346"
ALARABIYA = "https://alarabiya.net/ar/arab-and-world/2018/05/07/%D8%A7%D9%84%D9%85%D8%B4%D9%86%D9%88%D9%82.html"
BBC = "https://bbc.co.uk/arabic/middleeast-44026582"
FRANCE24 = "https://france24.com/ar/20180507-%D9%84%D8%A8%D9%86%D8%A7%D9%86"
CNN = "https://arabic.cnn.com/middle-east/2018/05/07/yemen-socotra-tensions-uae-gargash"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # tracking parameters, our list and courlan's
        ("https://www.skynewsarabia.com/world/1045346?utm_source=twitter&utm_medium=social", SKY),
        ("https://www.skynewsarabia.com/world/1045346?ocid=msedgntp&cmpid=rss", SKY),
        ("https://www.skynewsarabia.com/world/1045346?at_medium=RSS&at_campaign=KARGO", SKY),
        ("https://www.skynewsarabia.com/world/1045346?xtor=RSS-3&ref=home#comments", SKY),
        ("https://www.skynewsarabia.com/world/1045346?fbclid=IwAR2&gclid=abc&mc_cid=1", SKY),
        # www., m., mobile., amp. are one site; http and https one page; case, default port
        ("http://www.skynewsarabia.com/world/1045346", SKY),
        ("https://m.skynewsarabia.com/world/1045346", SKY),
        ("https://mobile.skynewsarabia.com/world/1045346", SKY),
        ("HTTPS://WWW.SKYNEWSARABIA.COM:443/world/1045346", SKY),
        ("https://www.skynewsarabia.com/world/1045346/", SKY),
        # AMP: a path segment, a trailing segment, a suffix, parameters, a host, the AMP cache
        ("https://www.skynewsarabia.com/amp/world/1045346", SKY),
        ("https://www.skynewsarabia.com/world/1045346/amp", SKY),
        ("https://amp.skynewsarabia.com/world/1045346", SKY),
        ("https://www.bbc.co.uk/arabic/middleeast-44026582.amp", BBC),
        ("https://www-bbc-co-uk.cdn.ampproject.org/c/s/www.bbc.co.uk/arabic/middleeast-44026582.amp", BBC),
        ("https://arabic.cnn.com/middle-east/2018/05/07/yemen-socotra-tensions-uae-gargash?amp", CNN),
        ("https://arabic.cnn.com/middle-east/2018/05/07/yemen-socotra-tensions-uae-gargash?outputType=amp", CNN),
        ("https://arabic.cnn.com/middle-east/2018/05/07/yemen-socotra-tensions-uae-gargash?amp=1", CNN),
        # Arabic paths: written out, percent-encoded in either case, all one URL
        ("https://www.alarabiya.net/ar/arab-and-world/2018/05/07/المشنوق.html", ALARABIYA),
        ("https://www.alarabiya.net/ar/arab-and-world/2018/05/07/%d8%a7%d9%84%d9%85%d8%b4%d9%86%d9%88%d9%82.html",
         ALARABIYA),
        ("http://www.france24.com/ar/20180507-لبنان", FRANCE24),
        ("http://www.bbc.co.uk/arabic/middleeast-44026582", BBC),
        # other parameters are kept, sorted
        ("https://example.com/news.php?id=7&cat=2", "https://example.com/news.php?cat=2&id=7"),
        ("https://example.com/news.php?cat=2&id=7&utm_campaign=x", "https://example.com/news.php?cat=2&id=7"),
    ],
)  # fmt: skip
def test_canonical_url_of_real_arabic_outlets(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert article_id(canonical_url(url)) == article_id(expected)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://www.skynewsarabia.com/world/1045346", "https://www.skynewsarabia.com/world/1045347"),
        ("https://www.bbc.co.uk/arabic/middleeast-44026582", "https://www.bbc.co.uk/persian/middleeast-44026582"),
        ("https://example.com/news.php?id=7", "https://example.com/news.php?id=8"),
        ("https://ar.example.com/a/1", "https://en.example.com/a/1"),  # other languages are other pages
        ("https://example.com/amplifier/1", "https://example.com/1"),  # "amp" only as a whole segment
    ],
)
def test_distinct_pages_stay_distinct(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


def test_same_article_under_tracking_urls_has_one_id() -> None:
    urls = [
        "https://www.bbc.com/arabic/articles/c1",
        "https://www.bbc.com/arabic/articles/c1?utm_source=rss",
        "HTTPS://www.BBC.com:443/arabic/articles/c1?fbclid=abc#x",
        "https://www.bbc.com/arabic/articles/c1.amp",
        "http://bbc.com/arabic/articles/c1/",
    ]
    assert len({article_id(canonical_url(u)) for u in urls}) == 1
    assert re.fullmatch(r"[0-9a-f]{16}", article_id(canonical_url(urls[0])))
    assert article_id(canonical_url(urls[0])) != article_id(canonical_url("https://www.bbc.com/arabic/articles/c2"))


_TRACKING = ["utm_source", "utm_medium", "UTM_Campaign", "fbclid", "gclid", "ocid", "at_medium"]
_KEPT = ["id", "page", "q", "lang", "s"]
# Keys that are not tracking parameters whatever they contain: Arabic letters and digits.
_OTHER_KEY = st.text(alphabet="ابتثجحخدذرزسشصضطظعغفقكلمنهوي0123456789", min_size=1, max_size=6)
_KEY = st.one_of(st.sampled_from(_TRACKING + _KEPT), _OTHER_KEY)
_VALUE = st.text(max_size=10)
_PARAMS = st.lists(st.tuples(_KEY, _VALUE), max_size=8)
_HOSTS = st.sampled_from(["Www.Example.com:443", "example.com", "m.example.com", "amp.example.com"])


@given(_HOSTS, _PARAMS, st.text(max_size=6))
def test_canonical_url_is_idempotent(host: str, params: list[tuple[str, str]], fragment: str) -> None:
    url = f"https://{host}/ar/news/1?" + urlencode(params) + "#" + fragment
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert clean_url(clean_url(url)) == clean_url(url)


@given(_PARAMS, st.lists(st.tuples(st.sampled_from(_TRACKING), _VALUE), min_size=1, max_size=4), _HOSTS)
def test_canonical_url_is_stable_under_tracking_params(
    params: list[tuple[str, str]], tracking: list[tuple[str, str]], host: str
) -> None:
    """Adding tracking parameters, anywhere, or another rendering of the host never changes it."""
    base = "https://example.com/ar/news/1?" + urlencode(params)
    tracked = f"https://{host}/ar/news/1?" + urlencode(tracking + params + tracking) + "#section"
    assert canonical_url(tracked) == canonical_url(base)


@given(_PARAMS)
def test_clean_url_drops_exactly_the_tracking_params(params: list[tuple[str, str]]) -> None:
    url = "https://www.example.com/ar/news/1?" + urlencode(params) + "#section"
    cleaned = clean_url(url)
    kept = parse_qsl(urlsplit(cleaned).query, keep_blank_values=True)
    assert kept == [(k, v) for k, v in params if k not in _TRACKING]
    assert "#" not in cleaned


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
