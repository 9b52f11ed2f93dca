"""Evaluation metrics as pure functions: retrieval, answer facts, citations, abstention, latency.

No I/O and no models here, so every number in a report can be recomputed by
hand from the per-question records. Retrieval metrics take ranked keys (strings
or tuples) and a set of relevant keys; `page_key` and friends build those keys
from chunks and gold references. Text is read with `core.text` (normalise, claims,
content words, markers), the same toolkit the answer checker uses, so eval and the
app agree on what a sentence, a word and a citation are.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from core.text import cited_numbers, claims, content_words, normalise, plain_glyphs, strip_markers

K = TypeVar("K", bound=Hashable)

__all__ = [
    "CitationScores",
    "abstention_scores",
    "citation_scores",
    "dedupe",
    "doc_relevant",
    "gold_doc_keys",
    "gold_page_keys",
    "hit_at_k",
    "lexical_support",
    "mean",
    "ndcg_at_k",
    "page_key",
    "page_relevant",
    "percentile",
    "quote_verified",
    "recall_at_k",
    "reciprocal_rank",
    "required_fact_recall",
    "token_f1",
]


# --------------------------------------------------------------------------- retrieval


def dedupe(keys: Iterable[K]) -> list[K]:
    """Keep each key's first occurrence: five chunks of one page must count as one hit, not five."""
    seen: set[K] = set()
    out: list[K] = []
    for key in keys:
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def _prepare(ranked: Sequence[K], relevant: Collection[K], k: int | None) -> tuple[list[K], set[K]]:
    """De-duplicate, then cut at k distinct keys; refuse an empty relevant set (the score is undefined)."""
    if k is not None and k < 1:
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    rel = set(relevant)
    if not rel:
        raise ValueError("no relevant keys: score retrieval on answerable questions only")
    top = dedupe(ranked)
    if k is not None:
        top = top[:k]
    return top, rel


def hit_at_k(ranked: Sequence[K], relevant: Collection[K], k: int | None = None) -> float:
    """1.0 if any of the top-k distinct keys is relevant, else 0.0 (llama-index HitRate, default mode)."""
    from llama_index.core.evaluation.retrieval.metrics import HitRate

    top, rel = _prepare(ranked, relevant, k)
    if not top:  # llama-index raises on an empty list; an empty result is simply a miss
        return 0.0
    return float(HitRate().compute(expected_ids=list(rel), retrieved_ids=top).score)  # type: ignore[arg-type]


def recall_at_k(ranked: Sequence[K], relevant: Collection[K], k: int | None = None) -> float:
    """Fraction of relevant keys among the top-k distinct keys (llama-index Recall, set-based)."""
    from llama_index.core.evaluation.retrieval.metrics import Recall

    top, rel = _prepare(ranked, relevant, k)
    if not top:
        return 0.0
    return float(Recall().compute(expected_ids=list(rel), retrieved_ids=top).score)  # type: ignore[arg-type]


def reciprocal_rank(ranked: Sequence[K], relevant: Collection[K], k: int | None = None) -> float:
    """1/rank of the first relevant distinct key, 0.0 if none in the top k (llama-index MRR, default mode).

    Ranks count distinct keys: at document level [A, A, B] puts B at rank 2.
    Averaging over questions gives MRR.
    """
    from llama_index.core.evaluation.retrieval.metrics import MRR

    top, rel = _prepare(ranked, relevant, k)
    if not top:
        return 0.0
    return float(MRR().compute(expected_ids=list(rel), retrieved_ids=top).score)  # type: ignore[arg-type]


def ndcg_at_k(ranked: Sequence[K], relevant: Collection[K], k: int | None = None) -> float:
    """Binary-relevance nDCG@k with log2 discounts: DCG / IDCG, gain 1/log2(rank+1) per relevant key.

    Implemented here rather than with llama-index's NDCG because that one takes the
    ideal DCG over *all* expected ids, not min(|relevant|, k): with 3 relevant keys
    and k=2, a perfect top 2 would score 0.77 instead of 1.0. With k=None the ideal
    ranking has all relevant keys.
    """
    top, rel = _prepare(ranked, relevant, k)
    dcg = sum(1.0 / math.log2(i + 1) for i, key in enumerate(top, start=1) if key in rel)
    n_ideal = len(rel) if k is None else min(len(rel), k)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, n_ideal + 1))
    return dcg / idcg


class _Ref(Protocol):
    """Anything with a corpus file and a page, such as `eval.dataset.GoldRef`."""

    @property
    def file(self) -> str: ...

    @property
    def page(self) -> int | None: ...


def page_key(source: str, page: int | None, gold: Iterable[_Ref] = ()) -> tuple[str, int | None]:
    """The page-level key of a retrieved chunk, matched against `gold_page_keys`.

    A gold ref with page None (a Markdown treaty counts as one page) matches any
    chunk of that file, so such chunks map to (source, None).
    """
    if any(g.file == source and g.page is None for g in gold):
        return (source, None)
    return (source, page)


def gold_page_keys(gold: Iterable[_Ref]) -> set[tuple[str, int | None]]:
    """Relevant page keys of a question; a whole-file ref (page None) absorbs that file's page refs."""
    refs = list(gold)
    whole = {g.file for g in refs if g.page is None}
    return {(g.file, None) if g.file in whole else (g.file, g.page) for g in refs}


def gold_doc_keys(gold: Iterable[_Ref]) -> set[str]:
    """Relevant document keys of a question: its gold files."""
    return {g.file for g in gold}


def page_relevant(retrieved_source: str, retrieved_page: int | None, gold_refs: Iterable[_Ref]) -> bool:
    """Whether a chunk comes from a gold file and gold page (any page when the gold page is None)."""
    return any(g.file == retrieved_source and (g.page is None or g.page == retrieved_page) for g in gold_refs)


def doc_relevant(retrieved_source: str, gold_refs: Iterable[_Ref]) -> bool:
    """Whether a chunk comes from any gold file."""
    return any(g.file == retrieved_source for g in gold_refs)


# --------------------------------------------------------------------------- answers

_ARTICLES = frozenset({"a", "an", "the"})


def _contains_fact(answer: str, fact: str) -> bool:
    """Whole-word containment: "14" must not match "2014", but "photo" may match "photos"."""
    if not fact:
        return True
    left = r"(?<!\w)" if fact[0].isalnum() else ""
    if fact[-1].isdigit():
        right = r"(?!\d|\.\d)"
    elif fact[-1].isalpha():
        right = r"(?:s|es|d|ed|ing|ings)?(?!\w)"
    else:
        right = ""
    return re.search(left + re.escape(fact) + right, answer) is not None


def required_fact_recall(answer_text: str, facts: Sequence[str]) -> float:
    """Fraction of required facts found in the answer after `normalise`; 1.0 when there are none.

    Matching is on word boundaries rather than raw substrings (an inflection
    suffix such as a plural "s" is allowed), because many gold facts are short
    numbers like "14" or "25" that a raw substring test would find inside "2014".
    """
    if not facts:
        return 1.0
    answer = normalise(answer_text)
    found = sum(1 for fact in facts if _contains_fact(answer, normalise(fact)))
    return found / len(facts)


def _answer_tokens(text: str) -> list[str]:
    return [t for t in normalise(text).split() if t not in _ARTICLES]


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 on normalised tokens without articles; two empty texts score 1.0."""
    pred, ref = _answer_tokens(prediction), _answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


# --------------------------------------------------------------------------- citations


def _verbatim_key(text: str) -> str:
    return plain_glyphs(strip_markers(text)).casefold().strip(" .!?;:\"'")


def lexical_support(sentence: str, passage: str, threshold: float = 0.6) -> bool:
    """Cheap offline stand-in for an NLI judge: enough of the sentence's content words occur in the passage.

    True when the sentence (without [n] markers) appears verbatim in the passage,
    or when at least `threshold` of its distinct stemmed content words do. A
    sentence with no content words is not supported.
    """
    claim = _verbatim_key(sentence)
    if claim and claim in plain_glyphs(passage).casefold():
        return True
    words = set(content_words(sentence))
    if not words:
        return False
    available = set(content_words(passage))
    return len(words & available) / len(words) >= threshold


@dataclass(frozen=True)
class CitationScores:
    """ALCE-style citation recall and precision of one answer, with the counts behind them."""

    recall: float
    precision: float
    n_sentences: int
    n_citations: int
    n_supported: int = 0
    n_relevant: int = 0


def citation_scores(
    answer_text: str,
    sources: dict[int, str],
    supports: Callable[[str, str], bool],
) -> CitationScores:
    """Citation recall and precision per answer sentence, after ALCE (Gao et al., 2023).

    `supports(claim, passage)` judges entailment; `lexical_support` fits. Claims are
    `core.text.claims` of the answer (the answer checker's own splitter: a run of [n]
    markers or a sentence end closes one), judged without their markers; sentences with no content words, and
    uncited lead-ins ending in ":", are not scored.

    - recall: fraction of sentences whose valid cited passages, joined, support
      them; an uncited sentence is unsupported.
    - precision: fraction of citations that exist in `sources` and either support
      the sentence alone or are needed (the others alone would not support it).
      Unlike ALCE, a citation number missing from `sources` costs only itself,
      not the whole sentence.

    With no sentences (or no citations) recall (or precision) is 0.0; check the counts.
    """
    cache: dict[tuple[str, tuple[int, ...]], bool] = {}

    def judged(claim: str, ids: Sequence[int]) -> bool:
        key = (claim, tuple(ids))
        if key not in cache:
            cache[key] = bool(supports(claim, "\n".join(sources[i] for i in ids)))
        return cache[key]

    n_sentences = n_citations = n_supported = n_relevant = 0
    for sentence in claims(answer_text):
        claim = strip_markers(sentence)
        cites = cited_numbers(sentence)
        if not content_words(claim) or (not cites and claim.endswith(":")):
            continue
        n_sentences += 1
        n_citations += len(cites)
        valid = [c for c in cites if c in sources]
        joint = bool(valid) and judged(claim, valid)
        n_supported += joint
        if len(valid) == 1:
            n_relevant += joint
            continue
        for c in valid:
            if judged(claim, [c]) or (joint and not judged(claim, [x for x in valid if x != c])):
                n_relevant += 1
    return CitationScores(
        recall=n_supported / n_sentences if n_sentences else 0.0,
        precision=n_relevant / n_citations if n_citations else 0.0,
        n_sentences=n_sentences,
        n_citations=n_citations,
        n_supported=n_supported,
        n_relevant=n_relevant,
    )


def quote_verified(quote: str, page_text: str) -> bool:
    """Whether the quote occurs verbatim (case-sensitive) in the page, up to whitespace and glyph variants.

    Both sides get the same treatment: NFKC (so "ﬁ" is "fi"), typographic quotes and
    dashes made plain, soft hyphens dropped, whitespace collapsed. A second try also
    joins words hyphenated across a line break, as PDF extraction leaves them.
    """
    for dehyphenate in (False, True):
        q = plain_glyphs(quote, dehyphenate=dehyphenate)
        if q and q in plain_glyphs(page_text, dehyphenate=dehyphenate):
            return True
    return False


# --------------------------------------------------------------------------- abstention, latency


def abstention_scores(predicted_abstain: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float]:
    """Abstention quality; the positive class is "abstained on an unanswerable question".

    precision = correct abstentions / abstentions (0.0 when nothing abstained);
    recall = correct abstentions / unanswerable questions (0.0 when there are none);
    f1 their harmonic mean (0.0 when both are 0); false_refusal = abstentions on
    answerable questions / answerable questions (0.0 when there are none).
    """
    if len(predicted_abstain) != len(answerable):
        raise ValueError(f"{len(predicted_abstain)} predictions for {len(answerable)} questions")
    tp = sum(1 for a, ok in zip(predicted_abstain, answerable, strict=True) if a and not ok)
    fp = sum(1 for a, ok in zip(predicted_abstain, answerable, strict=True) if a and ok)
    n_abstained = sum(1 for a in predicted_abstain if a)
    n_unanswerable = sum(1 for ok in answerable if not ok)
    n_answerable = len(answerable) - n_unanswerable
    precision = tp / n_abstained if n_abstained else 0.0
    recall = tp / n_unanswerable if n_unanswerable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    false_refusal = fp / n_answerable if n_answerable else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "false_refusal": false_refusal}


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation, as numpy's default; nan for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p!r}")
    data = sorted(values)
    if not data:
        return math.nan
    rank = (len(data) - 1) * p / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; nan for no values, so an empty group reads as missing rather than zero."""
    data = list(values)
    return math.fsum(data) / len(data) if data else math.nan
