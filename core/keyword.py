"""The keyword half of the store: a bm25s index (English stemming, stopwords) over the
same text that is embedded, persisted in `<store>/keyword/` and tagged with the ledger
generation it was built from, so a reader can tell when it is stale and rebuild it.

Built to hold a library of a million chunks: the ledger is read a batch at a time and each
batch is reduced at once to (chunk, term, count) arrays, so the build never holds the
chunks' texts or Python token lists; the BM25 matrix is then assembled with numpy, with the
same scores as `bm25s.BM25.index` (lucene variant). Readers memory-map the saved arrays, so
several processes serving one store share one copy in the page cache, and per chunk the
index keeps only integer codes of its document and language, so a filter becomes a mask by
one array lookup.

Beside the keyword matrix, the index keeps each row's vector (from the ledger's float16 copies,
widened to float32 so scoring needs no conversion: half the CPU) in `vectors.f32`, memory-mapped: a dense search inside a filter scores the
admitted rows exactly from it (see `assistant.retrieve`), since Chroma's own filtered search
scans its metadata and costs seconds at a million chunks.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .text import stem

FORMAT = 2  # lantern.json's "format": an index saved in another format is rebuilt
BATCH = 20_000  # chunks tokenized at a time
K1, B = 1.5, 0.75  # bm25s defaults


def _tokenizer():
    from bm25s.tokenization import Tokenizer

    return Tokenizer(lower=True, stopwords="en", stemmer=stem, splitter=r"(?u)\b\w[\w.,%-]*\w\b|\b\w\b")


def keyword_text(chunk) -> str:
    """The title line and the chunk text: what BM25 scores (names of documents help)."""
    title = chunk.metadata.get("title") or ""
    return _text(str(title), chunk.text)


def _text(title: str, text: str) -> str:
    return f"{title}\n{text}" if title else text


@dataclass
class KeywordIndex:
    """bm25s over chunks: row i is chunk `ids[i]`, of document `doc_names[doc_codes[i]]` in
    language `lang_names[lang_codes[i]]`."""

    ids: np.ndarray  # str, one per row
    doc_codes: np.ndarray  # int32 per row
    doc_names: list[str]
    lang_codes: np.ndarray  # int16 per row
    lang_names: list[str]
    retriever: Any  # bm25s.BM25, imported lazily
    tokenizer: Any  # bm25s.tokenization.Tokenizer
    generation: int
    vectors: np.ndarray | None = None  # float32 per row (zeros where the ledger holds none)
    with_vector: np.ndarray | None = None  # bool per row: the ledger held its vector
    doc_fields: dict[str, list[Any]] | None = None  # publisher, title, doc_type, year per document

    def __post_init__(self) -> None:
        self._doc_index = {name: i for i, name in enumerate(self.doc_names)}
        fields = self.doc_fields or {}
        self._years = np.array([-1 if y is None else int(y) for y in fields.get("year", [])], dtype=np.int64)
        self._text: dict[str, tuple[np.ndarray, list[str]]] = {}
        for name in ("publisher", "title", "doc_type"):  # distinct lowered values and each document's code
            values = [str(v or "").lower() for v in fields.get(name, [])]
            distinct = {v: i for i, v in enumerate(dict.fromkeys(values))}
            self._text[name] = (np.array([distinct[v] for v in values], dtype=np.int32), list(distinct))

    def find_sources(
        self, source: str | None = None, contains: dict[str, str] | None = None,
        year: int | None = None, year_min: int | None = None, year_max: int | None = None,
    ) -> list[str] | None:
        """As `Store.find_sources`, over the documents this index holds, without a query per
        question (a substring is matched once per distinct value, then looked up per document);
        None when the index was built without document fields."""
        if self.doc_fields is None:
            return None
        keep = np.ones(len(self.doc_names), dtype=bool)
        for name, value in (contains or {}).items():
            if name not in self._text:
                raise ValueError(f"not a searchable document field: {name}")
            codes, distinct = self._text[name]
            needle = value.lower()
            keep &= np.array([needle in v for v in distinct], dtype=bool)[codes] if distinct else False
        for op, bound in ((np.equal, year), (np.greater_equal, year_min), (np.less_equal, year_max)):
            if bound is not None:
                keep &= (self._years >= 0) & op(self._years, bound)
        if source is not None:
            keep &= np.array([n == source for n in self.doc_names], dtype=bool) if self.doc_names else False
        return [self.doc_names[i] for i in np.flatnonzero(keep)]

    def __len__(self) -> int:
        return len(self.ids)

    def doc_mask(self, sources: list[str] | None = None, language: str | None = None) -> np.ndarray:
        """Rows of the given documents and/or language, as a boolean array (one lookup per row)."""
        keep = np.ones(len(self.ids), dtype=bool)
        if sources is not None:
            wanted = np.zeros(len(self.doc_names) + 1, dtype=bool)
            wanted[[self._doc_index[s] for s in sources if s in self._doc_index]] = True
            keep &= wanted[self.doc_codes]
        if language:
            code = self.lang_names.index(language) if language in self.lang_names else -1
            keep &= self.lang_codes == code
        return keep

    @classmethod
    def build(cls, store, folder: Path | None = None) -> KeywordIndex:
        """Build from the ledger, a batch of chunks at a time (see the module docstring); the
        row vectors go to `folder`/vectors.f32 when a folder is given, else stay in memory."""
        import bm25s

        vectors = _VectorSink(store, folder)
        tokenizer = _tokenizer()
        ids: list[str] = []
        doc_index: dict[str, int] = {}
        lang_index: dict[str, int] = {}
        doc_codes: list[np.ndarray] = []
        lang_codes: list[np.ndarray] = []
        rows_of: list[np.ndarray] = []  # per batch: the row of each (row, term) pair
        terms_of: list[np.ndarray] = []
        counts_of: list[np.ndarray] = []
        lengths_of: list[np.ndarray] = []
        for batch in store.keyword_rows(BATCH):
            start = len(ids)
            ids.extend(r[0] for r in batch)
            vectors.add(batch)
            doc_codes.append(np.fromiter((doc_index.setdefault(r[1], len(doc_index)) for r in batch), np.int32, len(batch)))
            lang_codes.append(np.fromiter((lang_index.setdefault(str(r[4]), len(lang_index)) for r in batch), np.int16, len(batch)))
            tokens = tokenizer.tokenize([_text(str(r[2]), r[3]) for r in batch], update_vocab=True, return_as="ids",
                                        show_progress=False)
            lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
            flat = np.fromiter(itertools.chain.from_iterable(tokens), np.int64, int(lengths.sum()))
            del tokens
            pairs, counts = np.unique((np.repeat(np.arange(len(batch), dtype=np.int64), lengths) << 32) | flat,
                                      return_counts=True)
            rows_of.append(((pairs >> 32) + start).astype(np.int32))
            terms_of.append((pairs & 0xFFFFFFFF).astype(np.int32))
            counts_of.append(counts.astype(np.float32))
            lengths_of.append(lengths)
        if not ids:  # an empty store: one empty document, as bm25s would index [""]
            tokens = tokenizer.tokenize([""], update_vocab=True, return_as="ids", show_progress=False)
            rows_of, terms_of = [np.zeros(1, np.int32)], [np.array(tokens[0], np.int32)]
            counts_of, lengths_of = [np.ones(1, np.float32)], [np.ones(1, np.int64)]
        vocab = dict(tokenizer.get_vocab_dict())
        if "" not in vocab:  # bm25s's empty token, scored by no chunk
            vocab[""] = max(vocab.values(), default=-1) + 1
        retriever = bm25s.BM25()
        retriever.scores = _bm25_matrix(rows_of, terms_of, counts_of, lengths_of, len(vocab))
        retriever.vocab_dict = vocab
        retriever.nonoccurrence_array = None  # set by bm25s's own index(); lucene needs none
        retriever.unique_token_ids_set = set(vocab.values())
        matrix, with_vector = vectors.finish()
        records = {d.source: d for d in store.documents()}
        doc_fields: dict[str, list[Any]] = {
            name: [getattr(records[s], name) if s in records else None for s in doc_index]
            for name in ("publisher", "title", "doc_type", "year")
        }
        return cls(
            ids=np.array(ids, dtype=str),
            doc_codes=np.concatenate(doc_codes) if doc_codes else np.zeros(0, np.int32),
            doc_names=list(doc_index),
            lang_codes=np.concatenate(lang_codes) if lang_codes else np.zeros(0, np.int16),
            lang_names=list(lang_index),
            retriever=retriever,
            tokenizer=tokenizer,
            generation=store.generation,
            vectors=matrix,
            with_vector=with_vector,
            doc_fields=doc_fields,
        )

    @classmethod
    def rebuild(cls, store) -> KeywordIndex:
        """Build from the ledger and persist atomically enough: a half-written folder is never read."""
        folder = store.root / "keyword"
        for leftover in store.root.glob("keyword.tmp*"):  # from a run killed mid-save
            shutil.rmtree(leftover, ignore_errors=True)
        tmp = store.root / f"keyword.tmp{os.getpid()}"
        tmp.mkdir()
        index = cls.build(store, tmp)
        index.retriever.save(str(tmp), show_progress=False)
        index.tokenizer.save_vocab(str(tmp))
        index.tokenizer.save_stopwords(str(tmp))
        np.save(tmp / "ids.npy", index.ids)
        np.save(tmp / "docs.npy", index.doc_codes)
        np.save(tmp / "languages.npy", index.lang_codes)
        if index.with_vector is not None:
            np.save(tmp / "with_vector.npy", index.with_vector)
        (tmp / "lantern.json").write_text(json.dumps({
            "format": FORMAT, "generation": index.generation, "chunks": len(index.ids),
            "documents": index.doc_names, "languages": index.lang_names,
            "dim": None if index.vectors is None else index.vectors.shape[1], "fields": index.doc_fields,
        }))
        old = store.root / "keyword.old"
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
        store.set_meta("keyword_generation", str(index.generation))
        return index

    @classmethod
    def load_saved(cls, store) -> KeywordIndex:
        """The persisted index, memory-mapped; raises (OSError, ValueError, ...) when it is
        missing, stale, of another format or damaged."""
        import bm25s

        folder: Path = store.root / "keyword"
        info = json.loads((folder / "lantern.json").read_text())
        if info.get("format") != FORMAT:
            raise ValueError(f"stale: saved in format {info.get('format', 1)}, this Lantern reads format {FORMAT}")
        if info["generation"] != store.generation:
            raise ValueError(f"stale: built from ledger generation {info['generation']}, the ledger is at {store.generation}")
        retriever = bm25s.BM25.load(str(folder), mmap=True)
        tokenizer = _tokenizer()
        tokenizer.load_vocab(str(folder))
        tokenizer.load_stopwords(str(folder))
        arrays = [np.load(folder / name, mmap_mode="r") for name in ("ids.npy", "docs.npy", "languages.npy")]
        if any(len(a) != info["chunks"] for a in arrays) or retriever.scores["num_docs"] != max(info["chunks"], 1):
            raise ValueError("its files disagree on the number of chunks")
        vectors = with_vector = None
        if info.get("dim"):
            vectors = np.memmap(folder / "vectors.f32", dtype=np.float32, mode="r", shape=(info["chunks"], info["dim"]))
            with_vector = np.load(folder / "with_vector.npy", mmap_mode="r")
        return cls(arrays[0], arrays[1], info["documents"], arrays[2], info["languages"], retriever, tokenizer,
                   info["generation"], vectors, with_vector, info.get("fields"))

    @classmethod
    def load(cls, store) -> KeywordIndex:
        """The persisted index if it matches the ledger; else one rebuilt now and written back
        when the store is writable and no writer holds it (else kept in memory only)."""
        try:
            return cls.load_saved(store)
        except Exception:  # missing, stale or damaged in any way: rebuild from the ledger
            pass
        try:
            with store.write_lock(wait=0):
                return cls.rebuild(store)
        except Exception:  # busy, read-only or full: answering matters more than saving
            return cls.build(store)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the best `k` chunks, only where `mask` is true.

        Scores come from bm25s; the best are chosen here among the chunks that score at all
        (bm25s's own selection partitions the whole library, which is slow when a filter
        leaves most scores at zero; see `_best`)."""
        if not len(self.ids):
            return []
        ids = self.tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
        terms = [i for i in (ids[0] if ids else []) if i and i in self.retriever.unique_token_ids_set]
        if not terms:
            return []
        scores = self.retriever.get_scores_from_ids(terms, weight_mask=mask)
        hits = _best(scores, k)
        hits = hits[np.lexsort((hits, -scores[hits]))]  # best first; ties in row order
        return list(zip(self.ids[hits].tolist(), scores[hits].astype(float).tolist(), strict=True))


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the `k` highest positive scores, unordered. A cut-off is read from every 16th
    score first (its ceil(k/8)-th best is expected near the 2k-th best overall), so only the
    rows above it are partitioned: ~1 ms instead of ~14 ms over a million rows. When fewer than
    `k` rows reach the cut-off, all positive rows are used; either way the result is exact."""
    sample = scores[::16]
    m = -(-k // 8)
    if len(sample) > 4 * m:
        cut = float(np.partition(sample, len(sample) - m)[len(sample) - m])
        if cut > 0 and len(hits := np.flatnonzero(scores >= cut)) >= k:
            return hits[np.argpartition(-scores[hits], k - 1)[:k]]
    hits = np.flatnonzero(scores > 0)
    return hits[np.argpartition(-scores[hits], k - 1)[:k]] if len(hits) > k else hits


class _VectorSink:
    """Collects each row's vector from the ledger's per-document blobs, in row order, into a
    file (or memory); rows of documents without stored vectors get zeros and are flagged."""

    def __init__(self, store, folder: Path | None):
        self.store = store
        self.dim: int | None = store.vector_dim()  # None: the ledger holds no vectors
        self.path = None if folder is None or self.dim is None else folder / "vectors.f32"
        self.fh = None if self.path is None else open(self.path, "wb")  # noqa: SIM115 - closed in finish()
        self.parts: list[np.ndarray] = []
        self.flags: list[np.ndarray] = []
        self.source: str | None = None
        self.doc: np.ndarray | None = None  # the current document's vectors
        self.at = 0  # its next row

    def add(self, batch: list[tuple[str, str, str, str, str]]) -> None:
        flags = np.zeros(len(batch), dtype=bool)
        self.flags.append(flags)
        if self.dim is None:
            return
        out = np.zeros((len(batch), self.dim), dtype=np.float32)
        for i, row in enumerate(batch):  # rows come by document, in chunk order
            if row[1] != self.source:
                self.source, self.at = row[1], 0
                doc = self.store.document_vectors(row[1])
                self.doc = doc if doc is not None and doc.shape[1] == self.dim else None
            if self.doc is not None and self.at < len(self.doc):
                out[i] = self.doc[self.at]
                flags[i] = True
            self.at += 1
        if self.fh is not None:
            self.fh.write(out.tobytes())
        else:
            self.parts.append(out)

    def finish(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.fh is not None:
            self.fh.close()
        flags = np.concatenate(self.flags) if self.flags else np.zeros(0, dtype=bool)
        if self.dim is None or not len(flags):
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            return None, None
        if self.path is not None:
            return np.memmap(self.path, dtype=np.float32, mode="r", shape=(len(flags), self.dim)), flags
        return np.concatenate(self.parts), flags


def _bm25_matrix(rows_of: list[np.ndarray], terms_of: list[np.ndarray], counts_of: list[np.ndarray],
                 lengths_of: list[np.ndarray], n_terms: int) -> dict[str, Any]:
    """bm25s's score matrix (CSC: a column of (chunk, score) per term) from (row, term, count)
    triples, scored as bm25s's lucene variant: idf = ln(1 + (N - df + ½)/(df + ½)),
    tf part = tf / (tf + k1·(1 - b + b·len/avg len))."""
    lengths = np.concatenate(lengths_of)
    n_docs = len(lengths)
    rows = np.concatenate(rows_of)
    del rows_of[:]
    terms = np.concatenate(terms_of)
    del terms_of[:]
    scores = np.concatenate(counts_of)
    del counts_of[:]
    df = np.bincount(terms, minlength=n_terms)
    idf = np.zeros(n_terms, dtype=np.float32)
    seen = df > 0
    idf[seen] = np.log1p((n_docs - df[seen] + 0.5) / (df[seen] + 0.5)).astype(np.float32)
    norm = (K1 * ((1 - B) + B * lengths / lengths.mean())).astype(np.float32)
    scores /= scores + norm[rows]
    scores *= idf[terms]
    order = np.argsort(terms, kind="stable")  # by term, chunks ascending within one
    del terms
    data = scores[order]
    del scores
    indices = rows[order]
    del rows, order
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}

