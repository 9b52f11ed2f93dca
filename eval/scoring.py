"""Score one question: retrieval from ranked (source, page) keys, the answer's facts, its citations.

The one place retrieval is scored per question: `lantern eval` and `bench/query.py` both
call `retrieval_scores`, so a "doc MRR" in a benchmark table and in a report mean the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.text import strip_markers
from eval.dataset import GoldRef
from eval.metrics import (
    citation_scores,
    gold_doc_keys,
    gold_page_keys,
    hit_at_k,
    lexical_support,
    ndcg_at_k,
    page_key,
    quote_verified,
    recall_at_k,
    reciprocal_rank,
    required_fact_recall,
    token_f1,
)
from eval.records import AnswerScores, CitationRecord, RetrievalScores, UnverifiedQuote

DEPTH = 10  # chunks retrieved for scoring: @1 and @5 look at the first ones, MRR and nDCG at all 10

Key = tuple[str, int | None]
PageText = Callable[[str, int | None], str | None]
Judge = Callable[[str, str], bool]


def retrieval_scores(gold: Sequence[GoldRef], keys: Sequence[Key], depth: int = DEPTH) -> RetrievalScores:
    """Document- and page-level retrieval scores of one answerable question from ranked (source, page).

    Keys are de-duplicated before scoring, so ranks count distinct documents or pages.
    Doc MRR is the reciprocal rank of the first gold document among the distinct documents
    of the first `depth` chunks (two chunks of one wrong document before a gold one put
    it at rank 2, not 3); 0 when none is there. nDCG is page-level over the same chunks.
    A Markdown file (gold page None) counts as one page.
    """
    docs = [s for s, _ in keys]
    pages = [page_key(s, p, gold) for s, p in keys]
    rel_docs, rel_pages = gold_doc_keys(gold), gold_page_keys(gold)
    return RetrievalScores(
        doc_hit_1=hit_at_k(docs[:1], rel_docs, 1),
        doc_hit_5=hit_at_k(docs[:5], rel_docs, 5),
        page_hit_1=hit_at_k(pages[:1], rel_pages, 1),
        page_hit_5=hit_at_k(pages[:5], rel_pages, 5),
        page_recall_5=recall_at_k(pages[:5], rel_pages, 5),
        mrr=reciprocal_rank(docs[:depth], rel_docs, depth),
        ndcg_10=ndcg_at_k(pages[:depth], rel_pages, depth),
    )


def answer_scores(required_facts: Sequence[str], reference: str, text: str, abstained: bool) -> AnswerScores:
    """Fact recall and token F1 of one answerable question, [n] markers removed; an abstention scores 0."""
    if abstained:
        return AnswerScores(required_fact_recall=0.0, token_f1=0.0)
    plain = strip_markers(text)
    return AnswerScores(
        required_fact_recall=required_fact_recall(plain, required_facts),
        token_f1=token_f1(plain, reference),
    )


def citation_record(answer: Any, page_text: PageText, judge: Judge | None) -> CitationRecord:
    """Citation scores of one Lantern `Answer`, lexical and (with a judge) LLM, plus quote checks.

    A citation's passage is its retrieved chunk (else its page, else its quote); its quote
    must occur verbatim on the page text `page_text(source, page)` returns.
    """
    by_chunk = {h.chunk.id: h.chunk.text for h in answer.retrieved}
    sources: dict[int, str] = {}
    verified = 0
    unverified: list[UnverifiedQuote] = []
    for c in answer.citations:
        page = page_text(c.source, c.page) or ""
        sources[c.n] = by_chunk.get(c.chunk_id) or page or c.quote
        if quote_verified(c.quote, page):
            verified += 1
        else:
            unverified.append(UnverifiedQuote(n=c.n, source=c.source, page=c.page, quote=c.quote))
    lexical = citation_scores(answer.text, sources, lexical_support)
    llm_precision = llm_recall = None
    if judge is not None:
        judged = citation_scores(answer.text, sources, judge)
        llm_precision = judged.precision if judged.n_citations else None
        llm_recall = judged.recall if judged.n_sentences else None
    return CitationRecord(
        n_sentences=lexical.n_sentences,
        n_citations=lexical.n_citations,
        precision=lexical.precision if lexical.n_citations else None,
        recall=lexical.recall if lexical.n_sentences else None,
        n_quotes=len(answer.citations),
        n_verified=verified,
        unverified=unverified,
        llm_judged=judge is not None,
        llm_precision=llm_precision,
        llm_recall=llm_recall,
    )
