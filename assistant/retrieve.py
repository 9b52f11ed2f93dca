"""Hybrid retrieval: dense search in Chroma ⊕ bm25s keyword search, fused, filtered, merged.

Both halves see the same filters: a filter is first resolved to the set of matching
documents (case-insensitive on publisher/title/source, ranges on year), and the chunk
language is checked per chunk, so dense and keyword results always agree on scope.
Results are fused by weighted reciprocal rank (chosen over a weighted score sum on the dev
set; see bench/query.py); its constants, and the weight of the dense half for questions not
in English (MiniLM reads English only), are fitted by cross-validation (bench/fit.py,
assistant/fitted.json). Then duplicate and overlapping chunks are merged.

This module avoids importing llama-index so that `lantern ask` starts fast; `as_retriever`
in `api` wraps it as a llama-index retriever for developers who want one.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import FilterError
from core.text import guess_language
from core.types import Chunk, Hit

from .crosslingual import make_stage
from .fitted import FITTED
from .rerank import DEPTH as RERANK_DEPTH
from .rerank import Candidate, rerank

if TYPE_CHECKING:
    from core.keyword import KeywordIndex

# Fusion constants are fitted by cross-validation over the gold questions (bench/fit.py) and
# read from assistant/fitted.json; these names keep the values importable.
RRF_K = FITTED.fusion.rrf_k
KEYWORD_WEIGHT = FITTED.fusion.keyword_weight  # weight of the keyword half; the dense half weighs 1
FOREIGN_DENSE_WEIGHT = FITTED.fusion.foreign_dense_weight  # dense half for questions not in English
CANDIDATES = FITTED.fusion.candidates  # per half, before fusion
# Dense search inside a filter: up to EXACT_ROWS admitted chunks are scored exactly from the
# store's row vectors (~0.3 ms of CPU per 1,000 rows); a broader filter over-fetches Chroma's
# nearest neighbours, at most OVERFETCH_MAX (a filter admitting more than ~1/11 of the library at
# 60 candidates), and keeps the admitted ones; between the two, or when too few were admitted
# among those fetched, scoring stays exact (linear, but far below Chroma's own filtered search).
EXACT_ROWS = 200_000
OVERFETCH_MAX = 1000
# Without a filter, a library of up to EXACT_LIBRARY_ROWS chunks is also scored exactly (~5 ms at
# the limit, under 1 ms for the shared corpus): Chroma's HNSW graph is approximate and differs from
# build to build (on the shared corpus it missed 2.4 of each question's 60 nearest on average,
# 45 for one question), so exact scoring finds more and gives every build the same answers.
EXACT_LIBRARY_ROWS = 50_000


@dataclass
class Filters:
    """Metadata filters, applied in both halves of the search.

    `source` is exact; other text fields match case-insensitively as substrings
    (`publisher="home office"`);
    `year` is exact, `year_min`/`year_max` bound a range; `language` is the chunk's.
    """

    source: str | None = None
    publisher: str | None = None
    title: str | None = None
    language: str | None = None
    doc_type: str | None = None
    year: int | None = None
    year_min: int | None = None
    year_max: int | None = None

    @classmethod
    def parse(cls, values: dict[str, Any] | Filters | None) -> Filters:
        if values is None:
            return cls()
        if isinstance(values, Filters):
            return values
        known = {f.name for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in values.items():
            key = key.strip().lower().replace("-", "_")
            if key not in known:
                raise FilterError(f"unknown filter {key!r}: use one of {', '.join(sorted(known))}")
            if value in (None, ""):
                continue
            if key.startswith("year"):
                try:
                    out[key] = int(value)
                except (TypeError, ValueError):
                    raise FilterError(f"filter {key}={value!r}: a year must be a whole number") from None
            else:
                out[key] = str(value)
        return cls(**out)

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass
class SearchResult:
    """Hits, best first, and the evidence the abstention gate needs."""

    hits: list[Hit]
    best_similarity: float
    english: bool
    query_vector: np.ndarray | None
    dense_scores: list[float] = field(default_factory=list)  # best first: cosines of the first few
    keyword_scores: list[float] = field(default_factory=list)  # best first: BM25 scores of the first few
    pool: list[Chunk] = field(default_factory=list)  # the fused candidates the hits were merged from


class Retriever:
    """Dense + keyword search over one store; reloads its keyword index when the store changes."""

    def __init__(self, store, embedder, fusion: str = "rrf"):
        self.store = store
        self.embedder = embedder
        self.fusion = fusion
        self._lock = threading.Lock()
        self._generation = -1
        self._keyword: KeywordIndex | None = None
        # a multilingual dense model (dense_model=e5) reads every language: its half keeps full weight
        self.multilingual = bool(getattr(embedder, "multilingual", False))
        self.crosslingual = make_stage(store.settings, embedder if self.multilingual else None)

    # --- state that follows the store ------------------------------------------------
    def _refresh(self) -> None:
        generation = self.store.generation
        if generation == self._generation:
            return
        with self._lock:
            if generation == self._generation:
                return
            from core.keyword import KeywordIndex

            if self._generation >= 0 and self.store.get_meta("writer_pid") != str(os.getpid()):
                self.store.reopen_collection()  # another process wrote: drop our cached Chroma
            keyword = KeywordIndex.load(self.store)
            self._keyword = keyword
            self._generation = keyword.generation

    def matching_sources(self, filters: Filters) -> list[str] | None:
        """Documents a filter admits (None = no document-level filter)."""
        contains = {n: v for n in ("publisher", "title", "doc_type") if (v := getattr(filters, n)) is not None}
        conditions = (filters.source, filters.year, filters.year_min, filters.year_max)
        if not contains and all(c is None for c in conditions):
            return None
        args = (filters.source, contains, filters.year, filters.year_min, filters.year_max)
        if self._keyword is not None and (found := self._keyword.find_sources(*args)) is not None:
            return found  # no SQL scan of the documents per question
        return self.store.find_sources(*args)

    # --- search ----------------------------------------------------------------------
    def embed_query(self, question: str) -> np.ndarray:
        own = getattr(self.embedder, "embed_query", None)  # e5 reads questions with its `query:` prefix
        return own(question) if own is not None else self.embedder.embed([question])[0]

    def search(
        self, question: str, filters: Filters | None = None, top_k: int = 5, query_vector: np.ndarray | None = None,
        candidates: int = CANDIDATES,
    ) -> SearchResult:
        """The `top_k` best chunks for the question, after fusion and merging."""
        self._refresh()
        filters = filters or Filters()
        sources = self.matching_sources(filters)
        language = guess_language(question)
        english = language == "en"
        if sources is not None and not sources:
            return SearchResult([], 0.0, english, query_vector)
        vector = query_vector if query_vector is not None else self.embed_query(question)
        dense = self.dense(vector, filters, sources, candidates)
        keyword = self.keyword(question, filters, sources, candidates)
        dense_weight = 1.0 if english or self.multilingual else FOREIGN_DENSE_WEIGHT
        fused = fuse(dense if dense_weight > 0 else [], keyword, self.fusion, dense_weight=dense_weight)
        # --- cross-lingual stage (assistant/crosslingual.py): multilingual e5 re-orders the best candidates
        if self.crosslingual is not None:
            # a question not in English: candidates from its e5 vector bridged into MiniLM's space
            # (assistant/bridge.py) and the keyword half's best; without a bridge, MiniLM's own vector
            bridged = None if english or self.multilingual else self.crosslingual.bridged_query(
                question, str(getattr(self.embedder, "name", "")))
            if bridged is not None:
                both = self.crosslingual.bridged_pool(self.dense(bridged, filters, sources, candidates), keyword)
            else:
                both = fused if english else fuse(dense, keyword, self.fusion)
            top_keyword = keyword[0][0] if keyword else None
            fused = self.crosslingual.apply(question, language, both, fused, self.store.chunks, top_keyword)
        # --- end of cross-lingual stage
        dense_ids, keyword_ids = dict(dense), dict(keyword)
        ranking = english and FITTED.ranker is not None  # second stage (assistant/rerank.py); others: e5 above
        wanted = fused[: max(top_k * 4, RERANK_DEPTH if ranking else 0)]
        chunks = {c.id: c for c in self.store.chunks([cid for cid, _ in wanted])}
        if ranking:
            fused = self._rerank(question, fused, chunks, dense_ids, keyword_ids)
        hits = [
            Hit(chunks[cid], score, 0, "+".join(n for n, ids in (("dense", dense_ids), ("keyword", keyword_ids)) if cid in ids))
            for cid, score in fused[: top_k * 4]
            if cid in chunks
        ]
        hits = merge_overlapping(hits, self.store.page_text)[:top_k]
        for rank, hit in enumerate(hits, 1):
            hit.rank = rank
        top_dense = sorted((s for _, s in dense), reverse=True)[:3]
        best = top_dense[0] if top_dense else 0.0
        pool = [chunks[cid] for cid, _ in fused[: top_k * 4] if cid in chunks]
        return SearchResult(hits, best, english, vector, top_dense, [s for _, s in keyword[:3]], pool)

    @staticmethod
    def _rerank(question: str, fused: list[tuple[str, float]], chunks: dict[str, Chunk], dense: dict[str, float],
                keyword: dict[str, float]) -> list[tuple[str, float]]:
        """`fused` with its first RERANK_DEPTH candidates (whose chunks are in `chunks`) re-ordered."""
        head = fused[:RERANK_DEPTH]
        found = [Candidate(chunks[cid], s, dense.get(cid), keyword.get(cid)) for cid, s in head if cid in chunks]
        return [(c.chunk.id, c.fused) for c in rerank(question, found)] + fused[RERANK_DEPTH:]

    def dense(self, vector: np.ndarray, filters: Filters, sources: list[str] | None, n: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity): exactly over every chunk's vector in a library of up to
        EXACT_LIBRARY_ROWS chunks, else from Chroma's vector index without a filter; inside a
        filter, exactly over the admitted chunks' vectors when they are few (EXACT_ROWS), else
        from Chroma's nearest neighbours over-fetched and filtered here; Chroma's own `where`
        search (which scans its metadata: seconds at a million chunks) only as a last resort,
        for a store whose ledger holds no vectors."""
        where = _chroma_where(filters, sources)
        index = self._keyword
        small = index is not None and 0 < len(index) <= EXACT_LIBRARY_ROWS
        if (where is not None or small) and (found := self._dense_within(vector, filters, sources, n)) is not None:
            return found
        # no count() first: Chroma answers a larger n_results with what it holds (one round trip less)
        result = self.store.collection.query(
            query_embeddings=[vector.tolist()], n_results=n, where=where, include=["distances"]
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def _dense_within(self, vector: np.ndarray, filters: Filters, sources: list[str] | None,
                      n: int) -> list[tuple[str, float]] | None:
        """Dense search inside a filter without Chroma's `where` (see `dense`); None when this
        store cannot answer it so (its ledger holds no vectors for some admitted chunk, and the
        filter is too narrow to over-fetch)."""
        index = self._keyword
        if index is None or not len(index):
            return None
        rows = np.flatnonzero(index.doc_mask(sources, filters.language))
        if not len(rows):
            return []
        vectors = index.vectors
        exact = vectors is not None and index.with_vector is not None and bool(index.with_vector[rows].all())
        fetch = math.ceil(n * len(index) / len(rows) * 1.5)  # expect n admitted among them
        if fetch <= OVERFETCH_MAX and (len(rows) > EXACT_ROWS or not exact) and len(index) > EXACT_LIBRARY_ROWS:
            result = self.store.collection.query(
                query_embeddings=[vector.tolist()], n_results=fetch, include=["distances", "metadatas"]
            )
            admitted = None if sources is None else set(sources)
            found = [
                (cid, 1.0 - float(d))
                for cid, d, meta in zip(result["ids"][0], result["distances"][0], result["metadatas"][0], strict=True)
                if (admitted is None or (meta or {}).get("source") in admitted)
                and (not filters.language or (meta or {}).get("language") == filters.language)
            ]
            if len(found) >= n or len(result["ids"][0]) < fetch:
                return found[:n]
        if not exact or vectors is None:
            return None
        # exact: linear in the admitted rows, but far below Chroma's filtered search at any size
        query = np.asarray(vector, dtype=np.float32)
        scores = np.concatenate([vectors[rows[at : at + 8192]] @ query for at in range(0, len(rows), 8192)])
        top = np.argpartition(-scores, n - 1)[:n] if len(scores) > n else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        return list(zip(index.ids[rows[top]].tolist(), scores[top].astype(float).tolist(), strict=True))

    def keyword(self, question: str, filters: Filters, sources: list[str] | None, n: int) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) with the filter applied as a mask over the index."""
        index = self._keyword
        if index is None or not len(index):
            return []
        mask = index.doc_mask(sources, filters.language) if sources is not None or filters.language else None
        return index.search(question, n, mask)


def _chroma_where(filters: Filters, sources: list[str] | None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if sources is not None:
        clauses.append({"source": {"$in": sources}})
    if filters.language:
        clauses.append({"language": {"$eq": filters.language}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def fuse(
    dense: list[tuple[str, float]], keyword: list[tuple[str, float]], method: str = "rrf", *,
    rrf_k: float | None = None, keyword_weight: float | None = None, dense_weight: float = 1.0,
) -> list[tuple[str, float]]:
    """Combine two ranked lists into one, best first.

    rrf: Σ w/(K + rank), w = `dense_weight` for dense and KEYWORD_WEIGHT for keyword (K = RRF_K;
    bench/fit.py passes other values to fit them).
    weighted: 0.6·cosine + 0.4·(BM25 / best BM25). dense/keyword: one half only.
    """
    if method == "dense":
        return list(dense)
    if method == "keyword":
        top = max((s for _, s in keyword), default=1.0) or 1.0
        return [(cid, s / top) for cid, s in keyword]
    scores: dict[str, float] = {}
    if method == "weighted":
        top = max((s for _, s in keyword), default=1.0) or 1.0
        for cid, s in dense:
            scores[cid] = scores.get(cid, 0.0) + 0.6 * s
        for cid, s in keyword:
            scores[cid] = scores.get(cid, 0.0) + 0.4 * (s / top)
    else:
        k = RRF_K if rrf_k is None else rrf_k
        weights = ((dense_weight, dense), (KEYWORD_WEIGHT if keyword_weight is None else keyword_weight, keyword))
        for weight, ranked in weights:
            if weight <= 0:
                continue
            for rank, (cid, _) in enumerate(ranked, 1):
                scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)


def merge_overlapping(hits: list[Hit], page_text: Callable[[str, int | None], str | None]) -> list[Hit]:
    """Drop exact duplicates (the same text anywhere) and fold chunks that overlap on one
    page into the better-ranked one, so an answer never cites one passage twice."""
    out: list[Hit] = []
    seen_text: set[str] = set()
    for hit in hits:
        key = " ".join(hit.chunk.text.split()).lower()
        if key in seen_text:
            continue
        seen_text.add(key)
        for i, kept in enumerate(out):
            a, b = kept.chunk, hit.chunk
            if a.source == b.source and a.page == b.page and a.start < b.end and b.start < a.end:
                start, end = min(a.start, b.start), max(a.end, b.end)
                text = (page_text(a.source, a.page) or "")[start:end] or a.text
                out[i] = Hit(Chunk(a.id, a.source, a.page, start, end, text, a.metadata), kept.score, kept.rank, kept.via)
                break
        else:
            out.append(hit)
    return out
