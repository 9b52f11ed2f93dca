"""Typed per-question records: what one configuration retrieved, answered and scored for one question.

Scoring fills these, aggregation reads them, and `to_dict` writes them into report.json's
`per_question` block with the same keys as ever, so a report can be rescored by hand.
Scores that do not apply are None (retrieval and answer scores on an unanswerable
question, citations on an abstention) and are left out of the written record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from eval.dataset import Question

RETRIEVAL_KEYS = ("doc_hit@1", "doc_hit@5", "page_hit@1", "page_hit@5", "page_recall@5", "mrr", "ndcg@10")
ANSWER_KEYS = ("required_fact_recall", "token_f1")


@dataclass(frozen=True)
class RetrievedRef:
    """One retrieved chunk as a report keeps it: where it came from and its score."""

    source: str
    page: int | None
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "page": self.page, "score": round(self.score, 4)}


@dataclass(frozen=True)
class RetrievalScores:
    """Retrieval scores of one answerable question (see `eval.scoring.retrieval_scores`)."""

    doc_hit_1: float
    doc_hit_5: float
    page_hit_1: float
    page_hit_5: float
    page_recall_5: float
    mrr: float
    ndcg_10: float

    def to_dict(self) -> dict[str, float]:
        """The scores under the report's keys ("doc_hit@1", ...), in RETRIEVAL_KEYS order."""
        values = (self.doc_hit_1, self.doc_hit_5, self.page_hit_1, self.page_hit_5,
                  self.page_recall_5, self.mrr, self.ndcg_10)  # fmt: skip
        return dict(zip(RETRIEVAL_KEYS, values, strict=True))


@dataclass(frozen=True)
class AnswerScores:
    """Fact recall and token F1 of one answerable question's answer (0 for an abstention)."""

    required_fact_recall: float
    token_f1: float

    def to_dict(self) -> dict[str, float]:
        return {"required_fact_recall": self.required_fact_recall, "token_f1": self.token_f1}


@dataclass(frozen=True)
class UnverifiedQuote:
    """A citation whose quote was not found verbatim on the cited page."""

    n: int
    source: str
    page: int | None
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "source": self.source, "page": self.page, "quote": self.quote}


@dataclass(frozen=True)
class CitationRecord:
    """Citation scores of one answer: lexical ALCE precision/recall, quote checks, LLM-judged when run.

    precision is None with no citations, recall None with no scored sentences; the llm_
    fields are None when no judge ran (`llm_judged` says whether one did).
    """

    n_sentences: int
    n_citations: int
    precision: float | None
    recall: float | None
    n_quotes: int
    n_verified: int
    unverified: list[UnverifiedQuote] = field(default_factory=list)
    llm_judged: bool = False
    llm_precision: float | None = None
    llm_recall: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_sentences": self.n_sentences,
            "n_citations": self.n_citations,
            "precision": self.precision,
            "recall": self.recall,
            "n_quotes": self.n_quotes,
            "n_verified": self.n_verified,
            "unverified": [u.to_dict() for u in self.unverified],
        }
        if self.llm_judged:
            out["llm_precision"] = self.llm_precision
            out["llm_recall"] = self.llm_recall
        return out


@dataclass(frozen=True)
class LLMJudgement:
    """llama-index Faithfulness (pass 1/0) and Correctness (1-5, pass at 4) of one answer; errors kept."""

    faithfulness: float | None = None
    faithfulness_error: str | None = None
    correctness: float | None = None
    correctness_pass: float | None = None
    correctness_error: str | None = None

    @property
    def error(self) -> str | None:
        """The first judge error, if any."""
        return self.faithfulness_error or self.correctness_error

    def to_dict(self) -> dict[str, Any]:
        keys = ("faithfulness", "faithfulness_error", "correctness", "correctness_pass", "correctness_error")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


@dataclass
class QuestionRecord:
    """Everything one configuration did for one gold question, and its scores."""

    question: Question
    retrieved: list[RetrievedRef]
    abstained: bool
    answer: str
    latency_ms: float  # nan when the answer carried no timing
    timings_ms: dict[str, float] | None = None  # Lantern's per-stage timings; None for the baseline
    retrieval: RetrievalScores | None = None  # answerable questions only
    answer_scores: AnswerScores | None = None  # answerable questions only
    citations: CitationRecord | None = None  # answered (not abstained) Lantern questions only
    llm_judged: LLMJudgement | None = None  # with an LLM endpoint, answered answerable questions

    @property
    def answerable(self) -> bool:
        return self.question.answerable

    def metric(self, key: str) -> float:
        """A retrieval or answer score by its report key; nan when it does not apply."""
        if key in RETRIEVAL_KEYS:
            return self.retrieval.to_dict()[key] if self.retrieval else math.nan
        if key in ANSWER_KEYS:
            return self.answer_scores.to_dict()[key] if self.answer_scores else math.nan
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """The record as report.json's per_question block holds it."""
        q = self.question
        out: dict[str, Any] = {
            "id": q.id,
            "question": q.question,
            "category": q.category,
            "language": q.language,
            "answerable": q.answerable,
            "gold": [g.to_dict() for g in q.gold],
            "retrieved": [r.to_dict() for r in self.retrieved],
            "abstained": self.abstained,
            "answer": self.answer,
            "latency_ms": self.latency_ms,
        }
        if self.timings_ms is not None:
            out["timings_ms"] = dict(self.timings_ms)
        if self.retrieval is not None:
            out.update(self.retrieval.to_dict())
        if self.answer_scores is not None:
            out.update(self.answer_scores.to_dict())
        out["citations"] = self.citations.to_dict() if self.citations else None
        if self.llm_judged is not None:
            out["llm_judged"] = self.llm_judged.to_dict()
        return out
