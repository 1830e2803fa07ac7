"""Generate worker/data/countries.json: the built-in country gazetteer behind ``entity:XX``.

    .venv/bin/python scripts/gen_countries.py          # rewrite worker/data/countries.json
    .venv/bin/python scripts/gen_countries.py --check  # exit 1 if the checked-in file differs

Two sources, kept apart in the output so each value's origin is visible:

* ``names``: the Unicode CLDR territory names in ar, fa, ur, en, fr, read through Babel
  (``babel.Locale(lang).territories``; Babel is a dev dependency, so nothing is fetched at run time).
  CLDR data is under the Unicode License v3 (worker/data/LICENSE.CLDR.unicode.txt). Babel keeps
  only CLDR's main name per territory (no ``alt="short"``/``"variant"``), so two mechanical
  variants are derived here: the head of a name before a parenthesis or comma ("Myanmar (Burma)"
  -> "Myanmar") and, in English, "&" -> "and" and "St." -> "Saint".
* ``extra_names`` and ``forms``: curated below (part of marsad, MIT): other names news uses
  (أمريكا، أميركا، بريطانيا، فلسطين ...), Arabic nisba adjectives with their feminine, plural and
  dual forms (irregular ones written out: أفغاني for أفغانستان, سعودي for السعودية, أمريكي/أميركي
  for الولايات المتحدة, plurals such as أتراك، مغاربة), English and French demonyms, and a few
  Persian/Urdu ones. Forms are listed bare: the matcher handles ال and the proclitics.

Not used, on purpose: the iso-codes translations (LGPL-2.1) and mledoze/countries (ODbL, whose
share-alike would extend to this file); CLDR plus the curated list cover what news writes.

The output is deterministic (sorted, one country per line) so a regeneration diff is readable;
tests/test_entities.py checks that this script reproduces the checked-in file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # worker.core.normalize, run from anywhere

LANGS = ("ar", "fa", "ur", "en", "fr")
OUT = Path(__file__).resolve().parent.parent / "worker" / "data" / "countries.json"

# CLDR's two-letter region codes that are not ISO 3166-1 countries: reserved or exceptional codes
# (Ascension, Clipperton, Sark, Diego Garcia, Ceuta & Melilla, Canary Islands, Tristan da Cunha),
# groupings (EU, eurozone, UN, outlying Oceania), pseudo-locales and "unknown". XK (Kosovo) is
# user-assigned rather than ISO, but CLDR, the EU and news all use it, so it is kept.
NOT_COUNTRIES = frozenset("AC CP CQ DG EA EU EZ IC QO TA UN XA XB ZZ".split())
EXTRA_COUNTRIES = frozenset({"XK"})

# Arabic nisba inflection: masculine singular, feminine, sound masculine plural (nominative and
# oblique), feminine plural, masculine and feminine duals. Applied to every word of a base, so
# "كوري جنوبي" gives "كورية جنوبية", "كوريون جنوبيون" ...
AR_SUFFIXES = ("", "ة", "ون", "ين", "ات", "ان", "تان", "تين")


@dataclass(frozen=True)
class Curated:
    """Curated forms for one country. Every string field is a "|"-separated list.

    nisba     Arabic masculine singular adjectives; inflected with AR_SUFFIXES.
    ar        Arabic forms written out (irregular plurals such as أتراك).
    en        English demonyms, as written (singular and plural).
    fr        French masculine singular demonyms; inflected by ``fr_forms``.
    fr_as_is  French forms written out (irregular: turc, turque, turcs, turques).
    fa, ur    Persian and Urdu demonyms, as written.
    names     other names by language, as written.
    """

    nisba: str = ""
    ar: str = ""
    en: str = ""
    fr: str = ""
    fr_as_is: str = ""
    fa: str = ""
    ur: str = ""
    names: dict[str, str] = field(default_factory=dict)


# The countries most present in Arabic news: the Arab League, the region around it, the powers
# and the countries whose names come up in conflict, migration and economy reporting. Left out on
# purpose (they would match ordinary words or other things): Mali's nisba مالي (= financial),
# Comoros' قمري (= lunar), Poland's "Polish"/"Pole", the Persian/Urdu چینی (also sugar in Urdu),
# and nisbas that in Arabic news mostly name an ethnic group rather than citizens (تركماني،
# طاجيكي، أوزبكي، أذري). Abbreviations that are words once case is folded (US -> "us", French
# EAU -> "eau") are never listed.
CURATED: dict[str, Curated] = {
    # --- the Arab League ---
    "AE": Curated(
        nisba="إماراتي",
        en="Emirati|Emiratis",
        fr="émirati|émirien",
        fa="اماراتی",
        names={"ar": "الإمارات", "en": "UAE|Emirates", "fr": "Émirats|Emirats arabes unis"},
    ),
    "BH": Curated(nisba="بحريني", en="Bahraini|Bahrainis", fr="bahreïnien|bahreïni", fa="بحرینی"),
    "DJ": Curated(nisba="جيبوتي", en="Djiboutian|Djiboutians", fr="djiboutien"),
    "DZ": Curated(
        nisba="جزائري",
        en="Algerian|Algerians",
        fr="algérien",
    ),
    "EG": Curated(
        nisba="مصري",
        en="Egyptian|Egyptians",
        fr="égyptien",
        fa="مصری",
    ),
    "IQ": Curated(nisba="عراقي", en="Iraqi|Iraqis", fr="irakien", fa="عراقی", ur="عراقی"),
    "JO": Curated(nisba="أردني", en="Jordanian|Jordanians", fr="jordanien", fa="اردنی"),
    "KM": Curated(names={"en": "Comoro Islands"}),
    "KW": Curated(nisba="كويتي", en="Kuwaiti|Kuwaitis", fr="koweïtien", fa="کویتی"),
    "LB": Curated(nisba="لبناني", en="Lebanese", fr="libanais", fa="لبنانی", ur="لبنانی", names={"fr": "Liban"}),
    "LY": Curated(nisba="ليبي", en="Libyan|Libyans", fr="libyen", fa="لیبیایی"),
    "MA": Curated(
        nisba="مغربي",
        ar="مغاربة",
        en="Moroccan|Moroccans",
        fr="marocain",
    ),
    "MR": Curated(nisba="موريتاني", en="Mauritanian|Mauritanians", fr="mauritanien"),
    "OM": Curated(nisba="عماني", en="Omani|Omanis", fr="omanais", fa="عمانی"),
    "PS": Curated(
        nisba="فلسطيني",
        en="Palestinian|Palestinians",
        fr="palestinien",
        fa="فلسطینی",
        ur="فلسطینی",
        names={
            "ar": "فلسطين",
            "fa": "فلسطین",
            "ur": "فلسطین",
            "en": "Palestine",
            "fr": "Palestine",
        },
    ),
    "QA": Curated(nisba="قطري", en="Qatari|Qataris", fr="qatari|qatarien", fa="قطری"),
    "SA": Curated(
        nisba="سعودي",
        en="Saudi|Saudis",
        fr="saoudien",
        fa="سعودی",
        ur="سعودی",
        names={
            "ar": "السعودية",
            "fa": "عربستان",
            "ur": "سعودیہ",
            "en": "KSA",
        },
    ),
    "SD": Curated(nisba="سوداني", en="Sudanese", fr="soudanais", fa="سودانی"),
    "SO": Curated(nisba="صومالي", en="Somali|Somalis|Somalian|Somalians", fr="somalien", fa="سومالیایی"),
    "SY": Curated(
        nisba="سوري",
        en="Syrian|Syrians",
        fr="syrien",
        fa="سوری",
    ),
    "TN": Curated(nisba="تونسي", en="Tunisian|Tunisians", fr="tunisien", fa="تونسی"),
    "YE": Curated(nisba="يمني", en="Yemeni|Yemenis", fr="yéménite", fa="یمنی"),
    # --- the region ---
    "AF": Curated(
        nisba="أفغاني",
        ar="أفغان",
        en="Afghan|Afghans",
        fr="afghan",
        fa="افغان|افغانستانی",
        ur="افغان|افغانی",
    ),
    "AM": Curated(nisba="أرميني", en="Armenian|Armenians", fr="arménien"),
    "AZ": Curated(
        nisba="أذربيجاني",
        en="Azerbaijani|Azerbaijanis",
        fr="azerbaïdjanais",
    ),
    "CY": Curated(nisba="قبرصي", en="Cypriot|Cypriots", fr="chypriote"),
    "ER": Curated(nisba="إريتري", en="Eritrean|Eritreans", fr="érythréen"),
    "ET": Curated(nisba="إثيوبي", en="Ethiopian|Ethiopians", fr="éthiopien"),
    "GE": Curated(nisba="جورجي", en="Georgian|Georgians", fr="géorgien"),
    "GR": Curated(nisba="يوناني", en="Greek|Greeks", fr_as_is="grec|grecque|grecs|grecques"),
    "IL": Curated(
        nisba="إسرائيلي",
        en="Israeli|Israelis",
        fr="israélien",
        fa="اسرائیلی",
        ur="اسرائیلی",
    ),
    "IN": Curated(
        nisba="هندي",
        ar="هنود",
        en="Indian|Indians",
        fr="indien",
        fa="هندی",
        ur="بھارتی",
        names={"fa": "هندوستان", "ur": "ہندوستان"},
    ),
    "IR": Curated(
        nisba="إيراني",
        en="Iranian|Iranians",
        fr="iranien",
        fa="ایرانی",
        ur="ایرانی",
    ),
    "KZ": Curated(nisba="كازاخستاني", en="Kazakhstani|Kazakhstanis", fr="kazakhstanais"),
    "PK": Curated(
        nisba="باكستاني",
        en="Pakistani|Pakistanis",
        fr="pakistanais",
        fa="پاکستانی",
        ur="پاکستانی",
    ),
    "SS": Curated(
        nisba="جنوب سوداني",
        en="South Sudanese",
        fr="sud-soudanais",
    ),
    "TR": Curated(
        nisba="تركي",
        ar="أتراك",
        en="Turkish|Turk|Turks",
        fr_as_is="turc|turque|turcs|turques",
        names={"fa": "ترکیه", "ur": "ترکی", "en": "Turkey|Turkiye"},
    ),
    # --- the powers and the rest of the world ---
    "AR": Curated(nisba="أرجنتيني", en="Argentine|Argentines|Argentinian|Argentinians", fr="argentin"),
    "AT": Curated(nisba="نمساوي", en="Austrian|Austrians", fr="autrichien"),
    "AU": Curated(nisba="أسترالي", en="Australian|Australians", fr="australien"),
    "BD": Curated(nisba="بنغلاديشي", en="Bangladeshi|Bangladeshis", fr="bangladais", ur="بنگلہ دیشی"),
    "BE": Curated(nisba="بلجيكي", en="Belgian|Belgians", fr="belge"),
    "BR": Curated(nisba="برازيلي", en="Brazilian|Brazilians", fr="brésilien"),
    "BY": Curated(nisba="بيلاروسي", en="Belarusian|Belarusians", fr="biélorusse", names={"ar": "روسيا البيضاء"}),
    "CA": Curated(nisba="كندي", en="Canadian|Canadians", fr="canadien"),
    "CD": Curated(
        names={
            "ar": "الكونغو الديمقراطية",
            "en": "Democratic Republic of the Congo|DR Congo|DRC",
            "fr": "République démocratique du Congo|RDC",
        }
    ),
    "CH": Curated(nisba="سويسري", en="Swiss", fr="suisse"),
    "CN": Curated(
        nisba="صيني",
        en="Chinese",
        fr="chinois",
    ),
    "CU": Curated(nisba="كوبي", en="Cuban|Cubans", fr="cubain"),
    "CZ": Curated(
        nisba="تشيكي",
        en="Czech|Czechs",
        fr="tchèque",
        names={"ar": "تشيكيا"},
    ),
    "DE": Curated(nisba="ألماني", ar="ألمان", en="German|Germans", fr="allemand", fa="آلمانی", ur="جرمن"),
    "DK": Curated(nisba="دنماركي|دانماركي", en="Danish|Dane|Danes", fr="danois", names={"ar": "الدنمارك"}),
    "ES": Curated(nisba="إسباني", ar="إسبان", en="Spanish|Spaniard|Spaniards", fr="espagnol"),
    "FI": Curated(nisba="فنلندي", en="Finnish|Finn|Finns", fr="finlandais"),
    "FR": Curated(
        nisba="فرنسي",
        en="French|Frenchman|Frenchwoman",
        fr="français",
        fa="فرانسوی",
        ur="فرانسیسی",
    ),
    "GB": Curated(
        nisba="بريطاني",
        en="British|Briton|Britons",
        fr="britannique",
        fa="بریتانیایی",
        ur="برطانوی",
        names={
            "ar": "بريطانيا",
            "fa": "انگلیس|انگلستان",
            "en": "Britain|UK",
            "fr": "Grande-Bretagne",
        },
    ),
    "HK": Curated(names={"ar": "هونغ كونغ", "fa": "هنگ کنگ", "ur": "ہانگ کانگ", "en": "Hong Kong", "fr": "Hong Kong"}),
    "ID": Curated(nisba="إندونيسي", en="Indonesian|Indonesians", fr="indonésien"),
    "IE": Curated(nisba="أيرلندي", en="Irish", fr="irlandais"),
    "IT": Curated(nisba="إيطالي", en="Italian|Italians", fr="italien", fa="ایتالیایی"),
    "JP": Curated(nisba="ياباني", en="Japanese", fr="japonais", fa="ژاپنی", ur="جاپانی"),
    "KP": Curated(
        nisba="كوري شمالي",
        en="North Korean|North Koreans",
        fr="nord-coréen",
        names={
            "en": "DPRK|Democratic People's Republic of Korea",
            "fr": "République populaire démocratique de Corée",
        },
    ),
    "KR": Curated(nisba="كوري جنوبي", en="South Korean|South Koreans", fr="sud-coréen"),
    "LK": Curated(nisba="سريلانكي", en="Sri Lankan|Sri Lankans", fr="sri-lankais"),
    "MM": Curated(
        nisba="ميانماري",
        en="Burmese",
        fr="birman",
        names={"ar": "بورما", "fa": "برمه", "ur": "برما", "en": "Burma", "fr": "Birmanie"},
    ),
    "MO": Curated(names={"ar": "ماكاو", "ur": "مکاؤ", "en": "Macao|Macau", "fr": "Macao"}),
    "MX": Curated(nisba="مكسيكي", en="Mexican|Mexicans", fr="mexicain"),
    "MY": Curated(nisba="ماليزي", en="Malaysian|Malaysians", fr="malaisien"),
    "NG": Curated(nisba="نيجيري", en="Nigerian|Nigerians", fr="nigérian"),
    "NL": Curated(nisba="هولندي", en="Dutch", fr="néerlandais", names={"en": "Holland", "fr": "Hollande"}),
    "NO": Curated(nisba="نرويجي", en="Norwegian|Norwegians", fr="norvégien"),
    "NP": Curated(nisba="نيبالي", en="Nepali|Nepalese", fr="népalais"),
    "PH": Curated(nisba="فلبيني", en="Filipino|Filipinos|Filipina", fr="philippin", names={"ar": "الفليبين"}),
    "PT": Curated(nisba="برتغالي", en="Portuguese", fr="portugais"),
    "RU": Curated(
        nisba="روسي",
        ar="روس",
        en="Russian|Russians",
        fr="russe",
        fa="روسی",
        ur="روسی",
    ),
    "SE": Curated(nisba="سويدي", en="Swedish|Swede|Swedes", fr="suédois"),
    "SG": Curated(nisba="سنغافوري", en="Singaporean|Singaporeans", fr="singapourien"),
    "SN": Curated(nisba="سنغالي", en="Senegalese", fr="sénégalais"),
    "TD": Curated(nisba="تشادي", en="Chadian|Chadians", fr="tchadien"),
    "TH": Curated(nisba="تايلاندي|تايلندي", en="Thai|Thais", fr="thaïlandais"),
    "TW": Curated(nisba="تايواني", en="Taiwanese", fr="taïwanais"),
    "UA": Curated(nisba="أوكراني", en="Ukrainian|Ukrainians", fr="ukrainien", fa="اوکراینی"),
    "US": Curated(
        nisba="أمريكي|أميركي",
        ar="أمريكان|أميركان",
        en="American|Americans",
        fr="américain",
        fa="آمریکایی",
        ur="امریکی",
        names={
            "ar": "أمريكا|أميركا",
            "fa": "آمریکا",
            "ur": "امریکہ|امریکا",
            "en": "USA",
            "fr": "Etats-Unis",
        },
    ),
    "VA": Curated(
        nisba="فاتيكاني",
        names={"ar": "الكرسي الرسولي", "en": "Vatican|Holy See", "fr": "Vatican|Saint-Siège"},
    ),
    "VE": Curated(nisba="فنزويلي", en="Venezuelan|Venezuelans", fr="vénézuélien"),
    "VN": Curated(nisba="فيتنامي", en="Vietnamese", fr="vietnamien", names={"en": "Viet Nam"}),
}


def split(value: str) -> list[str]:
    return [v.strip() for v in value.split("|") if v.strip()]


def ar_forms(base: str) -> list[str]:
    words = base.split()
    return [" ".join(w + suffix for w in words) for suffix in AR_SUFFIXES]


def fr_forms(masc: str) -> list[str]:
    """Masculine singular, feminine singular, masculine plural, feminine plural."""
    if masc.endswith("e"):  # belge, russe, suisse: one form per number
        return [masc, masc + "s"]
    if masc.endswith(("s", "x")):  # français, chinois: the plural is the singular
        return [masc, masc + "e", masc + "es"]
    if masc.endswith("en"):  # iranien, iranienne
        return [masc, masc + "ne", masc + "s", masc + "nes"]
    return [masc, masc + "e", masc + "s", masc + "es"]


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def cldr_variants(lang: str, name: str) -> list[str]:
    """The CLDR name, its head before a parenthesis or a comma, and English spelled-out forms."""
    out = [name]
    head = re.split(r"\s*[(،,]", name, maxsplit=1)[0].strip()
    if head and head != name:
        out.append(head)
    if lang == "en":
        out += [n.replace(" & ", " and ").replace("St. ", "Saint ") for n in out]
    return unique(out)


def curated_forms(c: Curated) -> list[str]:
    forms = [f for base in split(c.nisba) for f in ar_forms(base)]
    forms += split(c.ar) + split(c.fa) + split(c.ur) + split(c.en)
    forms += [f for masc in split(c.fr) for f in fr_forms(masc)] + split(c.fr_as_is)
    return unique(forms)


@dataclass
class Entry:
    """One country while it is built: CLDR names (with derived variants), curated names, forms."""

    names: dict[str, list[str]]
    extra_names: dict[str, list[str]] = field(default_factory=dict)
    forms: list[str] = field(default_factory=list)

    def surfaces(self) -> list[str]:
        names = [n for v in self.names.values() for n in v]
        return names + [n for v in self.extra_names.values() for n in v] + self.forms

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"names": self.names}
        if self.extra_names:
            out["extra_names"] = self.extra_names
        if self.forms:
            out["forms"] = self.forms
        return out


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    n = len(part)
    return 0 < n < len(words) and any(words[i : i + n] == part for i in range(len(words) - n + 1))


def _owners(countries: dict[str, Entry]) -> dict[tuple[str, ...], set[str]]:
    from worker.core.normalize import fold_words

    owners: dict[tuple[str, ...], set[str]] = {}
    for code, entry in countries.items():
        for s in entry.surfaces():
            owners.setdefault(fold_words(s), set()).add(code)
    return owners


def _check(countries: dict[str, Entry], derived: set[tuple[str, str]]) -> None:
    """A derived variant that another country also has is dropped ("Saint-Martin (partie
    néerlandaise)" -> "Saint-Martin" is the name of MF). Any other name or form shared by two
    countries fails the build, and so does a curated name that adds nothing: one that folds to
    another name in its language, or contains another name or form of its country (the shorter
    one already matches wherever the longer one would)."""
    from worker.core.normalize import fold_words

    shared = {folded for folded, codes in _owners(countries).items() if len(codes) > 1}
    for code, entry in countries.items():
        for lang, values in entry.names.items():
            entry.names[lang] = [n for n in values if (code, n) not in derived or fold_words(n) not in shared]
    problems = [
        f"{' '.join(folded)!r} is a name or form of several countries: {', '.join(sorted(codes))}"
        for folded, codes in _owners(countries).items()
        if len(codes) > 1
    ]
    for code, entry in countries.items():
        own = {fold_words(s) for s in entry.surfaces()}
        for lang, values in entry.extra_names.items():
            for name in values:
                folded = fold_words(name)
                same_lang = [n for n in entry.names.get(lang, []) + values if n != name]
                if folded in {fold_words(n) for n in same_lang} or any(_contains(folded, o) for o in own):
                    problems.append(f"{code}: the curated name {name!r} adds nothing to the country's names")
    if problems:
        raise SystemExit("\n".join(problems))


def build() -> dict[str, object]:
    import babel
    from babel import Locale
    from babel.core import get_cldr_version

    territories = {lang: {str(k): str(v) for k, v in Locale(lang).territories.items()} for lang in LANGS}
    codes = sorted(
        code
        for code in territories["en"]
        if (len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES) or code in EXTRA_COUNTRIES
    )
    unknown = sorted(set(CURATED) - set(codes))
    if unknown:
        raise SystemExit(f"curated entries for unknown codes: {unknown}")
    countries: dict[str, Entry] = {}
    derived: set[tuple[str, str]] = set()
    for code in codes:
        entry = Entry({lang: cldr_variants(lang, territories[lang][code]) for lang in LANGS})
        derived |= {(code, n) for values in entry.names.values() for n in values[1:]}
        if (c := CURATED.get(code)) is not None:
            extra = {lang: [n for n in split(c.names.get(lang, "")) if n not in entry.names[lang]] for lang in LANGS}
            entry.extra_names = {lang: v for lang, v in extra.items() if v}
            entry.forms = curated_forms(c)
        countries[code] = entry
    _check(countries, derived)
    meta = {
        "what": "the built-in gazetteer of marsad entities: one entity per country, id = ISO 3166-1 alpha-2",
        "generator": "scripts/gen_countries.py (do not edit this file by hand; edit the script and rerun it)",
        "sources": {
            "names": {
                "source": "Unicode CLDR territory names (babel.Locale(lang).territories)",
                "babel": babel.__version__,
                "cldr": str(get_cldr_version()),
                "licence": "Unicode License v3",
                "licence_file": "LICENSE.CLDR.unicode.txt",
            },
            "extra_names, forms": {
                "source": "curated in scripts/gen_countries.py",
                "licence": "MIT (marsad)",
            },
        },
        "languages": list(LANGS),
        "countries": len(countries),
    }
    return {"_meta": meta, "countries": {code: entry.to_json() for code, entry in countries.items()}}


def render(data: dict[str, object]) -> str:
    """JSON with one country per line: reviewable diffs, still plain JSON."""
    countries = data["countries"]
    assert isinstance(countries, dict)
    meta = json.dumps(data["_meta"], ensure_ascii=False, indent=1)
    lines = [f"  {json.dumps(code)}: {json.dumps(entry, ensure_ascii=False)}" for code, entry in countries.items()]
    return '{"_meta": ' + meta + ',\n "countries": {\n' + ",\n".join(lines) + "\n }\n}\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--check", action="store_true", help="exit 1 if the checked-in file is not what this script writes")
    p.add_argument("--out", type=Path, default=OUT, help=f"output file (default: {OUT})")
    args = p.parse_args(argv)
    text = render(build())
    if args.check:
        same = args.out.exists() and args.out.read_text("utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'out of date; rerun scripts/gen_countries.py'}")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
