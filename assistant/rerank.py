"""Second-stage ranking: re-order the best fused candidates by a fitted linear model over
general evidence, so the page that answers moves up even when one half of the search missed it.

Fusion sees only two ranks per chunk. The ranker also sees how the chunk scored in each half,
how much of the question it covers (in its text, in one window of two sentences, in its title
and section path), how many other candidates come from the same document and page (a document
that keeps coming up is probably the one), whether the question's figures appear, and how
much of the chunk is prose (contents pages and reference lists are mostly numbers and names).
None of it reads a particular word: the weights are fitted by k-fold cross-validation over the
gold questions (bench/fit.py) and live in assistant/fitted.json.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from core.text import content_words, idf_weights, numbers, sentences
from core.types import Chunk

from .fitted import FITTED, Ranker

FEATURES = ("fused", "fused_rank", "dense", "dense_gap", "dense_rank", "keyword", "keyword_rank", "both",
            "text_cover", "window_cover", "title_cover", "doc_votes", "doc_best", "page_votes", "numbers", "prose")
DEPTH = 30  # candidates re-ordered; the rest keep their fused order below them


@dataclass
class Candidate:
    """One fused candidate and what each half of the search said about it."""

    chunk: Chunk
    fused: float
    dense: float | None
    keyword: float | None


def _cover(q_words: set[str], idf: dict[str, float], text_words: set[str]) -> float:
    total = sum(idf[w] for w in q_words) or 1.0
    return sum(idf[w] for w in q_words if w in text_words) / total


def features(question: str, candidates: Sequence[Candidate]) -> list[dict[str, float]]:
    """The ranker's evidence for each candidate, in the order given (best fused first)."""
    if not candidates:
        return []
    q_words = set(content_words(question))
    q_numbers = numbers(question)
    texts = [set(content_words(c.chunk.text)) for c in candidates]
    n = len(candidates)
    idf = idf_weights(q_words, texts)
    top_fused = candidates[0].fused or 1.0
    dense_known = [c.dense for c in candidates if c.dense is not None]
    best_dense = max(dense_known, default=0.0)
    floor_dense = min(dense_known, default=0.0)
    top_keyword = max((c.keyword for c in candidates if c.keyword is not None), default=0.0) or 1.0
    docs = Counter(c.chunk.source for c in candidates)
    doc_best: dict[str, float] = {}
    for c in candidates:
        doc_best.setdefault(c.chunk.source, c.fused / top_fused)
    dense_order = {id(c): r for r, c in enumerate(sorted((c for c in candidates if c.dense is not None),
                                                          key=lambda c: -(c.dense or 0.0)), 1)}
    keyword_order = {id(c): r for r, c in enumerate(sorted((c for c in candidates if c.keyword is not None),
                                                            key=lambda c: -(c.keyword or 0.0)), 1)}
    pages = Counter((c.chunk.source, c.chunk.page) for c in candidates)
    out = []
    for rank, (c, words) in enumerate(zip(candidates, texts, strict=True), 1):
        said = sentences(c.chunk.text) or [c.chunk.text]
        windows = [set(content_words(" ".join(said[i:i + 2]))) for i in range(max(1, len(said) - 1))]
        meta = c.chunk.metadata
        heading = f"{meta.get('title') or ''} {meta.get('section') or ''}"
        text = c.chunk.text
        dense = c.dense if c.dense is not None else floor_dense
        out.append({
            "fused": c.fused / top_fused,
            "fused_rank": 1.0 / rank,
            "dense": dense,
            "dense_gap": best_dense - dense,
            "dense_rank": 1.0 / dense_order[id(c)] if id(c) in dense_order else 0.0,
            "keyword_rank": 1.0 / keyword_order[id(c)] if id(c) in keyword_order else 0.0,
            "keyword": (c.keyword or 0.0) / top_keyword,
            "both": float(c.dense is not None and c.keyword is not None),
            "text_cover": _cover(q_words, idf, words),
            "window_cover": max((_cover(q_words, idf, w) for w in windows), default=0.0),
            "title_cover": _cover(q_words, idf, set(content_words(heading))),
            "doc_votes": (docs[c.chunk.source] - 1) / n,
            "doc_best": doc_best[c.chunk.source],
            "page_votes": (pages[(c.chunk.source, c.chunk.page)] - 1) / n,
            "numbers": (len(q_numbers & numbers(text)) / len(q_numbers)) if q_numbers else 0.5,
            "prose": sum(ch.isalpha() for ch in text) / max(1, len(text)),
        })
    return out


def rerank(question: str, candidates: Sequence[Candidate], model: Ranker | None = None) -> list[Candidate]:
    """The first DEPTH candidates re-ordered by the fitted model, the rest after them as fused."""
    model = model or FITTED.ranker
    if model is None or len(candidates) < 2:
        return list(candidates)
    head, tail = list(candidates[:DEPTH]), list(candidates[DEPTH:])
    scores = [model.score(f) for f in features(question, head)]
    order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
    return [head[i] for i in order] + tail
