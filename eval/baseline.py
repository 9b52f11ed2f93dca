"""The plain llama-index pipeline Lantern is measured against.

pypdf pages as llama-index Documents, `SentenceSplitter()` defaults (1,024 tokens),
all-MiniLM-L6-v2 through `HuggingFaceEmbedding`, Chroma, dense retrieval only. This is
what a developer gets by following the llama-index starter tutorial over the same files,
so a report can say how much Lantern's own chunking, hybrid search and answering add.

The baseline builds its own index from each document's ORIGINAL file (the path the store
ledger records at ingest), not from Lantern's cleaned pages: cleaning is part of what is
being compared. The index is cached under `<out>/baseline-index`, keyed by a hash of the
source list and content hashes, so a second run over the same store skips the embedding.
llama-index is imported here only, and only when a baseline is requested.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import offline_environment

BASELINE_VERSION = "1"  # bump when the pipeline below changes, so stale caches are rebuilt
DEPTH = 10  # chunks retrieved per question: top 5 for @5 metrics, 10 for nDCG@10
_NO_PAGE = 0  # Chroma metadata cannot hold None: 0 stands for "a file without pages"


@dataclass
class BaselineHit:
    """One retrieved baseline chunk: the same (source, page) keys Lantern's hits carry."""

    source: str
    page: int | None
    score: float
    text: str


@dataclass
class BaselineIndex:
    """A built (or reloaded) baseline index and the facts a report states about it."""

    retriever: Any
    path: Path
    collection: str
    chunks: int
    documents: int
    built: bool
    seconds: float
    notes: list[str]
    parse_seconds: float | None = None  # reading files and splitting; None when the cache was used
    embed_seconds: float | None = None  # embedding and writing to Chroma; None when the cache was used

    def retrieve(self, question: str) -> tuple[list[BaselineHit], float]:
        """The top-`DEPTH` chunks for a question, best first, and the milliseconds it took."""
        t0 = time.perf_counter()
        nodes = self.retriever.retrieve(question)
        ms = (time.perf_counter() - t0) * 1000
        hits = []
        for n in nodes:
            meta = n.node.metadata or {}
            page = meta.get("page", _NO_PAGE)
            hits.append(
                BaselineHit(
                    source=str(meta.get("file", "")),
                    page=None if page in (None, _NO_PAGE) else int(page),
                    score=float(n.score or 0.0),
                    text=n.node.get_content(),
                )
            )
        return hits, ms


def _log(message: str) -> None:
    print(f"baseline: {message}", file=sys.stderr, flush=True)


def pages_of(path: Path) -> list[tuple[int | None, str]]:
    """(page, text) of a file as a tutorial reader gives them: pypdf pages, or the whole text file."""
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader

        logging.getLogger("pypdf").setLevel(logging.ERROR)
        reader = PdfReader(str(path))
        return [(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
    return [(None, path.read_text(encoding="utf-8", errors="replace"))]


def _documents(store: Any) -> tuple[list[Any], list[str]]:
    """llama-index Documents (metadata file=source, page) from each document's original file.

    A document whose original file has gone falls back to the store's copy of it; one with no
    file at all (text captured from the web) falls back to the store's page texts. Each
    fallback is noted in the report.
    """
    from llama_index.core import Document

    docs: list[Any] = []
    notes: list[str] = []
    for rec in store.documents():
        original = rec.metadata.get("path")
        path = Path(original) if original else None
        if path is None or not path.is_file():
            path = store.file_path(rec.source)
            if path is not None:
                notes.append(f"{rec.source}: original file missing, read the store's copy")
        if path is not None:
            pages = pages_of(path)
        else:
            pages = store.pages(rec.source)
            notes.append(f"{rec.source}: no file, used the store's page text")
        for page, text in pages:
            if text.strip():
                meta = {"file": rec.source, "page": _NO_PAGE if page is None else page}
                docs.append(Document(text=text, metadata=meta))
    return docs, notes


def index_documents(docs: list[Any], collection: Any, embed: Any) -> tuple[list[Any], float, float]:
    """The llama-index starter recipe: SentenceSplitter defaults, then a VectorStoreIndex in a Chroma
    collection. Returns (nodes, split seconds, embed+store seconds); bench/ingest_bench.py times it."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    t = time.perf_counter()
    nodes = SentenceSplitter().get_nodes_from_documents(docs)
    split_s = time.perf_counter() - t
    _log(f"building its index from {len(docs)} pages, {len(nodes)} chunks")
    t = time.perf_counter()
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    VectorStoreIndex(nodes, storage_context=storage, embed_model=embed)
    return nodes, split_s, time.perf_counter() - t


def plain_embedder() -> Any:
    """MiniLM as the starter pipeline loads it (HuggingFaceEmbedding, torch)."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from ingest.embed import minilm_path

    return HuggingFaceEmbedding(model_name=str(minilm_path()), embed_batch_size=32)


def _cache_key(store: Any, model_path: str) -> str:
    """Hash of what the index depends on: sources, their content hashes, model and pipeline version."""
    sources = sorted((d.source, d.sha256) for d in store.documents())
    blob = json.dumps({"sources": sources, "model": Path(model_path).name, "version": BASELINE_VERSION})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_baseline(store: Any, work_dir: Path) -> BaselineIndex:
    """Build the baseline index for a store's documents, or reload it from `work_dir` if cached."""
    offline_environment()
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from core.store import scratch_chroma
    from ingest.embed import minilm_path

    t0 = time.perf_counter()
    model_path = str(minilm_path())
    key = _cache_key(store, model_path)
    work_dir.mkdir(parents=True, exist_ok=True)
    name = f"baseline-{key}"
    done_marker = work_dir / f"{name}.done"
    client = scratch_chroma(work_dir)
    embed = plain_embedder()
    notes: list[str] = []
    built = False
    parse_s = embed_s = None
    if done_marker.exists():
        collection = client.get_or_create_collection(name)
        if collection.count() == 0:
            done_marker.unlink()
    if not done_marker.exists():
        # a half-built one from an interrupted run; chromadb raises various types for "not found"
        with contextlib.suppress(Exception):
            client.delete_collection(name)
        collection = client.get_or_create_collection(name)
        t = time.perf_counter()
        docs, notes = _documents(store)
        read_s = time.perf_counter() - t
        _, split_s, embed_s = index_documents(docs, collection, embed)
        parse_s = read_s + split_s
        done_marker.write_text(json.dumps({"notes": notes, "documents": len(store.documents())}))
        built = True
    else:
        notes = json.loads(done_marker.read_text()).get("notes", [])
    collection = client.get_or_create_collection(name)
    vector_store = ChromaVectorStore(chroma_collection=collection)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed)
    return BaselineIndex(
        retriever=index.as_retriever(similarity_top_k=DEPTH),
        path=work_dir,
        collection=name,
        chunks=collection.count(),
        documents=len(store.documents()),
        built=built,
        seconds=time.perf_counter() - t0,
        notes=notes,
        parse_seconds=parse_s,
        embed_seconds=embed_s,
    )
