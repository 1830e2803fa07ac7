"""XML tricks against every parser path (issue 6, "Safe fetching"): entity expansion (billion
laughs, quadratic blowup), external entities and DTDs (XXE), DOCTYPEs hidden from regexes,
absurd nesting. Each must parse with the entities left unexpanded, or fail as FeedParseError,
within bounded memory and time.

Each case runs ``parse_feed`` in a child process under an address-space limit (RLIMIT_AS,
1 GB, against about 100 MB that a normal parse needs) and a generous wall-clock cap, so an
expansion that gets through crashes the child (and fails that case) instead of the test run;
the child reports what came out. "Unexpanded" is checked as: the parsed text is no longer than the body it came from
(only an entity can make text longer), and /etc/passwd's first line is nowhere. The paths are
feedparser's (RSS 2.0, Atom: strict expat pass, then its loose fallback) and lxml's (news
sitemaps); the XXE cases also point at a real local HTTP server, which must see no request.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from worker.core.parse_xml import root_tag, strip_doctype
from worker.errors import FeedParseError

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 1 << 30
WALL_CLOCK_CAP = 120  # seconds; a normal case takes well under one

# One child for the module (importing the parsers costs more than parsing): it reads requests
# as JSON lines on stdin and answers each with one JSON line. A child that dies (MemoryError at
# the limit) or hangs fails that test, and the next test gets a fresh one.
_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
from worker.core.parse import parse_feed
from worker.errors import FeedParseError
for line in sys.stdin:
    request = json.loads(line)
    body = open(request["path"], "rb").read()
    try:
        feed = parse_feed(body, {}, "https://example.com/feed", kind=request["kind"])
    except FeedParseError as e:
        answer = {"outcome": "FeedParseError", "message": str(e)[:300]}
    else:
        texts = [feed.title or ""] + [t for e in feed.entries for t in (e.url, e.title, e.content)]
        answer = {"outcome": "parsed", "entries": len(feed.entries), "chars": sum(map(len, texts)),
                  "passwd": any("root:" in t for t in texts), "sample": [t[:80] for t in texts]}
    print(json.dumps(answer), flush=True)
"""


class BoundedParser:
    """``parse_feed`` in a child process under RLIMIT_AS, with a wall-clock cap per body."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[str] | None = None

    def _child(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(MEMORY_LIMIT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=(self.workdir / "child.stderr").open("w"),  # a file: a pipe could fill up and block
                text=True,
                cwd=ROOT,
            )
        return self.proc

    def parse(self, body: bytes, kind: str = "auto") -> dict[str, object]:
        path = self.workdir / "body"
        path.write_bytes(body)
        proc = self._child()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"path": str(path), "kind": kind}) + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], WALL_CLOCK_CAP)
        line = proc.stdout.readline() if ready else ""
        if not line:  # MemoryError, a crash, a hang: anything but a clean answer
            proc.kill()
            proc.wait()
            stderr = (self.workdir / "child.stderr").read_text()
            raise AssertionError(f"the parsing child died or hung:\n{stderr[-2000:]}")
        result: dict[str, object] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoundedParser]:
    parser = BoundedParser(tmp_path_factory.mktemp("bounded"))
    yield parser
    parser.close()


# Documents of each format with the attack's prolog and a text where entity references go.
def rss(prolog: str, text: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}\n<rss version="2.0"><channel><title>t</title>'
        f"<item><title>{text}</title><link>https://example.com/ar/1</link><description>{text}</description>"
        "</item></channel></rss>"
    ).encode()


def atom(prolog: str, text: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}\n<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        f'<entry><title>{text}</title><link href="https://example.com/ar/1"/><id>urn:1</id>'
        f"<content>{text}</content></entry></feed>"
    ).encode()


def sitemap(prolog: str, text: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://example.com/ar/1</loc>'
        "<news:news><news:publication><news:name>n</news:name><news:language>ar</news:language></news:publication>"
        f"<news:title>{text}</news:title><news:keywords>{text}</news:keywords></news:news></url></urlset>"
    ).encode()


FORMATS: dict[str, Callable[[str, str], bytes]] = {"rss": rss, "atom": atom, "sitemap": sitemap}
BIG = "x" * 100_000
QUADRATIC_REFS = "&a;" * 20_000  # 20,000 x 100 KB = 2 GB if expanded, twice the child's limit
LAUGHS = '<!ENTITY lol0 "lollollollollollollollollollol">' + "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
)

ATTACKS = {
    # (prolog, text): the classic forms, one declaration a line as feedparser's regexes expect them
    "billion-laughs": ("<!DOCTYPE r [\n" + LAUGHS.replace("><", ">\n<") + "\n]>", "&lol9;"),
    "billion-laughs-one-line": (f"<!DOCTYPE r [{LAUGHS}]>", "&lol9;"),
    "quadratic-blowup": (f'<!DOCTYPE r [\n<!ENTITY a "{BIG}">\n]>', QUADRATIC_REFS),
    # the same, where feedparser's "<\\w" search ends its prolog early (inside a comment)
    "doctype-behind-a-comment": (f'<!-- <a> -->\n<!DOCTYPE r [\n<!ENTITY a "{BIG}">\n]>', QUADRATIC_REFS),
    # ENTITY declarations with no DOCTYPE around them
    "entities-without-doctype": (f'<!ENTITY a "{BIG}">', QUADRATIC_REFS),
    # quotes, comments and PIs that hold "]" and ">" inside the internal subset
    "subset-with-tricky-quotes": (
        f'<!DOCTYPE r [\n<!-- ]> -->\n<?pi ]>?>\n<!ENTITY q \'">]\'>\n<!ENTITY a "{BIG}">\n]>',
        QUADRATIC_REFS,
    ),
    "lowercase-doctype": (f'<!doctype r [\n<!ENTITY a "{BIG}">\n]>', QUADRATIC_REFS),
    "two-doctypes": (f'<!DOCTYPE r>\n<!DOCTYPE r [\n<!ENTITY a "{BIG}">\n]>', QUADRATIC_REFS),
    "xxe-file": ('<!DOCTYPE r [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>', "x&xxe;y"),
    "xxe-file-one-line": ('<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "x&xxe;y"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("attack", ATTACKS)
def test_entity_tricks_parse_unexpanded_or_fail_cleanly(bounded: BoundedParser, attack: str, fmt: str) -> None:
    prolog, text = ATTACKS[attack]
    body = FORMATS[fmt](prolog, text)
    result = bounded.parse(body)
    assert result["outcome"] in ("parsed", "FeedParseError"), result
    if result["outcome"] == "parsed":
        assert result["entries"] == 1, result  # the entry is not lost to the trick
        assert result["chars"] <= len(body), result  # nothing expanded
        assert result["passwd"] is False


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE r [\n<!ENTITY ext SYSTEM "{url}/ext.xml">\n]>',  # external general entity
        '<!DOCTYPE r [<!ENTITY ext SYSTEM "{url}/ext.xml">]>',
        '<!DOCTYPE r [\n<!ENTITY % p SYSTEM "{url}/evil.dtd">\n%p;\n]>',  # external parameter entity
        '<!DOCTYPE r SYSTEM "{url}/feed.dtd">',  # external DTD
        '<!DOCTYPE r PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "{url}/rss-0.91.dtd">',
    ],
    ids=["general-entity", "general-entity-one-line", "parameter-entity", "system-dtd", "public-dtd"],
)
def test_external_entities_and_dtds_are_never_fetched(
    bounded: BoundedParser, feed_server: FeedServer, fmt: str, prolog: str
) -> None:
    for path in ("/ext.xml", "/evil.dtd", "/feed.dtd", "/rss-0.91.dtd"):
        feed_server.route(path, "<!ENTITY leaked 'LEAKED'>", content_type="application/xml-dtd")
    base = feed_server.url("").rstrip("/")
    result = bounded.parse(FORMATS[fmt](prolog.format(url=base), "x&ext;&leaked;y"))
    assert result["outcome"] in ("parsed", "FeedParseError"), result
    assert "LEAKED" not in json.dumps(result, ensure_ascii=False)
    assert feed_server.requests == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_doctype_after_the_root_element_gets_no_entities(bounded: BoundedParser, fmt: str) -> None:
    """Not well-formed, so expat stops and feedparser falls back to its loose parser: the
    entities declared there must not be expanded by it either (they are declared nowhere it
    reads them from)."""
    body = FORMATS[fmt]("", f'<!DOCTYPE r [\n<!ENTITY a "{BIG}">\n]>' + QUADRATIC_REFS)
    result = bounded.parse(body)
    assert result["outcome"] in ("parsed", "FeedParseError"), result
    if result["outcome"] == "parsed":
        assert result["chars"] <= len(body), result


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("prolog", ['<!DOCTYPE r [\n<!ENTITY a "x">\n', "<!DOCTYPE r [<!ENTITY a 'x>"])
def test_doctype_that_never_ends_is_unparsable(bounded: BoundedParser, fmt: str, prolog: str) -> None:
    result = bounded.parse(FORMATS[fmt](prolog, "&a;"))
    assert result["outcome"] == "FeedParseError", result


NESTING = 100_000


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("closed", [True, False], ids=["closed", "unclosed"])
def test_absurd_nesting_is_bounded(bounded: BoundedParser, fmt: str, closed: bool) -> None:
    """100,000 nested elements where the entry's text goes: expat and feedparser's element stack
    are iterative (the entry parses); libxml2 stops at 256 levels (a FeedParseError, not the
    part of the sitemap before the limit)."""
    text = "<x>" * NESTING + ("</x>" * NESTING if closed else "")
    result = bounded.parse(FORMATS[fmt]("", text))
    if fmt == "sitemap":
        assert result["outcome"] == "FeedParseError" and "depth" in str(result["message"]), result
    else:
        assert result["outcome"] in ("parsed", "FeedParseError"), result


@pytest.mark.parametrize(
    "body",
    [
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * NESTING + b"]" * NESTING + b"}",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [' + b'{"a": ' * NESTING + b"1" + b"}" * NESTING,
    ],
    ids=["arrays", "objects"],
)
def test_json_feed_nesting_is_bounded(bounded: BoundedParser, body: bytes) -> None:
    result = bounded.parse(body)
    assert result["outcome"] == "FeedParseError", result


# --- the DOCTYPE scanner itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<rss/>", b"<rss/>"),
        (b'<?xml version="1.0"?>\n<!DOCTYPE rss>\n<rss/>', b'<?xml version="1.0"?>\n\n<rss/>'),
        (b"<!DOCTYPE rss SYSTEM 'a>b'><rss/>", b"<rss/>"),
        (b'<!DOCTYPE r [<!ENTITY a "]>">]><r/>', b"<r/>"),
        (b"<!DOCTYPE r [<!-- ]> --><?p ]>?>]  ><r/>", b"<r/>"),
        (b"<!-- c --><!DOCTYPE a><!DOCTYPE b><?pi?><r/>", b"<!-- c --><?pi?><r/>"),
        (b"<!doctype html><html/>", b"<html/>"),
        (b"<r><!DOCTYPE x [<!ENTITY a 'b'>]></r>", b"<r><!DOCTYPE x [<!ENTITY a 'b'>]></r>"),  # not in the prolog
        (b"", b""),
        (b"<!-- never closed", b"<!-- never closed"),  # the parser reports that one
    ],
)
def test_strip_doctype(data: bytes, expected: bytes) -> None:
    assert strip_doctype(data) == expected


@pytest.mark.parametrize("data", [b"<!DOCTYPE r [<!ENTITY a 'x'>", b"<!DOCTYPE r 'x><r/>", b"<!DOCTYPE"])
def test_strip_doctype_refuses_one_that_never_ends(data: bytes) -> None:
    with pytest.raises(FeedParseError, match="never ends"):
        strip_doctype(data)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b'<?xml version="1.0"?><!-- <a> --><!DOCTYPE u [<!ENTITY x "<b>">]>\n<urlset xmlns="s">', "urlset"),
        (b"<rdf:RDF xmlns:rdf='r'>", "RDF"),
        (b"  \n<feed>", "feed"),
        (b"text", ""),
        (b"", ""),
    ],
)
def test_root_tag(data: bytes, name: str) -> None:
    assert root_tag(data)[0] == name
