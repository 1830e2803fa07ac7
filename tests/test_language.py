"""Language identification (worker/core/language.py), per issue 3 "Language".

The sentences below are news-like sentences written for these tests, except the Persian ones
marked as copied: those are item descriptions from real Iranian feeds, taken from the fixtures of
the PyPI package iran-news-mcp 0.2.2 (MIT licence, copyright (c) 2026 Sepehr Radmard; see
../shared/data/rss_real/persian_iran_news_mcp/LICENSE.iran-news-mcp.MIT.txt; the text belongs to
the outlets named, Mehr's feed declares CC BY 4.0). The Urdu, Arabic (ANT) and Persian corpora
are read in place from ../shared/data when present (their licences forbid copying the first two).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from worker.core.language import LANGUAGES, MIN_LETTERS, _detector, detect_language

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
URDU = SHARED / "urdu_rss_items" / "yousafumer_urdu_all_articles_2025-05-24.json"
ANT = SHARED / "ant_multisource" / "ant_2018-05-07_to_11.jsonl"
PERSIAN_FEEDS = SHARED / "rss_real" / "persian_iran_news_mcp"

SENTENCES = {
    "ar": [
        "أعلنت وزارة الخارجية الإيرانية اليوم أن طهران مستعدة لاستئناف المحادثات النووية مع القوى الغربية.",
        "قالت السلطات الباكستانية إن الضربات الإيرانية على إقليم بلوشستان أسفرت عن مقتل طفلين.",
        "وصل وزير الخارجية المصري إلى بيروت في زيارة رسمية يلتقي خلالها الرئيس اللبناني.",
    ],
    "fa": [
        # Copied (MIT, see the module docstring): asriran, tabnak and hamshahri item descriptions.
        "امیرمحمد حقیقت‌شناس با پیروزی مقابل شونسوکه کودو، نماینده ژاپن، در فینال پاراتکواندو بازی‌های "
        "پاراآسیایی ۲۰۲۶ به مدال طلا رسید.",
        "آندری سیبیها، وزیر امور خارجه اوکراین امروز به گزارش‌ها درباره پیشنهاد ولادیمیر پوتین، رئیس‌جمهور "
        "روسیه برای برگزاری نشستی سه‌جانبه با روسای جمهور آمریکا و چین با موضوع پایان جنگ اوکراین واکنش نشان داد.",
        "مسئله تنش غرب و آمریکا با ایران یک موضوع کوتاه مدت و آنی نیست و ریشه در دهه‌ها بی اعتمادی دارد.",
        # Written for this test: no پ چ ژ گ at all, only Persian yeh and keheh.
        "وزیر امور خارجه ایران امروز در تهران با همتای عمانی خود دیدار کرد.",
    ],
    "ur": [
        "پاکستان کے وزیر اعظم نے کہا ہے کہ ایران کے ساتھ سرحدی کشیدگی کو بات چیت کے ذریعے حل کیا جائے گا۔",
        "اسلام آباد میں دفتر خارجہ کی ترجمان نے ہفتہ وار بریفنگ میں بتایا کہ دونوں ممالک کے سفیر واپس آ رہے ہیں۔",
    ],
    "en": ["Pakistan recalled its ambassador from Tehran on Wednesday after Iranian missile strikes in Balochistan."],
    "fr": ["Le Pakistan a rappelé mercredi son ambassadeur en Iran après des frappes iraniennes au Baloutchistan."],
    "tr": ["Pakistan, İran'ın Belucistan'a düzenlediği füze saldırısının ardından Tahran büyükelçisini geri çağırdı."],
    "he": ["פקיסטן החזירה את שגרירה מטהרן לאחר שאיראן תקפה מטרות במחוז בלוצ'יסטן."],
}
CASES = [(code, s) for code, sentences in SENTENCES.items() for s in sentences]
ENGLISH = (
    "Iran's foreign ministry said on Tuesday that talks with the International Atomic Energy Agency would "
    "resume next week in Vienna, after inspectors were denied access to two sites."
)
NAMES_ONLY = "Erdogan Macron Netanyahu Khamenei Sharif"  # Latin letters, no language to speak of


def test_every_language_we_meet_has_a_sample() -> None:
    assert set(SENTENCES) == set(LANGUAGES) == {"ar", "fa", "ur", "en", "fr", "tr", "he"}


@pytest.mark.parametrize(("expected", "sentence"), CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_real_sentences_without_configuration(expected: str, sentence: str) -> None:
    assert detect_language(sentence) == expected


@pytest.mark.parametrize(("expected", "sentence"), CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_detection_overrides_a_wrong_configuration(expected: str, sentence: str) -> None:
    wrong = "en" if expected != "en" else "ar"
    assert detect_language(sentence, configured=wrong) == expected


def test_source_configured_arabic_publishing_in_english() -> None:
    assert detect_language(ENGLISH, configured="ar") == "en"


def test_persian_written_with_arabic_yeh_and_kaf_is_persian() -> None:
    """Mehr's own feed description (copied, CC BY 4.0 / MIT fixture) uses Arabic yeh: آخرين, ايران."""
    mehr = "خبرگزاری مهر آخرين اخبار ايران جهان سياست ورزش اقتصاد فرهنگ حوزه دانشگاه هنر فيلم عکس مجله مهر و استان ها"
    assert "\u064a" in mehr
    assert detect_language(mehr, configured="ar") == "fa"
    folded = "وزير امور خارجه ايران امروز در تهران با همتاي عماني خود ديدار كرد."  # no Persian letter at all
    assert not set(folded) & set("پچژگیک")
    assert detect_language(folded, configured="ar") == "fa"


def test_arabic_typed_with_persian_yeh_is_arabic() -> None:
    """Arabic from an Iranian outlet's keyboard: Persian yeh (U+06CC) throughout."""
    text = "أعلنت وزارة الخارجیة الإیرانیة الیوم أن طهران مستعدة لاستئناف المحادثات النوویة مع القوی الغربیة."
    assert "\u06cc" in text
    assert detect_language(text, configured="fa") == "ar"


@pytest.mark.parametrize(
    ("text", "configured"),
    [("إيران", "ar"), ("ایران", "fa"), ("Iran", "en"), ("پاکستان", "ur"), ("إيران وباكستان", "fa"), ("", "ar")],
)
def test_too_short_to_tell_keeps_the_configured_language(text: str, configured: str) -> None:
    assert sum(ch.isalpha() for ch in text) < MIN_LETTERS
    assert detect_language(text, configured=configured) == configured


@pytest.mark.parametrize("text", ["إيران", "Iran", "", "   ", "2024-01-18 12:00", "!!! ... ؟؟؟"])
def test_too_short_and_nothing_configured_gives_none(text: str) -> None:
    assert detect_language(text) is None


def test_digits_and_punctuation_are_not_letters() -> None:
    """A long string with fewer than MIN_LETTERS letters is still too short to tell."""
    text = "١٢٣٤٥٦٧٨٩٠ 2024-01-18 ، ؛ ؟ " * 10 + "إيران"
    assert len(text) > 200
    assert detect_language(text, configured="fa") == "fa"


def test_not_confident_keeps_the_configured_language() -> None:
    assert sum(ch.isalpha() for ch in NAMES_ONLY) >= MIN_LETTERS
    assert detect_language(NAMES_ONLY, configured="tr") == "tr"
    assert detect_language(NAMES_ONLY, configured="fr") == "fr"


def test_not_confident_and_nothing_configured_gives_none() -> None:
    assert detect_language(NAMES_ONLY) is None


@pytest.mark.parametrize(("configured", "expected"), [("ar-SA", "ar"), ("FA_ir", "fa"), ("EN", "en"), (" ur ", "ur")])
def test_configured_language_tags_are_reduced_to_iso_639_1(configured: str, expected: str) -> None:
    assert detect_language("إيران", configured=configured) == expected


@pytest.mark.parametrize("configured", ["", " ", None])
def test_blank_configuration_is_none(configured: str | None) -> None:
    assert detect_language("إيران", configured=configured) is None


@pytest.mark.parametrize(
    ("configured", "text", "detected_alone"),
    [
        # Sorani Kurdish, Arabic script: lingua, which does not know it, is sure it is Arabic.
        ("ckb", "وەزارەتی دەرەوەی ئێران ڕایگەیاند کە دانوستانەکان لەگەڵ ئەمریکا هەفتەی داهاتوو دەست پێدەکەنەوە.", "ar"),
        # Azerbaijani: lingua is sure it is Turkish.
        ("az", "Azərbaycan Xarici İşlər Nazirliyi bildirib ki, İranla danışıqlar gələn həftə davam edəcək.", "tr"),
        # Pashto: lingua hesitates between Persian and Urdu.
        ("ps", "د افغانستان د بهرنیو چارو وزارت ویلي چې له پاکستان سره د پولې پر سر خبرې روانې دي.", None),
    ],
    ids=["ckb", "az", "ps"],
)
def test_a_configured_language_the_detector_does_not_know_is_kept(
    configured: str, text: str, detected_alone: str | None
) -> None:
    """A detector restricted to seven languages relabels its neighbours: trust the source."""
    assert configured not in LANGUAGES
    assert detect_language(text) == detected_alone
    assert detect_language(text, configured=configured) == configured


def test_long_text_is_decided_by_its_beginning() -> None:
    """Only the first SAMPLE_CHARS characters are read: an English page with an Arabic appendix."""
    text = (ENGLISH + " ") * 8 + "أعلنت وزارة الخارجية الإيرانية اليوم " * 200
    assert detect_language(text) == "en"


def test_the_detector_is_built_once() -> None:
    detect_language(ENGLISH)
    assert _detector() is _detector()
    assert _detector.cache_info().currsize == 1


# Corpora read in place (never copied): skipped with a message on a fresh clone.


def _require(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent (real-world data in ../shared/data, read in place, never copied)")


def test_urdu_corpus_every_article_is_urdu() -> None:
    """748 BBC/ARY/Express Urdu items, May 2025; bodies are read in place (no licence to copy)."""
    _require(URDU)
    items = json.loads(URDU.read_text(encoding="utf-8"))
    bodies = [item["article"] for item in items if item["article"].strip()]
    assert len(bodies) > 700
    wrong = [(detect_language(b), b[:60]) for b in bodies if detect_language(b) != "ur"]
    assert wrong == []


def test_urdu_corpus_titles_are_urdu_or_undecided() -> None:
    """Titles are short: some stay undecided (None), none is called Persian or Arabic."""
    _require(URDU)
    items = json.loads(URDU.read_text(encoding="utf-8"))
    found = [detect_language(item["title"]) for item in items]
    assert found.count("ur") > 0.95 * len(found)
    assert set(found) <= {"ur", None}


def test_ant_corpus_every_article_is_arabic_even_when_configured_persian() -> None:
    """1,010 Arabic articles from five outlets (ANT corpus, read in place)."""
    _require(ANT)
    docs = [json.loads(line) for line in ANT.open(encoding="utf-8")]
    assert len(docs) == 1010
    wrong = [d["docno"] for d in docs if detect_language(d["text"], configured="fa") != "ar"]
    assert wrong == []


def test_persian_feeds_every_item_is_persian_even_when_configured_arabic() -> None:
    """All titles and descriptions of the ten real Persian feeds (MIT fixtures, read in place)."""
    _require(PERSIAN_FEEDS)
    texts = []
    for feed in sorted(PERSIAN_FEEDS.glob("*.xml")):
        raw = feed.read_text(encoding="utf-8")
        for item in re.findall(r"<item>(.*?)</item>", raw, re.DOTALL):
            for field in re.findall(r"<(?:title|description)>(.*?)</(?:title|description)>", item, re.DOTALL):
                text = re.sub(r"<[^>]+>|<!\[CDATA\[|\]\]>", " ", html.unescape(field)).strip()
                if text:
                    texts.append(text)
    assert len(texts) > 40
    wrong = [t[:60] for t in texts if detect_language(t, configured="ar") != "fa"]
    assert wrong == []
