"""eval.scoring and eval.aggregate on tiny hand-built questions: each expected number is worked out."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from eval.aggregate import mean_retrieval, summarise, worst_questions
from eval.dataset import GoldRef, Question
from eval.records import CitationRecord, QuestionRecord, RetrievedRef
from eval.scoring import answer_scores, citation_record, retrieval_scores

GOLD = [GoldRef("pdf/a.pdf", 3, "q"), GoldRef("other/t.md", None, "q")]
PAGE = "In 2019 the agency found 7,905 victims. Most were recruited abroad."


def _q(qid: str, answerable: bool = True, category: str = "fact", language: str = "en") -> Question:
    return Question(
        id=qid, question=f"{qid}?", language=language, answerable=answerable,
        reference_answer="7,905 victims were found" if answerable else "", required_facts=["7905", "boys"]
        if answerable else [], gold=GOLD if answerable else [], category=category if answerable else "unanswerable",
        difficulty="easy",
    )  # fmt: skip


def test_retrieval_scores_on_a_hand_built_ranking() -> None:
    # chunks: b p1, b p2, a p3 (gold page), t.md p2 (gold file, any page), a p3 again
    keys = [("pdf/b.pdf", 1), ("pdf/b.pdf", 2), ("pdf/a.pdf", 3), ("other/t.md", 2), ("pdf/a.pdf", 3)]
    s = retrieval_scores(GOLD, keys).to_dict()
    assert s["doc_hit@1"] == 0.0 and s["page_hit@1"] == 0.0
    assert s["doc_hit@5"] == 1.0 and s["page_hit@5"] == 1.0
    # pages (b,1) (b,2) (a,3) (t,None): both gold pages within the first 5 chunks
    assert s["page_recall@5"] == 1.0
    # doc MRR counts distinct documents: b, a -> the first gold document is 2nd, not 3rd
    assert s["mrr"] == 0.5
    # nDCG@10: gold pages at ranks 3 and 4 -> (1/log2 4 + 1/log2 5) / (1/log2 2 + 1/log2 3)
    expected = (1 / math.log2(4) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert s["ndcg@10"] == pytest.approx(expected)


def test_mrr_looks_at_the_first_ten_chunks_only() -> None:
    keys = [(f"pdf/x{i}.pdf", 1) for i in range(10)] + [("pdf/a.pdf", 3)]
    assert retrieval_scores(GOLD, keys).mrr == 0.0
    assert retrieval_scores(GOLD, keys[1:]).mrr == 0.1


def test_mean_retrieval_is_what_bench_prints() -> None:
    hit = retrieval_scores(GOLD, [("pdf/a.pdf", 3)])
    miss = retrieval_scores(GOLD, [("pdf/b.pdf", 1), ("pdf/a.pdf", 9)])
    means = mean_retrieval([hit, miss])
    assert means["doc_hit@1"] == 0.5 and means["page_hit@5"] == 0.5
    assert means["mrr"] == 0.75  # (1 + 1/2) / 2
    assert means["page_recall@5"] == 0.25  # (1/2 + 0) / 2: one of two gold pages, then none


def test_answer_scores_strip_markers_and_score_abstention_zero() -> None:
    s = answer_scores(["7905", "boys"], "7,905 victims were found", "In 2019, 7 905 victims were found [1].", False)
    assert s.required_fact_recall == 0.5  # "7 905" matches "7905"; "boys" is missing
    # tokens: in 2019 7905 victims were found (6) vs 7905 victims were found (4): P 4/6, R 1
    assert s.token_f1 == pytest.approx(2 * (4 / 6) / (4 / 6 + 1))
    assert answer_scores(["7905"], "7905", "7905 [1].", True).required_fact_recall == 0.0


def _hit(cid: str, text: str) -> SimpleNamespace:
    return SimpleNamespace(chunk=SimpleNamespace(id=cid, text=text))


def test_citation_record_checks_quotes_against_the_page() -> None:
    answer = SimpleNamespace(
        text="The agency found 7,905 victims [1]. Most were recruited at home [2].",
        retrieved=[_hit("c1", PAGE)],
        citations=[
            SimpleNamespace(n=1, source="pdf/a.pdf", page=3, chunk_id="c1", quote="the agency found 7,905 victims"),
            SimpleNamespace(n=2, source="pdf/a.pdf", page=3, chunk_id="c1", quote="recruited at home"),
        ],
    )
    rec = citation_record(answer, lambda source, page: PAGE if (source, page) == ("pdf/a.pdf", 3) else None,
                          judge=None)
    assert (rec.n_quotes, rec.n_verified) == (2, 1)
    assert [u.quote for u in rec.unverified] == ["recruited at home"]
    # claim 1 is verbatim in its chunk; claim 2's content words are recruit, home: 1 of 2 < 0.6
    assert (rec.n_sentences, rec.n_citations) == (2, 2)
    assert rec.recall == 0.5 and rec.precision == 0.5
    assert not rec.llm_judged and "llm_precision" not in rec.to_dict()


def _record(q: Question, *, abstained: bool, keys: list[tuple[str, int | None]], answer: str,
            latency: float, cites: CitationRecord | None = None) -> QuestionRecord:
    rec = QuestionRecord(q, [RetrievedRef(s, p, 0.5) for s, p in keys], abstained, answer, latency)
    if q.answerable:
        rec.retrieval = retrieval_scores(q.gold, keys)
        rec.answer_scores = answer_scores(q.required_facts, q.reference_answer, answer, abstained)
    rec.citations = cites
    return rec


def test_summarise_and_worst_on_three_questions() -> None:
    good = _record(_q("g"), abstained=False, keys=[("pdf/a.pdf", 3), ("other/t.md", None)],
                   answer="7,905 boys [1].", latency=100.0,
                   cites=CitationRecord(1, 1, 1.0, 1.0, n_quotes=1, n_verified=1))
    refused = _record(_q("r", language="nl"), abstained=True, keys=[("pdf/b.pdf", 1)], answer="", latency=300.0)
    declined = _record(_q("u", answerable=False), abstained=True, keys=[], answer="", latency=200.0)
    report = summarise([good, refused, declined])
    assert (report["n"], report["n_answerable"]) == (3, 2)
    assert report["retrieval"]["doc_hit@5"] == 0.5 and report["retrieval"]["mrr"] == 0.5
    assert report["answers"]["required_fact_recall"] == 0.5  # 1.0 and an abstention's 0
    assert report["citations"]["quote_verified"] == 1.0 and report["citations"]["n_answers"] == 1
    # 2 abstentions, 1 on the unanswerable question: precision 1/2, recall 1/1, 1 of 2 answerable refused
    assert report["abstention"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "false_refusal": 0.5})
    assert report["latency_ms"]["p50"] == 200.0 and report["latency_ms"]["p95"] == pytest.approx(290.0)
    assert report["by_language"]["nl"]["abstained"] == 1.0
    assert math.isnan(report["by_category"]["unanswerable"]["doc_hit@5"])  # nothing to score: missing, not 0
    assert "no answer was judged" in report["llm_judged"]["note"]
    worst = worst_questions([good, refused, declined])
    assert [w["id"] for w in worst] == ["r"]  # scores: g 1.0, u 1.0 (declined correctly), r 0.0
    assert worst[0]["gold"] == ["pdf/a.pdf p.3", "other/t.md"]
    assert worst[0]["retrieved"] == [{"source": "pdf/b.pdf", "page": 1, "score": 0.5, "relevant": False}]
