"""Bytes -> text for feeds and pages, right for Arabic even when the labels lie.

Arabic sources mislabel their bytes in two ways that matter: a server sends ``charset=utf-8``
(or Apache's old default ``iso-8859-1``) for windows-1256 bytes, and an XML declaration or
``<meta charset>`` names another encoding than the bytes are in. Trusting the label gives
mojibake ("ÇáÚÑÈíÉ") or runs of U+FFFD, and nothing downstream can repair it. So the bytes have
the last word, in this order:

1. A byte-order mark: unambiguous, it wins (as in browsers). UTF-16/32 without one is told by
   its NUL bytes.
2. Bytes that decode strictly as UTF-8 are UTF-8, whatever is declared: windows-1256 Arabic is
   practically never valid UTF-8 (an Arabic letter byte is never followed by a continuation byte
   for long), while a wrong ``encoding="windows-1256"`` on UTF-8 bytes is a common copy-paste.
   Bytes that are UTF-8 but for a few stray bytes (a pasted fragment) stay UTF-8 too: a handful
   of U+FFFD beats turning the whole document into mojibake.
3. The declared charsets, HTTP first and then the document's own, if they decode strictly. A
   single-byte decoding "succeeds" on almost any bytes, so success proves little: a Western
   server default (latin-1/windows-1252) is ignored when the bytes read as Arabic in
   windows-1256, and between the two Arabic code pages (windows-1256 / ISO-8859-6, which share
   half their letters) the declared one gives way when the other reads clearly more like Arabic
   (see ``_arabic_evidence``).
4. Detection. Arabic candidates (windows-1256, ISO-8859-6 and whatever the detector proposes) are
   scored first; otherwise charset-normalizer's best guess.
5. windows-1256 with replacement: the likeliest encoding of an Arabic source that is not UTF-8.

Why charset-normalizer: it is pure Python, maintained, MIT-licensed, already installed with
trafilatura, and it returns a *ranked list* of plausible decodings rather than one guess. Its
ranking is weak on short Arabic (a headline in ISO-8859-6 comes out as Thai cp874, one word of
windows-1256 as cp932), hence step 4 scores its Arabic-capable candidates ourselves instead of
taking ``best()`` blindly. chardet is LGPL and also weak on single-byte Arabic; cchardet is
unmaintained.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from charset_normalizer import from_bytes

Markup = Literal["xml", "html"]


@dataclass(frozen=True)
class Decoded:
    """``encoding`` is a Python codec name ("utf-8", "cp1256", "iso8859-6", ...); ``reason`` says
    which evidence chose it: "bom", "sniffed" (UTF-16/32 without a BOM), "utf-8", "mostly-utf-8",
    "http-charset", "xml-declaration", "meta-charset", "arabic-code-page" (a declared Arabic code
    page swapped for the other one), "detected" or "fallback". For logs, not for branching."""

    text: str
    encoding: str
    reason: str


# Labels that codecs.lookup does not know, mapped as browsers map them (WHATWG Encoding).
_ALIASES = {
    "x-cp1256": "cp1256",
    "cp-1256": "cp1256",
    "x-mac-arabic": "mac-arabic",
    "iso-8859-6-i": "iso8859-6",
    "iso-8859-6-e": "iso8859-6",
    "csiso88596i": "iso8859-6",
    "csiso88596e": "iso8859-6",
    # Browsers read latin-1 labels as windows-1252 (its printable superset).
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
}
_ARABIC_CODE_PAGES = ("cp1256", "iso8859-6")
# Encodings in which Arabic letters exist: only these may win the Arabic scoring.
_ARABIC_CAPABLE = {*_ARABIC_CODE_PAGES, "cp720", "cp864", "mac-arabic"}
# Server defaults that label bytes nobody checked; they decode any byte string.
_SERVER_DEFAULTS = {"cp1252", "iso8859-15", "ascii"}

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)""")
# Both <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">.
_META = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_CT_CHARSET = re.compile(r"""\bcharset\s*=\s*["']?\s*([^"';\s]+)""", re.IGNORECASE)
_XML_DECL_TEXT = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_CT_CHARSET_PARAM = re.compile(r""";?\s*\bcharset\s*=\s*("[^"]*"|'[^']*'|[^;\s]*)""", re.IGNORECASE)
_HEAD = 16384  # where in-document declarations are looked for
_SAMPLE = 65536  # how much text the Arabic scoring reads (enough to decide, bounded cost)

_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3]")
_ARABIC_WORD = re.compile(r"[\u0621-\u064a\u0671-\u06d3][\u0621-\u0652\u0640\u0670-\u06d3]+")
_ARTICLE = re.compile(r"(?<![\u0621-\u0652\u0671-\u06d3])ال")
_MISPLACED_MARK = re.compile(
    r"(?<![\u0621-\u0652\u0671-\u06d3])[\u064b-\u0652]|[\u064c\u064d](?=[\u0621-\u064a\u0671-\u06d3])"
)
_NON_ASCII_LETTER = re.compile(r"(?![\x00-\x7f])[^\W\d_]")
_ASCII = bytes(range(128))
# Share of non-ASCII letters that must be Arabic for a decoding to count as Arabic text. Western
# text read as windows-1256 stays far below it: é è à ç ê ô ü keep their Latin-1 places there.
_ARABIC_SHARE = 0.8


def normalize_charset(label: str | None) -> str | None:
    """The Python codec name for a charset label, or None for a label no codec knows."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    return _ALIASES.get(name, name)


def charset_from_content_type(value: str | None) -> str | None:
    """The raw charset parameter of a Content-Type value ("text/html; charset=UTF-8" -> "UTF-8")."""
    match = _CT_CHARSET.search(value or "")
    return match.group(1) if match else None


def _document_charsets(body: bytes, markup: Markup) -> list[tuple[str, str]]:
    head = body[:_HEAD]
    found: list[tuple[str, str]] = []
    if markup == "html":
        found += [(m.group(1).decode("ascii"), "meta-charset") for m in _META.finditer(head)][:1]
    xml = _XML_DECL.match(head)
    if xml:
        found.append((xml.group(1).decode("ascii"), "xml-declaration"))
    return found


def _wide_encoding(body: bytes) -> str | None:
    """UTF-16 or UTF-32 without a byte-order mark, told by the NUL bytes around the first
    character (markup starts with an ASCII character). Such bytes are valid UTF-8 too, so this
    must be asked first; no text document has NUL characters."""
    head = body[:4]
    if len(head) < 4:
        return None
    if head[0] and not any(head[1:]):
        return "utf-32-le"
    if not any(head[:3]) and head[3]:
        return "utf-32-be"
    if 0 < head[0] < 0x80 and head[1] == 0 and 0 < head[2] < 0x80 and head[3] == 0:
        return "utf-16-le"
    if head[0] == 0 and 0 < head[1] < 0x80 and head[2] == 0 and 0 < head[3] < 0x80:
        return "utf-16-be"
    return None


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _arabic_evidence(text: str) -> tuple[int, float]:
    """(how Arabic the text reads, share of its non-ASCII letters in Arabic words).

    The first number is the count of the article "ال" at the start of a word, less the count of
    vowel marks where Arabic never has one (after a space; kasratan or dammatan inside a word).
    The right code page yields "ال" every other word; the wrong one of the two Arabic pages maps
    ل to ف and ي to kasratan, or scatters Latin accented letters. A few words suffice to tell
    them apart; a lone word may read as Arabic in both, and then windows-1256, by far the more
    common, is chosen. Only letters in runs of two or more count
    towards the share: Western text read as windows-1256 turns an odd accented letter into a
    lone Arabic one ("paيs" for "país"), real Arabic has no one-letter words but و."""
    sample = text[:_SAMPLE]
    letters = _NON_ASCII_LETTER.subn("", sample)[1]
    arabic = sum(_ARABIC_LETTER.subn("", word)[1] for word in _ARABIC_WORD.findall(sample))
    plausible = _ARTICLE.subn("", sample)[1] - _MISPLACED_MARK.subn("", sample)[1]
    return plausible, (arabic / letters if letters else 0.0)


def _reads_as_arabic(body: bytes) -> bool:
    """True when the bytes read as Arabic text in windows-1256 (they are then no Western text)."""
    plausible, share = _arabic_evidence(body[: _SAMPLE * 2].decode("cp1256", errors="replace"))
    return plausible > 0 and share >= _ARABIC_SHARE


def _mostly_utf8(body: bytes) -> str | None:
    """The UTF-8 text of bytes that are UTF-8 but for a few stray bytes, else None.

    windows-1256 Arabic forms a valid two-byte UTF-8 sequence only by accident (a letter before
    ؟ or a curly quote), so many valid sequences per invalid byte means UTF-8."""
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - body.count("\ufffd".encode())  # genuine U+FFFD are no error
    ascii_chars = len(body) - len(body.translate(None, _ASCII))
    good = len(text) - ascii_chars - bad
    return text if bad > 0 and good >= 8 and good >= 20 * bad else None


def _best_arabic(body: bytes, encodings: list[str]) -> tuple[str, str] | None:
    """The Arabic-capable encoding whose strict decoding reads most like Arabic, or None when
    none yields mostly Arabic letters. Ties go to the earlier encoding in the list."""
    best: tuple[tuple[int, float], str, str] | None = None
    for encoding in dict.fromkeys(encodings):
        if encoding not in _ARABIC_CAPABLE:
            continue
        text = _strict(body, encoding)
        if text is None:
            continue
        score = _arabic_evidence(text)
        if score[1] >= _ARABIC_SHARE and (best is None or score > best[0]):
            best = (score, encoding, text)
    return None if best is None else (best[1], best[2])


def _from_declared(body: bytes, declared: list[tuple[str, str]]) -> Decoded | None:
    for label, reason in declared:
        encoding = normalize_charset(label)
        if encoding is None or encoding.startswith(("utf-8", "utf-16", "utf-32")):
            # Unknown; UTF-8 that already failed; UTF-16/32 without the BOM or NULs that would
            # show it (any even-length bytes decode as UTF-16: into CJK noise).
            continue
        text = _strict(body, encoding)
        if text is None:
            continue
        if encoding in _SERVER_DEFAULTS and _reads_as_arabic(body):
            continue
        if encoding in _ARABIC_CODE_PAGES:
            # Prefer the declared page, unless the other one reads clearly better.
            others = [encoding, *(e for e in _ARABIC_CODE_PAGES if e != encoding)]
            best = _best_arabic(body, others)
            if best is not None and best[0] != encoding:
                return Decoded(best[1], best[0], "arabic-code-page")
        return Decoded(text, encoding, reason)
    return None


def _detect(body: bytes) -> Decoded | None:
    arabic = _best_arabic(body, list(_ARABIC_CODE_PAGES))
    if arabic is not None:
        return Decoded(arabic[1], arabic[0], "detected")  # plain Arabic: no detector needed
    matches = from_bytes(body)
    arabic = _best_arabic(body, [normalize_charset(m.encoding) or m.encoding for m in matches])
    if arabic is not None:  # the DOS and Mac Arabic pages
        return Decoded(arabic[1], arabic[0], "detected")
    best = matches.best()
    if best is not None:
        return Decoded(str(best), normalize_charset(best.encoding) or best.encoding, "detected")
    return None


def decode(body: bytes, declared: str | None = None, *, markup: Markup = "xml") -> Decoded:
    """Decode a feed (``markup="xml"``: the XML declaration is read) or a page (``"html"``: the
    ``<meta>`` charset too). ``declared`` is the HTTP Content-Type charset. Never raises."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom) :].decode(encoding, errors="replace"), encoding, "bom")
    wide = _wide_encoding(body)
    if wide is not None and (text := _strict(body, wide)) is not None:
        return Decoded(text, wide, "sniffed")
    text = _strict(body, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "utf-8")
    text = _mostly_utf8(body)
    if text is not None:
        return Decoded(text, "utf-8", "mostly-utf-8")
    labels = ([(declared, "http-charset")] if declared else []) + _document_charsets(body, markup)
    return (
        _from_declared(body, labels)
        or _detect(body)
        or Decoded(body.decode("cp1256", errors="replace"), "cp1256", "fallback")
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((k for k in headers if k.lower() == name), None)


def feed_as_utf8(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The feed re-encoded as UTF-8, its XML declaration and Content-Type charset saying so.

    feedparser picks the encoding from the labels (HTTP over XML declaration, RFC 3023) and, when
    that fails, from its own guesses; given one consistent label it just parses what we decoded."""
    key = _header(headers, "content-type")
    content_type = headers[key] if key else None
    decoded = decode(body, charset_from_content_type(content_type), markup="xml")
    text = _XML_DECL_TEXT.sub(r"\g<1>\g<2>utf-8\g<2>", decoded.text, count=1)
    out = dict(headers)
    if key is not None and content_type is not None:
        without = _CT_CHARSET_PARAM.sub("", content_type).strip().rstrip(";").strip()
        out[key] = f"{without}; charset=utf-8" if without else "charset=utf-8"
    return text.encode("utf-8"), out
