"""Lantern's evaluation kit: the typed gold set and pure metric functions.

Kept free of models and stores so a run's per-question records can be rescored,
and every reported number checked, without rebuilding anything. Text helpers
(normalise, claims, citation markers) are `core.text`'s, not re-exported here.
"""

from eval.dataset import (
    CATEGORIES,
    DIFFICULTIES,
    Dataset,
    GoldRef,
    Question,
    load_dataset,
    save_dataset,
    validate_against,
)
from eval.metrics import (
    CitationScores,
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

__all__ = [
    "CATEGORIES",
    "DIFFICULTIES",
    "CitationScores",
    "Dataset",
    "GoldRef",
    "Question",
    "abstention_scores",
    "citation_scores",
    "dedupe",
    "doc_relevant",
    "gold_doc_keys",
    "gold_page_keys",
    "hit_at_k",
    "lexical_support",
    "load_dataset",
    "mean",
    "ndcg_at_k",
    "page_key",
    "page_relevant",
    "percentile",
    "quote_verified",
    "recall_at_k",
    "reciprocal_rank",
    "required_fact_recall",
    "save_dataset",
    "token_f1",
    "validate_against",
]
