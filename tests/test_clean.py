"""Display text (worker/core/clean.py), per issue 2 section 4 "Process"."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.core.clean import clean_text, clean_title, html_to_text

SEED = (Path(__file__).parent / "data" / "seed-article-ar.txt").read_text(encoding="utf-8")
SEED_TITLE = SEED.splitlines()[0]
SEED_PARAGRAPHS = [
    line for line in SEED.splitlines() if line.strip() and line != SEED_TITLE and not line.startswith("[ad_")
][:-1]  # the last non-empty line is the المصدر credit


@pytest.fixture(scope="module")
def seed_clean() -> str:
    return clean_text(SEED, is_html=False, title=SEED_TITLE)


def test_seed_fixture_has_the_artifacts() -> None:
    """The fixture is what the tests below claim it is."""
    assert SEED.count(SEED_TITLE) == 2
    assert "[ad_1]" in SEED
    assert "[ad_2]" in SEED
    assert SEED.rstrip().splitlines()[-1] == "المصدر"
    assert len(SEED_PARAGRAPHS) == 13


def test_seed_ad_markers_are_gone(seed_clean: str) -> None:
    assert "[ad_1]" not in seed_clean
    assert "[ad_2]" not in seed_clean
    assert "[ad" not in seed_clean


def test_seed_title_is_not_repeated_in_the_body(seed_clean: str) -> None:
    assert seed_clean.splitlines()[0] != SEED_TITLE
    assert SEED_TITLE not in seed_clean
    assert seed_clean.startswith("عقد اجتماع لكبار القادة العسكريين والمدنيين")


def test_seed_trailing_credit_is_gone(seed_clean: str) -> None:
    assert seed_clean.splitlines()[-1] != "المصدر"
    assert not seed_clean.endswith("المصدر")
    assert seed_clean.endswith("وعلاقات حسن الجوار”.")


def test_seed_body_paragraphs_remain_one_per_line(seed_clean: str) -> None:
    assert seed_clean.splitlines() == SEED_PARAGRAPHS


def test_title_repeated_as_a_line_or_caption_goes_but_a_sentence_quoting_it_stays() -> None:
    """Issue 3: image captions that repeat the title are boilerplate wherever they stand; a
    paragraph that merely contains the title's words among many others is text."""
    title = "باكستان تجري مراجعة للأمن القومي"
    quoting = f"وقال المتحدث إن {title} بعد الضربات التي استهدفت مخابئ الجماعات المسلحة قرب الحدود."
    body = f"{title}\nفقرة أولى.\n{title} (صورة أرشيفية - رويترز)\n{quoting}"
    assert clean_text(body, is_html=False, title=title) == f"فقرة أولى.\n{quoting}"


def test_title_repeat_is_recognised_through_folding() -> None:
    body = "باكستانُ تجري مراجعـة للأمن القومي\nفقرة أولى."
    assert clean_text(body, is_html=False, title="باكستان تجري مراجعة للأمن القومي") == "فقرة أولى."


def test_whitespace_is_folded_within_lines() -> None:
    text = "  عقد   اجتماع\t لكبار\u00a0القادة  \r\n\r\n\r\nفي   باكستان "
    assert clean_text(text, is_html=False) == "عقد اجتماع لكبار القادة\nفي باكستان"


def test_inline_ad_marker_is_removed() -> None:
    assert clean_text("عقد اجتماع [ad_1] لكبار القادة", is_html=False) == "عقد اجتماع لكبار القادة"


def test_html_entities_are_decoded() -> None:
    html = "<p>إيران &amp; باكستان&nbsp;تتبادلان &quot;الضربات&quot; &#1573;&#x64A;ران &laquo;اليوم&raquo;</p>"
    assert clean_text(html, is_html=True) == 'إيران & باكستان تتبادلان "الضربات" إيران «اليوم»'


def test_html_scripts_styles_and_figures_are_dropped() -> None:
    html = (
        "<style>p { color: red }</style>"
        "<p>عقد اجتماع لكبار القادة.</p>"
        "<script>var title = 'إيران';</script>"
        "<figure><img src='x.jpg' alt='صورة'><figcaption>صورة أرشيفية لقادة باكستان</figcaption></figure>"
        "<p>ودعا رئيس الوزراء إلى الاجتماع.</p>"
        "<noscript>فعّل جافاسكريبت</noscript>"
    )
    out = clean_text(html, is_html=True)
    assert out == "عقد اجتماع لكبار القادة.\nودعا رئيس الوزراء إلى الاجتماع."
    for gone in ("var title", "color", "صورة", "جافاسكريبت"):
        assert gone not in out


def test_html_paragraphs_stay_separate_lines() -> None:
    html = (
        "<div><h2>باكستان</h2><p>الفقرة <b>الأولى</b>.</p><p>الفقرة الثانية<br>سطر ثالث</p>"
        "<ul><li>بند أول</li><li>بند ثان</li></ul></div>"
    )
    assert clean_text(html, is_html=True).splitlines() == [
        "باكستان",
        "الفقرة الأولى.",
        "الفقرة الثانية",
        "سطر ثالث",
        "بند أول",
        "بند ثان",
    ]


def test_inline_tags_do_not_split_words() -> None:
    assert html_to_text("<p>إي<b>ران</b></p>").strip() == "إيران"


@pytest.mark.parametrize(
    ("content", "is_html"),
    [
        ("<p>قالت الوزارة إنها ملتزمة.</p><p>Source: AFP</p>", True),
        ("<p>قالت الوزارة إنها ملتزمة.</p><p>المصدر: رويترز</p>", True),
        ("<p>قالت الوزارة إنها ملتزمة.</p><p>المصدر</p>", True),
        ("قالت الوزارة إنها ملتزمة.\nSource: AFP", False),
        ("قالت الوزارة إنها ملتزمة.\nالمصدر: رويترز", False),
        ("قالت الوزارة إنها ملتزمة.\n\nالمصدر\n", False),
        ("قالت الوزارة إنها ملتزمة.\nمصدر الخبر: وكالة الأنباء الفرنسية", False),
    ],
)
def test_trailing_credit_line_is_removed(content: str, is_html: bool) -> None:
    assert clean_text(content, is_html=is_html) == "قالت الوزارة إنها ملتزمة."


@pytest.mark.parametrize(
    "content",
    [
        "<p>قال المصدر إن الاجتماع انتهى دون اتفاق.</p>",
        "<p>وأكد المصدر: لا اتفاق بعد.</p>",
        "<p>Sources close to the talks said no deal was reached.</p>",
    ],
)
def test_credit_word_inside_a_paragraph_is_kept(content: str) -> None:
    out = clean_text(content, is_html=True)
    assert out == html_to_text(content).strip()
    assert out


def test_credit_line_in_the_middle_is_kept() -> None:
    text = "فقرة أولى.\nالمصدر: رويترز\nفقرة أخيرة."
    assert clean_text(text, is_html=False) == text


def test_clean_title_strips_markup_and_entities() -> None:
    assert clean_title("<b>إيران</b> &amp; باكستان:  مراجعة\nللأمن") == "إيران & باكستان: مراجعة للأمن"
    assert clean_title("  إيران\tوباكستان ") == "إيران وباكستان"


# --- issue 3: each boilerplate removal on a real-looking sample -------------------------------

AGGREGATOR_PAGE = """
<article>
  <h1>وزير الخارجية الإيراني يزور إسلام آباد</h1>
  <figure><img src="a.jpg"><figcaption>وزير الخارجية الإيراني يزور إسلام آباد</figcaption></figure>
  <p>وصل وزير الخارجية الإيراني إلى إسلام آباد صباح اليوم في زيارة تستغرق يومين.</p>
  <p><strong>اقرأ أيضاً:</strong> <a href="/x">باكستان تستدعي سفيرها من طهران</a></p>
  <p>وقال مسؤول باكستاني إن المحادثات ستتناول أمن الحدود المشتركة.</p>
  <p>اقرأ أيضا:</p>
  <p><a href="/y">الصين تعرض الوساطة بين البلدين</a></p>
  <p>شاهد أيضا: فيديو لحظة وصول الوزير</p>
  <p>وزير الخارجية الإيراني يزور إسلام آباد - صورة أرشيفية</p>
  <p>وأضاف أن الجانبين اتفقا على تبادل المعلومات.</p>
  <p>شارك هذا المقال</p>
  <p>فيسبوك | تويتر | واتساب</p>
  <p>تابعونا على تلغرام</p>
  <p>Share this article</p>
  <p>Source: AFP</p>
</article>
"""


def test_aggregator_boilerplate_is_removed_and_the_article_kept() -> None:
    text = clean_text(AGGREGATOR_PAGE, is_html=True, title="وزير الخارجية الإيراني يزور إسلام آباد")
    assert text.splitlines() == [
        "وصل وزير الخارجية الإيراني إلى إسلام آباد صباح اليوم في زيارة تستغرق يومين.",
        "وقال مسؤول باكستاني إن المحادثات ستتناول أمن الحدود المشتركة.",
        "وأضاف أن الجانبين اتفقا على تبادل المعلومات.",
    ]


@pytest.mark.parametrize(
    "line",
    [
        "اقرأ أيضاً: باكستان تستدعي سفيرها من طهران",
        "اقرأ أيضا - الصين تعرض الوساطة",
        "إقرأ المزيد: تفاصيل الضربات",
        "شاهد أيضا: فيديو لحظة وصول الوزير",
        "أخبار ذات صلة: باكستان تغلق معبرا حدوديا",
        "Read also: Pakistan recalls its ambassador",
        "شارك هذا الخبر",
        "شاركوا على فيسبوك",
        "تابعونا على تويتر وفيسبوك",
        "فيسبوك | تويتر | واتساب | تلغرام",
        "Follow us on Telegram",
    ],
)
def test_each_boilerplate_line_is_removed(line: str) -> None:
    body = f"الفقرة الأولى من الخبر.\n{line}\nالفقرة الثانية من الخبر."
    assert clean_text(body, is_html=False) == "الفقرة الأولى من الخبر.\nالفقرة الثانية من الخبر."


@pytest.mark.parametrize(
    "line",
    [
        "شارك آلاف المتظاهرين في مسيرة وسط العاصمة.",  # شارك = took part
        "تابع الرئيس التطورات من غرفة العمليات.",  # تابع = followed
        "وذكرت المصادر أن الاجتماع سيعقد غدا.",  # المصادر inside a sentence
    ],
)
def test_news_sentences_that_look_like_boilerplate_are_kept(line: str) -> None:
    body = f"الفقرة الأولى.\n{line}\nالفقرة الأخيرة."
    assert line in clean_text(body, is_html=False).splitlines()


def test_invisible_characters_removed_but_zwnj_kept() -> None:
    persian = "او می\u200cخواهد"  # ZWNJ shapes the Persian verb
    text = clean_text(f"\u200fإيران\u200b و\u202bباكستان\u202c\ufeff\n{persian}", is_html=False)
    assert text == f"إيران وباكستان\n{persian}"


def test_presentation_forms_become_letters() -> None:
    assert clean_text("ﺇﻳﺮﺍﻥ ﻹ", is_html=False) == "إيران لإ"
