"""The keyword half of the store: a bm25s index (English stemming, stopwords) over the
same text that is embedded, persisted in `<store>/keyword/` and tagged with the ledger
generation it was built from, so a reader can tell when it is stale and rebuild it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .text import stem


def _tokenizer():
    from bm25s.tokenization import Tokenizer

    return Tokenizer(lower=True, stopwords="en", stemmer=stem, splitter=r"(?u)\b\w[\w.,%-]*\w\b|\b\w\b")


def keyword_text(chunk) -> str:
    """The title line and the chunk text: what BM25 scores (names of documents help)."""
    title = chunk.metadata.get("title") or ""
    return f"{title}\n{chunk.text}" if title else chunk.text


@dataclass
class KeywordIndex:
    """bm25s over chunk ids (`ids[i]` is the chunk of document i), with its tokenizer."""

    ids: list[str]
    sources: np.ndarray
    retriever: Any  # bm25s.BM25, imported lazily
    tokenizer: Any  # bm25s.tokenization.Tokenizer
    generation: int

    @classmethod
    def build(cls, store) -> KeywordIndex:
        import bm25s

        chunks = store.chunks()
        tokenizer = _tokenizer()
        texts = [keyword_text(c) for c in chunks] or [""]
        tokens = tokenizer.tokenize(texts, update_vocab=True, return_as="tuple", show_progress=False)
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(
            ids=[c.id for c in chunks],
            sources=np.array([c.source for c in chunks], dtype=object),
            retriever=retriever,
            tokenizer=tokenizer,
            generation=store.generation,
        )

    @classmethod
    def rebuild(cls, store) -> KeywordIndex:
        """Build from the ledger and persist atomically enough: a half-written folder is never read."""
        index = cls.build(store)
        folder = store.root / "keyword"
        for leftover in store.root.glob("keyword.tmp*"):  # from a run killed mid-save
            shutil.rmtree(leftover, ignore_errors=True)
        tmp = store.root / f"keyword.tmp{os.getpid()}"
        tmp.mkdir()
        index.retriever.save(str(tmp), show_progress=False)
        index.tokenizer.save_vocab(str(tmp))
        index.tokenizer.save_stopwords(str(tmp))
        (tmp / "lantern.json").write_text(json.dumps({"generation": index.generation, "ids": index.ids,
                                                      "sources": list(index.sources)}))
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
        """The persisted index; raises (OSError, ValueError, ...) when it is missing, stale or damaged."""
        import bm25s

        folder: Path = store.root / "keyword"
        info = json.loads((folder / "lantern.json").read_text())
        if info["generation"] != store.generation:
            raise ValueError(f"stale: built from ledger generation {info['generation']}, the ledger is at {store.generation}")
        retriever = bm25s.BM25.load(str(folder), mmap=False)
        tokenizer = _tokenizer()
        tokenizer.load_vocab(str(folder))
        tokenizer.load_stopwords(str(folder))
        return cls(info["ids"], np.array(info["sources"], dtype=object), retriever, tokenizer, info["generation"])

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
        """(chunk id, BM25 score) of the best `k` chunks, only where `mask` is non-zero."""
        if not self.ids:
            return []
        ids = self.tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
        if not ids or not any(i for i in ids[0] if i is not None):
            return []
        k = min(k, len(self.ids))
        docs, scores = self.retriever.retrieve(
            ids, k=k, weight_mask=mask, show_progress=False, n_threads=1
        )
        return [(self.ids[d], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
