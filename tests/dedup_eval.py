"""The story evaluation of issue 5, on real Arabic news text.

Positive pairs are real articles and a realistic edit of each (``EDITS``): a new headline,
boilerplate added (a dateline on top, promotion lines at the end), a paragraph added at the end
or a sentence in the middle (taken from another real article), a paragraph dropped, a teaser
carrying the first half of the article, and an aggregator's copy with the seed fixture's
artifacts (``[ad_1]`` markers, the title repeated, a trailing credit, tracking parameters).

Negative pairs are distinct real articles on the same topic: in the ANT corpus, articles
published on the same day whose content words are close (TF-IDF cosine >= 0.2) but whose leads
(first 30 words) share no 5-word sequence, i.e. whose news differs even where the background
paragraphs are shared; in the committed data, neighbouring NewsFANE passages naming the same
people and places, and the Jawhara FM articles of one day.

Everything runs through ``marsad stories`` (``worker.backtest``) as one stream in time order
(the base articles, their edits, and in ANT the whole week around them), and each labelled pair
is scored: one story or two. Used by tests/test_dedup_eval.py (committed data, on every
``make test``) and bench/dedup.py (also ANT, read in place from ../shared/data).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from worker.backtest import Backtest, Index
from worker.cli_common import InputArticle
from worker.core.clean import clean_text, clean_title
from worker.core.dates import parse_date
from worker.core.normalize import fold_words

DATA = Path(__file__).parent / "data"
DEDUP = DATA / "dedup"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
ANT = SHARED / "ant_multisource" / "ant_2018-05-07_to_11.jsonl"
EDITS = ("retitled", "boilerplate", "extra_paragraph", "extra_sentence", "dropped_paragraph", "teaser", "aggregator")
# Realistic lines around a syndicated article (some the cleaner removes, some it keeps).
DATELINES = ("أبوظبي - سكاي نيوز عربية", "القاهرة - (رويترز) -", "دبي - العربية.نت", "بيروت (أ ف ب)")
PROMOS = (
    "تابعونا على فيسبوك وتويتر",
    "حمّل تطبيق الأخبار على هاتفك المحمول لتصلك آخر الأخبار العاجلة أولاً بأول",
    "جميع الحقوق محفوظة للناشر",
    "لمتابعة آخر الأخبار اشترك في نشرتنا البريدية اليومية واحصل على أهم العناوين كل صباح",
    "الآراء الواردة في التعليقات تعبر عن آراء أصحابها وليس عن رأي الموقع",
)
OUTLETS = ("outlet-a", "outlet-b", "outlet-c", "aggregator")
_SENTENCE = re.compile(r"(?<=[.!?؟])\s+")


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str
    url: str
    source: str
    published: float

    def line(self) -> str:
        obj = {"id": self.id, "title": self.title, "text": self.text, "url": self.url, "source": self.source}
        return json.dumps({**obj, "published": self.published}, ensure_ascii=False)


@dataclass(frozen=True)
class Pair:
    kind: str  # an edit, or "distinct" for a negative
    a: str
    b: str

    @property
    def same(self) -> bool:
        return self.kind != "distinct"


@dataclass
class Corpus:
    name: str
    docs: list[Doc]  # in stream order
    pairs: list[Pair]
    titles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    tp: int
    fn: int
    fp: int
    tn: int
    recall_by_kind: dict[str, tuple[int, int]]  # kind -> (same, total)
    false_positives: list[Pair]
    false_negatives: list[Pair]

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def summary(self) -> dict[str, object]:
        return {
            "pairs": self.tp + self.fn + self.fp + self.tn,
            "positives": self.tp + self.fn,
            "negatives": self.fp + self.tn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "recall_by_kind": {k: f"{s}/{n}" for k, (s, n) in sorted(self.recall_by_kind.items())},
        }


def units(text: str) -> tuple[list[str], str]:
    """Paragraphs when there are at least three, else sentences; and the joiner to rebuild."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    if len(paragraphs) >= 3:
        return paragraphs, "\n"
    return [s.strip() for s in _SENTENCE.split(" ".join(paragraphs)) if s.strip()], " "


def _teaser(parts: list[str], joiner: str) -> str | None:
    total = len(joiner.join(parts).split())
    for n in range(1, len(parts)):
        if len(joiner.join(parts[:n]).split()) >= total / 2:
            return joiner.join(parts[:n])
    return None


def _donated(doc: Doc, donors: Sequence[Doc], share: float, rng: random.Random) -> str:
    """A paragraph (or sentence) of another real article, at most ``share`` of ``doc``'s words:
    the kind of update or aside an editor adds, not a second article."""
    limit = share * _words(doc.text)
    for donor in rng.sample(list(donors), len(donors)):
        if donor.id == doc.id:
            continue
        fits = [u for u in units(donor.text)[0] if 8 <= _words(u) <= limit]
        if fits:
            return max(fits, key=_words)
    raise ValueError(f"no donor text fits {doc.id}")


def edit(doc: Doc, kind: str, donors: Sequence[Doc], rng: random.Random) -> Doc | None:
    """``doc`` edited as ``kind`` (other real articles, ``donors``, lend added text), or None
    when the article is too short for that edit. Only a teaser may come before the article."""
    parts, joiner = units(doc.text)
    title, text = doc.title, doc.text
    if kind == "retitled":
        title = "عاجل | " + " ".join(parts[0].split()[:8])
    elif kind == "boilerplate":
        text = "\n".join([rng.choice(DATELINES), doc.text, *rng.sample(PROMOS, 2)])
    elif kind == "extra_paragraph":
        text = joiner.join([*parts, _donated(doc, donors, 0.35, rng)])
    elif kind == "extra_sentence":
        middle = max(1, len(parts) // 2)
        text = joiner.join([*parts[:middle], _donated(doc, donors, 0.2, rng), *parts[middle:]])
    elif kind == "dropped_paragraph":
        small = [i for i in range(1, len(parts)) if _words(parts[i]) <= 0.25 * _words(doc.text)]
        if len(parts) < 3 or not small:
            return None
        drop = rng.choice(small)
        text = joiner.join(parts[:drop] + parts[drop + 1 :])
    elif kind == "teaser":
        teaser = _teaser(parts, joiner)
        if teaser is None:
            return None
        text = teaser
    elif kind == "aggregator":
        body = "\n[ad_1]\n".join(parts) if joiner == "\n" else doc.text
        text = f"{doc.title}\n[ad_1]\n{body}\n[ad_2]\nالمصدر: {doc.source}"
    else:
        raise ValueError(kind)
    n = rng.randrange(10**6)
    url = f"https://{'agg.example.net' if kind == 'aggregator' else 'news.example.org'}/{kind}/{n}?utm_source=rss"
    when = doc.published + rng.uniform(-2 if kind == "teaser" else 0.01, 4) * 3600
    source = rng.choice([o for o in OUTLETS if o != doc.source])
    return Doc(f"{doc.id}~{kind}", title, text, url, source, when)


def build(name: str, bases: Sequence[Doc], donors: Sequence[Doc], negatives: Iterable[tuple[str, str]],
          background: Sequence[Doc] = (), seed: int = 5) -> Corpus:  # fmt: skip
    """The stream (bases, their edits and the background articles, by time) and its pairs."""
    rng = random.Random(seed)
    docs = {d.id: d for d in (*background, *bases)}
    pairs = []
    for base in bases:
        for kind in EDITS:
            variant = edit(base, kind, donors, rng)
            if variant is not None:
                docs[variant.id] = variant
                pairs.append(Pair(kind, base.id, variant.id))
    pairs += [Pair("distinct", a, b) for a, b in negatives]
    stream = sorted(docs.values(), key=lambda d: (d.published, d.id))
    return Corpus(name, stream, pairs, {d.id: d.title for d in stream})


def score(corpus: Corpus, stories: dict[str, str]) -> Result:
    tp = fn = fp = tn = 0
    by_kind: dict[str, list[int]] = {}
    fps, fns = [], []
    for pair in corpus.pairs:
        same = stories[pair.a] == stories[pair.b]
        if pair.same:
            tally = by_kind.setdefault(pair.kind, [0, 0])
            tally[0] += same
            tally[1] += 1
            tp += same
            fn += not same
            if not same:
                fns.append(pair)
        else:
            fp += same
            tn += not same
            if same:
                fps.append(pair)
    return Result(tp, fn, fp, tn, {k: (v[0], v[1]) for k, v in by_kind.items()}, fps, fns)


def run(corpus: Corpus, assign: Callable[[Sequence[Doc]], dict[str, str]]) -> Result:
    return score(corpus, assign(corpus.docs))


# --- the committed data -------------------------------------------------------------------


def _ant_format(path: Path) -> tuple[str, str]:
    raw = path.read_text(encoding="utf-8")
    title = re.search(r"<TITLE>(.*?)</TITLE>", raw, re.S)
    text = re.search(r"<TEXT>(.*?)</TEXT>", raw, re.S)
    return (title.group(1).strip() if title else ""), (text.group(1).strip() if text else "")


def _words(text: str) -> int:
    return len(text.split())


def committed() -> Corpus:
    """The committed corpus: NewsFANE passages (CC BY-SA 3.0), the Jawhara FM articles
    (Apache-2.0), CNN Arabic's article (MIT) and the seed article."""
    day = parse_date("2017-03-02T12:00:00Z") or 0.0
    jawhara = []
    for i, path in enumerate(sorted((DEDUP / "jawharafm").glob("JA-*.txt"))):
        title, text = _ant_format(path)
        jawhara.append(Doc(path.stem, title, text, f"https://jawharafm.example/{path.stem}", "jawharafm", day + 60 * i))
    passages = [json.loads(x) for x in (DEDUP / "newsfane" / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
    newsfane = [
        Doc(p["id"], "", p["text"], f"https://newsfane.example/{p['id']}", "newsfane", day + 600 * i)
        for i, p in enumerate(passages)
    ]
    cnn = (DATA / "pages" / "cnn_arabic" / "arabic.txt").read_text(encoding="utf-8")
    seed = (DATA / "seed-article-ar.txt").read_text(encoding="utf-8")
    extra = [
        Doc("cnn-arabic", "", cnn, "https://arabic.cnn.com/2013/syria", "cnn", day),
        Doc("seed", seed.splitlines()[0], seed, "https://news.example.com/seed", "seed", day),
    ]
    bases = [d for d in jawhara if _words(d.text) >= 80] + extra + newsfane[::4]
    negatives = list(_entity_neighbours(passages))
    shared, pairs = _shared_background(newsfane, negatives)
    negatives += pairs
    negatives += [(a.id, b.id) for i, a in enumerate(jawhara) for b in jawhara[i + 1 :] if a.id[-8:] == b.id[-8:]]
    background = [*jawhara, *newsfane, *shared]
    return build("committed", bases, [*jawhara, *newsfane, *extra], negatives, background=background)


def _shared_background(
    passages: Sequence[Doc], neighbours: Sequence[tuple[str, str]]
) -> tuple[list[Doc], list[tuple[str, str]]]:
    """Two different leads on one topic over the same background paragraphs, as outlets write
    successive stories of a crisis (the news of the day, then the recap of the war so far): the
    hardest negatives for text similarity, only the leads differ."""
    by_id = {d.id: d for d in passages}
    docs, pairs = [], []
    for a, c in neighbours[::3]:
        i = next(k for k, d in enumerate(passages) if d.id == c)
        recap = passages[i + 1 : i + 3]
        if len(recap) < 2:
            continue
        # the recap quotes the neighbours' bodies, not their leads: no article of the stream
        # is contained whole in it (that would make both an update of that article)
        background = "\n".join(d.text[len(_lead_sentences(d.text)) :].strip() for d in recap)
        x, y = (_lead_sentences(by_id[a].text), _lead_sentences(by_id[c].text))
        when = max(by_id[a].published, by_id[c].published) + 3600
        for name, lead, source, at in ((a, x, "outlet-a", when), (c, y, "outlet-b", when + 60)):
            url = f"https://news.example.org/{name}-r"
            docs.append(Doc(f"{name}+recap", "", f"{lead}\n{background}", url, source, at))
        pairs.append((f"{a}+recap", f"{c}+recap"))
    return docs, pairs


def _lead_sentences(text: str) -> str:
    """The first sentences of a text, at least 25 words."""
    out: list[str] = []
    for sentence in _SENTENCE.split(text):
        out.append(sentence)
        if _words(" ".join(out)) >= 25:
            break
    return " ".join(out)


def _entity_neighbours(passages: list[dict[str, object]]) -> Iterable[tuple[str, str]]:
    """Passages at most three apart that name at least one person, place or body in common:
    the same topic, different sentences."""
    for i, a in enumerate(passages):
        for b in passages[i + 1 : i + 4]:
            if set(a["entities"]) & set(b["entities"]):  # type: ignore[call-overload]
                yield str(a["id"]), str(b["id"])


# --- the ANT corpus (read in place, never copied) -----------------------------------------


def ant(path: Path = ANT, bases: int = 60, negatives: int = 300, seed: int = 7) -> Corpus:
    """The ANT week: every article, in time order, plus edits of ``bases`` of them, and up to
    ``negatives`` same-day pairs of distinct reports on one topic (see the module docstring)."""
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    docs = []
    for r in rows:
        when = parse_date(r["pub_date_iso"]) or 0.0
        docs.append(Doc(r["docno"], r["title"], r["text"], r["url"], r["source"], when))
    folded = {d.id: fold_words(clean_text(d.text, is_html=False, title=clean_title(d.title))) for d in docs}
    by_body: dict[tuple[str, ...], Doc] = {}
    for d in docs:
        by_body.setdefault(folded[d.id], d)
    distinct = [d for d in by_body.values() if len(folded[d.id]) >= 80]
    rng = random.Random(seed)
    chosen = rng.sample(distinct, bases)
    return build("ant", chosen, distinct, _same_day_distinct(distinct, folded, negatives), background=docs, seed=seed)


def _same_day_distinct(docs: Sequence[Doc], folded: dict[str, tuple[str, ...]], limit: int) -> list[tuple[str, str]]:
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(folded[d.id]))
    n = len(docs)
    vectors = {}
    for d in docs:
        tf = Counter(w for w in folded[d.id] if len(w) > 2)
        v = {w: c * math.log(n / df[w]) for w, c in tf.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors[d.id] = {w: x / norm for w, x in v.items()}
    leads = {d.id: _grams(folded[d.id][:30], 5) for d in docs}
    scored = []
    for i, a in enumerate(docs):
        for b in docs[i + 1 :]:
            if abs(a.published - b.published) > 86400 or leads[a.id] & leads[b.id]:
                continue
            va, vb = vectors[a.id], vectors[b.id]
            cosine = sum(x * vb.get(w, 0.0) for w, x in va.items())
            if cosine >= 0.2:
                scored.append((cosine, a.id, b.id))
    scored.sort(reverse=True)
    return [(a, b) for _, a, b in scored[:limit]]


def _grams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def stories(docs: Sequence[Doc], index: Index) -> dict[str, str]:
    """Each doc's story, through ``marsad stories``'s code (``worker.backtest``)."""
    backtest = Backtest(index, 0.0, {})
    stories = {}
    for d in docs:
        article = InputArticle(d.id, d.title, d.text, d.url, d.source, None, d.published)
        stories[d.id] = backtest.assign(article)["story"]
    return stories
