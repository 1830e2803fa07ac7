"""Build tests/data/dedup/ (the committed story evaluation data, issue 5) from ../shared/data.

What may be copied, per ../shared/data/README.md: NewsFANE (CC BY-SA 3.0) and the Jawhara FM
reference texts (Apache-2.0), each with its licence. The ANT corpus is never copied: the
evaluation reads it in place (bench/dedup.py).

NewsFANE is ANERcorp's newswire text re-annotated, one token per line, with clitics split off
(``و الصادرات``, ``ان ه``) and no article boundaries. This script re-attaches the clitics, puts
punctuation back against its word, and cuts the sentences into passages of 90-220 words; each
passage keeps the named entities its annotation marks (for the same-topic negatives). Nothing
else is changed. Run: .venv/bin/python scripts/build_dedup_data.py
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "data" / "dedup"
PROCLITICS = {"و", "ف", "ب", "ل", "ك"}
ENCLITICS = {"ه", "ها", "هم", "هما", "هن", "كم", "كما", "كن", "نا", "ني", "ي"}
CLOSE = {".", "،", ",", ":", "؛", ";", "؟", "?", "!", ")", "%"}
OPEN = {"("}
MIN_WORDS, MAX_WORDS, PASSAGES = 90, 220, 80


def sentences(path: Path) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for raw in path.read_text(encoding="utf-8-sig").replace("\r", "").split("\n"):
        token, _, tag = raw.replace("\u200e", "").partition("\t")
        if not token.strip():
            if current:
                out.append(current)
            current = []
            continue
        current.append((token.strip(), tag.strip()))
    if current:
        out.append(current)
    return out


def detokenize(tokens: list[str]) -> str:
    words: list[str] = []
    glue_next = False
    quote_open = False
    for tok in tokens:
        if words and (tok in ENCLITICS or tok in CLOSE):
            words[-1] += tok
            continue
        if tok == '"':
            if quote_open and words:
                words[-1] += tok
            else:
                words.append(tok)
                glue_next = True
            quote_open = not quote_open
            continue
        if glue_next and words and (len(tok) > 1 or words[-1] in OPEN):
            words[-1] += tok
        else:
            words.append(tok)
        glue_next = tok in PROCLITICS or tok in OPEN
    return re.sub(r"\s+", " ", " ".join(words)).strip()


def entities(sentence: list[tuple[str, str]]) -> list[str]:
    found: list[str] = []
    current: list[str] = []
    for token, tag in sentence:
        if tag.startswith("B-"):
            if current:
                found.append(" ".join(current))
            current = [token]
        elif tag.startswith("I-") and current:
            current.append(token)
        else:
            if current:
                found.append(" ".join(current))
            current = []
    if current:
        found.append(" ".join(current))
    return found


def newsfane() -> None:
    src = SHARED / "ner"
    dest = OUT / "newsfane"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("LICENSE.NewsFANE_CC-BY-SA-3.0.txt", "README.NewsFANE.txt"):
        shutil.copyfile(src / name, dest / name)
    passages = []
    lines: list[str] = []
    ents: list[str] = []
    for sent in sentences(src / "NewsFANE_Gold_2014_170K.txt"):
        text = detokenize([t for t, _ in sent])
        lines.append(text)
        ents += entities(sent)
        words = sum(len(x.split()) for x in lines)
        if words >= MIN_WORDS:
            if words <= MAX_WORDS:
                passages.append({"id": f"newsfane-{len(passages) + 1:03d}", "text": " ".join(lines), "entities": ents})
            lines, ents = [], []
            if len(passages) == PASSAGES:
                break
    with (dest / "passages.jsonl").open("w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")


def jawhara() -> None:
    src = SHARED / "html_articles" / "jawharafm_antcrawler"
    dest = OUT / "jawharafm"
    dest.mkdir(parents=True, exist_ok=True)
    licence = "LICENSE.RSSCrawlerArabicCorpus.Apache-2.0.txt"
    shutil.copyfile(src / licence, dest / licence)
    for path in sorted(src.glob("*.txt")):
        if not path.name.startswith("LICENSE"):
            shutil.copyfile(path, dest / path.name)


if __name__ == "__main__":
    newsfane()
    jawhara()
    print(f"wrote {OUT}")
