"""``marsad stories`` as users run it: output, the story window through ``published``, bad input
and an unreachable Redis (the evaluation's use of it: test_dedup_eval.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import marsad
from tests.test_stories import JOIN, OTHER, PARTS, TEASER, TEXT, UPDATED


def lines(stdout: str) -> list[dict[str, str]]:
    return [json.loads(x) for x in stdout.splitlines()]


def article(aid: str, text: str, **extra: object) -> str:
    return json.dumps({"id": aid, "text": text, **extra}, ensure_ascii=False)


def test_stories_by_url_text_and_near_duplicate(prefix: str) -> None:
    stdin = "\n".join(
        [
            article("wire", TEXT, url="https://www.wire.example/a/1?utm_source=rss", source="wire"),
            article("amp", "نص مختلف تماما", url="https://amp.wire.example/a/1/amp"),
            article("copy", TEXT, url="https://other.example/x"),
            article("teaser", TEASER),
            article("other", OTHER),
        ]
    )
    for extra in (["--memory"], []):
        res = marsad("stories", *extra, stdin=stdin + "\n", env={"MARSAD_KEY_PREFIX": prefix})
        assert res.returncode == 0, res.stderr
        assert [(x["id"], x["story"]) for x in lines(res.stdout)] == [
            ("wire", "wire"),
            ("amp", "wire"),  # the same page: canonical URL
            ("copy", "wire"),  # the same text
            ("teaser", "wire"),  # a near-duplicate
            ("other", "other"),
        ]


def test_published_places_articles_in_the_story_window() -> None:
    stdin = "\n".join(
        [
            article("first", TEXT, published="2024-01-18T08:00:00Z"),
            article("next-day", TEASER, published="2024-01-19T08:00:00Z"),
            article("weeks-later", UPDATED, published=1_708_000_000),  # Feb 2024: out of the window
        ]
    )
    res = marsad("stories", "--memory", stdin=stdin + "\n")
    assert [x["story"] for x in lines(res.stdout)] == ["first", "first", "weeks-later"]


def test_threshold_changes_the_answer() -> None:
    """Half of the article followed by as much of another one: containment about 0.5."""
    half = JOIN.join(PARTS[: len(PARTS) // 2])
    mixed = half + "\n" + " ".join(OTHER.split()[: len(half.split())])
    stdin = article("a", TEXT) + "\n" + article("b", mixed) + "\n"
    low = lines(marsad("stories", "--memory", "--threshold", "0.3", stdin=stdin).stdout)
    high = lines(marsad("stories", "--memory", "--threshold", "0.8", stdin=stdin).stdout)
    assert [x["story"] for x in low] == ["a", "a"]
    assert [x["story"] for x in high] == ["a", "b"]
    bad = marsad("stories", "--memory", "--threshold", "1.5", stdin=stdin)
    assert bad.returncode == 2 and "--threshold must be in (0, 1]" in bad.stderr


def test_bad_lines_are_reported_with_their_position_and_the_rest_is_processed(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(
        article("ok", TEXT)
        + '\n{"id": 2, "text": \n["x"]\n{"text": "x"}\n{"id": "p", "text": "x", "published": "soon"}\n',
        encoding="utf-8",
    )
    res = marsad("stories", "--memory", str(data))
    assert res.returncode == 2
    assert [x["id"] for x in lines(res.stdout)] == ["ok"]
    col = len('{"id": 2, "text": ') + 1  # just past the end of the line, where a value was expected
    assert res.stderr.splitlines() == [
        f"{data}:2:{col}: invalid JSON: Expecting value",
        f"{data}:3:1: expected a JSON object {{id, title?, text, url?, source?, language?, published?}}",
        f"{data}:4:1: missing id",
        f"{data}:5:1: published must be a date (RFC 3339 or 822) or Unix seconds",
    ]


def test_unreachable_redis_is_one_line_and_exit_1() -> None:
    res = marsad("stories", stdin=article("a", TEXT) + "\n", env={"MARSAD_REDIS_URL": "redis://127.0.0.1:9/0"})
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("marsad: cannot reach Redis at redis://127.0.0.1:9/0")
