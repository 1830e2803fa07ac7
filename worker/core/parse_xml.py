"""Safe XML for every feed format: the DOCTYPE is removed before any parser sees the document.

A feed has no use for a DTD, and a DTD is where the XML attacks live:

- entity expansion: "billion laughs" (entities nesting entities) and the quadratic blowup (one
  large entity referenced many times; 2.5 MB of body expands to 2.5 GB);
- external entities (XXE): ``<!ENTITY x SYSTEM "file:///etc/passwd">`` or an ``http://`` URL,
  read or fetched while parsing.

feedparser on its own is not safe against the second: its regexes keep every entity whose value
has no ``&`` as "safe", and when expat refuses the document its loose fallback parser expands
those entities itself, without limit (measured: a 250 KB feed ran a process out of 2 GB).
expat's own amplification limit (since 2.4) only guards the strict pass. So every DOCTYPE in
the prolog is cut out here, with its internal subset, by a small scanner that knows quotes,
comments and processing instructions (feedparser's line-anchored regexes can be steered past
with a comment or one long line). Entity references in the body then name undeclared entities:
both parsers leave them as text (feedparser's loose parser still decodes the HTML names, such
as ``&nbsp;``). A DOCTYPE that never ends is a failure, not a guess. Whatever else hides in
the document (a DOCTYPE after the root element is not well-formed) gets no entities either.

News sitemaps are parsed with lxml (libxml2), which the project already carries through
trafilatura: ``resolve_entities=False``, ``no_network=True`` and ``load_dtd=False`` make it
read nothing but the bytes given, and ``huge_tree=False`` keeps libxml2's limits (nesting depth
256, text nodes of 10 MB, its own entity-amplification check). We chose it over defusedxml
(which forbids DTDs but wraps the same expat and has had no release since 2021) because lxml is
maintained, already installed, fast, and has a recovering mode for the unescaped ``&`` that
hand-made sitemaps are full of. Nesting is no threat to feedparser: expat and feedparser's
element stack are iterative (100,000 nested elements parse in about a second).
"""

from __future__ import annotations

import re
from html.entities import html5
from typing import Any

from lxml import etree

from worker.errors import FeedParseError

_SPACE = re.compile(rb"\s*")
_DOCTYPE = b"<!DOCTYPE"


def _skip_quoted(data: bytes, i: int) -> int:
    """The index after the quoted string starting at ``data[i]`` (a quote character)."""
    end = data.find(data[i : i + 1], i + 1)
    if end < 0:
        raise FeedParseError("not a feed: a DOCTYPE that never ends")
    return end + 1


def _skip_markup(data: bytes, i: int) -> int | None:
    """The index after a comment or processing instruction starting at ``i``, or None when
    there is none there. An unterminated one ends the document (the parser will say so)."""
    for opener, closer in ((b"<!--", b"-->"), (b"<?", b"?>")):
        if data.startswith(opener, i):
            end = data.find(closer, i + len(opener))
            return len(data) if end < 0 else end + len(closer)
    return None


def _doctype_end(data: bytes, i: int) -> int:
    """The index after the DOCTYPE declaration starting at ``i``: quoted system/public ids, then
    an optional internal subset ``[...]`` in which quotes, comments and PIs may hold ``]``/``>``."""
    i += len(_DOCTYPE)
    in_subset = False
    while i < len(data):
        c = data[i : i + 1]
        if c in (b'"', b"'"):
            i = _skip_quoted(data, i)
        elif in_subset and (after := _skip_markup(data, i)) is not None:
            i = after
        elif c == b"[":
            in_subset, i = True, i + 1
        elif c == b"]" and in_subset:
            in_subset, i = False, i + 1
        elif c == b">" and not in_subset:
            return i + 1
        else:
            i += 1
    raise FeedParseError("not a feed: a DOCTYPE that never ends")


def strip_doctype(data: bytes) -> bytes:
    """``data`` without the DOCTYPE declarations of its prolog (everything before the first
    element). Raises FeedParseError for a DOCTYPE that never ends."""
    i, cuts = 0, []
    while True:
        i = _SPACE.match(data, i).end()  # type: ignore[union-attr]  # \s* always matches
        if (after := _skip_markup(data, i)) is not None:
            i = after
        elif data[i : i + len(_DOCTYPE)].upper() == _DOCTYPE:
            end = _doctype_end(data, i)
            cuts.append((i, end))
            i = end
        else:
            break
    if not cuts:
        return data
    out, last = [], 0
    for start, end in cuts:
        out.append(data[last:start])
        last = end
    out.append(data[last:])
    return b"".join(out)


_ROOT = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)([^>]*)>?")


def root_tag(data: bytes) -> tuple[str, bytes]:
    """The local name of the document's first element (after the prolog) and the text of its
    start tag, for sniffing; ("", b"") when the document does not start with an element."""
    i = 0
    while True:
        i = _SPACE.match(data, i).end()  # type: ignore[union-attr]
        after = _skip_markup(data, i)
        if after is None and data[i : i + len(_DOCTYPE)].upper() == _DOCTYPE:
            after = _doctype_end(data, i)
        if after is None:
            break
        i = after
    m = _ROOT.match(data, i)
    return (m.group(2).decode("ascii"), m.group(0)) if m else ("", b"")


_AMPERSAND = re.compile(rb"&(?:(#[0-9]+|#[xX][0-9a-fA-F]+)|([A-Za-z][A-Za-z0-9]*));|&")
_XML_ENTITIES = {b"amp", b"lt", b"gt", b"quot", b"apos"}


def _ampersand(m: re.Match[bytes]) -> bytes:
    if m.group(1) or m.group(2) in _XML_ENTITIES:
        return m.group(0)  # a character reference or one of XML's five: XML reads it
    if m.group(2) is not None:
        chars = html5.get(m.group(2).decode("ascii") + ";")
        if chars is not None:  # an HTML name (&nbsp; &eacute;): its characters, numerically
            return b"".join(b"&#%d;" % ord(c) for c in chars)
        return b"&amp;" + m.group(0)[1:]  # an unknown name: kept as the text it is
    return b"&amp;"  # a bare & (a query string in a URL)


def repair_ampersands(data: bytes) -> bytes:
    """Escape what hand-made XML gets wrong: a bare ``&`` (``?a=1&b=2`` in a URL) becomes
    ``&amp;`` and an HTML entity name (``&nbsp;``) its character reference. lxml's recovering
    mode would otherwise drop the ``&`` and the letters after it, and corrupt the URL."""
    return _AMPERSAND.sub(_ampersand, data)


def parse_tree(data: bytes) -> Any:
    """The root element of ``data`` (DOCTYPE already stripped), parsed by lxml with no entity
    resolution, no network, no DTD and libxml2's default size and depth limits. Broken markup
    (an unclosed tag) is recovered from; a document with no element, or one past a limit (more
    than 256 levels of nesting), is a failure, not the part before the limit."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(repair_ampersands(data), parser)
    except etree.LxmlError as e:
        raise FeedParseError(f"not a feed: {e}") from e
    limit = next((e for e in parser.error_log if e.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT), None)
    if limit is not None:
        raise FeedParseError(f"not a feed: {limit.message.strip()}")
    if root is None:
        errors = parser.error_log.filter_from_errors()
        raise FeedParseError(f"not a feed: {errors[0].message.strip() if errors else 'no element'}")
    return root
