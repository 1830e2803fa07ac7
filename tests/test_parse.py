"""Feed parsing (worker/core/parse.py): RSS 2.0, Atom, encodings, broken input."""

from __future__ import annotations

import calendar
import codecs
from datetime import UTC, datetime

import pytest

from worker.core.parse import parse_feed
from worker.errors import FeedParseError

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
  <title>بي بي سي عربي</title>
  <link>https://www.bbc.com/arabic</link>
  <language>ar</language>
  <item>
    <title>باكستان تجري مراجعة للأمن القومي وسط الأزمة مع إيران</title>
    <link>https://www.bbc.com/arabic/articles/c1?utm_source=rss</link>
    <guid isPermaLink="false">bbc-c1</guid>
    <description>&lt;p&gt;عقد اجتماع لكبار القادة &amp;amp; المدنيين&lt;/p&gt;</description>
    <pubDate>Fri, 19 Jan 2024 10:30:00 +0300</pubDate>
  </item>
  <item>
    <title>خبر بلا رابط</title>
    <description>لا يمكن فتحه</description>
  </item>
  <item>
    <title>الصين مستعدة للتوسط</title>
    <link>https://www.bbc.com/arabic/articles/c2</link>
    <pubDate>Fri, 19 Jan 2024 07:30:00 GMT</pubDate>
  </item>
  <item>
    <title>رابط نسبي</title>
    <link>/arabic/articles/c3</link>
  </item>
</channel>
</rss>
""".encode()

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ar">
  <title>فرانس 24</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-01-19T07:30:00Z</updated>
  <entry>
    <title>إيران وباكستان تتبادلان الضربات</title>
    <link rel="alternate" href="https://www.france24.com/ar/20240119-iran"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2024-01-19T09:00:00+02:00</updated>
    <summary>ملخص قصير</summary>
    <content type="html">&lt;p&gt;قالت وزارة الخارجية الإيرانية&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>ملخص نصي فقط</title>
    <link href="https://www.france24.com/ar/20240119-china"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6b</id>
    <published>2024-01-18T23:00:00Z</published>
    <updated>2024-01-19T01:00:00Z</updated>
    <summary type="text">قالت الصين إنها مستعدة للتوسط</summary>
  </entry>
</feed>
""".encode()


BASE = "https://feeds.bbci.co.uk/arabic/rss.xml"


def utc(*args: int) -> float:
    return float(calendar.timegm(datetime(*args, tzinfo=UTC).utctimetuple()))


def test_rss_entries() -> None:
    feed = parse_feed(RSS)
    assert feed.title == "بي بي سي عربي"
    assert feed.language == "ar"
    first = feed.entries[0]
    assert first.url == "https://www.bbc.com/arabic/articles/c1?utm_source=rss"
    assert first.title == "باكستان تجري مراجعة للأمن القومي وسط الأزمة مع إيران"
    assert first.content == "<p>عقد اجتماع لكبار القادة &amp; المدنيين</p>"
    assert first.content_is_html
    assert first.guid == "bbc-c1"


def test_rss_entry_without_link_is_skipped() -> None:
    titles = [e.title for e in parse_feed(RSS, base_url=BASE).entries]
    assert titles == ["باكستان تجري مراجعة للأمن القومي وسط الأزمة مع إيران", "الصين مستعدة للتوسط", "رابط نسبي"]


def test_relative_link_without_a_base_is_no_address_and_is_skipped() -> None:
    titles = [e.title for e in parse_feed(RSS).entries]
    assert "رابط نسبي" not in titles and len(titles) == 2


def test_rss_relative_link_is_resolved_against_the_feed_url() -> None:
    feed = parse_feed(RSS, base_url=BASE)
    assert feed.entries[-1].url == "https://feeds.bbci.co.uk/arabic/articles/c3"


def test_rss_published_times_are_utc_timestamps() -> None:
    entries = parse_feed(RSS, base_url=BASE).entries
    # 10:30 at +03:00 and 07:30 GMT are the same instant
    assert entries[0].published == utc(2024, 1, 19, 7, 30) == 1705649400.0
    assert entries[1].published == utc(2024, 1, 19, 7, 30)
    assert entries[2].published is None


def test_atom_entries() -> None:
    feed = parse_feed(ATOM)
    assert feed.title == "فرانس 24"
    assert [e.url for e in feed.entries] == [
        "https://www.france24.com/ar/20240119-iran",
        "https://www.france24.com/ar/20240119-china",
    ]
    first, second = feed.entries
    assert first.title == "إيران وباكستان تتبادلان الضربات"
    # full content is preferred over the summary
    assert first.content == "<p>قالت وزارة الخارجية الإيرانية</p>"
    assert first.content_is_html
    assert first.guid == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert second.content == "قالت الصين إنها مستعدة للتوسط"
    assert not second.content_is_html


def test_atom_published_times_are_utc_timestamps() -> None:
    first, second = parse_feed(ATOM).entries
    assert first.published == utc(2024, 1, 19, 7, 0)  # 09:00 at +02:00
    assert second.published == utc(2024, 1, 18, 23, 0)  # published wins over updated


def test_atom_entry_whose_id_is_a_link_uses_it() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id><updated>2024-01-19T07:30:00Z</updated>
<entry><title>id as link</title><id>https://www.dw.com/ar/a-1</id><updated>2024-01-19T07:30:00Z</updated></entry>
</feed>"""
    assert [e.url for e in parse_feed(body).entries] == ["https://www.dw.com/ar/a-1"]


@pytest.mark.parametrize(
    "entry",
    [
        # Atom: no <link>, and an id that is not an address
        "<entry><title>بلا رابط</title><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6c</id>"
        "<updated>2024-01-19T07:30:00Z</updated></entry>",
        # Atom: no <link>, no id
        "<entry><title>بلا رابط</title><updated>2024-01-19T07:30:00Z</updated></entry>",
    ],
)
def test_atom_entry_without_link_is_skipped(entry: str) -> None:
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id><updated>2024-01-19T07:30:00Z</updated>
<entry><title>له رابط</title><link href="https://www.dw.com/ar/a-2"/><id>urn:2</id>
<updated>2024-01-19T07:30:00Z</updated></entry>
{entry}
</feed>""".encode()
    assert [e.url for e in parse_feed(body).entries] == ["https://www.dw.com/ar/a-2"]


@pytest.mark.parametrize(
    "item",
    [
        '<item><title>بلا رابط</title><guid isPermaLink="false">abc-123</guid></item>',
        "<item><title>بلا رابط</title><guid>tag:bbc.com,2024:arabic-123</guid></item>",
        "<item><title>بلا رابط</title><description>نص</description></item>",
    ],
)
def test_rss_item_without_link_is_skipped(item: str) -> None:
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title>
<item><title>له رابط</title><link>https://www.bbc.com/arabic/a-2</link></item>
{item}
</channel></rss>""".encode()
    assert [e.url for e in parse_feed(body).entries] == ["https://www.bbc.com/arabic/a-2"]


CP1256_TITLE = "إيران وباكستان تتبادلان الضربات"
CP1256_TEXT = "قالت وزارة الخارجية الإيرانية، الخميس، إنها ملتزمة بعلاقات حسن الجوار مع باكستان"


def _cp1256_rss(prolog: bool) -> bytes:
    decl = '<?xml version="1.0" encoding="windows-1256"?>\n' if prolog else ""
    return (
        decl + '<rss version="2.0"><channel><title>أخبار</title><item>'
        f"<title>{CP1256_TITLE}</title><link>https://example.com/ar/1</link>"
        f"<description>{CP1256_TEXT}</description></item></channel></rss>"
    ).encode("cp1256")


def test_windows_1256_declared_in_the_prolog() -> None:
    body = _cp1256_rss(prolog=True)
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # the bytes really are not UTF-8
    feed = parse_feed(body)
    assert feed.title == "أخبار"
    assert [e.title for e in feed.entries] == [CP1256_TITLE]
    assert feed.entries[0].content == CP1256_TEXT


def test_windows_1256_declared_in_the_http_header() -> None:
    feed = parse_feed(_cp1256_rss(prolog=False), headers={"Content-Type": "application/rss+xml; charset=windows-1256"})
    assert [e.title for e in feed.entries] == [CP1256_TITLE]
    assert feed.entries[0].content == CP1256_TEXT


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>',
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>',
    ],
)
def test_empty_feed_has_no_entries(body: bytes) -> None:
    feed = parse_feed(body)
    assert feed.entries == ()
    assert feed.title == "t"


@pytest.mark.parametrize("body", [b"not a feed", b"{not: xml}", b"\x00\x01\x02 binary"])
def test_not_a_feed_raises(body: bytes) -> None:
    with pytest.raises(FeedParseError) as err:
        parse_feed(body)
    assert err.value.kind == "unparsable"


def test_malformed_feed_with_entries_is_accepted() -> None:
    body = b"<rss version='2.0'><channel><item><title>x</title><link>https://example.com/a</link></item><item><title>"
    assert [e.url for e in parse_feed(body).entries] == ["https://example.com/a"]


def test_empty_feed_served_as_html_is_an_empty_feed_not_a_failure() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    assert parse_feed(body, {"Content-Type": "text/html; charset=utf-8"}).entries == ()


def test_feed_cut_off_before_its_first_entry_is_unparsable() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(b"<rss><channel><title>t</title></chan")


def _rss(prolog: str | None, encoding: str, pub_date: str = "") -> bytes:
    decl = f'<?xml version="1.0" encoding="{prolog}"?>\n' if prolog else ""
    pub = f"<pubDate>{pub_date}</pubDate>" if pub_date else ""
    return (
        decl + '<rss version="2.0"><channel><title>أخبار</title><item>'
        f"<title>{CP1256_TITLE}</title><link>https://example.com/ar/1</link>{pub}"
        f"<description>{CP1256_TEXT}</description></item></channel></rss>"
    ).encode(encoding)


ENCODING_TRAPS = [
    # (id, XML declaration, byte encoding, HTTP Content-Type)
    ("HTTP utf-8 on windows-1256, prolog right", "windows-1256", "cp1256", "application/rss+xml; charset=utf-8"),
    ("HTTP utf-8 on windows-1256, no prolog", None, "cp1256", "application/rss+xml; charset=utf-8"),
    ("HTTP and prolog utf-8 on windows-1256", "utf-8", "cp1256", "text/xml; charset=UTF-8"),
    ("prolog utf-8 on windows-1256, no HTTP charset", "utf-8", "cp1256", "application/rss+xml"),
    ("HTTP iso-8859-1 default on windows-1256", None, "cp1256", "text/xml; charset=ISO-8859-1"),
    ("prolog windows-1256 on UTF-8", "windows-1256", "utf-8", None),
    ("prolog and HTTP windows-1256 on UTF-8", "windows-1256", "utf-8", "application/rss+xml; charset=windows-1256"),
    ("prolog iso-8859-6 on windows-1256", "iso-8859-6", "cp1256", None),
    ("ISO-8859-6 in the prolog", "iso-8859-6", "iso-8859-6", None),
    ("ISO-8859-6 in HTTP", None, "iso-8859-6", "application/rss+xml; charset=iso-8859-6"),
    ("ISO-8859-6 under a utf-8 label", None, "iso-8859-6", "application/rss+xml; charset=utf-8"),
    ("prolog windows-1256 on ISO-8859-6", "windows-1256", "iso-8859-6", None),
]


@pytest.mark.parametrize(
    ("prolog", "encoding", "content_type"), [t[1:] for t in ENCODING_TRAPS], ids=[t[0] for t in ENCODING_TRAPS]
)
def test_mislabelled_feed_parses_to_the_exact_arabic(
    prolog: str | None, encoding: str, content_type: str | None
) -> None:
    feed = parse_feed(_rss(prolog, encoding), {"Content-Type": content_type} if content_type else {})
    assert feed.title == "أخبار"
    assert [(e.title, e.content) for e in feed.entries] == [(CP1256_TITLE, CP1256_TEXT)]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (codecs.BOM_UTF16_LE + _rss("utf-16", "utf-16-le"), "application/rss+xml; charset=utf-8"),
        (_rss("utf-16", "utf-16-le"), "application/rss+xml; charset=utf-8"),  # no BOM
        (_rss("utf-16", "utf-16-be"), None),
        (codecs.BOM_UTF8 + _rss("windows-1256", "utf-8"), "application/rss+xml; charset=windows-1256"),
    ],
    ids=["utf-16 BOM, labelled utf-8", "utf-16-le without BOM", "utf-16-be without BOM", "utf-8 BOM over labels"],
)
def test_wide_and_bom_feeds(body: bytes, content_type: str | None) -> None:
    feed = parse_feed(body, {"Content-Type": content_type} if content_type else {})
    assert [(e.title, e.content) for e in feed.entries] == [(CP1256_TITLE, CP1256_TEXT)]


@pytest.mark.parametrize(
    ("pub_date", "published"),
    [
        ("الجمعة 19 يناير 2024 10:30 م", 1705703400.0),  # 2024-01-19 22:30Z
        ("١٩ كانون الثاني ٢٠٢٤ ١٠:٣٠ +03:00", 1705649400.0),  # 07:30Z
        ("19 جانفي 2024 - 08:15", 1705652100.0),
        ("Fri, 19 Jan 2024 10:30:00 +0300", 1705649400.0),  # feedparser's own forms still read
        ("ليس تاريخا", None),
    ],
)
def test_arabic_pub_date(pub_date: str, published: float | None) -> None:
    (entry,) = parse_feed(_rss("utf-8", "utf-8", pub_date)).entries
    assert entry.published == published


def test_arabic_pub_date_in_a_windows_1256_feed_labelled_utf8() -> None:
    body = _rss(None, "cp1256", "الجمعة 19 يناير 2024 10:30 م")
    (entry,) = parse_feed(body, {"Content-Type": "application/rss+xml; charset=utf-8"}).entries
    assert (entry.title, entry.published) == (CP1256_TITLE, 1705703400.0)


def test_importing_the_core_registers_no_date_handler() -> None:
    """Registration happens on the first parse, not as a side effect of ``import worker.core``."""
    import subprocess
    import sys

    probe = (
        "import feedparser.datetimes as d, worker.core, worker.core.parse as p, worker.core.parse_rss as r\n"
        "before = r._feedparser_date in d._date_handlers\n"
        "p.parse_feed(b'<rss version=\"2.0\"><channel><title>t</title></channel></rss>')\n"
        "p.parse_feed(b'<rss version=\"2.0\"><channel><title>t</title></channel></rss>')\n"
        "print(before, d._date_handlers.count(r._feedparser_date))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "1"]
