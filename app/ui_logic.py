"""What the chat UI does, without Gradio: answer into a chat, log feedback, add and remove documents.

`app.ui` wires these methods to Gradio events (thin handlers); keeping them here lets tests call
them directly and keeps the wiring free of store writes. The HTML comes from `app.ui_render`.

One `Lantern` is opened and shared by every session (reads are thread-safe; each tab keeps
its own conversation in a `Session`). The answer mode is chosen per question (`mode=` on the
shared Lantern), not by copying it. An upload ingests in the worker thread of its own event,
one ingest at a time, through its own store connection under the store's write lock:
questions keep being answered meanwhile (SQLite in WAL mode; they compete for CPU only), and
the retriever picks up the new keyword index when the store's generation changes.
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import EmptyStore, LanternError
from core.settings import Settings, offline_environment
from ingest.load import SUPPORTED_SUFFIXES

from .ui_examples import answered_examples
from .ui_render import (
    FILE_ROUTE,
    VIEW_ROUTE,
    answer_html,
    answer_markdown,
    answer_plain_text,
    banner_html,
    md_escape,
)
from .ui_view import document_view_html

if TYPE_CHECKING:
    from fastapi.routing import APIRoute
    from starlette.responses import Response

    from assistant.api import Lantern

log = logging.getLogger(__name__)

MAX_SAVED_MESSAGES = 40  # messages a browser keeps across reloads (an answer is ~5-10 kB of HTML)
ACCEPTED = (".pdf", ".md", ".txt", ".html")  # what the upload box advertises; it takes all SUPPORTED_SUFFIXES
EXTRACTIVE_LABEL = "Offline (extractive: verbatim cited sentences)"


# --- per-session state ------------------------------------------------------------------

@dataclass
class Session:
    """One browser tab's conversation: turns for follow-ups, answers for feedback."""

    turns: deque = field(default_factory=lambda: deque(maxlen=6))
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)  # chat index → record
    rated: int | None = None  # the answer a comment box is open for
    copy_text: str = ""  # the last answer as plain text, with its sources ("Copy answer")

    def saved(self, history: list[dict[str, Any]] | None, keep: int = MAX_SAVED_MESSAGES) -> dict[str, Any]:
        """What the browser keeps across reloads: the chat, the turns follow-ups need, the records."""
        history = list(history or [])
        drop = max(0, len(history) - keep)
        drop += drop % 2  # whole question-answer pairs
        return {
            "history": history[drop:],
            "turns": [[q, a.question, a.text, a.standalone_question] for q, a in self.turns],
            "answers": {str(i - drop): r for i, r in self.answers.items() if i >= drop},
            "copy_text": self.copy_text,
        }

    @classmethod
    def restore(cls, saved: dict[str, Any] | None, memory: int) -> tuple[list[dict[str, Any]], Session | None]:
        """The chat and session a browser saved (an empty chat for nothing, or anything unreadable)."""
        from core.types import Answer

        if not isinstance(saved, dict) or not saved.get("history"):
            return [], None
        try:
            session = cls(turns=deque(maxlen=memory), copy_text=str(saved.get("copy_text") or ""))
            for asked, question, text, standalone in saved.get("turns") or []:
                session.turns.append((asked, Answer(question=question, text=text, citations=[], abstained=False,
                                                    retrieved=[], standalone_question=standalone)))
            session.answers = {int(i): dict(r) for i, r in (saved.get("answers") or {}).items()}
            return list(saved["history"]), session
        except (TypeError, ValueError):
            return [], None


# --- the app's logic (no Gradio here: app.ui's event handlers are thin) ------------------

class LanternUI:
    """The shared state behind the app: one Lantern, the feedback log and the ingest lock.

    One instance serves every session: each call takes the session's own state as an argument.
    """

    def __init__(self, settings: Settings):
        offline_environment()
        from assistant.api import Lantern
        from core.store import Store

        Store.open(settings, create=True).close()  # an empty store is fine: documents can be uploaded
        self.settings = settings
        self.lantern: Lantern = Lantern.open(settings=settings)
        # open Chroma (and warm the model and keyword index) now, in one thread: the store opens
        # Chroma lazily, and several sessions arriving together then race ("Could not connect
        # to tenant default_tenant")
        _ = self.lantern.store.collection
        self._examples_lock = threading.Lock()
        self._examples: tuple[int, list[str]] = (-1, [])
        self.examples()  # also warms the model and the keyword index
        endpoint = self.lantern.llm_for("auto")  # the configured endpoint, whatever the default mode
        self.llm_where: str | None = endpoint.where if endpoint else None  # None: offline only
        self._feedback_lock = threading.Lock()
        self._ingest_lock = threading.Lock()

    def close(self) -> None:
        self.lantern.close()

    # --- what the store holds ---------------------------------------------------------
    def catalog(self) -> dict[str, Any]:
        """Documents and the filter choices they give (read fresh: others may upload)."""
        docs = self.lantern.store.documents()
        years = sorted({d.year for d in docs if d.year})
        return {
            "documents": docs,
            "publishers": sorted({d.publisher for d in docs if d.publisher}, key=str.lower),
            "languages": sorted({d.language for d in docs if d.language}),
            "year_list": years,
            "chunks": sum(d.chunks for d in docs),
        }

    def banner(self) -> str:
        """One line on what is being searched, or what to do when the store is empty."""
        cat = self.catalog()
        return banner_html(len(cat["documents"]), cat["chunks"])

    def examples(self) -> list[str]:
        """Example questions from this library that it answers (recomputed when the store changes)."""
        generation = self.lantern.store.generation
        with self._examples_lock:
            if self._examples[0] != generation:
                try:
                    found = answered_examples(self.lantern)
                except EmptyStore:
                    found = []
                self._examples = (generation, found)
            return list(self._examples[1])

    def mode_choices(self) -> tuple[list[str], str, bool, str]:
        """(choices, default, interactive, info) for the answer-mode control."""
        if self.llm_where is None:
            return (
                [EXTRACTIVE_LABEL, "AI-written answers (not available here)"], EXTRACTIVE_LABEL, False,
                "Answers quote the documents word for word. AI-written answers can be switched on by "
                "whoever runs this server.",
            )
        label = f"LLM: {self.llm_where}"
        default = label if self.settings.use_llm else EXTRACTIVE_LABEL
        return [EXTRACTIVE_LABEL, label], default, True, "The LLM writes the answer; the checker verifies every [n]."

    def answer_mode(self, label: str | None) -> str:
        """The Lantern answer mode for the mode control's label ('llm' only when an endpoint is set)."""
        return "llm" if label and label.startswith("LLM") and self.llm_where is not None else "extractive"

    def documents_rows(self) -> list[list[Any]]:
        """The document table's rows: title, source, publisher, year, pages, chunks, ingested."""
        return [
            [d.title or d.source, d.source, d.publisher or "", d.year or "", d.pages, d.chunks,
             (d.ingested_at or "").replace("T", " ").replace("Z", " UTC")]
            for d in self.catalog()["documents"]
        ]

    def served_sources(self) -> set[str]:
        """Sources whose file copy the app can serve."""
        root = Path(self.settings.store) / "files"
        return {d.source for d in self.lantern.store.documents() if d.file_copy and (root / d.file_copy).exists()}

    # --- asking -------------------------------------------------------------------------
    @staticmethod
    def filters(publisher: str | None, year_from: str | int | None, year_to: str | int | None,
                language: str | None, document: str | None) -> dict[str, Any]:
        """The Filters dict for the controls' values (empty values mean no filter)."""
        out: dict[str, Any] = {}
        if publisher:
            out["publisher"] = publisher
        if language:
            out["language"] = language
        if document:
            out["source"] = document
        if year_from not in (None, ""):
            out["year_min"] = str(year_from).strip()  # Filters.parse says so if it is not a year
        if year_to not in (None, ""):
            out["year_max"] = str(year_to).strip()
        return out

    def respond(
        self, message: str, history: list[dict[str, Any]] | None, session: Session | None,
        publisher: str | None = None, year_from: str | None = None, year_to: str | None = None,
        language: str | None = None, document: str | None = None, top_k: float | None = None,
        mode: str | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], Session, str]]:
        """Stream one answer into the chat: (history, session, cleared textbox) per update."""
        from assistant.chat import Conversation

        history = list(history or [])
        if session is None:
            session = Session(turns=deque(maxlen=self.settings.chat_memory_turns))
        question = (message or "").strip()
        if not question:
            yield list(history), session, ""
            return
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": "_Searching the documents…_"})
        yield list(history), session, ""
        filters = self.filters(publisher, year_from, year_to, language, document)
        try:
            conversation = Conversation(self.lantern, filters=filters, mode=self.answer_mode(mode))
            conversation.turns = session.turns
            stream = conversation.stream(question, top_k=int(top_k) if top_k else None)
            text = ""
            for delta in stream:
                text += delta
                history[-1] = {"role": "assistant", "content": answer_markdown(text.rstrip()) + " ▌"}
                yield list(history), session, ""
            answer = stream.answer
            assert answer is not None
            history[-1] = {"role": "assistant", "content": answer_html(answer, self.served_sources())}
            session.copy_text = answer_plain_text(answer, self.served_sources())
            session.answers[len(history) - 1] = {
                "answer_id": uuid.uuid4().hex, "question": question, "answer": answer.text,
                "abstained": answer.abstained, "mode": answer.mode, "filters": filters,
                "citations": [asdict(c) for c in answer.citations],
            }
        except EmptyStore:
            history[-1] = {"role": "assistant", "content": (
                "This library holds no documents yet. Add some in the **Add documents** tab."
            )}
        except LanternError as exc:
            history[-1] = {"role": "assistant", "content": f"**Could not answer:** {html.escape(str(exc))}"}
        except Exception as exc:  # keep the chat usable; the log has the traceback
            log.exception("answering %r failed", question)
            history[-1] = {"role": "assistant", "content": (
                f"**Something went wrong** ({exc.__class__.__name__}: {html.escape(str(exc))}). "
                "Please try again; if it persists, tell whoever runs this server."
            )}
        yield list(history), session, ""

    # --- feedback -------------------------------------------------------------------------
    def record_feedback(self, session: Session | None, index: int, rating: str | None,
                        comment: str | None = None, message: str | None = None) -> dict[str, Any]:
        """Append one feedback line to `<store>/feedback.jsonl` and return it."""
        record = dict((session.answers.get(index) if session else None) or {})
        if not record:  # an answer from before a restart: keep what the chat showed
            record = {"answer_id": None, "question": None, "answer": message, "citations": []}
        line = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **record, "rating": rating, "comment": (comment or "").strip() or None,
        }
        path = Path(self.settings.store) / "feedback.jsonl"
        data = json.dumps(line, ensure_ascii=False, default=str) + "\n"
        with self._feedback_lock, open(path, "a", encoding="utf-8") as fh:
            fh.write(data)
        if session is not None and index in session.answers:
            session.answers[index]["rating"] = rating
        return line

    # --- adding and removing documents ---------------------------------------------------------
    def check_upload(self, path: Path, name: str) -> str | None:
        """Why an uploaded file is refused, or None when it may be ingested."""
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            kind = suffix or "without an extension"
            return f"file type {kind} is not accepted (Lantern reads {', '.join(ACCEPTED)})"
        size = path.stat().st_size
        limit = self.settings.max_upload_mb * 1024 * 1024
        if size > limit:
            return f"{size / 1048576:.1f} MB is over the {self.settings.max_upload_mb} MB limit"
        if size == 0:
            return "the file is empty"
        if suffix == ".pdf":
            with open(path, "rb") as fh:
                if b"%PDF-" not in fh.read(1024):
                    return "not a PDF (it does not start with %PDF-): the file is damaged or mislabelled"
        return None

    def add_documents(self, paths: list[str | Path], progress: Callable[[str, int, int], None] | None = None) -> str:
        """Check, copy into `<store>/uploads/` and ingest uploaded files; Markdown report."""
        from ingest.load import discover
        from ingest.pipeline import ingest_files

        notify = progress or (lambda *_: None)
        lines: list[str] = []
        accepted: dict[str, Path] = {}  # name → temporary copy
        uploads = Path(self.settings.store) / "uploads"
        for raw in paths or []:
            path = Path(raw)
            name = _safe_name(path.name)
            reason = self.check_upload(path, name)
            if reason:
                lines.append(f"- **{md_escape(name)}** rejected: {reason}.")
                continue
            if name in accepted:
                lines.append(f"- **{md_escape(name)}** rejected: a file of that name is already in this upload.")
                continue
            uploads.mkdir(parents=True, exist_ok=True)
            tmp = uploads / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
            shutil.copyfile(path, tmp)
            accepted[name] = tmp
        if not accepted:
            return "\n".join(lines) or "Choose one or more files first."
        with self._ingest_lock:
            before = {d.source: d.sha256 for d in self.lantern.store.documents()}
            previous: dict[str, Path] = {}  # an earlier upload of the same name, kept until this one succeeds
            for name, tmp in accepted.items():
                if (uploads / name).exists():
                    previous[name] = uploads / f".{name}.previous"
                    (uploads / name).replace(previous[name])
                tmp.replace(uploads / name)  # under the lock: an ingest never reads a half-copied file
            files, problems, _ = discover([uploads / name for name in accepted])
            notify("starting", 0, len(files))
            # workers=1: ingest in this thread; forking worker processes from a threaded server is unsafe
            report = ingest_files(files, self.settings, progress=notify, workers=1)
            failed = {Path(f["path"]).name: f["error"] for f in report.failed}
            failed.update({Path(p).name: e for p, e in problems})
            for name in accepted:
                if name in failed and name in previous:
                    previous[name].replace(uploads / name)  # the stored document still points at it
                elif name in failed:
                    (uploads / name).unlink(missing_ok=True)
                elif name in previous:
                    previous[name].unlink(missing_ok=True)
        for name in accepted:
            if name in failed:
                lines.append(f"- **{md_escape(name)}** could not be ingested: {failed[name]}.")
            else:
                doc = self.lantern.store.document(name)
                detail = f"{doc.pages} page(s), {doc.chunks} passages" if doc else "ingested"
                done = "added" if name not in before else (
                    "already in the store, unchanged" if doc and before[name] == doc.sha256 else "updated"
                )
                lines.append(f"- **{md_escape(name)}** {done} ({detail}).")
        lines.append(
            f"\nThe store now holds {report.documents} documents ({report.chunks} passages); "
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"in {report.seconds:.1f} s."
        )
        return "\n".join(lines)

    def remove_document(self, source: str | None) -> str:
        """Remove a document from the store (vectors, ledger, keyword index, file copies)."""
        from core.keyword import KeywordIndex
        from core.store import Store

        if not source:
            return "Nothing removed: choose a document first."
        with self._ingest_lock:
            store = Store.open(self.settings)  # its own connection for the write
            try:
                with store.write_lock():
                    doc = store.document(source)
                    if doc is None:
                        return f"**{md_escape(source)}** is not in the store."
                    store.remove_document(source)
                    KeywordIndex.rebuild(store)
                    store.prune_file_copies()
            finally:
                store.close()
        uploaded = Path(self.settings.store) / "uploads" / source
        if doc.metadata.get("path") and Path(doc.metadata["path"]) == uploaded.resolve():
            uploaded.unlink(missing_ok=True)
        return f"Removed **{md_escape(doc.title or source)}** ({md_escape(source)})."

    # --- serving cited files ---------------------------------------------------------
    def file_response(self, source: str) -> Response:
        """The store's copy of an ingested file; 404 for anything the ledger does not list."""
        from starlette.responses import FileResponse, PlainTextResponse

        path = self.lantern.store.file_path(source) if source else None
        if path is None or not path.is_file():
            return PlainTextResponse(f"no ingested file {source!r} in this store", status_code=404)
        pdf = path.suffix.lower() == ".pdf"
        # anything but a PDF is served as plain text: an uploaded HTML file must not run in this origin
        return FileResponse(
            path, media_type="application/pdf" if pdf else "text/plain; charset=utf-8",
            filename=Path(source).name, content_disposition_type="inline",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"},
        )

    def view_response(self, source: str, quote: str = "", page: str = "") -> Response:
        """A text source as a readable page, the quoted passage highlighted; 404 if not ingested."""
        from starlette.responses import HTMLResponse, PlainTextResponse

        doc = self.lantern.store.document(source) if source else None
        if doc is None:
            return PlainTextResponse(f"no ingested document {source!r} in this store", status_code=404)
        cited = int(page) if page.isdigit() else None
        body = document_view_html(doc.title or source, self.lantern.store.pages(source), quote, cited)
        return HTMLResponse(body, headers={
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        })

    def routes(self) -> list[APIRoute]:
        """FastAPI routes the app adds to Gradio's: the cited-file route and the text view."""
        from fastapi.routing import APIRoute

        def lantern_file(source: str) -> Response:
            return self.file_response(source)

        def lantern_view(source: str, q: str = "", page: str = "") -> Response:
            return self.view_response(source, q, page)

        return [
            APIRoute(f"{FILE_ROUTE}/{{source:path}}", lantern_file, methods=["GET", "HEAD"], include_in_schema=False),
            APIRoute(f"{VIEW_ROUTE}/{{source:path}}", lantern_view, methods=["GET", "HEAD"], include_in_schema=False),
        ]


def _safe_name(name: str) -> str:
    """A file name without folders or odd characters (it becomes the document's source id)."""
    base = Path(name.replace("\\", "/")).name
    clean = re.sub(r"[^\w.\-()+ ]+", "_", base).strip(" .")
    return clean or "upload"
