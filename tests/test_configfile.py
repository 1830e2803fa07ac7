"""sources.yaml / rules.yaml loading (worker/core/configfile.py): every problem as path:line:col."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from worker.adapters.configfiles import read_rules, read_sources
from worker.core.configfile import load_rules, load_sources
from worker.core.query import And, Term
from worker.errors import ConfigError
from worker.models import Source

Loader = Callable[[str, str], list]  # type: ignore[type-arg]


def problems(loader: Loader, text: str, path: str) -> list[str]:
    """The ``path:line:col: message`` line of each problem (a query error adds context lines,
    the offending line and a caret, checked in test_query_error_shows_the_line_and_a_caret)."""
    with pytest.raises(ConfigError) as err:
        loader(text, path)
    assert str(err.value) == "\n".join(str(p) for p in err.value.problems)
    return [str(p).splitlines()[0] for p in err.value.problems]


def one_problem(loader: Loader, text: str, path: str) -> str:
    found = problems(loader, text, path)
    assert len(found) == 1, found
    return found[0]


GOOD_SOURCES = """\
# Arabic feeds
- id: bbc-arabic
  url: https://feeds.bbci.co.uk/arabic/rss.xml
  language: ar
  interval: 5m
- id: dw-arabic
  url: "https://rss.dw.com/rdf/rss-ar-all"
  interval: 90s
- id: tabnak
  url: http://www.tabnak.ir/fa/rss/allnews
  language: fa-IR
"""


def test_load_sources_good_file() -> None:
    assert load_sources(GOOD_SOURCES, "sources.yaml") == [
        Source("bbc-arabic", "https://feeds.bbci.co.uk/arabic/rss.xml", "ar", 300.0),
        Source("dw-arabic", "https://rss.dw.com/rdf/rss-ar-all", None, 90.0),
        Source("tabnak", "http://www.tabnak.ir/fa/rss/allnews", "fa-IR", None),
    ]


def test_schedule_fields_of_a_source() -> None:
    text = """\
- id: aljazeera
  url: https://www.aljazeera.net/aljazeerarss
  interval: 2m
  min_interval: 30s
  max_interval: 2h
  conditional: false
  type: rss
- id: hespress-sitemap
  url: https://www.hespress.com/news-sitemap.xml
  type: sitemap
"""
    assert load_sources(text, "sources.yaml") == [
        Source(
            "aljazeera",
            "https://www.aljazeera.net/aljazeerarss",
            interval=120.0,
            min_interval=30.0,
            max_interval=7200.0,
            conditional=False,
            type="rss",
        ),
        Source("hespress-sitemap", "https://www.hespress.com/news-sitemap.xml", type="sitemap"),
    ]
    assert load_sources(GOOD_SOURCES, "sources.yaml")[0].conditional is True


def test_load_rules_good_file() -> None:
    text = """\
- id: iran-pakistan
  name: إيران وباكستان
  query: إيران AND باكستان
- id: national-security
  query: '"الأمن القومي" AND (باكستان OR إيران)'
"""
    rules = load_rules(text, "rules.yaml")
    assert [(r.id, r.name, r.query) for r in rules] == [
        ("iran-pakistan", "إيران وباكستان", "إيران AND باكستان"),
        ("national-security", None, '"الأمن القومي" AND (باكستان OR إيران)'),
    ]
    assert rules[0].node == And((Term("إيران", ("ايران",)), Term("باكستان", ("باكستان",))))


def test_shipped_config_files_load() -> None:
    root = Path(__file__).resolve().parent.parent / "config"
    sources = read_sources(str(root / "sources.yaml"))
    rules = read_rules(str(root / "rules.yaml"))
    assert sources
    assert all(s.url.startswith(("http://", "https://")) for s in sources)
    assert "iran-pakistan" in {r.id for r in rules}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # invalid YAML: a tab cannot indent
        ("- id: bbc\n\turl: https://a.example/\n", "sources.yaml:2:1: invalid YAML"),
        # invalid YAML: a key indented deeper than its siblings
        ("- id: bbc\n  url: https://a.example/\n   language: ar\n", "sources.yaml:3:12: invalid YAML"),
        ("", "sources.yaml:1:1: the file is empty"),
        ("# nothing yet\n", "sources.yaml:1:1: the file is empty"),
        ("id: bbc\nurl: https://a.example/\n", "sources.yaml:1:1: expected a list of sources"),
        ("- https://a.example/\n", "sources.yaml:1:3: expected a mapping"),
        # a typo in a key is an error, not a silent default
        ("- id: bbc\n  url: https://a.example/\n  intervall: 5m\n", "sources.yaml:3:3: unknown key 'intervall'"),
        ("- id: bbc\n  url: https://a.example/\n  url: https://b.example/\n", "sources.yaml:3:3: duplicate key 'url'"),
        ("- url: https://a.example/\n", "sources.yaml:1:3: missing 'id'"),
        ("- id: bbc\n  language: ar\n", "sources.yaml:1:3: missing 'url'"),
        ("- id: bbc\n  url:\n", "sources.yaml:2:7: 'url' must be a single value"),
        ("- id: [bbc]\n  url: https://a.example/\n", "sources.yaml:1:7: 'id' must be a single value"),
        ("- id: bbc arabic\n  url: https://a.example/\n", "sources.yaml:1:7: id 'bbc arabic' must be"),
        (
            "- id: bbc\n  url: https://a.example/\n- id: dw\n  url: https://b.example/\n- id: bbc\n  url: https://c.example/\n",
            "sources.yaml:5:7: duplicate id 'bbc' (first on line 1)",
        ),
        ("- id: bbc\n  url: ftp://a.example/rss\n", "sources.yaml:2:8: url 'ftp://a.example/rss' must be an http"),
        ("- id: bbc\n  url: feeds.bbci.co.uk/arabic/rss.xml\n", "sources.yaml:2:8: url"),
        ("- id: bbc\n  url: https://a.example/\n  interval: 5 minutes\n", "sources.yaml:3:13: interval:"),
        (
            "- id: bbc\n  url: https://a.example/\n  interval: 0s\n",
            "sources.yaml:3:13: interval must be more than zero",
        ),
        ("- id: bbc\n  url: https://a.example/\n  language: Arabic\n", "sources.yaml:3:13: language 'Arabic'"),
        ("- id: bbc\n  url: https://a.example/\n  language: عربي\n", "sources.yaml:3:13: language"),
        ("- id: bbc\n  url: https://a.example/\n  type: xml\n", "sources.yaml:3:9: type 'xml' must be one of: auto,"),
        ("- id: bbc\n  url: https://a.example/\n  min_interval: soon\n", "sources.yaml:3:17: min_interval: 'soon'"),
        ("- id: bbc\n  url: https://a.example/\n  max_interval: 0\n", "sources.yaml:3:17: max_interval must be"),
        ("- id: bbc\n  url: https://a.example/\n  conditional: maybe\n", "sources.yaml:3:16: expected true or false"),
        (
            "- id: bbc\n  url: https://a.example/\n  min_interval: 2h\n  max_interval: 30m\n",
            "sources.yaml:4:17: max_interval 30m is below min_interval 2h",
        ),
    ],
)
def test_bad_sources(text: str, expected: str) -> None:
    assert one_problem(load_sources, text, "sources.yaml").startswith(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- id: r1\n  query: إيران\n  nmae: x\n", "rules.yaml:3:3: unknown key 'nmae'"),
        ("- id: r1\n", "rules.yaml:1:3: missing 'query'"),
        ("- query: إيران\n", "rules.yaml:1:3: missing 'id'"),
        ("- id: r1\n  query: إيران\n- id: r1\n  query: باكستان\n", "rules.yaml:3:7: duplicate id 'r1'"),
    ],
)
def test_bad_rules(text: str, expected: str) -> None:
    assert one_problem(load_rules, text, "rules.yaml").startswith(expected)


# Query errors point inside the query. Columns are 1-based and count characters.
@pytest.mark.parametrize(
    ("line", "col", "message"),
    [
        # plain scalar: the query starts at column 10
        ("  query: إيران AND", 19, "ends where a word was expected"),  # just past the end
        ("  query: إيران OR باكستان)", 26, "unexpected ')'"),
        ('  query: إيران AND "الأمن القومي', 20, "unclosed quote"),
        ("  query: (إيران OR باكستان", 27, "missing ')'"),  # just past the end
        ("  query: NOT إيران", 10, "none of its words"),  # the whole query
        # quoted scalars: the query starts one column later, past the quote
        ("  query: 'إيران OR باكستان)'", 27, "unexpected ')'"),
        ('  query: "إيران OR باكستان)"', 27, "unexpected ')'"),
        ("  query: '\"الأمن القومي\" AND )'", 30, "found ')'"),
        ("  query: 'إيران AND \"الأمن القومي'", 21, "unclosed quote"),
    ],
)
def test_query_error_points_inside_the_query(line: str, col: int, message: str) -> None:
    found = one_problem(load_rules, f"- id: r1\n{line}\n", "rules.yaml")
    assert found.startswith(f"rules.yaml:2:{col}: query: ")
    assert message in found
    if message.endswith("')'") and not message.startswith("missing"):
        assert line[col - 1] == ")"
    if message == "unclosed quote":
        assert line[col - 1] == '"'


def test_query_error_shows_the_line_and_a_caret() -> None:
    with pytest.raises(ConfigError) as err:
        load_rules("- id: r1\n  query: إيران OR باكستان)\n", "rules.yaml")
    assert str(err.value).splitlines() == [
        "rules.yaml:2:26: query: unexpected ')'",
        "      query: إيران OR باكستان)",
        "    " + " " * 25 + "^",
    ]


def test_unknown_entity_is_located(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_rules("- id: r1\n  query: إيران AND entity:XX\n", "rules.yaml", entity_ids={"IR", "PK"})
    assert str(err.value).splitlines()[0] == "rules.yaml:2:20: query: unknown entity 'XX' (see `marsad entities show`)"


def test_rule_restrictions_and_switch() -> None:
    text = "- id: r1\n  query: إيران\n  sources: [bbc-arabic, dw]\n  languages: ar\n  enabled: false\n"
    [rule] = load_rules(text, "rules.yaml")
    assert rule.sources == {"bbc-arabic", "dw"} and rule.languages == {"ar"} and rule.enabled is False


def test_query_error_in_a_flow_mapping() -> None:
    line = "- {id: r1, query: إيران OR باكستان)}"
    assert line[34] == ")"
    assert one_problem(load_rules, line + "\n", "rules.yaml").startswith("rules.yaml:1:35: query: unexpected ')'")


def test_query_error_column_counts_escapes_in_a_double_quoted_scalar() -> None:
    r"""In ``"\"الأمن القومي\" AND )"`` each ``\"`` is two characters in the file and one in the query.
    The error is at the ')' (column 32), or at the start of the value (column 10) where the
    position inside an escaped scalar is not worked out; never at another character."""
    line = '  query: "\\"الأمن القومي\\" AND )"'
    assert line[31] == ")"
    found = one_problem(load_rules, f"- id: r1\n{line}\n", "rules.yaml")
    assert found.split(" query: ")[0] in ("rules.yaml:2:32:", "rules.yaml:2:10:")


def test_query_error_in_a_multi_line_plain_scalar_is_on_the_right_line() -> None:
    """A long query wrapped over two lines: the error is at the end of line 3, or (when the
    position inside a folded scalar is not worked out) at the start of the query on line 2."""
    text = "- id: r1\n  query: إيران AND\n    باكستان AND\n"
    found = one_problem(load_rules, text, "rules.yaml")
    assert found.split(" query: ")[0] in ("rules.yaml:3:16:", "rules.yaml:2:10:")


def test_query_error_in_a_block_scalar_points_at_the_value() -> None:
    text = "- id: r1\n  query: |\n    إيران AND\n"
    assert one_problem(load_rules, text, "rules.yaml").startswith("rules.yaml:2:10: query: ")


def test_several_problems_are_reported_together_in_file_order() -> None:
    text = """\
- id: bbc
  url: ftp://feeds.bbci.co.uk/arabic/rss.xml
  intervall: 5m
- id: bbc
  url: https://www.france24.com/ar/rss
  interval: soon
- url: https://rss.dw.com/rdf/rss-ar-all
  language: Arabic
"""
    assert problems(load_sources, text, "config/sources.yaml") == [
        "config/sources.yaml:2:8: url 'ftp://feeds.bbci.co.uk/arabic/rss.xml' must be an http:// or https:// address",
        "config/sources.yaml:3:3: unknown key 'intervall'; expected one of: id, url, language, interval, full_text,"
        " type, min_interval, max_interval, conditional",
        "config/sources.yaml:4:7: duplicate id 'bbc' (first on line 1)",
        "config/sources.yaml:6:13: interval: 'soon' is not a duration; write it as 90s, 5m, 1h or 2d",
        "config/sources.yaml:7:3: missing 'id'",
        "config/sources.yaml:8:13: language 'Arabic' must be a code such as ar, fa, ur or en",
    ]


def test_several_query_errors_are_reported_together() -> None:
    text = "- id: r1\n  query: إيران AND\n- id: r2\n  query: إيران\n- id: r3\n  query: (باكستان\n"
    found = problems(load_rules, text, "rules.yaml")
    assert [p.split(": query: ")[0] for p in found] == ["rules.yaml:2:19", "rules.yaml:6:18"]


def test_read_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("- id: iran-pakistan\n  query: إيران AND باكستان\n", encoding="utf-8")
    assert [r.id for r in read_rules(str(path))] == ["iran-pakistan"]


def test_read_reports_problems_with_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("- id: r1\n  query: إيران AND\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_rules(str(path))
    assert str(err.value).startswith(f"{path}:2:19: query: ")


def test_read_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as err:
        read_sources(str(path))
    assert str(err.value) == f"{path}: cannot read the file: No such file or directory"
    assert "Traceback" not in str(err.value)


def test_read_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_bytes("- id: bbc\n  url: https://a.example/\n  language: عربي\n".encode("cp1256"))
    with pytest.raises(ConfigError) as err:
        read_sources(str(path))
    assert str(err.value) == f"{path}:3:13: not UTF-8 text (a windows-1256 file? save it as UTF-8)"
