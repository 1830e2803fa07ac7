"""Decoding feeds and pages (worker/core/encoding.py), per issue 3 "Encodings".

Every trap is built from real Arabic text encoded in the test, so the bytes are exactly what a
mislabelling server sends; each case asserts the exact text, no U+FFFD, and which evidence won.
"""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.core.encoding import (
    Decoded,
    charset_from_content_type,
    decode,
    feed_as_utf8,
    normalize_charset,
)

TITLE = "إيران وباكستان تتبادلان الضربات"
TEXT = "قالت وزارة الخارجية الإيرانية، الخميس، إنها ملتزمة بعلاقات حسن الجوار مع باكستان"
# ISO-8859-6 has the Arabic comma too (0xAC), so the same sentence encodes in all three.


def rss(prolog: str | None = None) -> str:
    decl = f'<?xml version="1.0" encoding="{prolog}"?>\n' if prolog else ""
    return (
        f'{decl}<rss version="2.0"><channel><title>أخبار</title><item><title>{TITLE}</title>'
        f"<link>https://example.com/ar/1</link><description>{TEXT}</description></item></channel></rss>"
    )


def page(head: str) -> str:
    return (
        f"<!DOCTYPE html><html lang='ar' dir='rtl'><head>{head}<title>{TITLE}</title></head>"
        f"<body><p>{TEXT}</p></body></html>"
    )


def assert_clean(result: Decoded, expected: str) -> None:
    assert result.text == expected
    assert "\ufffd" not in result.text


FEED_CASES = [
    # (id, text, byte encoding, HTTP charset, expected codec, expected reason)
    ("utf-8, nothing declared", rss(), "utf-8", None, "utf-8", "utf-8"),
    ("utf-8, everything says utf-8", rss("utf-8"), "utf-8", "utf-8", "utf-8", "utf-8"),
    ("windows-1256 declared in the prolog", rss("windows-1256"), "cp1256", None, "cp1256", "xml-declaration"),
    ("windows-1256 declared in HTTP", rss(), "cp1256", "windows-1256", "cp1256", "http-charset"),
    # trap 1: the server says utf-8 for windows-1256 bytes ...
    ("HTTP utf-8 lies, prolog is right", rss("windows-1256"), "cp1256", "utf-8", "cp1256", "xml-declaration"),
    ("HTTP utf-8 lies, no prolog at all", rss(), "cp1256", "utf-8", "cp1256", "detected"),
    ("HTTP utf-8 lies, prolog lies too", rss("utf-8"), "cp1256", "utf-8", "cp1256", "detected"),
    # ... or Apache's old default, which decodes any bytes into mojibake
    ("HTTP iso-8859-1 default on windows-1256", rss(), "cp1256", "ISO-8859-1", "cp1256", "detected"),
    ("HTTP iso-8859-1 default, prolog right", rss("windows-1256"), "cp1256", "iso-8859-1", "cp1256", "xml-declaration"),
    # trap 2: the XML declaration disagrees with the bytes
    ("prolog windows-1256 on UTF-8 bytes", rss("windows-1256"), "utf-8", None, "utf-8", "utf-8"),
    ("prolog and HTTP windows-1256 on UTF-8", rss("windows-1256"), "utf-8", "windows-1256", "utf-8", "utf-8"),
    ("prolog utf-8 on windows-1256 bytes", rss("utf-8"), "cp1256", None, "cp1256", "detected"),
    ("prolog iso-8859-6 on windows-1256 bytes", rss("iso-8859-6"), "cp1256", None, "cp1256", "detected"),
    (
        "prolog windows-1256 on ISO-8859-6 bytes",
        rss("windows-1256"),
        "iso-8859-6",
        None,
        "iso8859-6",
        "arabic-code-page",
    ),
    # ISO-8859-6, declared and not
    ("ISO-8859-6 in the prolog", rss("iso-8859-6"), "iso-8859-6", None, "iso8859-6", "xml-declaration"),
    ("ISO-8859-6 in HTTP", rss(), "iso-8859-6", "ISO-8859-6", "iso8859-6", "http-charset"),
    ("ISO-8859-6 undeclared", rss(), "iso-8859-6", None, "iso8859-6", "detected"),
    ("ISO-8859-6 under a utf-8 label", rss("utf-8"), "iso-8859-6", "utf-8", "iso8859-6", "detected"),
    # aliases as servers spell them
    ("alias x-cp1256", rss("x-cp1256"), "cp1256", None, "cp1256", "xml-declaration"),
    ("alias arabic", rss(), "iso-8859-6", "arabic", "iso8859-6", "http-charset"),
    ("alias iso_8859-6:1987", rss("iso_8859-6:1987"), "iso-8859-6", None, "iso8859-6", "xml-declaration"),
    ("unknown label is ignored", rss("x-no-such-charset"), "cp1256", None, "cp1256", "detected"),
]


@pytest.mark.parametrize(
    ("text", "encoding", "http", "codec", "reason"), [c[1:] for c in FEED_CASES], ids=[c[0] for c in FEED_CASES]
)
def test_feed_decodes_to_the_exact_arabic(text: str, encoding: str, http: str | None, codec: str, reason: str) -> None:
    body = text.encode(encoding)
    result = decode(body, http)
    assert_clean(result, text)
    assert (result.encoding, result.reason) == (codec, reason)


def test_the_traps_are_real() -> None:
    """The bytes above really are what the labels deny: windows-1256 Arabic is no UTF-8, and the
    labels would give mojibake if trusted."""
    cp1256 = TEXT.encode("cp1256")
    with pytest.raises(UnicodeDecodeError):
        cp1256.decode("utf-8")
    assert cp1256.decode("cp1252") != TEXT
    assert TEXT.encode("utf-8").decode("cp1256") != TEXT


PAGE_CASES = [
    # (id, head, byte encoding, HTTP charset, expected codec, expected reason)
    ("meta charset windows-1256", '<meta charset="windows-1256">', "cp1256", None, "cp1256", "meta-charset"),
    (
        "meta http-equiv windows-1256",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">',
        "cp1256",
        None,
        "cp1256",
        "meta-charset",
    ),
    ("meta unquoted, upper case", "<META CHARSET=WINDOWS-1256>", "cp1256", None, "cp1256", "meta-charset"),
    ("HTTP utf-8 lies, meta is right", '<meta charset="windows-1256">', "cp1256", "utf-8", "cp1256", "meta-charset"),
    ("meta utf-8 on windows-1256 bytes", '<meta charset="utf-8">', "cp1256", None, "cp1256", "detected"),
    ("meta windows-1256 on UTF-8 bytes", '<meta charset="windows-1256">', "utf-8", None, "utf-8", "utf-8"),
    ("meta iso-8859-6", '<meta charset="iso-8859-6">', "iso-8859-6", None, "iso8859-6", "meta-charset"),
    ("HTTP wins over meta", '<meta charset="iso-8859-6">', "cp1256", "windows-1256", "cp1256", "http-charset"),
]


@pytest.mark.parametrize(
    ("head", "encoding", "http", "codec", "reason"), [c[1:] for c in PAGE_CASES], ids=[c[0] for c in PAGE_CASES]
)
def test_page_decodes_to_the_exact_arabic(head: str, encoding: str, http: str | None, codec: str, reason: str) -> None:
    text = page(head)
    result = decode(text.encode(encoding), http, markup="html")
    assert_clean(result, text)
    assert (result.encoding, result.reason) == (codec, reason)


def test_meta_charset_is_not_read_from_a_feed() -> None:
    """In a feed, <meta> inside an item's HTML is content, not a declaration."""
    text = rss("utf-8").replace(TEXT, f'&lt;meta charset="windows-1256"&gt;{TEXT}')
    result = decode(text.encode("cp1256"))
    assert_clean(result, text)
    assert result.reason == "detected"


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_a_byte_order_mark_wins_over_every_label(bom: bytes, encoding: str) -> None:
    text = rss("windows-1256")
    result = decode(bom + text.encode(encoding), "windows-1256")
    assert_clean(result, text)  # and the mark itself is gone
    assert (result.encoding, result.reason) == (encoding, "bom")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_a_bom_are_sniffed(encoding: str) -> None:
    """Such bytes are valid UTF-8 (NULs and ASCII-range bytes): read as UTF-8 they would be
    a feed of NUL characters."""
    text = rss(encoding.removesuffix("-le").removesuffix("-be"))
    result = decode(text.encode(encoding), "utf-8")
    assert_clean(result, text)
    assert (result.encoding, result.reason) == (encoding, "sniffed")


def test_a_utf16_label_without_a_bom_is_not_trusted() -> None:
    """Any even-length bytes decode as UTF-16 (into CJK noise): the label alone proves nothing."""
    text = rss()
    result = decode(text.encode("cp1256"), "utf-16")
    assert_clean(result, text)
    assert result.reason == "detected"


def test_utf8_with_one_stray_byte_stays_utf8() -> None:
    """A windows-1256 fragment pasted into a UTF-8 feed costs one character, not the feed."""
    text = rss("utf-8")
    head, tail = text.split("</title><item>", 1)
    body = head.encode() + "ـ".encode("cp1256") + ("</title><item>" + tail).encode()
    result = decode(body, "utf-8")
    assert result.text == f"{head}\ufffd</title><item>{tail}"
    assert (result.encoding, result.reason) == ("utf-8", "mostly-utf-8")


@pytest.mark.parametrize(
    ("words", "encoding"),
    [
        ("أخبار", "cp1256"),  # a single word: charset-normalizer alone calls it cp932
        (TITLE, "cp1256"),
        (TITLE, "iso-8859-6"),  # a single headline: charset-normalizer alone calls it Thai cp874
    ],
)
def test_short_arabic_is_detected(words: str, encoding: str) -> None:
    assert_clean(decode(words.encode(encoding)), words)


@pytest.mark.parametrize(
    ("text", "encoding", "label"),
    [
        ("Les élèves ont été très déçus à Paris, où la fête était prévue", "cp1252", "iso-8859-1"),
        ("El presidente habló en la reunión de ministros sobre la situación económica del país", "cp1252", "latin1"),
        (
            "Dışişleri Bakanlığı açıklama yaptı: İran ve Pakistan arasındaki gerginlik büyüyor",
            "iso-8859-9",
            "iso-8859-9",
        ),
        ("משרד החוץ האיראני אמר ביום חמישי כי הוא מחויב ליחסי שכנות טובה עם פקיסטן", "cp1255", "windows-1255"),
    ],
)
def test_declared_non_arabic_text_is_trusted(text: str, encoding: str, label: str) -> None:
    """The Western-default check only overrides labels on bytes that read as Arabic."""
    result = decode(text.encode(encoding), label)
    assert_clean(result, text)
    assert result.reason == "http-charset"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("windows-1256", "cp1256"),
        ("Windows-1256", "cp1256"),
        ("cp1256", "cp1256"),
        ("x-cp1256", "cp1256"),
        ("iso-8859-6", "iso8859-6"),
        ("arabic", "iso8859-6"),
        ("iso_8859-6:1987", "iso8859-6"),
        ("ISO-8859-6-I", "iso8859-6"),
        ("asmo-708", "iso8859-6"),
        ("utf8", "utf-8"),
        ('"UTF-8"', "utf-8"),
        ("iso-8859-1", "cp1252"),
        ("no-such-charset", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_charset(label: str | None, codec: str | None) -> None:
    assert normalize_charset(label) == codec


@pytest.mark.parametrize(
    ("value", "charset"),
    [
        ("application/rss+xml; charset=windows-1256", "windows-1256"),
        ('text/html; Charset="UTF-8"', "UTF-8"),
        ("text/xml;charset=iso-8859-6; format=flowed", "iso-8859-6"),
        ("application/rss+xml", None),
        (None, None),
    ],
)
def test_charset_from_content_type(value: str | None, charset: str | None) -> None:
    assert charset_from_content_type(value) == charset


@pytest.mark.parametrize(
    ("prolog", "encoding", "content_type", "new_content_type"),
    [
        ("windows-1256", "cp1256", "application/rss+xml; charset=utf-8", "application/rss+xml; charset=utf-8"),
        (None, "cp1256", "text/xml; charset=UTF-8", "text/xml; charset=utf-8"),
        ("utf-8", "cp1256", "application/xml", "application/xml; charset=utf-8"),
        ("iso-8859-6", "iso-8859-6", 'text/xml; charset="iso-8859-6"; x=1', "text/xml; x=1; charset=utf-8"),
        ("windows-1256", "utf-8", None, None),
    ],
)
def test_feed_as_utf8(
    prolog: str | None, encoding: str, content_type: str | None, new_content_type: str | None
) -> None:
    headers = {"ETag": '"abc"'} | ({"Content-Type": content_type} if content_type else {})
    body, new_headers = feed_as_utf8(rss(prolog).encode(encoding), headers)
    expected = rss(prolog and "utf-8")
    assert body.decode("utf-8") == expected
    assert new_headers == {"ETag": '"abc"'} | ({"Content-Type": new_content_type} if new_content_type else {})
    assert headers.get("Content-Type") == content_type  # the caller's mapping is left alone


def test_feed_as_utf8_rewrites_a_single_quoted_declaration() -> None:
    text = (
        f"<?xml version='1.0' encoding='windows-1256' standalone='yes'?><rss><channel><title>{TITLE}</title></channel>"
    )
    body, _ = feed_as_utf8(text.encode("cp1256"), {})
    assert body.decode("utf-8") == text.replace("windows-1256", "utf-8")


LABELS = st.sampled_from(
    [None, "utf-8", "windows-1256", "iso-8859-6", "iso-8859-1", "utf-16", "x-bogus", "", "utf-8; x"]
)


@given(body=st.binary(max_size=2048), declared=LABELS, markup=st.sampled_from(["xml", "html"]))
def test_decode_never_raises(body: bytes, declared: str | None, markup: str) -> None:
    result = decode(body, declared, markup=markup)  # type: ignore[arg-type]
    assert isinstance(result.text, str) and result.encoding and result.reason


@given(
    text=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=500), declared=LABELS
)
def test_valid_utf8_is_always_read_as_utf8(text: str, declared: str | None) -> None:
    """Text without NUL characters, which would look like UTF-16 (no document has them)."""
    body = text.encode("utf-8")
    if body.startswith(codecs.BOM_UTF8):
        return
    assert decode(body, declared) == Decoded(text, "utf-8", "utf-8")


@given(words=st.lists(st.sampled_from(TEXT.split() + TITLE.split()), min_size=3, max_size=40))
def test_windows_1256_arabic_under_a_utf8_label_is_read_right(words: list[str]) -> None:
    text = f"<title>{' '.join(words)}</title>"
    assert_clean(decode(text.encode("cp1256"), "utf-8"), text)
