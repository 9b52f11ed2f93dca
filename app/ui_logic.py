"""What the chat UI does, without Gradio: answer into a chat, log feedback, add and remove documents.

`app.ui` wires these methods to Gradio events (thin handlers); keeping them here lets tests call
them directly and keeps the wiring free of store writes. The HTML comes from `app.ui_render`.

One `Lantern` is opened and shared by every session (reads are thread-safe; each tab keeps
its own conversation in a `Session`). The answer mode is chosen per question (`mode=` on the
shared Lantern), not by copying it. An upload ingests in the worker thread of its own event,
one ingest at a time, through its own store connection under the store's write lock:
questions keep being answered meanwhile (SQLite in WAL mode; they compete for CPU only), and
the retriever picks up the new keyword index when the store's generation changes.

Who may do what (`app.ui_auth`): with a users file, readers ask and editors also add, edit
and remove documents; every write checks the user's role here, so the API endpoints obey the
same rule as the buttons. With no users file (127.0.0.1 only) everyone may.
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

from .ui_auth import Users
from .ui_conversations import Conversations, export_json, export_markdown
from .ui_examples import answered_examples
from .ui_filters import FilterChoice, choices, language_code, language_codes, language_name
from .ui_render import (
    FILE_ROUTE,
    PDF_ROUTE,
    VIEW_ROUTE,
    answer_html,
    answer_markdown,
    answer_plain_text,
    banner_html,
    esc,
    file_url,
    md_escape,
    searched_for,
)
from .ui_view import PDF_VIEW_CSP, STATIC_ROUTE, cited_section, document_view_html, pdf_view_html

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from assistant.api import Lantern

log = logging.getLogger(__name__)

MAX_SAVED_MESSAGES = 40  # messages a browser keeps across reloads (an answer is ~5-10 kB of HTML)
ACCEPTED = (".pdf", ".md", ".txt", ".html")  # what the upload box advertises; it takes all SUPPORTED_SUFFIXES
EXTRACTIVE_LABEL = "Offline (extractive: verbatim cited sentences)"
STATIC = Path(__file__).resolve().parent / "static"  # the PDF viewer and the vendored PDF.js
STATIC_TYPES = {".mjs": "text/javascript; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
EDITORS_ONLY = "Only editors can {what}: you are signed in as a reader."
FILTERS_LABEL = "Filters and sources"  # the folded panel under the question box
CONVERSATION_ROUTE = "/lantern/conversations"  # a saved conversation exported: <id>.md or <id>.json


# --- per-session state ------------------------------------------------------------------

@dataclass
class Session:
    """One browser tab's conversation: turns for follow-ups, answers for feedback."""

    turns: deque = field(default_factory=lambda: deque(maxlen=6))
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)  # chat index → record
    rated: int | None = None  # the answer a comment box is open for
    copy_text: str = ""  # the last answer as plain text, with its sources ("Copy answer")
    conversation_id: str | None = None  # its id among the user's saved conversations (app.ui_conversations)

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
            "id": self.conversation_id,
        }

    @classmethod
    def restore(cls, saved: dict[str, Any] | None, memory: int) -> tuple[list[dict[str, Any]], Session | None]:
        """The chat and session a browser saved (an empty chat for nothing, or anything unreadable)."""
        from core.types import Answer

        if not isinstance(saved, dict) or not saved.get("history"):
            return [], None
        try:
            session = cls(turns=deque(maxlen=memory), copy_text=str(saved.get("copy_text") or ""),
                          conversation_id=saved.get("id") if isinstance(saved.get("id"), str) else None)
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
        self.users: Users | None = Users.load(settings.ui_users) if settings.ui_users else None
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
        self.conversations = Conversations(settings.store)

    def close(self) -> None:
        self.lantern.close()

    # --- who may do what --------------------------------------------------------------
    def role(self, username: str | None) -> str:
        """'editor' or 'reader': with no users file (local use) everyone is an editor."""
        if self.users is None:
            return "editor"
        return self.users.role(username) or "reader"

    def can_edit(self, username: str | None) -> bool:
        return self.role(username) == "editor"

    # --- what the store holds ---------------------------------------------------------
    def catalog(self) -> dict[str, Any]:
        """Documents and the filter choices they give (read fresh: others may upload)."""
        docs = self.lantern.store.documents()
        return {"documents": docs, "choices": choices(docs), "chunks": sum(d.chunks for d in docs)}

    def banner(self, choice: FilterChoice | None = None) -> str:
        """One line on what is being searched (what the filters admit), or what to do when the store is empty."""
        docs = self.lantern.store.documents()
        if choice is None or choice.empty or not docs:
            return banner_html(len(docs), sum(d.chunks for d in docs))
        problem = choice.problem(docs)
        if problem:
            return (f'<div class="lantern-banner lantern-empty" role="status"><strong>Nothing to search.</strong> '
                    f"{esc(problem)}</div>")
        admitted = [d for d in docs if choice.admits(d)]
        return banner_html(len(admitted), sum(d.chunks for d in admitted), len(docs), choice.describe(docs))

    def filters_label(self, choice: FilterChoice) -> str:
        """The folded filters' title: what they limit the search to, when anything."""
        applied = choice.describe(self.lantern.store.documents()) if not choice.empty else ""
        if not applied:
            return FILTERS_LABEL
        return f"{FILTERS_LABEL} (searching only: {applied if len(applied) <= 60 else applied[:59] + '…'})"

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
        """The document table's rows: title, source, publisher, year, language, pages, chunks, ingested."""
        return [
            [d.title or d.source, d.source, d.publisher or "", d.year or "",
             ", ".join(language_name(c) for c in language_codes(d.language)), d.pages, d.chunks,
             (d.ingested_at or "").replace("T", " ").replace("Z", " UTC")]
            for d in self.catalog()["documents"]
        ]

    def document_details(self, source: str | None) -> tuple[str, str, str, str]:
        """(title, publisher, year, languages by name) of a document, for the edit form."""
        doc = self.lantern.store.document(source) if source else None
        if doc is None:
            return "", "", "", ""
        languages = ", ".join(language_name(c) for c in language_codes(doc.language))
        return doc.title or "", doc.publisher or "", str(doc.year or ""), languages

    def served_sources(self) -> set[str]:
        """Sources whose file copy the app can serve."""
        root = Path(self.settings.store) / "files"
        return {d.source for d in self.lantern.store.documents() if d.file_copy and (root / d.file_copy).exists()}

    # --- asking -------------------------------------------------------------------------
    def citation_sections(self, answer: Any) -> dict[int, str]:
        """The article or section each citation quotes ('Article 4'), by n, where its source has headings."""
        out: dict[int, str] = {}
        chunks = {h.chunk.id: h.chunk for h in answer.retrieved}
        for cite in answer.citations:
            chunk = chunks.get(cite.chunk_id)
            section = (chunk.metadata or {}).get("section") if chunk else None
            label = cited_section(self.lantern.store.page_text(cite.source, cite.page), cite.quote, section)
            if label:
                out[cite.n] = label
        return out

    def respond(
        self, message: str, history: list[dict[str, Any]] | None, session: Session | None,
        publisher: str | None = None, year_from: str | None = None, year_to: str | None = None,
        language: str | None = None, document: str | None = None, top_k: float | None = None,
        mode: str | None = None, doc_type: str | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], Session, str]]:
        """Stream one answer into the chat: (history, session, cleared textbox) per update.

        Filters that admit no document are answered with the reason (a typo, a year range
        that runs backwards), and an answer under filters says which ones it was limited to.
        """
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
        choice = FilterChoice.of(publisher=publisher, year_from=year_from, year_to=year_to, language=language,
                                 doc_type=doc_type, document=document)
        docs = self.lantern.store.documents()
        problem = choice.problem(docs)
        if problem:
            history[-1] = {"role": "assistant", "content": f"**Nothing was searched.** {esc(problem)}"}
            session.copy_text = f"Nothing was searched. {problem}"
            yield list(history), session, ""
            return
        filters = choice.filters()
        note = choice.describe(docs) or None
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
            served, sections = self.served_sources(), self.citation_sections(answer)
            history[-1] = {"role": "assistant", "content": answer_html(answer, served, sections, note)}
            session.copy_text = answer_plain_text(answer, served, sections=sections, filters_note=note)
            session.answers[len(history) - 1] = {
                "answer_id": uuid.uuid4().hex, "question": question, "answer": answer.text,
                "abstained": answer.abstained, "abstain_reason": answer.abstain_reason, "mode": answer.mode,
                "filters": filters,
                "citations": [asdict(c) for c in answer.citations],
                # what an export needs beside the citations: the article names, the question
                # searched for a follow-up, the filters named
                "sections": {str(n): s for n, s in sections.items()}, "searched_for": searched_for(answer),
                "filters_note": note,
            }
        except EmptyStore:
            history[-1] = {"role": "assistant", "content": (
                "This library holds no documents yet. Add documents in the **Documents** tab."
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

    # --- saved conversations (per user, on the server: app.ui_conversations) -------------------
    def save_conversation(self, username: str | None, history: list[dict[str, Any]] | None,
                          session: Session | None) -> dict[str, Any] | None:
        """Keep the chat on the server for this user, and return what the browser keeps (the same
        chat, with its id and whose it is: another user signing in on that browser gets nothing)."""
        if session is None or not history:
            return None
        record = self.conversations.save(username, session.conversation_id, session.saved(history))
        session.conversation_id = record["id"]
        return self.browser_state(username, history, session)

    @staticmethod
    def browser_state(username: str | None, history: list[dict[str, Any]] | None,
                      session: Session | None) -> dict[str, Any] | None:
        """What the browser keeps across reloads: the chat, its id, and whose it is."""
        if session is None or not history:
            return None
        return {**session.saved(history), "user": username}

    def open_conversation(self, username: str | None,
                          conversation_id: str | None) -> tuple[list[dict[str, Any]], Session | None]:
        """One of the user's saved conversations as (chat, session); an empty chat if it is not theirs."""
        record = self.conversations.get(username, conversation_id)
        if record is None:
            return [], None
        history, session = Session.restore(record["chat"], self.settings.chat_memory_turns)
        if session is not None:
            session.conversation_id = record["id"]
        return history, session

    def restore_conversation(self, username: str | None,
                             stored: dict[str, Any] | None) -> tuple[list[dict[str, Any]], Session | None]:
        """What a browser shows on (re)load: the conversation it had open, if it is this user's.

        The server's copy wins (it may have grown on another device); one deleted meanwhile
        stays deleted. A browser's state from another user (a shared computer) is ignored.
        """
        if not isinstance(stored, dict) or stored.get("user") != username:
            return [], None
        if stored.get("id"):
            return self.open_conversation(username, str(stored["id"]))
        return Session.restore(stored, self.settings.chat_memory_turns)

    def conversation_choices(self, username: str | None) -> list[tuple[str, str]]:
        """(label, id) of the user's saved conversations, most recent first."""
        out = []
        for c in self.conversations.listing(username):
            day = c["updated"][:10]
            out.append((f"{c['name']} ({c['questions']} question{'s' if c['questions'] != 1 else ''}, {day})", c["id"]))
        return out

    def rename_conversation(self, username: str | None, conversation_id: str | None, name: str | None) -> str:
        if not conversation_id:
            return "Ask a question first: a conversation is saved with its first answer."
        try:
            record = self.conversations.rename(username, conversation_id, name or "")
        except ValueError:
            return "Type a name first."
        if record is None:
            return "That conversation is no longer saved."
        return f"Renamed to “{md_escape(record['name'])}”."

    def delete_conversation(self, username: str | None, conversation_id: str | None) -> str:
        if not conversation_id:
            return "Nothing deleted: this conversation was not saved yet."
        if not self.conversations.delete(username, conversation_id):
            return "That conversation is no longer saved."
        return "Conversation deleted."

    def export_conversation(self, username: str | None, conversation_id: str, kind: str,
                            origin: str = "") -> str | None:
        """One of the user's conversations as Markdown ('md') or JSON ('json'); None if not theirs."""
        record = self.conversations.get(username, conversation_id)
        if record is None:
            return None
        export = export_markdown if kind == "md" else export_json
        return export(record, self.served_sources(), origin)

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

    @staticmethod
    def metadata_values(title: str | None = None, publisher: str | None = None, year: str | int | None = None,
                        language: str | None = None) -> dict[str, Any]:
        """Document details typed into the UI, checked: {field: value} of those given (ValueError says why)."""
        out: dict[str, Any] = {}
        if title is not None and str(title).strip():
            out["title"] = " ".join(str(title).split())
        if publisher is not None and str(publisher).strip():
            out["publisher"] = " ".join(str(publisher).split())
        if year is not None and str(year).strip():
            text = str(year).strip()
            if not re.fullmatch(r"\d{4}", text) or not 1000 <= int(text) <= time.gmtime().tm_year + 1:
                raise ValueError(f"“{text}” is not a year: use four digits, such as 2015")
            out["year"] = int(text)
        if language is not None and str(language).strip():
            codes = [language_code(part) for part in re.split(r"[;,/]| and ", str(language)) if part.strip()]
            bad = [c for c in codes if not re.fullmatch(r"[a-z]{2,3}", c)]
            if bad:
                raise ValueError(f"“{bad[0]}” is not a language: use a name such as English or a code such as en")
            out["language"] = ";".join(dict.fromkeys(codes))
        return out

    def add_documents(self, paths: list[str | Path], progress: Callable[[str, int, int], None] | None = None,
                      metadata: dict[str, Any] | None = None, username: str | None = None) -> str:
        """Check, copy into `<store>/uploads/` and ingest uploaded files; Markdown report.

        `metadata` (title, publisher, year, language; from `metadata_values`) is set on every
        file of this upload (a title only when there is one file): over what the file says.
        """
        from ingest.load import discover
        from ingest.pipeline import ingest_files

        if not self.can_edit(username):
            return EDITORS_ONLY.format(what="add documents")
        notify = progress or (lambda *_: None)
        lines: list[str] = []
        metadata = dict(metadata or {})
        if "title" in metadata and len(paths or []) > 1:
            metadata.pop("title")
            lines.append("- The title was not used: it names one document, and this upload holds several.")
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
            for sf in files:
                sf.metadata.update(metadata)
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
            unchanged_with_details = [n for n in accepted if n not in failed and n in before and metadata
                                      and (d := self.lantern.store.document(n)) and d.sha256 == before[n]]
            for name in unchanged_with_details:  # an unchanged file is not re-read: set its details here
                self._update_document(name, metadata)
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

    def _update_document(self, source: str, values: dict[str, Any]) -> None:
        """Store.update_document through its own connection, under the write lock (callers hold _ingest_lock).

        A new title is embedded again: each passage's vector embeds its title line with its text
        (`ingest.chunk.embedding_text`), so a question naming the new title must reach it; the
        keyword index, rebuilt here, reads the title line too.
        """
        from core.keyword import KeywordIndex
        from core.store import Store
        from ingest.pipeline import reembed_document

        store = Store.open(self.settings)
        try:
            with store.write_lock():
                store.update_document(source, values)
                if "title" in values:
                    reembed_document(store, source, self.lantern.embedder)
                KeywordIndex.rebuild(store)
        finally:
            store.close()

    def edit_document(self, source: str | None, title: str | None, publisher: str | None, year: str | int | None,
                      language: str | None, username: str | None = None) -> str:
        """Set a document's title, publisher, year and language (a blank publisher, year or language clears it)."""
        if not self.can_edit(username):
            return EDITORS_ONLY.format(what="edit document details")
        if not source:
            return "Choose a document first."
        doc = self.lantern.store.document(source)
        if doc is None:
            return f"**{md_escape(source)}** is not in the library."
        if not (title or "").strip():
            return "A document needs a title: nothing was changed."
        try:
            values = self.metadata_values(title, publisher, year, language)
        except ValueError as exc:
            return f"Nothing was changed: {md_escape(str(exc))}."
        values = {"title": values["title"], "publisher": values.get("publisher"), "year": values.get("year"),
                  "language": values.get("language")}
        current = {"title": doc.title, "publisher": doc.publisher, "year": doc.year, "language": doc.language}
        changed = {k: v for k, v in values.items() if v != current[k]}
        if not changed:
            return f"Nothing to change for **{md_escape(doc.title or source)}**."
        with self._ingest_lock:
            self._update_document(source, changed)
        return f"Saved the details of **{md_escape(values['title'])}** ({', '.join(changed)})."

    def remove_document(self, source: str | None, username: str | None = None) -> str:
        """Remove a document from the store (vectors, ledger, keyword index, file copies)."""
        from core.keyword import KeywordIndex
        from core.store import Store

        if not self.can_edit(username):
            return EDITORS_ONLY.format(what="remove documents")
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
    def request_user(self, request: Request) -> str | None:
        """The signed-in name behind a request (Gradio's sign-in cookie); None if not signed in."""
        app = request.app
        cookie_id = getattr(app, "cookie_id", "")
        token = (request.cookies.get(f"access-token-{cookie_id}")
                 or request.cookies.get(f"access-token-unsecure-{cookie_id}"))
        user = getattr(app, "tokens", {}).get(token) if token else None
        return str(user) if user is not None else None

    def signed_in(self, request: Request) -> bool:
        """Whether a request may read the library: always with no users file, else with Gradio's sign-in cookie."""
        return self.users is None or self.request_user(request) is not None

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

    def pdf_view_response(self, source: str, quote: str = "", page: str = "") -> Response:
        """The PDF viewer at a page of an ingested PDF, the quote highlighted; 404 if there is no such PDF."""
        from starlette.responses import HTMLResponse, PlainTextResponse

        doc = self.lantern.store.document(source) if source else None
        if doc is None or self.lantern.store.file_path(source) is None or not source.lower().endswith(".pdf"):
            return PlainTextResponse(f"no ingested PDF {source!r} in this store", status_code=404)
        cited = int(page) if page.isdigit() and int(page) > 0 else None
        section = None
        if quote:
            section = cited_section(self.lantern.store.page_text(source, cited), quote)
        url = file_url(source)
        body = pdf_view_html(doc.title or source, url, cited, quote, download_url=url, section=section)
        return HTMLResponse(body, headers={
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300",
            "Content-Security-Policy": PDF_VIEW_CSP,
        })

    @staticmethod
    def static_response(name: str) -> Response:
        """A file of `app/static/` (the viewer's script and styles, PDF.js); 404 for anything else."""
        from starlette.responses import FileResponse, PlainTextResponse

        path = (STATIC / name).resolve() if name else STATIC
        if not path.is_file() or STATIC not in path.parents or path.suffix not in STATIC_TYPES:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path, media_type=STATIC_TYPES[path.suffix],
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=86400"})

    def routes(self) -> list[Route]:
        """Routes the app adds to Gradio's: cited files, the text view, the PDF viewer and its scripts."""
        from starlette.responses import PlainTextResponse, Response
        from starlette.routing import Route

        def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
            def endpoint(request: Request) -> Response:
                if not self.signed_in(request):
                    return PlainTextResponse("Sign in first: open Lantern's start page.", status_code=401)
                return handler(request)
            return endpoint

        def source_of(request: Request) -> str:
            return str(request.path_params.get("source", ""))

        def lantern_file(request: Request) -> Response:
            return self.file_response(source_of(request))

        def lantern_view(request: Request) -> Response:
            q = request.query_params
            return self.view_response(source_of(request), q.get("q", ""), q.get("page", ""))

        def lantern_pdf(request: Request) -> Response:
            q = request.query_params
            return self.pdf_view_response(source_of(request), q.get("q", ""), q.get("page", ""))

        def lantern_static(request: Request) -> Response:
            return self.static_response(str(request.path_params.get("name", "")))

        def lantern_conversation(request: Request) -> Response:
            username = self.request_user(request) if self.users is not None else None
            cid, kind = str(request.path_params.get("id", "")), str(request.path_params.get("kind", ""))
            origin = str(request.base_url).rstrip("/")
            body = self.export_conversation(username, cid, kind, origin) if kind in ("md", "json") else None
            if body is None:
                return PlainTextResponse("no such conversation among yours", status_code=404)
            media = "text/markdown; charset=utf-8" if kind == "md" else "application/json"
            return Response(body, media_type=media, headers={
                "Content-Disposition": f'attachment; filename="lantern-conversation-{cid[:8]}.{kind}"',
                "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})

        return [
            Route(f"{FILE_ROUTE}/{{source:path}}", guarded(lantern_file), methods=["GET", "HEAD"]),
            Route(f"{VIEW_ROUTE}/{{source:path}}", guarded(lantern_view), methods=["GET", "HEAD"]),
            Route(f"{PDF_ROUTE}/{{source:path}}", guarded(lantern_pdf), methods=["GET", "HEAD"]),
            Route(f"{STATIC_ROUTE}/{{name:path}}", lantern_static, methods=["GET", "HEAD"]),
            Route(f"{CONVERSATION_ROUTE}/{{id}}.{{kind}}", guarded(lantern_conversation), methods=["GET"]),
        ]


def _safe_name(name: str) -> str:
    """A file name without folders or odd characters (it becomes the document's source id)."""
    base = Path(name.replace("\\", "/")).name
    clean = re.sub(r"[^\w.\-()+ ]+", "_", base).strip(" .")
    return clean or "upload"
