"""Entities (worker/core/entities.py): the built-in country gazetteer, user entities files,
merging, surfaces, and ``marsad entities show``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.core.entities import Entity, builtin_entities, load_entities, merge, surfaces
from worker.core.normalize import fold_words
from worker.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES = ROOT / "worker" / "data" / "countries.json"
SCRIPT = ROOT / "scripts" / "gen_countries.py"
USER_FILE = ROOT / "config" / "entities.yaml"

# ISO 3166-1 alpha-2, the 249 officially assigned codes (Debian iso-codes 4.x, via pycountry):
# an oracle independent of CLDR and of the generator.
ISO_3166_1 = """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER
ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE
IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA
MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR
SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU
WF WS YE YT ZA ZM ZW""".split()
LANGS = ("ar", "fa", "ur", "en", "fr")


def all_strings(entity: Entity) -> list[str]:
    return [n for names in entity.names.values() for n in names] + list(entity.forms)


def folded(strings: list[str] | tuple[str, ...]) -> set[tuple[str, ...]]:
    return {fold_words(s) for s in strings}


# --- the generated gazetteer ---------------------------------------------------------------


def test_the_gazetteer_holds_every_iso_country_and_kosovo_with_names_in_five_languages() -> None:
    assert len(ISO_3166_1) == 249
    builtin = builtin_entities()
    assert set(builtin) == {*ISO_3166_1, "XK"}
    for code, entity in builtin.items():
        assert entity.id == code
        for lang in LANGS:
            assert entity.names.get(lang), (code, lang)
            assert all(n.strip() and fold_words(n) for n in entity.names[lang]), (code, lang)


def test_the_data_file_names_its_sources_and_their_licence() -> None:
    data = json.loads(COUNTRIES.read_text("utf-8"))
    meta = data["_meta"]
    cldr = meta["sources"]["names"]
    assert "CLDR" in cldr["source"] and cldr["babel"] and cldr["cldr"]
    assert cldr["licence"] == "Unicode License v3"
    licence = ROOT / "worker" / "data" / cldr["licence_file"]
    assert "UNICODE LICENSE V3" in licence.read_text("utf-8")
    assert meta["countries"] == len(data["countries"]) == 250
    assert meta["generator"].startswith("scripts/gen_countries.py")


def test_the_script_reproduces_the_checked_in_file() -> None:
    babel = pytest.importorskip("babel")  # a dev dependency
    recorded = json.loads(COUNTRIES.read_text("utf-8"))["_meta"]["sources"]["names"]["babel"]
    if babel.__version__ != recorded:
        pytest.skip(f"the file was generated with Babel {recorded}, this is {babel.__version__}: regenerate it")
    res = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_at_least_60_countries_have_curated_forms() -> None:
    with_forms = [code for code, e in builtin_entities().items() if e.forms]
    assert len(with_forms) >= 60


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("IR", ["إيران", "ایران", "Iran", "Iranian", "Iranians", "iranien", "iranienne", "إيراني", "إيرانيون"]),
        ("IR", ["إيرانية", "إيرانيين", "إيرانيات"]),
        ("AF", ["أفغانستان", "أفغاني", "أفغانية", "أفغان", "Afghan", "afghane"]),
        ("SA", ["المملكة العربية السعودية", "السعودية", "سعودي", "سعوديون", "Saudi", "saoudien"]),
        ("US", ["الولايات المتحدة", "أمريكا", "أميركا", "أمريكي", "أميركي", "أمريكيون", "American", "américaine"]),
        ("PK", ["باكستان", "پاکستان", "Pakistan", "Pakistani", "Pakistanis", "pakistanais", "باكستاني"]),
        ("GB", ["المملكة المتحدة", "بريطانيا", "بريطاني", "British", "britannique"]),
        ("EG", ["مصر", "مصري", "مصريون", "Egyptian", "égyptienne"]),
        ("MA", ["المغرب", "مغربي", "مغاربة", "Moroccan", "marocain"]),
        ("TR", ["تركيا", "ترکیه", "تركي", "أتراك", "Türkiye", "Turkey", "Turkish", "turque"]),
        ("RU", ["روسيا", "روسي", "روس", "Russian", "russe"]),
        ("KR", ["كوريا الجنوبية", "كوري جنوبي", "كورية جنوبية", "South Korean", "sud-coréen"]),
        ("PS", ["فلسطين", "فلسطيني", "Palestinian", "palestinienne"]),
        ("MM", ["Myanmar (Burma)", "Myanmar", "Burma", "ميانمار"]),
    ],
)
def test_names_and_forms_of_the_countries_news_names_most(code: str, expected: list[str]) -> None:
    have = all_strings(builtin_entities()[code])
    assert [e for e in expected if e not in have] == []


def test_persian_and_urdu_names_are_listed_as_written() -> None:
    ir, pk = builtin_entities()["IR"], builtin_entities()["PK"]
    assert "ایران" in ir.names["fa"] and "ایران" in ir.names["ur"]  # Farsi yeh, as CLDR writes it
    assert "پاکستان" in pk.names["fa"] and "پاکستان" in pk.names["ur"]


def test_irregular_nisbas_are_not_built_from_the_country_name() -> None:
    forms = {code: folded(builtin_entities()[code].forms) for code in ("AF", "SA", "US", "AE", "MA", "IN", "DE", "TR")}
    af = builtin_entities()["AF"].forms
    assert "أفغاني" in af and "أفغانية" in af and "أفغان" in af
    assert not {"أفغانستاني", "افغانستاني", "أفغانستانية", "افغانستانية"} & set(af)  # no Arabic nisba on the name
    assert "افغانستانی" in af  # but Iranian Persian does say افغانستانی (Farsi yeh), on purpose
    assert fold_words("السعودي") not in forms["SA"]  # bare forms: the matcher handles ال
    assert fold_words("سعودي") in forms["SA"]
    assert fold_words("ولاياتي") not in forms["US"]
    assert {fold_words("ألمان"), fold_words("هنود"), fold_words("أتراك")} <= forms["DE"] | forms["IN"] | forms["TR"]


def test_no_name_or_form_belongs_to_two_countries() -> None:
    owners: dict[tuple[str, ...], set[str]] = {}
    for code, entity in builtin_entities().items():
        for s in surfaces(entity):
            owners.setdefault(fold_words(s), set()).add(code)
    assert {" ".join(k): v for k, v in owners.items() if len(v) > 1} == {}


def test_no_surface_is_an_everyday_word_once_case_is_folded() -> None:
    everyday = folded(["us", "US", "eau", "EAU", "un", "Polish", "pole", "مالي", "قمري", "چینی"])
    for code, entity in builtin_entities().items():
        assert not folded(entity.forms) & everyday, code
        assert not folded(surfaces(entity)) & folded(["us", "eau", "un", "polish"]), code


def test_builtin_entities_returns_a_fresh_dict_each_time() -> None:
    first = builtin_entities()
    first.pop("IR")
    assert "IR" in builtin_entities()


# --- surfaces --------------------------------------------------------------------------------


def test_surfaces_are_deduplicated_after_folding_and_returned_as_written() -> None:
    e = Entity(
        "x",
        {"en": ("Iran", "IRAN"), "ar": ("إيران", "ايران", "إِيـــرَان"), "fa": ("ایران",)},
        ("إيراني", "ايراني", "Iranian", "!!"),
    )
    assert surfaces(e) == ("إيران", "Iran", "إيراني", "Iranian")


def test_surfaces_list_names_in_language_order_then_other_languages_then_forms() -> None:
    e = Entity("x", {"ps": ("پښتو",), "fr": ("b",), "ar": ("أ",), "en": ("c",)}, ("f",))
    assert surfaces(e) == ("أ", "c", "b", "پښتو", "f")


def test_every_builtin_string_is_represented_by_exactly_one_surface() -> None:
    for entity in builtin_entities().values():
        found = surfaces(entity)
        assert len(folded(found)) == len(found)
        assert folded(found) == folded(all_strings(entity)) - {()}


# --- user entities files ---------------------------------------------------------------------


def test_the_shipped_user_file_loads() -> None:
    user = load_entities(USER_FILE.read_text("utf-8"), str(USER_FILE))
    assert list(user) == ["jaish-al-adl", "bla", "sistan-baluchestan", "irgc"]
    jaish = user["jaish-al-adl"]
    assert jaish.names["ar"] == ("جيش العدل",)  # one name may be written without a list
    assert "جیش العدل" in jaish.names["fa"] and "Jaish al-Adl" in jaish.names["en"]
    assert "سیستان و بلوچستان" in user["sistan-baluchestan"].names["fa"]
    assert {"الحرس الثوري", "سپاه پاسداران", "IRGC", "Revolutionary Guards"} <= set(all_strings(user["irgc"]))
    assert "BLA" in user["bla"].forms and "جيش تحرير بلوشستان" in user["bla"].names["ar"]
    for entity in user.values():
        assert set(entity.names) == set(LANGS), entity.id


def test_a_file_without_entries_means_no_entities() -> None:
    assert load_entities("", "e.yaml") == {}
    assert load_entities("# nothing yet\n", "e.yaml") == {}
    assert load_entities("[]\n", "e.yaml") == {}


def problems(text: str, path: str = "entities.yaml") -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_entities(text, path)
    return [str(p).splitlines()[0] for p in err.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- id: a\n  names: {en: [A]}\n  nmaes: x\n",
            ["e.yaml:3:3: unknown key 'nmaes'; expected one of: id, names, forms"],
        ),
        ("- id: a\n  forms: [A]\n", ["e.yaml:1:3: missing 'names'"]),
        ("- names: {en: A}\n", ["e.yaml:1:3: missing 'id'"]),
        (
            "- id: a\n  names: {en: A}\n- id: a\n  names: {en: B}\n",
            ["e.yaml:3:7: duplicate id 'a' (first on line 1)"],
        ),
        (
            "- id: al qaeda\n  names: {en: A}\n",
            ["e.yaml:1:7: id 'al qaeda' must be letters, digits, '.', '_' or '-' (at most 64)"],
        ),
        ("- id: [a]\n  names: {en: A}\n", ["e.yaml:1:7: 'id' must be a single value"]),
        (
            "- id: ir\n  names: {en: A}\n",
            ["e.yaml:1:7: id 'ir' is the built-in 'IR' in another case; write 'IR' to extend it"],
        ),
        (
            "- id: a\n  names: A\n",
            ["e.yaml:2:10: 'names' must map languages to names, such as {ar: [...], en: [...]}"],
        ),
        ("- id: a\n  names: {}\n", ["e.yaml:2:10: 'names' is empty; give at least one name"]),
        (
            "- id: a\n  names:\n    arabic: [أ]\n",
            ["e.yaml:3:5: language 'arabic' must be a code such as ar, fa, ur or en"],
        ),
        ("- id: a\n  names:\n    en: A\n    en: B\n", ["e.yaml:4:5: duplicate language 'en'"]),
        ("- id: a\n  names:\n    en: []\n", ["e.yaml:3:9: names of 'en': the list is empty"]),
        ("- id: a\n  names:\n    en: [A, ]\n", []),  # YAML: a trailing comma is no item
        ("- id: a\n  names:\n    en: [A, '']\n", ["e.yaml:3:13: names of 'en': '' has no letter or digit to match"]),
        (
            "- id: a\n  names:\n    en: [A, '--']\n",
            ["e.yaml:3:13: names of 'en': '--' has no letter or digit to match"],
        ),
        (
            "- id: a\n  names:\n    en:\n      - A\n      -\n",
            ["e.yaml:5:8: names of 'en': expected a name, written as text"],
        ),
        ("- id: a\n  names: {en: {x: y}}\n", ["e.yaml:2:15: names of 'en' must be a name or a list of names"]),
        ("- id: a\n  names: {en: A}\n  forms: [[x]]\n", ["e.yaml:3:11: 'forms': expected a name, written as text"]),
        ("- id: a\n  names: {en: A}\n  forms: []\n", ["e.yaml:3:10: 'forms': the list is empty"]),
        ("id: a\nnames: {en: A}\n", ["e.yaml:1:1: expected a list of entities (each line starting with '- ')"]),
        ("- a\n", ["e.yaml:1:3: expected a mapping such as {id, names, forms}"]),
        ("- id: a\n  names: {en: [A}\n", ["e.yaml:2:17: invalid YAML: expected ',' or ']', but got '}'"]),
    ],
)
def test_every_problem_is_located(text: str, expected: list[str]) -> None:
    if not expected:
        assert load_entities(text, "e.yaml")["a"].names["en"] == ("A",)
        return
    assert problems(text, "e.yaml") == expected


def test_every_problem_of_the_file_is_reported_in_file_order() -> None:
    text = "- id: a\n  names: {en: A}\n  colour: red\n- id: b\n- id: a\n  names: {xx-: B}\n"
    assert problems(text) == [
        "entities.yaml:3:3: unknown key 'colour'; expected one of: id, names, forms",
        "entities.yaml:4:3: missing 'names'",
        "entities.yaml:5:7: duplicate id 'a' (first on line 1)",
        "entities.yaml:6:11: language 'xx-' must be a code such as ar, fa, ur or en",
    ]


def test_names_and_forms_are_stripped_and_exact_repeats_dropped() -> None:
    user = load_entities("- id: a\n  names: {en: [' A ', A, B]}\n  forms: [x, x]\n", "e.yaml")
    assert user["a"] == Entity("a", {"en": ("A", "B")}, ("x",))


# --- merge -----------------------------------------------------------------------------------


def test_a_user_entity_with_a_builtin_id_extends_it() -> None:
    builtin = builtin_entities()
    user = load_entities("- id: IR\n  names: {ar: [بلاد فارس], ps: [ایران]}\n  forms: [Persian]\n", "e.yaml")
    merged = merge(builtin, user)
    ir = merged["IR"]
    assert ir.names["ar"][0] == "إيران" and ir.names["ar"][-1] == "بلاد فارس"
    assert ir.names["ps"] == ("ایران",)
    assert ir.forms[: len(builtin["IR"].forms)] == builtin["IR"].forms and ir.forms[-1] == "Persian"
    assert "بلاد فارس" in surfaces(ir)
    assert "بلاد فارس" not in all_strings(builtin_entities()["IR"])  # the built-ins are untouched


def test_merge_adds_new_entities_after_the_builtins() -> None:
    user = load_entities(USER_FILE.read_text("utf-8"), "entities.yaml")
    merged = merge(builtin_entities(), user)
    assert list(merged)[-4:] == list(user)
    assert len(merged) == 250 + 4
    assert merged["irgc"] is user["irgc"]


# --- marsad entities show --------------------------------------------------------------------


def marsad(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MARSAD_ENTITIES_FILE"}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


def test_show_lists_names_by_language_then_forms() -> None:
    res = marsad("entities", "show", "IR")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "IR (built-in)"
    assert lines[1] == "names" and "forms" in lines
    assert "  ar  إيران" in lines
    assert "  fa  ایران  (= إيران)" in lines  # the same name once folded
    assert "  en  Iran" in lines
    forms = lines[lines.index("forms") + 1 :]
    for form in ("إيراني", "إيرانيون", "Iranian", "iranien"):
        assert f"  {form}" in forms


def test_show_reads_the_user_file() -> None:
    res = marsad("entities", "show", "jaish-al-adl")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "jaish-al-adl (config/entities.yaml)"
    assert "  ar  جيش العدل" in res.stdout and "  fa  جیش العدل" in res.stdout


def test_show_with_another_entities_file(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("- id: PK\n  names: {ar: [الباكستان]}\n- id: ttp\n  names: {en: [Tehreek-e-Taliban]}\n", "utf-8")
    res = marsad("entities", "show", "PK", "--entities", str(path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == f"PK (built-in + {path})"
    assert "  ar  الباكستان" in res.stdout
    assert marsad("entities", "show", "jaish-al-adl", "--entities", str(path)).returncode == 2


def test_show_an_unknown_entity() -> None:
    res = marsad("entities", "show", "XX")
    assert (res.returncode, res.stdout, res.stderr) == (2, "", "marsad: unknown entity 'XX'\n")


def test_show_reports_a_bad_entities_file(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("- id: a\n  names: {en: A}\n  nmaes: x\n", "utf-8")
    res = marsad("entities", "show", "IR", "--entities", str(path))
    assert res.returncode == 2
    assert res.stderr == f"{path}:3:3: unknown key 'nmaes'; expected one of: id, names, forms\n"
