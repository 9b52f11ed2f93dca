"""The abstention gate: decide from retrieval evidence whether the corpus holds the answer.

A small logistic regression (coefficients and operating point in assistant/fitted.json,
fitted out-of-fold by bench/fit.py) weighs general evidence:
- how close the best passages are (dense cosine) and how far ahead of the next (dense, and
  keyword as a share of the best keyword score: never a raw BM25 score, which grows with the store),
- whether the question's constraint terms (years, numbers, capitalised names, acronyms)
  occur, as whole words, in what was retrieved: a near-miss question asks about a year,
  place or body the retrieved text never mentions,
- whether a question that wants a figure ("how many", "what percentage") finds one.
When it abstains, `reason` says why in words a reader can check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.text import all_stopwords, normalise_number, numbers
from core.types import Chunk, Hit

from .fitted import FITTED, AbstainModel

FEATURES = ("dense_best", "dense_margin", "keyword_margin", "pool_missing_numbers", "pool_missing_names",
            "number_missing")
# Every feature is scale-free, so the gate reads a six-document store as it reads the whole corpus:
# cosines lie in 0..1, and the keyword half enters only as the best score's lead over the next,
# relative to the best (a raw BM25 score grows with the store's size and vocabulary).
# No shares of missing terms beside the counts: with both, the fit gave the pool share a negative
# weight (−0.59), so a question none of whose terms is found anywhere read as MORE answerable.
# No language feature: the gold sets hold no unanswerable question that is not in English, so a
# fitted language weight would only learn "always answer those" (it did: −1.9, and let a Dutch
# question about a country and year no document covers through). Instead a question not in
# English is held to its language-neutral terms only (numbers, acronyms): its names may be
# translated ("Allemagne" for "Germany") and would read as missing.
# General English framing of a question that asks for a figure.
_WANTS_NUMBER = re.compile(
    r"\b(?:how\s+(?:many|much|long|old|often|large)|what\s+(?:percentage|proportion|share|number|fraction|"
    r"amount|age|rate)|what\s+per\s*cent)\b", re.IGNORECASE,
)
_NAME = re.compile(r"[^\W\d_][\w'’]*")


@dataclass
class Evidence:
    """What the gate saw: the question's constraint terms, those missing from the hits, the features."""

    key_terms: list[str] = field(default_factory=list)
    missing_terms: list[str] = field(default_factory=list)  # from the hits an answer draws on
    pool_missing_terms: list[str] = field(default_factory=list)  # from every candidate retrieved
    features: dict[str, float] = field(default_factory=dict)
    english: bool = True  # MiniLM's similarities mean something for English questions only

    @property
    def best_similarity(self) -> float:
        return self.features.get("dense_best", 0.0)

    def as_dict(self) -> dict:
        return {"key_terms": self.key_terms, "missing_terms": self.missing_terms,
                "pool_missing_terms": self.pool_missing_terms,
                "features": {k: round(v, 4) for k, v in self.features.items()}}


def key_terms(question: str) -> list[str]:
    """Numbers (years too), capitalised names and acronyms of the question, in order, once each.

    The first word is skipped (it is capitalised anyway), and so are function words of any
    language Lantern reads ("What", "Wer").
    """
    terms = [m.group(0).rstrip(".,") for m in re.finditer(r"\b\d[\d,.]*\d\b|\b\d\b", question)]
    stop = all_stopwords()
    for i, m in enumerate(_NAME.finditer(question)):
        w = re.sub(r"['’]s?$", "", m.group(0))
        if i == 0 or not w[:1].isupper() or w.lower() in stop:
            continue
        if w.isupper() or len(w) > 2:
            terms.append(w)
    return list({t.lower(): t for t in reversed(terms)}.values())[::-1]


def acronyms(text: str) -> set[str]:
    """Initials of capitalised name sequences ("Department of Homeland Security" → "DHS"),
    so a question's acronym counts as present when the text spells the name out."""
    found: set[str] = set()
    for m in re.finditer(r"(?:[A-Z][\w'’-]*(?:\s+(?:of|and|for|the|on|&)\s+|\s+)?)+", text):
        words = [w for w in re.split(r"\s+", m.group(0).strip()) if w and w[0].isupper()]
        for i in range(len(words)):
            for j in range(i + 2, min(len(words), i + 6) + 1):
                found.add("".join(w[0] for w in words[i:j]))
    return found


def present(term: str, text: str, text_numbers: set[str], initials: set[str]) -> bool:
    """Whether a constraint term occurs in the text as a whole word (never inside another word:
    "US" is not in "use", "Oman" not in "woman"); numbers compare normalised ("2,500" = "2 500"),
    an acronym may be spelled out or dotted ("U.S."), a name may carry a plural or demonym ending."""
    if term[0].isdigit():
        return normalise_number(term) in text_numbers
    if term.isupper():
        if term in initials:
            return True
        dotted = r"\.?".join(re.escape(c) for c in term)
        return re.search(rf"(?<![\w.]){dotted}\.?(?!\w)", text) is not None
    return re.search(rf"\b{re.escape(term)}(?:s|es|n|an|ns|ans)?\b", text, re.IGNORECASE) is not None


def wants_number(question: str) -> bool:
    """Whether the question asks for a figure (a count, a share, an age, a duration)."""
    return _WANTS_NUMBER.search(question) is not None


def _missing(terms: list[str], chunks: Sequence[Chunk]) -> tuple[list[str], set[str]]:
    """The terms no chunk (with its title and publisher) mentions, and the numbers they state."""
    text = " ".join(f"{c.title} {c.metadata.get('publisher', '')} {c.text}" for c in chunks)
    text_numbers = numbers(text)
    initials = acronyms(text)
    return [t for t in terms if not present(t, text, text_numbers, initials)], text_numbers


def gather_evidence(
    question: str, hits: Sequence[Hit], dense_scores: Sequence[float], keyword_scores: Sequence[float] = (),
    english: bool = True, pool: Sequence[Chunk] | None = None,
) -> Evidence:
    """The gate's features for one question: scores of the best candidates (best first), and
    what the hits and the whole candidate pool (the hits when None) say about its terms."""
    terms = [t for t in key_terms(question) if english or t[0].isdigit() or t.isupper()]
    missing, text_numbers = _missing(terms, [h.chunk for h in hits])
    pool_missing = _missing(missing, pool)[0] if pool is not None else missing
    d = sorted(dense_scores, reverse=True) + [0.0, 0.0]
    k = sorted(keyword_scores, reverse=True) + [0.0, 0.0]
    passage_numbers = {n for n in text_numbers if not re.fullmatch(r"(?:19|20)\d\d", n)}  # a figure, not a year
    features = {
        "dense_best": d[0],
        "dense_margin": d[0] - d[1],
        "keyword_margin": (k[0] - k[1]) / k[0] if k[0] > 0 else 0.0,
        "pool_missing_numbers": float(sum(t[0].isdigit() for t in pool_missing)),
        "pool_missing_names": float(sum(not t[0].isdigit() for t in pool_missing)),
        "number_missing": float(wants_number(question) and not passage_numbers),
    }
    return Evidence(terms, missing, pool_missing, features, english)


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


def abstain_reason(evidence: Evidence) -> str:
    """Why the gate declined, in general words a reader can check against the sources."""
    for terms, lead in ((evidence.pool_missing_terms, "nothing retrieved mentions"),
                        (evidence.missing_terms, "the passages closest to the question do not mention")):
        if terms:
            listed = terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + " or " + terms[-1]
            return f"{lead} {listed}"
    if evidence.features.get("number_missing"):
        return "the question asks for a figure and no passage retrieved states one"
    return "no passage retrieved is close enough to the question"
