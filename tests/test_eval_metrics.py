"""Hand-computed cases for eval.metrics: each expected number is worked out in a comment."""

from __future__ import annotations

import math

import pytest

from core.text import cited_numbers, normalise, strip_markers
from eval.dataset import GoldRef
from eval.metrics import (
    abstention_scores,
    citation_scores,
    dedupe,
    doc_relevant,
    gold_doc_keys,
    gold_page_keys,
    hit_at_k,
    lexical_support,
    mean,
    ndcg_at_k,
    page_key,
    page_relevant,
    percentile,
    quote_verified,
    recall_at_k,
    reciprocal_rank,
    required_fact_recall,
    token_f1,
)

# --------------------------------------------------------------------------- retrieval


def test_reciprocal_rank_first_relevant_at_rank_three() -> None:
    assert reciprocal_rank(["x", "y", "a", "b"], {"a", "b"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "y", "a"], {"a"}, k=2) == 0.0


def test_duplicates_do_not_inflate_hit_or_recall() -> None:
    ranked = ["a", "a", "a", "x"]
    assert dedupe(ranked) == ["a", "x"]
    # one of two relevant keys found, however often it repeats
    assert recall_at_k(ranked, {"a", "b"}, k=3) == 0.5
    assert hit_at_k(ranked, {"a", "b"}, k=3) == 1.0
    assert hit_at_k(["x", "x", "y"], {"a"}) == 0.0


def test_ranks_count_distinct_keys() -> None:
    # document level: two chunks of x, then a: a is the 2nd distinct document
    assert reciprocal_rank(["x", "x", "a"], {"a"}) == 0.5
    # k counts distinct keys too
    assert hit_at_k(["x", "x", "x", "a"], {"a"}, k=2) == 1.0


def test_tuple_keys() -> None:
    ranked = [("f.pdf", 3), ("f.pdf", 3), ("g.pdf", 1), ("f.pdf", 7)]
    relevant = {("f.pdf", 7), ("g.pdf", 1)}
    # distinct: (f,3), (g,1), (f,7): first relevant at rank 2
    assert reciprocal_rank(ranked, relevant) == 0.5
    assert recall_at_k(ranked, relevant, k=2) == 0.5
    assert recall_at_k(ranked, relevant) == 1.0


def test_ndcg_known_ranking() -> None:
    # ranked a, x, b, y; relevant {a, b, c}; k = 4
    # DCG  = 1/log2(2) + 1/log2(4)                 = 1 + 0.5           = 1.5
    # IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4)     = 1 + 0.63093 + 0.5 = 2.13093
    # nDCG = 1.5 / 2.13093 = 0.70392
    assert ndcg_at_k(["a", "x", "b", "y"], {"a", "b", "c"}, k=4) == pytest.approx(0.703918, abs=1e-6)


def test_ndcg_ideal_is_capped_at_k() -> None:
    # a perfect top 2 with 3 relevant keys is a perfect nDCG@2
    # (llama-index's NDCG would give (1 + 0.63093) / 2.13093 = 0.765 here)
    assert ndcg_at_k(["a", "b"], {"a", "b", "c"}, k=2) == pytest.approx(1.0)
    # without k the ideal list holds all three: 1.63093 / 2.13093
    assert ndcg_at_k(["a", "b"], {"a", "b", "c"}) == pytest.approx(1.63093 / 2.13093, abs=1e-5)


def test_ndcg_ignores_duplicates() -> None:
    assert ndcg_at_k(["a", "a", "b"], {"a", "b"}, k=3) == pytest.approx(1.0)
    # relevant at rank 2 only: (1/log2(3)) / 1 = 0.63093
    assert ndcg_at_k(["x", "a"], {"a"}, k=2) == pytest.approx(1 / math.log2(3))


def test_retrieval_edge_cases() -> None:
    assert hit_at_k([], {"a"}) == 0.0
    assert recall_at_k([], {"a"}, k=5) == 0.0
    assert reciprocal_rank([], {"a"}) == 0.0
    assert ndcg_at_k([], {"a"}, k=5) == 0.0
    with pytest.raises(ValueError, match="no relevant keys"):
        hit_at_k(["a"], set())
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k(["a"], {"a"}, k=0)


def test_page_and_doc_relevance() -> None:
    gold = [GoldRef("pdf/a.pdf", 7, "q"), GoldRef("other/treaty.md", None, "q")]
    assert page_relevant("pdf/a.pdf", 7, gold)
    assert not page_relevant("pdf/a.pdf", 8, gold)
    assert page_relevant("other/treaty.md", None, gold)
    assert page_relevant("other/treaty.md", 3, gold)  # any chunk of the treaty file
    assert not page_relevant("pdf/b.pdf", 7, gold)
    assert doc_relevant("pdf/a.pdf", gold)
    assert not doc_relevant("pdf/b.pdf", gold)
    assert gold_doc_keys(gold) == {"pdf/a.pdf", "other/treaty.md"}
    assert gold_page_keys(gold) == {("pdf/a.pdf", 7), ("other/treaty.md", None)}


def test_page_keys_feed_the_ranking_metrics() -> None:
    gold = [GoldRef("pdf/a.pdf", 7, "q"), GoldRef("other/treaty.md", None, "q")]
    chunks = [("pdf/a.pdf", 2), ("other/treaty.md", None), ("pdf/a.pdf", 7)]
    ranked = [page_key(src, page, gold) for src, page in chunks]
    assert ranked == [("pdf/a.pdf", 2), ("other/treaty.md", None), ("pdf/a.pdf", 7)]
    assert reciprocal_rank(ranked, gold_page_keys(gold)) == 0.5
    assert recall_at_k(ranked, gold_page_keys(gold)) == 1.0
    # a whole-file gold ref absorbs page refs of the same file
    mixed = [GoldRef("other/t.md", None, "q"), GoldRef("other/t.md", 2, "q")]
    assert gold_page_keys(mixed) == {("other/t.md", None)}
    assert page_key("other/t.md", 5, mixed) == ("other/t.md", None)


# --------------------------------------------------------------------------- answers


def test_normalise_numbers_and_percent() -> None:
    assert normalise("7,905") == normalise("7905") == normalise("7 905") == "7905"
    assert normalise("7.905") == "7905"
    assert normalise("1,234,567") == "1234567"
    assert (
        normalise("23 per cent") == normalise("23%") == normalise("23 percent") == normalise("23 %") == "23%"
    )
    assert normalise("1.5") == "1.5"  # a decimal is not a thousands group
    assert normalise("7,5") == "7.5"  # decimal comma
    assert normalise("12,34") == "12.34"
    assert normalise("In 2019, 7,905 victims.") == "in 2019 7905 victims"


def test_normalise_text() -> None:
    assert normalise("  The  “Palermo”\nProtocol’s ﬁrst  ARTICLE! ") == "the palermo protocol s first article"
    assert normalise("co-operation; 18-year-old") == "co operation 18 year old"
    assert normalise("percentage") == "percentage"


def test_required_fact_recall() -> None:
    answer = "The toll was 7 905 victims, 23 per cent of them children."
    # "7,905" and "23%" are found after normalisation; "boys" is not: 2/3
    assert required_fact_recall(answer, ["7,905", "23%", "boys"]) == pytest.approx(2 / 3)
    assert required_fact_recall(answer, []) == 1.0
    assert required_fact_recall("It rose in 2014.", ["14"]) == 0.0  # whole numbers only
    assert required_fact_recall("It rose by 14.5%.", ["14"]) == 0.0
    assert required_fact_recall("Bring two photos.", ["photo"]) == 1.0  # plural allowed
    assert required_fact_recall("Nonetheless it was done.", ["none"]) == 0.0


def test_token_f1() -> None:
    # pred tokens without articles: cat sat on mat (4); ref: cat sat (2); common 2
    # P = 2/4, R = 2/2, F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert token_f1("The cat sat on the mat.", "A cat sat") == pytest.approx(2 / 3)
    assert token_f1("dog", "cat") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("the", "cat") == 0.0
    assert token_f1("7,905 victims", "7905 Victims") == 1.0


# --------------------------------------------------------------------------- citations


def test_claims_are_scored_as_the_answer_checker_splits_them() -> None:
    # core.text.claims closes a claim at a run of markers: two claims, each with its own source
    sources = {1: "Victims were recruited abroad.", 2: "Wages were withheld for months."}
    scores = citation_scores("Victims were recruited abroad [1] and wages were withheld for months [2].",
                             sources, lexical_support)
    assert (scores.n_sentences, scores.n_citations, scores.n_supported, scores.n_relevant) == (2, 2, 2, 2)
    # abbreviations do not end a sentence: one claim, cited once, supported
    one = citation_scores("See e.g. Convention No. 29 on wages withheld for months [2].", sources, lexical_support)
    # content words see, e.g, convent, 29, wage, withheld, month: 3 of 7 in source 2, < 0.6
    assert (one.n_sentences, one.recall) == (1, 0.0)
    # a list: the lead-in is not a claim, each item is
    listed = citation_scores("The indicators are:\n- isolation [1]\n- debt [1][2]", sources, lexical_support)
    assert (listed.n_sentences, listed.n_citations) == (2, 3)


def test_cited_numbers() -> None:
    assert cited_numbers("A [2] b [1, 3][2] c [4-6].") == [2, 1, 3, 4, 5, 6]
    assert cited_numbers("no citations here") == []
    assert cited_numbers("between 2010 and 2015 [2015]") == []  # not a citation marker
    assert strip_markers("Victims were found [1][2] .") == "Victims were found."


PASSAGE = "In 2019 the agency reported that victims were recruited abroad by agents."


def test_citation_precision_with_out_of_range_citation() -> None:
    # [1] supports the sentence, [9] does not exist: precision 1/2, recall 1/1
    scores = citation_scores("Victims were recruited abroad [1][9].", {1: PASSAGE}, lexical_support)
    assert scores.precision == 0.5
    assert scores.recall == 1.0
    assert (scores.n_sentences, scores.n_citations) == (1, 2)


def test_uncited_sentence_lowers_recall() -> None:
    answer = "Victims were recruited abroad [1]. Wages were withheld for months."
    scores = citation_scores(answer, {1: PASSAGE}, lexical_support)
    assert scores.recall == 0.5  # 1 of 2 sentences supported
    assert scores.precision == 1.0  # the one citation is good
    assert (scores.n_sentences, scores.n_citations, scores.n_supported) == (2, 1, 1)


def test_citation_precision_needed_versus_redundant() -> None:
    sources = {1: "fact A", 2: "fact B", 3: "unrelated text", 4: "fact A and fact B"}

    def supports(claim: str, passage: str) -> bool:
        return "fact A" in passage and "fact B" in passage

    # [1] and [2] are each needed (neither supports alone; dropping either breaks support);
    # [3] is irrelevant (does not support alone and [1][2] still support without it): 2/3
    scores = citation_scores("Both A and B hold [1][2][3].", sources, supports)
    assert scores.recall == 1.0
    assert scores.precision == pytest.approx(2 / 3)
    # [4] supports alone; [1] neither supports alone nor is needed: 1/2
    scores = citation_scores("Both A and B hold [4][1].", sources, supports)
    assert scores.precision == 0.5
    # jointly unsupported: every citation is irrelevant
    scores = citation_scores("Both A and B hold [1][3].", sources, supports)
    assert (scores.recall, scores.precision) == (0.0, 0.0)


def test_citation_scores_skip_non_claims() -> None:
    answer = "The indicators are:\n- victims were recruited abroad [1]"
    scores = citation_scores(answer, {1: PASSAGE}, lexical_support)
    assert (scores.n_sentences, scores.recall, scores.precision) == (1, 1.0, 1.0)
    empty = citation_scores("", {1: PASSAGE}, lexical_support)
    assert (empty.recall, empty.precision, empty.n_sentences, empty.n_citations) == (0.0, 0.0, 0, 0)


def test_lexical_support() -> None:
    # verbatim, with a marker and different case
    assert lexical_support("Victims were recruited abroad by agents [2].", PASSAGE)
    # content words: victim, recruit, abroad -> all present after stemming
    assert lexical_support("The victims had been recruited abroad.", PASSAGE)
    # content words: wage, withheld, month -> none present
    assert not lexical_support("Wages were withheld for months.", PASSAGE)
    # content words: victim, recruit, abroad, forced, marriage -> 3/5 = 0.6
    claim = "Victims recruited abroad forced marriage."
    assert lexical_support(claim, PASSAGE, threshold=0.6)
    assert not lexical_support(claim, PASSAGE, threshold=0.61)
    assert not lexical_support("[1]", PASSAGE)


def test_quote_verified() -> None:
    page = "The ﬁrst  article of the\nProtocol defines “trafﬁcking in per-\nsons” broadly."
    assert quote_verified("first article of the Protocol", page)
    assert quote_verified('"trafficking in persons"', page)
    assert quote_verified("defines “traf-\nficking", page)
    assert not quote_verified("first article of the Convention", page)
    assert not quote_verified("FIRST ARTICLE", page)  # verbatim means case matters
    assert not quote_verified("", page)


# --------------------------------------------------------------------------- abstention, latency


def test_abstention_scores() -> None:
    # q0 unanswerable+abstained (TP), q1 unanswerable+answered (FN),
    # q2 answerable+abstained (FP), q3 answerable+answered
    # P = 1/2, R = 1/2, F1 = 1/2, false_refusal = 1 of 2 answerable = 1/2
    scores = abstention_scores([True, False, True, False], [False, False, True, True])
    assert scores == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "false_refusal": 0.5})


def test_refusing_an_answerable_question_raises_false_refusal() -> None:
    answerable = [True, True, True, True, False]
    before = abstention_scores([False, False, False, False, True], answerable)
    after = abstention_scores([True, False, False, False, True], answerable)
    assert before["false_refusal"] == 0.0
    assert after["false_refusal"] == 0.25
    assert after["precision"] == 0.5  # 1 correct of 2 abstentions
    assert before["precision"] == 1.0


def test_abstention_zero_denominators() -> None:
    scores = abstention_scores([False, False], [True, False])
    assert scores == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "false_refusal": 0.0}
    assert abstention_scores([], []) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "false_refusal": 0.0}
    with pytest.raises(ValueError):
        abstention_scores([True], [True, False])


def test_percentile_and_mean() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == 2.5
    # rank = (4 - 1) * 0.95 = 2.85 -> 3 + 0.85 * (4 - 3) = 3.85 (numpy's linear method)
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)
    assert mean([1.0, 2.0, 4.0]) == pytest.approx(7 / 3)
    assert math.isnan(mean([]))
