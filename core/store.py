"""The store: one folder holding Chroma, the keyword index, the ledger and file copies.

    <store>/ledger.sqlite   documents (content hash, state), pages (cleaned text), chunks, their
                            vectors (float16, one row per document), meta
    <store>/chroma/         Chroma's persistent data (unless a Chroma server is configured)
    <store>/keyword/        the bm25s index, tagged with the ledger generation it was built from
    <store>/files/          copies of ingested files by content hash (the UI serves cited PDFs)
    <store>/feedback.jsonl  the UI's feedback log
    <store>/conversations/  the UI's saved conversations, a folder per user (app/ui_conversations.py)
    <store>/write.lock      held by the one writer

The ledger is the source of truth and Chroma an index of it. A document is written in the
order: mark pending → delete its old vectors → add new vectors → swap its rows and mark it
complete in one SQLite transaction. A process killed anywhere leaves either the old complete
document or a pending one that the next run redoes; chunk ids Chroma returns that the ledger
does not hold are ignored by readers. This is the only module that writes the store.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import StoreError, StoreNotFound
from .settings import Settings
from .types import Chunk, Page

SCHEMA_VERSION = 1
CHROMA_BATCH = 5000  # under Chroma's 5,461 records per add

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, state TEXT NOT NULL,
    title TEXT, publisher TEXT, year INTEGER, language TEXT, doc_type TEXT, url TEXT,
    pages INTEGER NOT NULL DEFAULT 0, chunks INTEGER NOT NULL DEFAULT 0,
    file_copy TEXT, metadata TEXT NOT NULL DEFAULT '{}', ingested_at TEXT
);
CREATE TABLE IF NOT EXISTS pages (
    source TEXT NOT NULL, page INTEGER NOT NULL, label TEXT, text TEXT NOT NULL,
    PRIMARY KEY (source, page)
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, page INTEGER NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE TABLE IF NOT EXISTS vectors (source TEXT PRIMARY KEY, dim INTEGER NOT NULL, data BLOB NOT NULL);
"""


@dataclass
class DocumentRecord:
    """One row of the ledger's documents table."""

    source: str
    sha256: str
    state: str
    title: str | None
    publisher: str | None
    year: int | None
    language: str | None
    doc_type: str | None
    url: str | None
    pages: int
    chunks: int
    file_copy: str | None
    metadata: dict[str, Any]
    ingested_at: str | None


_TEXT_COLUMNS = frozenset({"publisher", "title", "doc_type"})
_EDITABLE = frozenset({"title", "publisher", "year", "language"})  # Store.update_document


def _page_db(page: int | None) -> int:
    return 0 if page is None else page  # 0 = a file without pages (Markdown, text)


def _page_py(page: int) -> int | None:
    return None if page == 0 else page


class Store:
    """Read and write access to one store folder (open with `Store.open`)."""

    def __init__(self, settings: Settings, root: Path, db: sqlite3.Connection):
        self.settings = settings
        self.root = root
        self.db = db  # one connection shared by threads: sqlite3 serialises its use
        self._collection = None
        self._collection_lock = threading.Lock()
        self._chroma_batch: int | None = None

    # --- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, create: bool = False) -> Store:
        root = Path(settings.store)
        ledger = root / "ledger.sqlite"
        damaged = (f"the ledger {ledger} is damaged ({{}}): restore it from a backup, "
                   f"or move {root} aside and re-ingest")
        if not ledger.exists():
            if any((root / d).exists() for d in ("chroma", "files", "keyword")):
                # a deleted ledger beside indexes is a lost ledger, never a new store
                raise StoreError(damaged.format("it is missing, but the store holds indexes and files"))
            if not create:
                raise StoreNotFound(f"no Lantern store at {root}: run `lantern ingest PATH --store {root}` first")
            root.mkdir(parents=True, exist_ok=True)
        elif ledger.stat().st_size == 0 and any((root / d).exists() for d in ("chroma", "files", "keyword")):
            # an emptied ledger beside indexes is a lost ledger, never a new store
            raise StoreError(damaged.format("it is empty, but the store holds indexes and files"))
        try:
            db = sqlite3.connect(str(ledger), timeout=30, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if (result := db.execute("PRAGMA quick_check(1)").fetchone()[0]) != "ok":  # ~10 ms for 8 MB
                raise sqlite3.DatabaseError(result)
            db.executescript(_SCHEMA)
            store = cls(settings, root, db)
            if store.get_meta("schema") is None:
                store.set_meta("schema", str(SCHEMA_VERSION))
                store.set_meta("generation", "0")
        except sqlite3.DatabaseError as exc:
            raise StoreError(damaged.format(str(exc).splitlines()[0] if str(exc) else "unreadable")) from None
        return store

    def close(self) -> None:
        self.db.close()

    # --- meta ------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        """Bumped on every change of the chunk set: derived indexes compare against it."""
        return int(self.get_meta("generation") or 0)

    def check_embedder(self, name: str, record: bool = True) -> None:
        """Refuse to mix vectors of two embedding models in one store (`record`: remember
        `name` as the store's model when it has none yet)."""
        stored = self.get_meta("embedder")
        if stored is None:
            if record:
                self.set_meta("embedder", name)
            return
        family = lambda n: n.split("-onnx")[0]  # noqa: E731 - ONNX/torch MiniLM share one space
        if family(stored) != family(name):
            raise StoreError(
                f"store {self.root} was built with embedder {stored!r}, not {name!r}: its vectors cannot "
                "be searched with another model; use the settings it was built with (dense_model, "
                "embed_backend, embed_model), or re-ingest into a new --store"
            )

    # --- Chroma ----------------------------------------------------------------------
    @property
    def collection(self):
        """The Chroma collection (embedded in the store, or on the configured server)."""
        if self._collection is None:
            with self._collection_lock:  # several UI threads may arrive at once
                if self._collection is None:
                    self._collection = open_collection(self.settings, self.root)
        return self._collection

    def reopen_collection(self) -> None:
        """Forget this process's cached embedded Chroma so the next query sees another process's
        writes (an embedded client keeps its vector index in memory). The old client is not
        stopped: queries already running on it finish. Server mode needs nothing."""
        if self.settings.chroma:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._collection_lock:
            path = str(self.root / "chroma")
            SharedSystemClient._identifier_to_system.pop(path, None)
            SharedSystemClient._identifier_to_refcount.pop(path, None)
            self._collection = None

    # --- locking ---------------------------------------------------------------------
    @contextmanager
    def write_lock(self, wait: float = 600.0) -> Iterator[None]:
        """Exclusive writer lock; a second writer waits, then fails with a clear message."""
        path = self.root / "write.lock"
        with open(path, "a+") as fh:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreError(f"store {self.root} is being written by another process") from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # --- reading ---------------------------------------------------------------------
    def documents(self, include_pending: bool = False, source: str | None = None) -> list[DocumentRecord]:
        clauses = ([] if include_pending else ["state='complete'"]) + (["source=?"] if source is not None else [])
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        cur = self.db.execute(f"SELECT * FROM documents{where} ORDER BY source", () if source is None else (source,))
        cols = [d[0] for d in cur.description]
        out = []
        for row in cur.fetchall():
            rec = dict(zip(cols, row, strict=True))
            rec["metadata"] = json.loads(rec["metadata"] or "{}")
            out.append(DocumentRecord(**rec))
        return out

    def document(self, source: str) -> DocumentRecord | None:
        found = self.documents(include_pending=True, source=source)
        return found[0] if found else None

    def has_documents(self) -> bool:
        """Whether any document is complete (cheap: asked before every question)."""
        return self.db.execute("SELECT 1 FROM documents WHERE state='complete' LIMIT 1").fetchone() is not None

    def count_chunks(self) -> int:
        return self.db.execute(
            "SELECT COUNT(*) FROM chunks c JOIN documents d ON c.source=d.source WHERE d.state='complete'"
        ).fetchone()[0]

    def _chunk_from_row(self, row: Sequence[Any]) -> Chunk:
        cid, source, page, start, end, text, meta = row
        return Chunk(cid, source, _page_py(page), start, end, text, json.loads(meta))

    def chunks(self, ids: Iterable[str] | None = None) -> list[Chunk]:
        """Chunks of complete documents, all (in ingest order) or those with `ids` (in that order)."""
        base = (
            "SELECT c.id, c.source, c.page, c.start, c.end, c.text, c.metadata FROM chunks c "
            "JOIN documents d ON c.source=d.source WHERE d.state='complete'"
        )
        if ids is None:
            return [self._chunk_from_row(r) for r in self.db.execute(base + " ORDER BY c.source, c.seq")]
        wanted = list(ids)
        found: dict[str, Chunk] = {}
        for start in range(0, len(wanted), 900):
            part = wanted[start : start + 900]
            sql = base + f" AND c.id IN ({','.join('?' * len(part))})"
            for r in self.db.execute(sql, part):
                found[r[0]] = self._chunk_from_row(r)
        return [found[i] for i in wanted if i in found]

    def neighbours(self, chunk: Chunk) -> list[Chunk]:
        """The chunks just before and after `chunk` on its page (in page order; fewer at the page's
        edges): a sentence that answers often sits beside the passage that matched the question."""
        sql = (
            "SELECT n.id, n.source, n.page, n.start, n.end, n.text, n.metadata FROM chunks c "
            "JOIN chunks n ON n.source=c.source AND n.page=c.page AND n.seq IN (c.seq - 1, c.seq + 1) "
            "JOIN documents d ON n.source=d.source WHERE c.id=? AND d.state='complete' ORDER BY n.seq"
        )
        return [self._chunk_from_row(r) for r in self.db.execute(sql, (chunk.id,))]

    def page_text(self, source: str, page: int | None) -> str | None:
        row = self.db.execute(
            "SELECT text FROM pages WHERE source=? AND page=?", (source, _page_db(page))
        ).fetchone()
        return row[0] if row else None

    def page_label(self, source: str, page: int | None) -> str | None:
        row = self.db.execute(
            "SELECT label FROM pages WHERE source=? AND page=?", (source, _page_db(page))
        ).fetchone()
        return row[0] if row else None

    def pages(self, source: str) -> list[tuple[int | None, str]]:
        """(page, cleaned text) of one document, in page order."""
        rows = self.db.execute("SELECT page, text FROM pages WHERE source=? ORDER BY page", (source,)).fetchall()
        return [(_page_py(p), t) for p, t in rows]

    def keyword_rows(self, batch: int = 20_000) -> Iterator[list[tuple[str, str, str, str, str]]]:
        """(chunk id, source, title, text, language) of every chunk of complete documents, in
        the order of `chunks()`, a batch at a time: what the keyword index is built from,
        without holding the library in memory."""
        cur = self.db.execute(
            "SELECT c.id, c.source, COALESCE(json_extract(c.metadata, '$.title'), ''), c.text, "
            "COALESCE(json_extract(c.metadata, '$.language'), '') FROM chunks c "
            "JOIN documents d ON c.source=d.source WHERE d.state='complete' ORDER BY c.source, c.seq"
        )
        while rows := cur.fetchmany(batch):
            yield rows

    def vector_dim(self) -> int | None:
        """The width of the vectors the ledger holds (None: it holds none, an older store)."""
        row = self.db.execute("SELECT dim FROM vectors LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def document_vectors(self, source: str) -> np.ndarray | None:
        """The document's chunk vectors (float16, in chunk order) if the ledger holds them."""
        row = self.db.execute("SELECT dim, data FROM vectors WHERE source=?", (source,)).fetchone()
        return None if row is None else np.frombuffer(row[1], dtype=np.float16).reshape(-1, row[0])

    def find_sources(
        self, source: str | None = None, contains: dict[str, str] | None = None,
        year: int | None = None, year_min: int | None = None, year_max: int | None = None,
    ) -> list[str]:
        """Complete documents matching every given condition; `contains` maps a text column
        (publisher, title, doc_type) to a case-insensitive substring."""
        clauses: list[str] = ["state='complete'"]
        params: list[str | int] = []
        if source is not None:
            clauses.append("source = ?")
            params.append(source)
        for name, value in (contains or {}).items():
            if name not in _TEXT_COLUMNS:
                raise ValueError(f"not a searchable document field: {name}")
            clauses.append(f"LOWER(COALESCE({name}, '')) LIKE ?")
            params.append(f"%{value.lower()}%")
        for op, bound in (("=", year), (">=", year_min), ("<=", year_max)):
            if bound is not None:
                clauses.append(f"year {op} ?")
                params.append(bound)
        rows = self.db.execute(f"SELECT source FROM documents WHERE {' AND '.join(clauses)}", params).fetchall()
        return [r[0] for r in rows]

    def file_path(self, source: str) -> Path | None:
        """The store's own copy of an ingested file (None for web text or unknown sources)."""
        doc = self.document(source)
        if not doc or not doc.file_copy:
            return None
        path = self.root / "files" / doc.file_copy
        return path if path.exists() else None

    # --- writing (callers hold write_lock) ------------------------------------------
    def mark_pending(self, source: str, sha256: str) -> None:
        self.db.execute(
            "INSERT INTO documents(source, sha256, state) VALUES (?, ?, 'pending') "
            "ON CONFLICT(source) DO UPDATE SET sha256=excluded.sha256, state='pending'",
            (source, sha256),
        )

    def delete_vectors(self, source: str) -> None:
        self.collection.delete(where={"source": source})

    @property
    def chroma_batch(self) -> int:
        """Records per Chroma write: the client's own limit (`max_batch_size`, which depends on
        the Chroma build and server), at most CHROMA_BATCH."""
        if self._chroma_batch is None:
            limit = CHROMA_BATCH
            with suppress(Exception):  # an older or different client: keep the documented limit
                limit = int(self.collection._client.get_max_batch_size())
            self._chroma_batch = max(1, min(CHROMA_BATCH, limit))
        return self._chroma_batch

    def add_vectors(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Vectors and filterable metadata only: the text stays in the ledger, where readers get
        it (a copy in Chroma would be read by nobody and cost a third of Chroma's write time
        for its full-text index)."""
        batch = self.chroma_batch
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            self.collection.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[start : start + batch],
                metadatas=[chroma_metadata(c) for c in part],
            )

    def commit_document(
        self, source: str, sha256: str, meta: dict[str, Any], pages: Sequence[Page], chunks: Sequence[Chunk],
        file_copy: str | None, vectors: np.ndarray | None = None,
    ) -> None:
        """Swap in the document's pages and chunks and mark it complete, atomically. `vectors`
        (one per chunk, as given to `add_vectors`) are kept in the ledger too, at half precision:
        a search inside a filter scores the admitted chunks exactly from them, where Chroma's
        filtered search would cost seconds in a large library."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        extra = {k: v for k, v in meta.items() if k not in {"title", "publisher", "year", "language", "doc_type", "url"}}
        with self._transaction() as db:
            db.execute("DELETE FROM pages WHERE source=?", (source,))
            db.execute("DELETE FROM chunks WHERE source=?", (source,))
            db.execute("DELETE FROM vectors WHERE source=?", (source,))
            if vectors is not None and len(vectors) == len(chunks) and len(chunks):
                half = np.ascontiguousarray(vectors, dtype=np.float16)
                db.execute("INSERT INTO vectors(source, dim, data) VALUES (?, ?, ?)",
                           (source, half.shape[1], half.tobytes()))
            db.executemany(
                "INSERT INTO pages(source, page, label, text) VALUES (?, ?, ?, ?)",
                [(source, _page_db(p.page), p.metadata.get("page_label"), p.text) for p in pages],
            )
            db.executemany(
                "INSERT OR REPLACE INTO chunks(id, source, page, start, end, text, metadata, seq) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (c.id, source, _page_db(c.page), c.start, c.end, c.text, json.dumps(c.metadata), i)
                    for i, c in enumerate(chunks)
                ],
            )
            db.execute(
                "UPDATE documents SET sha256=?, state='complete', title=?, publisher=?, year=?, language=?, doc_type=?, "
                "url=?, pages=?, chunks=?, file_copy=?, metadata=?, ingested_at=? WHERE source=?",
                (
                    sha256, meta.get("title"), meta.get("publisher"), meta.get("year"), meta.get("language"),
                    meta.get("doc_type"), meta.get("url"), len(pages), len(chunks), file_copy,
                    json.dumps(extra, default=str), now, source,
                ),
            )
            self._bump(db)

    def remove_document(self, source: str) -> None:
        """Remove a document everywhere (vectors first, so a crash leaves it pending, not orphaned)."""
        self.db.execute("UPDATE documents SET state='pending' WHERE source=?", (source,))
        self.delete_vectors(source)
        with self._transaction() as db:
            db.execute("DELETE FROM pages WHERE source=?", (source,))
            db.execute("DELETE FROM chunks WHERE source=?", (source,))
            db.execute("DELETE FROM vectors WHERE source=?", (source,))
            db.execute("DELETE FROM documents WHERE source=?", (source,))
            self._bump(db)

    def replace_vectors(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """New vectors for one document's chunks (all of them, in ledger order), in Chroma and in the
        ledger's copy that filtered searches score from; the generation moves on so indexes reload."""
        if not chunks:
            return
        source = chunks[0].source
        self.add_vectors(chunks, vectors)
        half = np.ascontiguousarray(vectors, dtype=np.float16)
        with self._transaction() as db:
            db.execute("DELETE FROM vectors WHERE source=?", (source,))
            db.execute("INSERT INTO vectors(source, dim, data) VALUES (?, ?, ?)", (source, half.shape[1], half.tobytes()))
            self._bump(db)

    def update_document(self, source: str, values: dict[str, Any]) -> None:
        """Change a document's title, publisher, year or language, in the ledger and in the
        metadata its chunks carry (citations and Chroma's language filter read those).

        A language of one code becomes every chunk's language; several ('en;nl') leave the
        per-chunk languages ingest guessed. Vectors are not re-embedded. Callers hold write_lock
        and rebuild the keyword index afterwards (the generation moves on).
        """
        unknown = set(values) - _EDITABLE
        if unknown:
            raise ValueError(f"not an editable document field: {', '.join(sorted(unknown))}")
        if self.document(source) is None:
            raise StoreError(f"no document {source!r} in this store")
        chunk_values = {k: v for k, v in values.items() if k != "language"}
        codes = [c for c in re.split(r"[;,]", str(values.get("language") or "")) if c.strip()]
        if "language" in values and len(codes) == 1:
            chunk_values["language"] = codes[0].strip()
        ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE source=?", (source,))]
        if ids and chunk_values:
            got = self.collection.get(ids=ids, include=["metadatas"])
            metadatas = []
            for meta in got["metadatas"]:
                meta = dict(meta or {})
                for key, value in chunk_values.items():
                    if value in (None, ""):
                        meta.pop(key, None)
                    else:
                        meta[key] = value
                metadatas.append(meta)
            for start in range(0, len(got["ids"]), CHROMA_BATCH):
                self.collection.update(ids=got["ids"][start : start + CHROMA_BATCH],
                                       metadatas=metadatas[start : start + CHROMA_BATCH])
        with self._transaction() as db:
            for key, value in values.items():
                db.execute(f"UPDATE documents SET {key}=? WHERE source=?", (value if value != "" else None, source))
            for key, value in chunk_values.items():
                if value in (None, ""):
                    db.execute("UPDATE chunks SET metadata=json_remove(metadata, ?) WHERE source=?", (f"$.{key}", source))
                else:
                    db.execute("UPDATE chunks SET metadata=json_set(metadata, ?, ?) WHERE source=?",
                               (f"$.{key}", value, source))
            self._bump(db)

    def copy_file(self, path: Path, sha256: str, digest: str | None = None) -> str:
        """Keep a copy of the ingested file (for the UI's cited-file links); returns its name.
        An existing copy is kept unless `digest` (the file's sha256) says it is damaged."""
        folder = self.root / "files"
        folder.mkdir(exist_ok=True)
        name = f"{sha256[:24]}{path.suffix.lower()}"
        target = folder / name
        if not target.exists() or (digest is not None and file_digest(target) != digest):
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        return name

    def file_copy_intact(self, doc: DocumentRecord) -> bool:
        """Whether a document's file copy is there and, when its sha256 was recorded, unchanged."""
        if not doc.file_copy:
            return True
        path = self.root / "files" / doc.file_copy
        if not path.is_file():
            return False
        digest = doc.metadata.get("file_sha256")
        return digest is None or file_digest(path) == digest

    def prune_file_copies(self) -> None:
        """Delete file copies no document refers to any more."""
        folder = self.root / "files"
        if not folder.is_dir():
            return
        used = {d.file_copy for d in self.documents(include_pending=True) if d.file_copy}
        for path in folder.iterdir():
            if path.name not in used:
                path.unlink(missing_ok=True)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('writer_pid', ?)", (str(os.getpid()),))
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chroma_metadata(chunk: Chunk) -> dict[str, Any]:
    """Chroma metadata: filterable fields only, no None values (Chroma rejects them)."""
    meta: dict[str, Any] = {"source": chunk.source, "document_id": chunk.source, "page": _page_db(chunk.page)}
    meta.update({k: v for k, v in chunk.metadata.items() if isinstance(v, (str, int, float, bool)) and v != ""})
    return meta


def open_collection(settings: Settings, root: Path):
    """The Chroma collection, created on first use; cosine space to match normalised vectors."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma:
            host, _, port = settings.chroma.rpartition(":")
            client = chromadb.HttpClient(host=host, port=int(port), settings=chroma_settings)
            client.heartbeat()
        else:
            client = chromadb.PersistentClient(path=str(root / "chroma"), settings=chroma_settings)
        return client.get_or_create_collection(
            settings.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
    except ValueError as exc:
        raise StoreError(f"Chroma: {exc}") from None
    except Exception as exc:  # chromadb raises many kinds when a server is down
        if settings.chroma:
            raise StoreError(f"cannot reach the Chroma server at {settings.chroma}: {exc}") from None
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"Chroma at {root / 'chroma'} cannot be opened ({first}): "
                         f"run `lantern doctor --repair --store {root}` to rebuild it from the ledger") from None


def scratch_chroma(path: Path):
    """A plain embedded Chroma client beside the store, for indexes the store does not own
    (the llama-index baseline that evaluation compares against)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
