"""The abstention gate: decide from retrieval evidence whether the corpus holds the answer.

A small logistic regression (coefficients and operating point in assistant/fitted.json,
fitted out-of-fold by bench/fit.py) weighs three counts of the question's constraint terms
(years and periods, capitalised names, acronyms, codes such as "H-2B") that what was retrieved
never mentions: a near-miss question asks about a year, place or body the library does not
cover, and its best passages, however close in wording, never name it.
- names missing from every candidate retrieved (the library has nothing on that place or body),
- years and periods missing from the passages an answer would draw on (the year asked for is
  outside what they cover),
- names missing from those passages.
Counts are scale-free: a six-document store reads as the whole corpus does. Scores (cosines,
margins, whether a figure asked for is found) are computed too, so bench/fit.py can test them;
the model uses only the features it was fitted with (fitted.json names them).
When it abstains, `abstain_reason` says why in words a reader can check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from core.text import all_stopwords, cited_numbers, normalise_number, numbers, strip_markers
from core.types import Chunk, Hit

from .compose import wants_number
from .fitted import FITTED, AbstainModel

FEATURES = ("pool_missing_names", "missing_years", "missing_names")
"""The features bench/fit.py fits by default. Measured out-of-fold (bench/fit.py --features, 195
gold questions): these three give abstention F1 0.576 with 3.3% of answerable questions refused;
counting every number instead of years only, 0.543 with 5.9% refused (an age or an article number
the answer need not repeat); adding the best dense cosine, the dense or keyword margin, the
numbers or years missing from the whole pool, or "a figure asked for and none found" never
raised F1; the six features before this set gave 0.484."""
CANDIDATE_FEATURES = ("dense_best", "dense_margin", "keyword_margin", "pool_missing_numbers", "pool_missing_names",
                      "missing_numbers", "missing_names", "missing_years", "pool_missing_years", "number_missing",
                      "answer_missing_years", "answer_missing_numbers", "answer_missing_names")
ANSWER_FEATURES = frozenset(f for f in CANDIDATE_FEATURES if f.startswith("answer_"))
"""Features read from the sentences the answer would quote (`answer_text`), not from whole passages."""
# No language feature: the gold sets hold no unanswerable question that is not in English, so a
# fitted language weight would only learn "always answer those". Instead a question not in
# English is held to its language-neutral terms (numbers, codes with a digit; `language_neutral`),
# and only to those nothing retrieved mentions.

_NAME = re.compile(r"[^\W\d_][\w'’]*")
_YEAR = r"(?:1[6-9]|20)\d\d"
# Months are part of a date, not names: the year beside them carries the constraint.
_MONTHS = frozenset(("january", "february", "march", "april", "may", "june", "july", "august", "september",
                     "october", "november", "december"))
_AROUND = rf"(?:mid-|early\s+|late\s+|(?:{'|'.join(sorted(_MONTHS))})\s+)?"
# A period: "2015-2017", "2018–19", "2015/16", "2015 to 2017", "between 2015 and mid-2017",
# "January 2020 to August 2022", "the 2000s".
_RANGE = re.compile(
    rf"(?<![\d.,])(?:between\s+{_AROUND}({_YEAR})\s+and\s+{_AROUND}(\d{{4}})"
    rf"|(?:from\s+)?{_AROUND}({_YEAR})(?:\s*[-–—/]\s*|\s+(?:to|until|till|through)\s+){_AROUND}(\d{{4}}|\d{{2}})"
    rf"|((?:1[6-9]|20)\d)0['’]?s\b)(?![\d.,]?\d)", re.IGNORECASE)
# A code: letters and digits joined by a hyphen ("H-2B", "COVID-19", "ST-VOI"), or one capital
# letter joined to a word ("T-visa"): one term, never split into "H" and "2B".
_CODE = re.compile(r"(?<![\w-])(?:[A-Z][A-Za-z]{0,5}-\d+[A-Za-z]?|[A-Z]{1,6}-[A-Z0-9]{1,6}|[A-Z]-[a-z]{2,})(?![\w-])")
# A run of capitalised words, with the small words a name holds ("Department of Homeland Security").
_NAME_RUN = re.compile(r"(?:[A-Z][\w'’-]*(?:\s+(?:of|and|for|the|on|against|in|&)\s+|\s+)?)+")
_NUMBER_TERM = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")
# Endings of plurals and demonyms ("Nigerians", "Syrian", "Burmese", "Uzbek" from "Uzbekistan").
_ENDINGS = ("aians", "aian", "istan", "stan", "ians", "ans", "ese", "ish", "ian", "ia", "an", "ey", "is",
            "ns", "es", "i", "n", "s", "a", "o", "y", "e")
_MIN_STEM = 4


@dataclass
class Evidence:
    """What the gate saw: the question's constraint terms, those missing from the hits, the features."""

    key_terms: list[str] = field(default_factory=list)
    missing_terms: list[str] = field(default_factory=list)  # from the hits an answer draws on
    pool_missing_terms: list[str] = field(default_factory=list)  # from every candidate retrieved
    features: dict[str, float] = field(default_factory=dict)
    english: bool = True  # MiniLM's similarities mean something for English questions only
    answer_missing_terms: list[str] = field(default_factory=list)  # from the sentences the answer quotes

    @property
    def best_similarity(self) -> float:
        return self.features.get("dense_best", 0.0)

    def as_dict(self) -> dict:
        return {"key_terms": self.key_terms, "missing_terms": self.missing_terms,
                "pool_missing_terms": self.pool_missing_terms, "answer_missing_terms": self.answer_missing_terms,
                "features": {k: round(v, 4) for k, v in self.features.items()}}


# --------------------------------------------------------------------------- the question's terms


def _year_range(match: re.Match[str]) -> tuple[int, int] | None:
    """(first, last) year of a period, or None when it is not one ("2015 and 2012", "2015-2120")."""
    if match.group(5):
        decade = int(match.group(5)) * 10
        return decade, decade + 9
    start, end = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    first = int(start)
    last = int(start[:2] + end) if len(end) == 2 else int(end)
    return (first, last) if first < last <= first + 50 else None


def _ranges(text: str) -> list[tuple[int, int]]:
    return [r for m in _RANGE.finditer(text) if (r := _year_range(m))]


def is_number(term: str) -> bool:
    """Numbers, years and periods ("2015–2017"); everything else is a name, acronym or code."""
    return term[0].isdigit()


def is_year(term: str) -> bool:
    """A year ("2019") or a period ("2015–2017"): what a report covers, unlike an age or a count."""
    return re.fullmatch(_YEAR, term) is not None or _RANGE.fullmatch(term) is not None


def key_terms(question: str) -> list[str]:
    """Periods, numbers (years too), codes, capitalised names and acronyms of the question, once each.

    A period stays one term ("2015–2017"), a code too ("H-2B"). The first word is skipped (it is
    capitalised anyway), and so are function words of any language Lantern reads ("What", "Wer").
    """
    terms: list[tuple[int, str]] = []
    rest = question

    def take(pattern: re.Pattern[str], keep: Callable[[re.Match[str]], str | None]) -> None:
        nonlocal rest
        for m in pattern.finditer(rest):
            term = keep(m)
            if term:
                terms.append((m.start(), term))
                rest = rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end():]

    take(_RANGE, lambda m: "–".join(map(str, r)) if (r := _year_range(m)) else None)
    take(_CODE, lambda m: m.group(0))
    take(_NUMBER_TERM, lambda m: m.group(0).rstrip(".,"))
    stop = all_stopwords()
    first = True
    for m in _NAME.finditer(rest):
        w = re.sub(r"^[^\W\d_]{1,2}['’](?=[^\W\d_])|['’]s?$", "", m.group(0))  # elision ("l'OIT"), possessive
        was_first, first = first and m.start() == len(rest) - len(rest.lstrip()), False
        if was_first or not w[:1].isupper() or w.lower() in stop or w.lower() in _MONTHS:
            continue
        if w.isupper() or len(w) > 2:
            terms.append((m.start(), w))
    ordered = [t for _, t in sorted(terms, key=lambda x: (not is_number(x[1]), x[0]))]  # numbers first
    return list({t.lower(): t for t in reversed(ordered)}.values())[::-1]


def _name_spans(n: int) -> Iterator[tuple[int, int]]:
    """(start, end) of every run of 2 to 6 consecutive words among n: the spans an acronym abbreviates."""
    for i in range(n):
        for j in range(i + 2, min(n, i + 6) + 1):
            yield i, j


def spelled_out(question: str) -> dict[str, set[str]]:
    """Initials of the question's multi-word names ("Department of Homeland Security" → "DHS"),
    by the name's words: a word counts as present where the text uses the acronym instead."""
    out: dict[str, set[str]] = {}
    stop = all_stopwords()
    for m in _NAME_RUN.finditer(question):
        words = [re.sub(r"['’]s?$", "", w) for w in re.split(r"\s+", m.group(0).strip())
                 if w and w[0].isupper() and w.lower() not in stop]
        for i, j in _name_spans(len(words)):
            if j - i == 2 and len(words) > 2:
                continue  # two letters of a longer name ("HS" of "Homeland Security") would match by chance
            for w in words[i:j]:
                out.setdefault(w, set()).add("".join(x[0] for x in words[i:j]))
    return out


# --------------------------------------------------------------------------- what a text mentions


def acronyms(text: str) -> set[str]:
    """Initials of capitalised name sequences ("Department of Homeland Security" → "DHS"),
    so a question's acronym counts as present when the text spells the name out."""
    found: set[str] = set()
    for m in _NAME_RUN.finditer(text):
        words = [w for w in re.split(r"\s+", m.group(0).strip()) if w and w[0].isupper()]
        found.update("".join(w[0] for w in words[i:j]) for i, j in _name_spans(len(words)))
    return found


def name_forms(word: str) -> set[str]:
    """The word and its stems without a plural or demonym ending, lower case, at least four
    letters: "Nigeria", "Nigerian" and "Nigerians" share "niger"; "Germany" and "Germans" "german"."""
    w = word.lower()
    return {w} | {w[: -len(e)] for e in _ENDINGS if w.endswith(e) and len(w) - len(e) >= _MIN_STEM}


@dataclass
class Mentions:
    """What one text mentions, indexed once: its numbers, years and periods, capitalised words
    (with their stems), uppercase tokens and the initials of its spelled-out names."""

    text: str

    @cached_property
    def numbers(self) -> set[str]:
        """Normalised, leading zeros dropped too ("C029" states 29)."""
        found = numbers(self.text)
        return found | {n.lstrip("0") for n in found if n.isdigit() and n.strip("0")}

    @cached_property
    def years(self) -> set[int]:
        return {int(n) for n in self.numbers if re.fullmatch(_YEAR, n)}

    @cached_property
    def ranges(self) -> list[tuple[int, int]]:
        return _ranges(self.text)

    @cached_property
    def initials(self) -> set[str]:
        return acronyms(self.text)

    @cached_property
    def uppercase(self) -> set[str]:
        return set(re.findall(r"(?<![\w.])[A-Z][A-Z0-9&]+(?=s?\b)", self.text))

    @cached_property
    def name_stems(self) -> set[str]:
        return {f for w in set(re.findall(r"\b[A-Z][a-zà-ÿ]+\b", self.text)) for f in name_forms(w)}

    def mentions_years(self, first: int, last: int) -> bool:
        """Whether the text names a year of first..last, or a period overlapping it."""
        return any(first <= y <= last for y in self.years) or any(a <= last and first <= b for a, b in self.ranges)


def present(term: str, mentions: Mentions, spelled: Iterable[str] = ()) -> bool:
    """Whether a constraint term occurs in the text as a whole word (never inside another word:
    "US" is not in "use", "Oman" not in "woman"). Numbers compare normalised ("2,500" = "2 500");
    a year counts when a period in the text holds it, a period when the text names a year in it;
    an acronym may be spelled out or dotted ("U.S."), a name may be abbreviated (`spelled`: the
    initials of the question's name it belongs to) or carry a plural or demonym ending."""
    text = mentions.text
    if is_number(term):
        if m := _RANGE.fullmatch(term):
            r = _year_range(m)
            if r:
                return mentions.mentions_years(*r)
        n = normalise_number(term)
        if n in mentions.numbers or (n.isdigit() and n.lstrip("0") in mentions.numbers):
            return True
        return bool(re.fullmatch(_YEAR, n)) and mentions.mentions_years(int(n), int(n))
    if _CODE.fullmatch(term):
        head, tail = term.split("-", 1)
        return re.search(rf"(?<![\w-]){re.escape(head)}[-\s]?{re.escape(tail)}s?(?![\w-])", text, re.IGNORECASE) is not None
    if term.isupper():
        if term in mentions.initials or term in mentions.uppercase:
            return True
        dotted = r"\.?".join(re.escape(c) for c in term)
        return re.search(rf"(?<![\w.]){dotted}\.?(?!\w)", text) is not None
    if any(a in mentions.uppercase for a in spelled):
        return True
    if re.search(rf"\b{re.escape(term)}(?:s|es|n|an|ns|ans)?\b", text, re.IGNORECASE):
        return True
    return bool(name_forms(term) & mentions.name_stems)


def language_neutral(term: str) -> bool:
    """A term a translation keeps: a number, a year, a code with a digit ("H-2B"). Names are
    translated ("Allemagne" for "Germany") and so are acronyms ("OIT" for "ILO", "OMS" for "WHO":
    measured, checking them made answerable French and Dutch gold questions read as unanswerable),
    so a question not in English is held to these only."""
    return is_number(term) or (_CODE.fullmatch(term) is not None and any(c.isdigit() for c in term))


def _text(chunks: Sequence[Chunk]) -> str:
    return " ".join(f"{c.title} {c.metadata.get('publisher', '')} {c.text}" for c in chunks)


def answer_text(draft: str, hits: Sequence[Hit]) -> str:
    """What a reader of an answer sees: its sentences, and the title and section path of each
    source it cites (a year or a name there qualifies every sentence quoted under it)."""
    cited = set(cited_numbers(draft))
    heads = " ".join(f"{h.chunk.title} {h.chunk.metadata.get('section') or ''}"
                     for n, h in enumerate(hits, 1) if n in cited)
    return f"{strip_markers(draft)} {heads}".strip()


def gather_evidence(
    question: str, hits: Sequence[Hit], dense_scores: Sequence[float], keyword_scores: Sequence[float] = (),
    english: bool = True, pool: Sequence[Chunk] | None = None, answer: str | None = None,
) -> Evidence:
    """The gate's features for one question: which of its terms the hits and the whole candidate
    pool (the hits when None) never mention, and scores of the best candidates (best first).
    `answer` (`answer_text` of the answer the question would get) adds the terms that its quoted
    sentences leave out: a passage can name 2012 in a footnote while the figure quoted is for 2011."""
    terms = [t for t in key_terms(question) if english or language_neutral(t)]
    spelled = spelled_out(question) if english else {}
    near = Mentions(_text([h.chunk for h in hits]))
    missing = [t for t in terms if not present(t, near, spelled.get(t, ()))]
    if pool is not None:
        everywhere = Mentions(_text(pool))
        pool_missing = [t for t in missing if not present(t, everywhere, spelled.get(t, ()))]
    else:
        pool_missing = missing
    quoted = Mentions(answer) if answer is not None else None
    said = missing if quoted is None else [t for t in terms if not present(t, quoted, spelled.get(t, ()))]
    if not english:
        # a question not in English finds its closest passages less reliably (MiniLM reads English
        # only; the keyword half matches only the tokens it shares with English text): only a term
        # that nothing retrieved mentions counts against it
        missing = said = pool_missing
    d = sorted(dense_scores, reverse=True) + [0.0, 0.0]
    k = sorted(keyword_scores, reverse=True) + [0.0, 0.0]
    passage_numbers = {n for n in near.numbers if not re.fullmatch(_YEAR, n)}  # a figure, not a year
    features = {
        "dense_best": d[0],
        "dense_margin": d[0] - d[1],
        "keyword_margin": (k[0] - k[1]) / k[0] if k[0] > 0 else 0.0,
        "pool_missing_numbers": float(sum(is_number(t) for t in pool_missing)),
        "pool_missing_names": float(sum(not is_number(t) for t in pool_missing)),
        "missing_numbers": float(sum(is_number(t) for t in missing)),
        "missing_names": float(sum(not is_number(t) for t in missing)),
        "missing_years": float(sum(is_year(t) for t in missing)),
        "pool_missing_years": float(sum(is_year(t) for t in pool_missing)),
        "number_missing": float(wants_number(question) and not passage_numbers),
        "answer_missing_years": float(sum(is_year(t) for t in said)),
        "answer_missing_numbers": float(sum(is_number(t) for t in said)),
        "answer_missing_names": float(sum(not is_number(t) for t in said)),
    }
    return Evidence(terms, missing, pool_missing, features, english, said)


# --------------------------------------------------------------------------- the decision


def abstain_probability(evidence: Evidence, model: AbstainModel | None = None) -> float:
    """P(the corpus does not answer the question), from the fitted model."""
    return (model or FITTED.abstain).probability(evidence.features)


NOTHING_CLOSE = 0.35
"""A safety floor, not a fitted constant: an English question whose best passage is less similar
than this has nothing in the library about it ("and for children?" asked on its own). Gold
questions sit far above it (mean 0.69, sd 0.11), so the fitted model decides everything else."""


def nothing_close(evidence: Evidence) -> bool:
    """The safety floor: an English question whose best passage is below NOTHING_CLOSE."""
    return evidence.english and evidence.best_similarity < NOTHING_CLOSE


def should_abstain(evidence: Evidence, min_score: float = 0.0, model: AbstainModel | None = None) -> bool:
    """Abstain when nothing retrieved is close to an English question, or when the evidence score,
    1 − P(unanswerable), is below `min_score` (0: the fitted operating point)."""
    if nothing_close(evidence):
        return True
    model = model or FITTED.abstain
    floor = min_score or 1.0 - model.threshold
    return 1.0 - abstain_probability(evidence, model) < floor


def _listed(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + " or " + terms[-1]


def abstain_reason(evidence: Evidence) -> str:
    """Why the gate declined, in the words of its features, which a reader can check against the
    sources: the years and names nothing retrieved mentions, else those the closest passages do not
    mention, else those the sentences an answer would quote leave out (another number, an age or a
    count, only when no year or name is missing)."""
    sources = ((evidence.pool_missing_terms, "nothing retrieved mentions"),
               (evidence.missing_terms, "the closest passages do not mention"),
               (evidence.answer_missing_terms, "the sentences that come closest to an answer do not mention"))
    for found, lead in sources:
        counted = [t for t in found if is_year(t) or not is_number(t)]
        if counted:
            return f"{lead} {_listed(counted)}"
    for found, lead in sources:
        if found:
            return f"{lead} {_listed(found)}"
    if evidence.features.get("number_missing"):
        return "the question asks for a figure and no passage retrieved states one"
    return "no passage retrieved is close enough to the question"
