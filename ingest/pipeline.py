"""The ingest pipeline: discover → hash → (parse ∥ embed) → store → keyword index.

Idempotent and incremental by content hash: an unchanged file is skipped before it is
parsed, so a re-run over an unchanged corpus embeds nothing. Files are parsed and chunked
in worker processes while the main process embeds and writes, and every document is
committed on its own (see `store`), so a run killed at any point is completed by the next.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from core.errors import IngestError, LanternError
from core.settings import Settings

from .load import SourceFile, discover

PIPELINE_VERSION = "6"  # bump when cleaning or chunking changes, to re-ingest everything (5: section paths;
# 6: a heading under a sentence that ends in a footnote number opens its section)

ProgressCallback = Callable[[str, int, int], None]  # (message, done, total)


@dataclass
class IngestReport:
    """The summary `lantern ingest --json` prints."""

    documents: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # left out on purpose (robots.txt): not failures

    def merged_with(self, other: IngestReport) -> IngestReport:
        """One report for two runs against the same store (e.g. folders and URLs together)."""
        return IngestReport(
            documents=max(self.documents, other.documents),
            added=self.added + other.added,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            removed=self.removed + other.removed,
            chunks=max(self.chunks, other.chunks),
            failed=other.failed + self.failed,
            seconds=self.seconds + other.seconds,
            timings={k: self.timings.get(k, 0.0) + other.timings.get(k, 0.0) for k in {*self.timings, *other.timings}},
            sources=other.sources + self.sources,
            repaired=other.repaired + self.repaired,
            skipped=other.skipped + self.skipped,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 2)
        data["timings"] = {k: round(v, 2) for k, v in self.timings.items()}
        data.pop("sources")
        return data


@dataclass
class _Parsed:
    source: SourceFile
    sha256: str
    meta: dict[str, Any]
    pages: list
    chunks: list
    vectors: Any
    seconds: dict[str, float]


def _signature(settings: Settings) -> str:
    return f"{PIPELINE_VERSION}/{settings.chunk_size}/{settings.chunk_overlap}"


def file_hash(sf: SourceFile, settings: Settings) -> str:
    """Content hash of the file, its metadata and the chunking settings."""
    return hashlib.sha256(f"{sf.content_hash()}/{_signature(settings)}".encode()).hexdigest()


_EMBEDDER = None  # one per worker process, created after the fork
_EMBEDDER_FOR: tuple[str, ...] = ()  # the settings it was made for


def _embedder(settings: Settings, threads: int | None):
    """This process's embedder for `settings`, made once (loading a model takes seconds)."""
    global _EMBEDDER, _EMBEDDER_FOR
    from .embed import make_embedder

    key = (settings.dense_model, settings.embed_backend, settings.embed_model, settings.embed_base_url)
    if _EMBEDDER is None or key != _EMBEDDER_FOR:
        _EMBEDDER, _EMBEDDER_FOR = make_embedder(settings, threads=threads), key
    return _EMBEDDER


def _work(sf: SourceFile, sha256: str, settings: Settings, threads: int | None, embed: bool = True) -> _Parsed:
    """Load, chunk and embed one file (in a worker process, a Ray task, or inline); with
    `embed` off the vectors are left to the caller (a GPU embeds in the main process)."""
    from .chunk import chunk_pages, embedding_text
    from .load import load

    t0 = time.perf_counter()
    doc = load(sf, tables=settings.pdf_tables, scans=settings.ocr)
    t1 = time.perf_counter()
    chunks = chunk_pages(doc.pages, doc.metadata, settings.chunk_size, settings.chunk_overlap)
    if not chunks:
        raise IngestError(str(sf.path), "no text to index")
    t2 = time.perf_counter()
    vectors = _embedder(settings, threads).embed([embedding_text(c) for c in chunks]) if embed else None
    t3 = time.perf_counter()
    seconds = {"parse": t1 - t0, "chunk": t2 - t1, "embed": t3 - t2}
    return _Parsed(sf, sha256, doc.metadata, doc.pages, chunks, vectors, seconds)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: a worker must not outlive an ingest killed with SIGKILL (it would
    go on parsing for nobody). Linux delivers SIGKILL when the worker's own parent dies (prctl
    PR_SET_PDEATHSIG): the ingest itself, or the fork server, which exits with the ingest.
    A thread also polls the ingest's pid, which covers other systems and the race where the
    ingest died before the prctl took effect."""
    import signal
    import threading

    if sys.platform.startswith("linux"):
        import ctypes
        from contextlib import suppress

        with suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG

    def alive() -> bool:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    if not alive():
        os._exit(1)

    def watch() -> None:
        while alive():
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="lantern-parent-watch").start()


def _pool_context() -> BaseContext:
    """How to start workers. Forking is fastest (workers inherit the imports) but safe only when
    no other Python thread runs: a lock that a thread holds at fork time stays locked in the child
    forever (seen when a process serving the UI or a web server ingests). Such a process uses a
    fork server instead. (Idle native pools, such as BLAS threads, are fork-safe.)"""
    import threading

    if threading.active_count() == 1:
        return get_context("fork")
    context = get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _warm_imports() -> None:
    """Import the splitter and its sentence tokenizer once, before forking workers."""
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    split_by_sentence_tokenizer()("Warm up. Twice.")


def ingest(
    paths: list[Path], settings: Settings, prune: bool = False, progress: ProgressCallback | None = None,
    workers: int | None = None, ray_address: str | None = None,
) -> IngestReport:
    """Ingest files and folders into the store named by `settings.store` (`ray_address`: parse,
    chunk and embed on that Ray cluster instead of local worker processes)."""
    files, problems, skipped = discover([Path(p) for p in paths])
    report = ingest_files(files, settings, prune=prune, progress=progress, workers=workers, ray_address=ray_address)
    report.failed = [{"path": p, "error": e} for p, e in problems] + report.failed
    report.skipped = [{"path": p, "reason": r} for p, r in skipped] + report.skipped
    return report


def ingest_files(
    files: list[SourceFile],
    settings: Settings,
    prune: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
) -> IngestReport:
    """Ingest already-discovered files (the web crawler calls this with its downloads)."""
    from core.store import Store, file_digest

    started = time.perf_counter()
    report = IngestReport()
    timings = {"hash": 0.0, "parse": 0.0, "chunk": 0.0, "embed": 0.0, "store": 0.0, "keyword": 0.0}
    notify = progress or (lambda *_: None)
    store = Store.open(settings, create=True)
    try:
        with store.write_lock():
            known = {d.source: d for d in store.documents(include_pending=True)}
            todo: list[tuple[SourceFile, str, bool]] = []
            t = time.perf_counter()
            keys = DocumentKeys(known)
            sources: list[str] = []
            for sf in files:
                try:
                    sha = file_hash(sf, settings)
                except OSError as exc:
                    report.failed.append({"path": str(sf.path), "error": f"cannot read: {exc.strerror or exc}"})
                    continue
                sf = keys.assign(sf, sha)
                sources.append(sf.source)
                old = known.get(sf.source)
                if old and old.state == "complete" and old.sha256 == sha:
                    report.unchanged += 1
                    if old.file_copy and sf.text is None and not store.file_copy_intact(old):
                        store.copy_file(sf.path, sha, file_digest(sf.path))
                        report.repaired.append(f"restored the file copy of {sf.source}")
                else:
                    todo.append((sf, sha, old is not None and old.state == "complete"))
            timings["hash"] = time.perf_counter() - t
            report.sources = sources

            if known:  # a damaged Chroma would otherwise stay damaged behind "unchanged"
                report.repaired += repair_locked(store, settings, quick=True, progress=notify)
            if todo:
                _process(store, todo, set(known), settings, report, timings, notify, workers, ray_address)
            if prune:
                report.removed = _prune(store, set(sources), notify)
            saved = store.get_meta("keyword_generation") == str(store.generation) and (store.root / "keyword" / "lantern.json").exists()
            if report.added or report.updated or report.removed or not saved:
                t = time.perf_counter()
                from core.keyword import KeywordIndex

                KeywordIndex.rebuild(store)
                timings["keyword"] = time.perf_counter() - t
            docs = store.documents()
            report.documents = len(docs)
            report.chunks = sum(d.chunks for d in docs)
    finally:
        store.close()
    report.timings = timings
    report.seconds = time.perf_counter() - started
    return report


class DocumentKeys:
    """The document key (`source`) of each file of one ingest.

    A file keeps the key it is stored under (found by its real path). A new file takes its
    path relative to the ingested folder, unless that key already names a different file that
    still exists, in this run or in the store: then the key takes as many parent folders as it
    needs to be unique (`2024/report.pdf` beside `report.pdf` from 2023), so two files are
    never silently one document. A stored file whose path is gone, or whose content is the
    same, is the same document (moved, or copied). Web sources are URLs and are left as they are.
    """

    def __init__(self, known: dict[str, Any]):
        self.known = known
        self.stored_at: dict[str, str] = {}
        for doc in known.values():
            path = doc.metadata.get("path")
            if path and not _is_url(doc.source):
                self.stored_at.setdefault(str(path), doc.source)
        self.taken: dict[str, str] = {}  # key → real path, in this run

    def assign(self, sf: SourceFile, sha256: str) -> SourceFile:
        if sf.text is not None or _is_url(sf.source):
            return sf
        real = str(sf.path.resolve())
        key = self.stored_at.get(real)
        if key is None or self.taken.get(key, real) != real:
            parts = Path(os.path.abspath(sf.path)).parts
            depth = len(Path(sf.source).parts)
            key = sf.source
            while self._other_file(key, real, sha256):
                depth += 1
                key = "/".join(parts[-depth:]) if depth < len(parts) else Path(os.path.abspath(sf.path)).as_posix()
                if depth >= len(parts):
                    break
        self.taken[key] = real
        return sf if key == sf.source else replace(sf, source=key)

    def _other_file(self, key: str, real: str, sha256: str) -> bool:
        if key in self.taken:
            return self.taken[key] != real
        doc = self.known.get(key)
        if doc is None or not doc.metadata.get("path"):
            return False
        path = str(doc.metadata["path"])
        return path != real and doc.sha256 != sha256 and Path(path).exists()


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def repair(settings: Settings, progress: ProgressCallback | None = None) -> list[str]:
    """`lantern doctor --repair`: rebuild Chroma and the keyword index from the ledger."""
    from core.store import Store

    store = Store.open(settings)
    try:
        with store.write_lock():
            return repair_locked(store, settings, progress=progress)
    finally:
        store.close()


def repair_locked(store, settings: Settings, quick: bool = False, progress: ProgressCallback | None = None) -> list[str]:
    """Fix what `core.store_check` finds (the caller holds the write lock); what was done, one
    line each. Chroma gets its vectors back from the ledger (re-embedded from the chunk texts with
the store's own model where the ledger holds none)."""
    from core.keyword import KeywordIndex
    from core.store_check import check, rebuild_chroma

    from .chunk import embedding_text
    from .embed import embedder_name, make_embedder

    done: list[str] = []
    problems = check(store, quick=quick, embed=None if quick else vector_probe(store, settings))
    chroma = [p for p in problems if p.part == "chroma"]
    if chroma:
        store.check_embedder(embedder_name(settings), record=False)
        embedder = make_embedder(settings)
        notify = progress or (lambda *_: None)
        n = rebuild_chroma(
            store, lambda chunks: embedder.embed([embedding_text(c) for c in chunks]),
            reset=any(p.code in ("unreadable", "vectors_lost") for p in chroma),
            progress=lambda d, t: notify("re-embedding passages into Chroma", d, t),
        )
        done.append(f"rebuilt Chroma from the ledger ({chroma[0].message}; {n} passages put back)")
    if chroma or any(p.part == "keyword" for p in problems):  # a Chroma rebuild moves the generation on
        KeywordIndex.rebuild(store)
        done.append("rebuilt the keyword index from the ledger")
    if any(p.part == "files" for p in problems):
        done += _restore_file_copies(store, settings)
    return done


def vector_probe(store, settings: Settings):
    """The store's own embedder as `core.store_check` wants it (chunks → vectors), for its vector
    probe; None when that model is remote or unknown here (status never calls out)."""
    from .chunk import embedding_text
    from .embed import local_embedder

    embedder = local_embedder(store.get_meta("embedder"), settings)
    if embedder is None:
        return None
    return lambda chunks: embedder.embed([embedding_text(c) for c in chunks])


def _restore_file_copies(store, settings: Settings) -> list[str]:
    """Put back missing or damaged file copies from the original files, when they are still where
    they were ingested from and unchanged (the ledger's content hash proves it)."""
    from core.store import file_digest

    done = []
    for doc in store.documents():
        if not doc.file_copy or store.file_copy_intact(doc) or not doc.metadata.get("path"):
            continue
        original = Path(str(doc.metadata["path"]))
        try:
            if not original.is_file():
                continue
            digest = file_digest(original)
            recorded = doc.metadata.get("file_sha256")  # older stores: the content hash must match
            if recorded:
                same = digest == recorded
            else:
                same = file_hash(SourceFile(original, doc.source), settings) == doc.sha256
            if not same:
                continue
            store.copy_file(original, doc.sha256, digest)
        except OSError:
            continue
        done.append(f"restored the file copy of {doc.source} from {original}")
    return done


def reembed_document(store, source: str, embedder) -> int:
    """Embed a document's passages again from the ledger; how many (the caller holds the write lock).

    For a changed title: the title line is part of what each passage's vector embeds
    (`chunk.embedding_text`), so a question naming the new title must find the new vectors.
    """
    from .chunk import embedding_text

    chunks = [c for c in store.chunks() if c.source == source]
    if chunks:
        store.replace_vectors(chunks, embedder.embed([embedding_text(c) for c in chunks]))
    return len(chunks)


def _process(
    store, todo: list[tuple[SourceFile, str, bool]], known_sources: set[str], settings: Settings,
    report: IngestReport,
    timings: dict[str, float], notify: ProgressCallback, workers: int | None, ray_address: str | None = None,
) -> None:
    """Parse, chunk and embed in worker processes (one CPU thread each: process-level
    parallelism scales better than threads inside one model), or in Ray tasks; write in this
    one. On a GPU the workers only parse and chunk, and this process embeds: one model on the
    GPU, fed big batches, rather than one per worker."""
    from core.store import file_digest

    from .embed import GPU_BACKENDS, embedder_name, prepare_model, resolved_backend

    store.check_embedder(embedder_name(settings))
    backend = resolved_backend(settings)
    prepare_model(settings)  # export once, before the workers start
    embed_here = backend in GPU_BACKENDS and not ray_address
    total = len(todo)
    cores = os.cpu_count() or 1
    n_workers = workers if workers is not None else min(cores, total)
    # biggest files first, so no worker is left with a long file at the end
    todo = sorted(todo, key=lambda item: -_size(item[0]))
    pool = None
    cluster = None
    if ray_address:
        from .distributed import RayCluster

        cluster = RayCluster(ray_address)
    elif n_workers > 1:
        _warm_imports()
        pool = ProcessPoolExecutor(n_workers, mp_context=_pool_context(), initializer=_die_with_parent,
                                   initargs=(os.getpid(),))
    try:
        results: Iterable[tuple[tuple[SourceFile, str, bool], Any]]
        if cluster:
            results = cluster.results(todo, settings)
        elif pool:
            futures: dict[Future, tuple[SourceFile, str, bool]] = {
                pool.submit(_work, sf, sha, settings, 1, not embed_here): (sf, sha, existed)
                for sf, sha, existed in todo
            }
            results = ((futures[f], f) for f in as_completed(futures))
        else:
            results = (((sf, sha, existed), None) for sf, sha, existed in todo)
        for done, ((sf, sha, existed), future) in enumerate(results):
            notify(f"ingesting {sf.source}", done, total)
            try:
                parsed = future.result() if future else _work(sf, sha, settings, None)
                if parsed.vectors is None:
                    from .chunk import embedding_text

                    t = time.perf_counter()
                    parsed.vectors = _embedder(settings, None).embed([embedding_text(c) for c in parsed.chunks])
                    parsed.seconds["embed"] = time.perf_counter() - t
            except LanternError as exc:
                report.failed.append({"path": str(sf.path), "error": getattr(exc, "reason", str(exc))})
                continue
            except Exception as exc:  # a parser bug must not stop the other files
                report.failed.append({"path": str(sf.path), "error": f"{exc.__class__.__name__}: {exc}"})
                continue
            for key, value in parsed.seconds.items():
                timings[key] += value
            t = time.perf_counter()
            meta = dict(parsed.meta)
            copy = None
            if sf.text is None:
                meta.setdefault("path", str(sf.path.resolve()))
                meta["file_sha256"] = file_digest(sf.path)  # lets `lantern status` see a damaged copy
            store.mark_pending(sf.source, sha)
            if sf.source in known_sources:
                store.delete_vectors(sf.source)
            store.add_vectors(parsed.chunks, parsed.vectors)
            if sf.text is None:
                copy = store.copy_file(sf.path, sha, meta["file_sha256"])
            store.commit_document(sf.source, sha, meta, parsed.pages, parsed.chunks, copy, parsed.vectors)
            timings["store"] += time.perf_counter() - t
            if existed:
                report.updated += 1
            else:
                report.added += 1
        notify("done", total, total)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        if cluster:
            cluster.close()


def _size(sf: SourceFile) -> int:
    if sf.text is not None:
        return len(sf.text)
    try:
        return sf.path.stat().st_size
    except OSError:
        return 0


def _prune(store, current: set[str], notify: ProgressCallback) -> int:
    """Remove documents whose files are gone, and unfinished ones no longer offered (web documents stay)."""
    removed = 0
    for doc in store.documents(include_pending=True):
        path = doc.metadata.get("path")
        if doc.source in current or (doc.state == "complete" and doc.source.startswith(("http://", "https://"))):
            continue
        if doc.state == "complete" and (not path or Path(path).exists()):
            continue
        notify(f"removing {doc.source}", removed, 0)
        store.remove_document(doc.source)
        removed += 1
    store.prune_file_copies()
    return removed


def print_progress() -> ProgressCallback | None:
    """A rich progress bar on a terminal; None (silent) when stderr is not one."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   transient=False)
    state: dict[str, Any] = {}

    def update(message: str, done: int, total: int) -> None:
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task(message, total=total or None)
        bar.update(state["task"], description=message[:60], completed=done, total=total or None)
        if total and done >= total:
            bar.stop()

    return update
