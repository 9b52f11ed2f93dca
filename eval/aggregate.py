"""Aggregate per-question records into a report's metric blocks, breakdowns and worst questions.

Averages skip scores that do not apply (retrieval on unanswerable questions, citations on
abstentions) and read nan when nothing applies, so an empty group shows as missing, not 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from eval.metrics import abstention_scores, mean, page_relevant, percentile
from eval.records import ANSWER_KEYS, RETRIEVAL_KEYS, QuestionRecord, RetrievalScores

N_WORST = 10


def avg(values: Iterable[float | None]) -> float:
    """Mean of the defined values (nan when none)."""
    return mean(v for v in values if v is not None)


def clean(value: Any) -> Any:
    """Round floats and turn NaN into None, so report.json is strict JSON a person can read."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def mean_retrieval(scores: Sequence[RetrievalScores]) -> dict[str, float]:
    """Each retrieval score averaged over questions, under the report's keys."""
    rows = [s.to_dict() for s in scores]
    return {k: mean(r[k] for r in rows) for k in RETRIEVAL_KEYS}


def _group_summary(records: list[QuestionRecord]) -> dict[str, Any]:
    """The few numbers a per-category or per-language row shows."""
    answerable = [r for r in records if r.answerable]
    cites = [r.citations for r in records if r.citations]
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        **{k: avg(r.metric(k) for r in answerable) for k in ("doc_hit@5", "page_hit@5", "mrr", "ndcg@10")},
        **{k: avg(r.metric(k) for r in answerable) for k in ANSWER_KEYS},
        "citation_precision": avg(c.precision for c in cites),
        "citation_recall": avg(c.recall for c in cites),
        "abstained": mean(1.0 if r.abstained else 0.0 for r in records),
    }


def _grouped(records: list[QuestionRecord], field: str) -> dict[str, Any]:
    groups: dict[str, list[QuestionRecord]] = {}
    for r in records:
        groups.setdefault(str(getattr(r.question, field)), []).append(r)
    return {name: _group_summary(rs) for name, rs in groups.items()}


def _llm_summary(records: list[QuestionRecord], note: str | None) -> dict[str, Any]:
    """Averages of the LLM-judged extras, or the note saying why there are none."""
    judged = [r.llm_judged for r in records if r.llm_judged]
    cites = [r.citations for r in records if r.citations and r.citations.llm_judged]
    if not judged and not cites:
        return {"note": note or "no answer was judged"}
    failed = [j for j in judged if j.error]
    out: dict[str, Any] = {
        "n": len(judged),
        "faithfulness": avg(j.faithfulness for j in judged),
        "correctness": avg(j.correctness for j in judged),
        "correctness_pass": avg(j.correctness_pass for j in judged),
        "citation_precision": avg(c.llm_precision for c in cites),
        "citation_recall": avg(c.llm_recall for c in cites),
        "errors": len(failed),
    }
    if failed:
        out["note"] = f"{len(failed)} answer(s) could not be judged, e.g. {failed[0].error}"
    else:
        out["note"] = (
            "llama-index FaithfulnessEvaluator (pass rate) and CorrectnessEvaluator (1-5, pass at 4) "
            "on answered answerable questions; citation precision/recall with the LLM as support judge"
        )
    return out


def summarise(records: list[QuestionRecord], llm_note: str | None = None) -> dict[str, Any]:
    """Aggregate per-question records into the report's metric blocks."""
    answerable = [r for r in records if r.answerable]
    cites = [r.citations for r in records if r.citations]
    n_quotes = sum(c.n_quotes for c in cites)
    latencies = [r.latency_ms for r in records]
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "retrieval": {k: avg(r.metric(k) for r in answerable) for k in RETRIEVAL_KEYS},
        "answers": {k: avg(r.metric(k) for r in answerable) for k in ANSWER_KEYS},
        "citations": {
            "precision": avg(c.precision for c in cites),
            "recall": avg(c.recall for c in cites),
            "quote_verified": sum(c.n_verified for c in cites) / n_quotes if n_quotes else math.nan,
            "n_answers": len(cites),
            "n_citations": n_quotes,
        },
        "abstention": abstention_scores([r.abstained for r in records], [r.answerable for r in records]),
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": mean(latencies),
        },
        "by_category": _grouped(records, "category"),
        "by_language": _grouped(records, "language"),
        "llm_judged": _llm_summary(records, llm_note),
    }


def question_score(r: QuestionRecord) -> float:
    """How well one question went (0 worst): retrieval, facts and abstention together."""
    if not r.answerable:
        return 1.0 if r.abstained else 0.0
    parts = [r.metric("page_recall@5"), r.metric("mrr"), r.metric("required_fact_recall")]
    return sum(parts) / len(parts)


def worst_questions(records: list[QuestionRecord], n: int = N_WORST) -> list[dict[str, Any]]:
    """The n worst questions short of full marks, with what was retrieved: where to look first."""
    short = [r for r in records if question_score(r) < 1.0]
    ranked = sorted(short, key=lambda r: (question_score(r), r.question.id))[:n]
    out = []
    for r in ranked:
        q = r.question
        out.append(
            {
                "id": q.id,
                "question": q.question,
                "category": q.category,
                "language": q.language,
                "answerable": q.answerable,
                "score": question_score(r),
                "abstained": r.abstained,
                "gold": [g.file + (f" p.{g.page}" if g.page else "") for g in q.gold],
                "retrieved": [
                    {**h.to_dict(), "relevant": page_relevant(h.source, h.page, q.gold)} for h in r.retrieved[:5]
                ],
                "answer": r.answer[:400],
                "required_fact_recall": r.answer_scores.required_fact_recall if r.answer_scores else None,
            }
        )
    return out
