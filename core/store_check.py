"""Is the store whole? Compare what is derived (Chroma, the keyword index, file copies) with
the ledger, and rebuild what can be rebuilt from it.

The ledger holds every chunk's text, so Chroma can always be re-embedded from it and the
keyword index rebuilt; only a lost ledger or a lost original file is beyond repair here.
Damage is otherwise invisible: a deleted `chroma/` is silently recreated empty, and a lost
HNSW segment still counts its ids but finds none of them, so answers would quietly fall
back to keywords alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .errors import StoreError
from .keyword import KeywordIndex
from .types import Chunk

EmbedChunks = Callable[[Sequence[Chunk]], np.ndarray]

PROBE = 10  # neighbours asked of Chroma to see that its vector index answers


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a store: `part` is chroma, keyword or files; `code` is stable."""

    part: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def fix_command(store) -> str:
    return f"lantern doctor --repair --store {store.root}"


def _where(store) -> str:
    return f"the Chroma server {store.settings.chroma}" if store.settings.chroma else f"Chroma at {store.root / 'chroma'}"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _ledger_ids(store) -> set[str]:
    rows = store.db.execute(
        "SELECT c.id FROM chunks c JOIN documents d ON c.source=d.source WHERE d.state='complete'"
    ).fetchall()
    return {r[0] for r in rows}


def check_chroma(store, quick: bool = False, embed: EmbedChunks | None = None) -> list[Problem]:
    """Chroma against the ledger. `quick` (before every question) compares counts and probes
    the vector index; the full check compares the id sets and, given the store's own `embed`,
    asks Chroma for a few ledger passages by their own vectors: a damaged HNSW file can still
    answer every query, with the wrong neighbours."""
    where = _where(store)
    expected = store.count_chunks()
    try:
        collection = store.collection
        count = collection.count()
        missing = expected - count if quick else len(_ledger_ids(store) - set(collection.get(include=[])["ids"]))
    except StoreError as exc:
        return [Problem("chroma", "unreadable", str(exc).split(": run `")[0])]
    except Exception as exc:  # Chroma raises many kinds for damaged files
        return [Problem("chroma", "unreadable", f"{where} cannot be read ({_first_line(exc)})")]
    if count:
        lost = f"{where} holds {count} ids but its vector index (the HNSW segment) is missing or damaged"
        try:
            sample = collection.get(limit=1, include=["embeddings"])  # fails when the segment is gone
            n = min(PROBE, count)
            found = collection.query(query_embeddings=[list(sample["embeddings"][0])], n_results=n, include=[])
        except Exception as exc:
            return [Problem("chroma", "vectors_lost", f"{lost} ({_first_line(exc)})")]
        if len(found["ids"][0]) < n:
            return [Problem("chroma", "vectors_lost", f"{lost}: {len(found['ids'][0])} of {n} neighbours found")]
    if missing > 0:
        return [Problem("chroma", "missing", f"{missing} of {expected} passages in the ledger are missing from {where}: "
                        "answers would rest on keywords alone")]
    if embed is not None and count and not quick:
        try:
            lost_probes, probes = _self_probe(store, collection, embed)
        except Exception as exc:
            return [Problem("chroma", "vectors_lost", f"{where} cannot be searched ({_first_line(exc)})")]
        if lost_probes:
            return [Problem("chroma", "vectors_lost", f"{where} holds damaged vectors: {lost_probes} of {probes} passages "
                            "of the ledger are not found by their own text")]
    return []


def _self_probe(store, collection, embed: EmbedChunks) -> tuple[int, int]:
    """How many of (up to) PROBE ledger passages, spread over the store and embedded again, have
    a different vector in Chroma (cosine distance over 1e-3), or none."""
    ids = sorted(_ledger_ids(store))
    sample = store.chunks(ids[:: max(1, len(ids) // PROBE)][:PROBE])
    expected = np.asarray(embed(sample), dtype=np.float64)
    got = collection.get(ids=[c.id for c in sample], include=["embeddings"])
    stored = dict(zip(got["ids"], got["embeddings"], strict=True))
    lost = 0
    for chunk, vector in zip(sample, expected, strict=True):
        have = stored.get(chunk.id)
        if have is None:
            lost += 1
            continue
        have = np.asarray(have, dtype=np.float64)
        denominator = float(np.linalg.norm(have) * np.linalg.norm(vector)) or 1.0
        lost += 1.0 - float(have @ vector) / denominator > 1e-3
    return lost, len(sample)


def check_keyword(store) -> list[Problem]:
    folder = store.root / "keyword"
    if not (folder / "lantern.json").exists():
        return [Problem("keyword", "missing", f"the keyword index {folder} is missing (rebuilt in memory on every start)")]
    try:
        KeywordIndex.load_saved(store)
    except Exception as exc:  # stale, truncated, unparsable: all rebuilt the same way
        text = _first_line(exc)
        code = "stale" if text.startswith("stale") else "damaged"
        return [Problem("keyword", code, f"the keyword index {folder} is {'out of date' if code == 'stale' else 'damaged'} ({text})")]
    return []


def check_files(store) -> list[Problem]:
    bad = [d for d in store.documents() if d.file_copy and not store.file_copy_intact(d)]
    if not bad:
        return []
    gone = sum(not (store.root / "files" / d.file_copy).exists() for d in bad)
    what = ("missing" if gone == len(bad) else "damaged (changed since ingest)" if not gone
            else f"missing or damaged ({gone} missing)")
    shown = ", ".join(d.source for d in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    return [Problem("files", "missing" if gone == len(bad) else "damaged",
                    f"{len(bad)} file copies are {what} in {store.root / 'files'} ({shown}): cited files cannot be "
                    "opened until they are restored from the original files")]


def check(store, quick: bool = False, embed: EmbedChunks | None = None) -> list[Problem]:
    """Every problem found, Chroma first (an empty list: the store is whole). `embed`: the
    store's own embedder, for the full check's vector probe (None: the probe is skipped)."""
    if quick:
        return check_chroma(store, quick=True)
    return check_chroma(store, embed=embed) + check_keyword(store) + check_files(store)


def rebuild_chroma(store, embed: EmbedChunks, reset: bool, batch: int = 256,
                   progress: Callable[[int, int], None] | None = None) -> int:
    """Put every ledger chunk missing from Chroma back (the caller holds the write lock): with
    the vector the ledger keeps for it, else re-embedded from its text (a store written before
    the ledger kept vectors). `reset`: the collection is unreadable, start it afresh. Returns
    the number of passages put back. The generation moves on, so the keyword index must be
    rebuilt."""
    if reset:
        if store.settings.chroma:
            collection = store.collection
            ids = collection.get(include=[])["ids"]
            for start in range(0, len(ids), store.chroma_batch):
                collection.delete(ids=ids[start : start + store.chroma_batch])
        else:
            store.reopen_collection()
            shutil.rmtree(store.root / "chroma", ignore_errors=True)
    present = set(store.collection.get(include=[])["ids"])
    todo: list[tuple[Chunk, np.ndarray | None]] = []
    seq: dict[str, int] = {}
    kept: tuple[str | None, np.ndarray | None] = (None, None)
    for chunk in store.chunks():  # in chunk order within each document, as its vectors are kept
        i = seq[chunk.source] = seq.get(chunk.source, -1) + 1
        if chunk.id in present:
            continue
        if kept[0] != chunk.source:
            kept = (chunk.source, store.document_vectors(chunk.source))
        vectors = kept[1]
        todo.append((chunk, vectors[i] if vectors is not None and i < len(vectors) else None))
    size = max(batch, store.chroma_batch if all(v is not None for _, v in todo) else batch)
    for start in range(0, len(todo), size):
        part = todo[start : start + size]
        missing = [c for c, v in part if v is None]
        fresh: Iterator[np.ndarray] = iter(embed(missing) if missing else [])
        vectors = np.stack([np.asarray(v if v is not None else next(fresh), dtype=np.float32) for _, v in part])
        store.add_vectors([c for c, _ in part], vectors)
        if progress:
            progress(start + len(part), len(todo))
    # a new generation tells other processes' readers to drop their cached Chroma clients
    store.set_meta("writer_pid", str(os.getpid()))
    store.set_meta("generation", str(store.generation + 1))
    return len(todo)
