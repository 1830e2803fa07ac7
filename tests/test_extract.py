"""Full article text (worker/core/extract.py), per issue 3 "Full article text".

The pages under tests/data/pages/ are real (see its README.md); each carries the reference body
text its corpus extracted, which the extraction must recover, and the site's navigation, sidebars
and comment policy, which it must not.
"""

from __future__ import annotations

import html
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from worker.core.extract import TRAILING_BOILERPLATE, Page, extract_page

PAGES = Path(__file__).parent / "data" / "pages"
ROOT = Path(__file__).resolve().parent.parent


def _fold(text: str) -> str:
    return " ".join(text.split())


def _ant_field(path: Path, name: str) -> str:
    match = re.search(rf"<{name}>(.*?)</{name}>", path.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f"{path.name} has no <{name}>"
    return match.group(1).strip()


def _case(path: str, reference: str, title: str | None, boilerplate: list[str]) -> dict[str, Any]:
    page = (PAGES / path).read_text(encoding="utf-8")
    paragraphs = [_fold(p) for p in reference.splitlines() if p.strip()]
    return {"html": page, "paragraphs": paragraphs, "title": title, "boilerplate": boilerplate}


JAWHARA_NAV = ["الصفحة الرئيسية", "الأكثر قراءة", "جميع الحقوق المحفوظة", "إبعث برسالتك", "جدول البرامج"]
CASES = {
    "jawhara-politic": _case(
        "jawharafm/JA-politic-1-20170302.html",
        _ant_field(PAGES / "jawharafm" / "JA-politic-1-20170302.txt", "TEXT"),
        _ant_field(PAGES / "jawharafm" / "JA-politic-1-20170302.txt", "TITLE"),
        [*JAWHARA_NAV, "2017/03/02 13:43", "زعيم كوريا الشمالية يهدد ميسي", "تونس بلا خبز"],
    ),
    "jawhara-weather": _case(
        "jawharafm/JA-localNews-1-20170302.html",
        _ant_field(PAGES / "jawharafm" / "JA-localNews-1-20170302.txt", "TEXT"),
        _ant_field(PAGES / "jawharafm" / "JA-localNews-1-20170302.txt", "TITLE"),
        [*JAWHARA_NAV, "2017/03/02 07:33", "زعيم كوريا الشمالية يهدد ميسي", "تونس بلا خبز"],
    ),
    "cnn-arabic": _case(
        "cnn_arabic/arabic_article.html",
        (PAGES / "cnn_arabic" / "arabic.txt").read_text(encoding="utf-8"),
        "معارضون يسيطرون على مخازن للصواريخ بريف دمشق",
        [
            "الأكثر تصفحاً",
            "ترحب شبكة CNN بالنقاش",
            "الآراء الواردة أدناه",
            "القبض على شاب تحرش بطفلة",
            "خدمة آخر خبر",
            "Cable News Network",
            "اقتصاد وأعمال",
        ],
    ),
}


@pytest.fixture(scope="module")
def pages() -> dict[str, Page]:
    extracted = {}
    for name, case in CASES.items():
        page = extract_page(case["html"])
        assert page is not None, name
        extracted[name] = page
    return extracted


@pytest.mark.parametrize("name", CASES)
def test_fixture_pages_hold_what_the_tests_claim(name: str) -> None:
    """Each reference paragraph and each boilerplate string really is in the raw page, so the
    assertions below cannot pass on an empty or wrong fixture."""
    case = CASES[name]
    assert len(case["html"]) > 20_000
    assert case["paragraphs"]
    visible = _fold(html.unescape(re.sub(r"<[^>]+>", " ", case["html"])))
    for paragraph in case["paragraphs"]:
        assert paragraph[:60] in visible
    for junk in case["boilerplate"]:
        assert junk in visible, junk


@pytest.mark.parametrize("name", CASES)
def test_every_reference_paragraph_is_extracted(name: str, pages: dict[str, Page]) -> None:
    text = _fold(pages[name].text)
    for paragraph in CASES[name]["paragraphs"]:
        assert paragraph in text


@pytest.mark.parametrize("name", CASES)
def test_no_navigation_sidebar_or_comment_policy(name: str, pages: dict[str, Page]) -> None:
    text = pages[name].text
    for junk in CASES[name]["boilerplate"]:
        assert junk not in text, junk


@pytest.mark.parametrize("name", CASES)
def test_text_is_the_reference_and_nothing_else(name: str, pages: dict[str, Page]) -> None:
    """Every extracted line belongs to the reference body (whitespace aside)."""
    reference = _fold(" ".join(CASES[name]["paragraphs"]))
    for line in pages[name].text.splitlines():
        assert line in reference, line


@pytest.mark.parametrize("name", CASES)
def test_title_is_the_headline_and_not_repeated_in_the_body(name: str, pages: dict[str, Page]) -> None:
    page = pages[name]
    assert page.title == CASES[name]["title"]
    assert page.title not in page.text


def test_headline_keeps_its_quotation_marks(pages: dict[str, Page]) -> None:
    """The page's <title> drops the quotes; the headline above the body has them."""
    assert pages["jawhara-politic"].title == 'حمة الهمامي : اعتذار الغرياني عن الوزارة "مخرج من ورطة"'


@pytest.mark.parametrize("name", CASES)
def test_paragraphs_are_lines_with_folded_whitespace(name: str, pages: dict[str, Page]) -> None:
    lines = pages[name].text.split("\n")
    assert len(lines) >= len(CASES[name]["paragraphs"])
    for line in lines:
        assert line
        assert line == _fold(line)


def test_short_article_is_not_replaced_by_the_sidebar(pages: dict[str, Page]) -> None:
    """Jawhara's two-paragraph weather report: precision-mode extraction returns the sidebar's
    'most read' headlines instead (measured); the article must come back, and only it."""
    text = pages["jawhara-weather"].text
    assert text.startswith("يكون هناك ضبابا محلّيا صباح اليوم الخميس")
    assert "ميسي" not in text
    assert len(text.splitlines()) == 3


@pytest.mark.parametrize("name", CASES)
def test_language_of_real_pages_is_arabic(name: str, pages: dict[str, Page]) -> None:
    assert pages[name].language == "ar"


def test_copyright_year_is_not_taken_for_the_date(pages: dict[str, Page]) -> None:
    """CNN's page has no date in its markup; a free-text search finds "© 2013" and says
    2013-01-01. The real date (28 August 2013) is only written in Arabic words."""
    assert pages["cnn-arabic"].published in (None, "2013-08-28")


def _page(body: str, head: str = "", lang: str = "ar", nav: bool = True) -> str:
    menu = '<nav><a href="/">الرئيسية</a> <a href="/world">العالم</a></nav>' if nav else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>عنوان</title>{head}</head>'
        f"<body>{menu}<main><article>{body}</article></main><footer>جميع الحقوق محفوظة</footer></body></html>"
    )


_ARABIC_BODY = "".join(
    f"<p>{p}</p>"
    for p in (
        "قالت وزارة الخارجية الباكستانية إن الضربات الإيرانية على إقليم بلوشستان أسفرت عن مقتل طفلين.",
        "واستدعت إسلام آباد سفيرها من طهران، وأبلغت السفير الإيراني أنه غير مرحب به في الوقت الحالي.",
        "ودعت الصين البلدين إلى ضبط النفس وتجنب أي خطوات من شأنها تصعيد التوتر في المنطقة.",
    )
)


def test_published_date_comes_from_the_page_markup() -> None:
    head = '<meta property="article:published_time" content="2024-01-18T09:30:00+00:00">'
    page = extract_page(_page(_ARABIC_BODY, head))
    assert page is not None
    assert page.published == "2024-01-18"


def test_no_date_in_the_markup_gives_none() -> None:
    page = extract_page(_page(_ARABIC_BODY))
    assert page is not None
    assert page.published is None


def test_a_future_date_is_kept_whatever_the_clock_says() -> None:
    """No wall clock in the core: the result depends on the page alone."""
    head = '<meta property="article:published_time" content="2091-03-04T09:30:00+00:00">'
    page = extract_page(_page(_ARABIC_BODY, head))
    assert page is not None
    assert page.published == "2091-03-04"


def test_language_is_detected_not_taken_from_the_html_lang() -> None:
    """A site that declares lang="ar" on every page, including its English articles."""
    body = (
        "<p>Pakistan recalled its ambassador from Tehran on Wednesday after Iranian missile strikes hit "
        "targets in Balochistan province, killing two children, the foreign ministry said.</p>"
        "<p>China urged both countries to show restraint and avoid steps that would escalate tension.</p>"
    )
    page = extract_page(_page(body, lang="ar"))
    assert page is not None
    assert page.language == "en"


def test_html_lang_is_the_hint_for_a_text_too_short_to_tell() -> None:
    page = extract_page(_page("<p>ایران و پاکستان</p>", lang="fa-IR", nav=False))
    assert page is not None
    assert page.text == "ایران و پاکستان"
    assert page.language == "fa"


def test_trailing_comment_policy_is_dropped_only_at_the_end() -> None:
    policy = "The views expressed in the comments below do not reflect the views of this site."
    body = _ARABIC_BODY + f"<p>{policy}</p>"
    page = extract_page(_page(body))
    assert page is not None
    assert "do not reflect" not in page.text
    assert page.text.splitlines()[-1].startswith("ودعت الصين")


@pytest.mark.parametrize(
    "line",
    [
        "الآراء الواردة أدناه لا تعبر عن رأي موقع CNN بالعربية، بل تعكس وجهات نظر أصحابها فقط.",
        "التعليقات المنشورة لا تعبر بالضرورة عن وجهة نظر الموقع",
        "The views expressed in the comments do not necessarily reflect the views of the site.",
    ],
)
def test_comment_policy_patterns_match_real_looking_lines(line: str) -> None:
    assert any(p.search(line) for p in TRAILING_BOILERPLATE)


@pytest.mark.parametrize(
    "line",
    [
        "قالت وزارة الخارجية إن الضربات أسفرت عن مقتل طفلين.",
        "وقال المتحدث إن التصريحات لا تعكس موقف الحكومة.",
        "The minister said the report reflects the views of the cabinet.",
    ],
)
def test_comment_policy_patterns_leave_article_sentences(line: str) -> None:
    assert not any(p.search(line) for p in TRAILING_BOILERPLATE)


@pytest.mark.parametrize(
    "markup",
    ["", "   ", "<html></html>", "<html><body></body></html>", "\x00", _page("<p> </p>", nav=False)],
    ids=["empty", "blank", "empty-html", "empty-body", "nul", "empty-article"],
)
def test_nothing_to_extract_gives_none(markup: str) -> None:
    assert extract_page(markup) is None


def test_a_string_with_an_xml_encoding_declaration_is_extracted() -> None:
    """lxml refuses str input that declares an encoding; XHTML pages often do."""
    page = extract_page('<?xml version="1.0" encoding="utf-8"?>\n' + _page(_ARABIC_BODY))
    assert page is not None
    assert "بلوشستان" in page.text


def test_no_network_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL is metadata: with sockets disabled, extraction still works."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("extract_page opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    page = extract_page(CASES["cnn-arabic"]["html"], "http://arabic.cnn.com/2013/middle_east/8/3/syria.clashes/")
    assert page is not None
    assert CASES["cnn-arabic"]["paragraphs"][0] in _fold(page.text)


def test_importing_the_core_module_does_not_load_trafilatura() -> None:
    """trafilatura's package imports urllib3 (its downloader); it loads on first extraction only."""
    probe = "import json, sys, worker.core.extract; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(result.stdout)}
    assert "worker" in loaded
    assert not loaded & {"trafilatura", "urllib3", "lingua"}


def test_page_is_frozen(pages: dict[str, Page]) -> None:
    with pytest.raises(AttributeError):
        pages["cnn-arabic"].title = "x"  # type: ignore[misc]
