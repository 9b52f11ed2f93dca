"""The abstention gate: decide from retrieval evidence whether the corpus holds the answer.

Two signals, calibrated on the dev set's unanswerable questions (bench/query.py prints
the precision and recall of abstaining):
- how similar the best retrieved passage is to the question (dense cosine), and
- whether the question's specific terms (years, numbers, names) occur in what was
  retrieved: a near-miss question ("... in 2016", "... in Texas") usually asks about
  a year, place or body that the retrieved text never mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.text import all_stopwords, stopwords
from core.types import Hit

MIN_SIMILARITY = 0.35  # below this best-passage cosine, nothing retrieved is about the question
MIN_FOREIGN_COVERAGE = 0.4  # questions not in English: share of their words found in the hits
_GENERIC_CAPS = {
    "what", "which", "who", "how", "when", "where", "why", "does", "did", "is", "are", "the", "a", "an", "in",
    "according", "under", "give", "list", "name", "and", "for", "of", "to", "on", "by", "with", "from",
    "wat", "wie", "welke", "hoe", "sinds", "waarom", "qui", "que", "quel", "quelle", "pourquoi", "comment",
}


@dataclass
class Evidence:
    """What the gate saw: best dense similarity and the question terms missing from the hits."""

    best_similarity: float
    key_terms: list[str] = field(default_factory=list)
    missing_terms: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"best_similarity": round(self.best_similarity, 4), "key_terms": self.key_terms,
                "missing_terms": self.missing_terms}


def key_terms(question: str) -> list[str]:
    """Years, numbers and capitalised names in the question (not its first word)."""
    terms: list[str] = []
    for m in re.finditer(r"\b\d[\d,.]*\d\b|\b\d\b", question):
        terms.append(m.group(0).rstrip(".,"))
    words = re.findall(r"[A-Za-zÀ-ÿ][\w'’-]*", question)
    for i, w in enumerate(words):
        if i == 0 or not w[0].isupper() or w.lower() in _GENERIC_CAPS or w.lower() in stopwords("en"):
            continue
        if w.isupper() and len(w) <= 5:  # acronyms (ILO, UNODC, NRM) are names too
            terms.append(w)
        elif len(w) > 2:
            terms.append(re.sub(r"['’]s$", "", w))
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


def _present(term: str, text: str, initials: set[str]) -> bool:
    if term.isupper() and term in initials:
        return True
    if term[0].isdigit():
        digits = term.replace(",", "").replace(".", "")
        flat = re.sub(r"(?<=\d)[,.\s](?=\d{3}\b)", "", text)
        return re.search(rf"(?<![\d]){re.escape(digits)}(?![\d])", flat) is not None
    stem = term.lower()[: max(4, len(term) - 2)]  # "Dutch" ~ "Dutch", "Texas" ~ "Texan"
    return re.search(rf"\b{re.escape(stem)}", text.lower()) is not None  # "Oman" is not in "woman"


def gather_evidence(question: str, hits: list[Hit], best_similarity: float) -> Evidence:
    text = " ".join(f"{h.chunk.title} {h.chunk.metadata.get('publisher', '')} {h.chunk.text}" for h in hits)
    terms = key_terms(question)
    initials = acronyms(text)
    return Evidence(best_similarity, terms, [t for t in terms if not _present(t, text, initials)])


def gather_foreign_evidence(question: str, hits: list[Hit]) -> Evidence:
    """Evidence for a question not in English: MiniLM's similarity means little there, so
    count the question's longer words (or their glossary translations) found in the hits."""
    from .retrieve import GLOSSARY

    stop = all_stopwords()
    text = " ".join(f"{h.chunk.title} {h.chunk.text}" for h in hits).lower()
    terms = [w for w in re.findall(r"[a-zà-ÿ0-9][\w-]*", question.lower()) if len(w) >= 5 and w not in stop]
    terms += [t for t in key_terms(question) if t[0].isdigit()]

    def found(term: str) -> bool:
        if re.search(rf"\b{re.escape(term.lower()[: max(5, len(term) - 2)])}", text):
            return True
        return any(re.search(rf"\b{re.escape(w)}", text) for w in GLOSSARY.get(term.lower(), "").split())

    missing = [t for t in terms if not found(t)]
    # the share of its words found stands in for similarity (compared with MIN_FOREIGN_COVERAGE);
    # a missing year or number counts only when the rest is thin too
    coverage = 1.0 - len(missing) / len(terms) if terms else 1.0
    numbers = [t for t in missing if t[0].isdigit()] if coverage < 0.6 else []
    return Evidence(coverage, terms, numbers)


def should_abstain(evidence: Evidence, min_similarity: float = MIN_SIMILARITY) -> bool:
    """Abstain when nothing retrieved is close, or a specific term of the question is absent."""
    if evidence.best_similarity < min_similarity:
        return True
    return bool(evidence.missing_terms)
