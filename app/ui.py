"""The chat UI: `lantern ui` serves a Gradio app that practitioners can use all day, offline.

    lantern ui                                  # http://127.0.0.1:7860, store ./.lantern
    lantern ui --store /data/lantern --port 8080
    lantern ui --host 0.0.0.0                   # reachable from the local network (no login!)
    LANTERN_LLM_BASE_URL=http://gpu-box:8000/v1 LANTERN_LLM_MODEL=qwen2.5-14b lantern ui

What it offers:

* **Ask** — a chat with streamed answers; every sentence carries [n] markers, and beneath
  each answer its sources: title, publisher, year, page (and printed page label), the
  quoted passage highlighted in its chunk, and a link that opens the PDF at that page
  (`/lantern/file/<source>#page=N`, served from the store's own copy; only ingested files,
  anything else is a 404). Citations the checker removed are listed as a short note, and
  an abstention is shown as such, with the nearest sources. Filters (publisher, years,
  language, document), the number of sources, and the answer mode (offline extractive, or
  the LLM endpoint when one is configured) sit beside the chat. Enter sends; 👍/👎 and an
  optional comment go to `<store>/feedback.jsonl` (one JSON object per line; the last line
  of an `answer_id` is the latest word on that answer).
* **Add documents** — upload PDF, Markdown, text or HTML files (up to `max_upload_mb`
  each); they are copied to `<store>/uploads/` and ingested with a progress bar; the table
  lists what the store holds, and a document can be removed.

One `Lantern` is opened and shared by every session (reads are thread-safe; each tab keeps
its own conversation). An upload ingests in the worker thread of its own event, one ingest
at a time, through its own store connection under the store's write lock: questions keep
being answered meanwhile (SQLite in WAL mode; they compete for CPU only), and the
retriever picks up the new keyword index when the store's generation changes. Nothing is fetched from the internet: Gradio's
analytics are off and its default theme's fonts are bundled.

Gradio is imported only inside this module's functions (it takes ~2 s), after
`offline_environment()` has switched the telemetry off.
"""

from __future__ import annotations

import contextlib
import copy
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
from urllib.parse import quote

from core.errors import EmptyStore, LanternError
from core.settings import Settings, offline_environment
from core.types import Answer, Citation, Hit

if TYPE_CHECKING:
    import gradio as gr
    from starlette.responses import Response

    from assistant.api import Lantern

log = logging.getLogger(__name__)

ACCEPTED = (".pdf", ".md", ".txt", ".html")
ACCEPTED_ALSO = (".markdown", ".htm")  # same loaders as the four advertised types
FILE_ROUTE = "/lantern/file"
DEFAULT_CONCURRENCY = 8  # answers are ~0.1 s of CPU each offline; an LLM call mostly waits
EXTRACTIVE_LABEL = "Offline (extractive: verbatim cited sentences)"
ANY = ""  # the "no filter" value of the filter dropdowns
CONTEXT_CHARS = 260  # chunk text shown on each side of a highlighted quote

EXAMPLES = [
    "How does a National Referral Mechanism work, and who can make a referral?",
    "What are the ILO indicators of forced labour?",
    "What are the three elements of the trafficking definition, and do they all apply to children?",
    "What are the steps of human rights due diligence in supply chains?",
]

CSS = """
.lantern-banner {padding: .6em .9em; border-radius: 8px; border: 1px solid var(--border-color-primary);}
.lantern-empty {border-color: #d97706; background: rgba(217, 119, 6, .08);}
.lantern-sources {margin-top: .8em; padding-top: .5em; border-top: 1px solid var(--border-color-primary);}
.lantern-sources-title {font-weight: 600; margin-bottom: .2em;}
.lantern-source {margin: .6em 0;}
.lantern-meta {font-size: .88em; opacity: .85;}
.lantern-passage {margin: .3em 0 0 !important; padding: .35em .7em; border-left: 3px solid var(--color-accent);
  font-size: .9em; line-height: 1.45; max-height: 11em; overflow-y: auto; overflow-wrap: anywhere;}
.lantern-passage mark, .lantern-answer mark {background: #fde68a; color: #111; padding: 0 .1em;}
.lantern-note {font-size: .88em; opacity: .85; margin-top: .5em;}
.lantern-cite {font-weight: 600; font-size: .85em; white-space: nowrap; color: var(--color-accent);}
.lantern-source strong {font-weight: 600;}
strong, b {font-weight: 600;}  /* the bundled font has 400 and 600: 700 would be synthesised */
@media (max-width: 640px) {
  .lantern-passage {max-height: 9em;}
  .lantern-banner {font-size: .9em;}
}
"""

# Gradio scopes `css` under its content root, which sits inside the padded page wrapper, and
# only the top-level rules also go in unscoped: the phone-width page margin goes in `head`.
HEAD = (
    "<style>@media (max-width: 640px) { .gradio-container .main.fillable "
    "{padding-left: 6px !important; padding-right: 6px !important;} }</style>"
)


# --- rendering (pure functions: easy to test, no Gradio) ----------------------------------

def _esc(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=True)


def _plain(text: str) -> str:
    """Passage text without Markdown heading marks and emphasis (they are noise when quoted)."""
    text = re.sub(r"(^|\s)#{1,6}\s+", r"\1", text)
    return _esc(text.replace("**", "").replace("__", ""))


def file_url(source: str, page: int | None = None) -> str:
    """The app's link to the store's copy of `source`, at `page` for a PDF."""
    url = f"{FILE_ROUTE}/{quote(source, safe='/')}"
    return url + (f"#page={page}" if page and source.lower().endswith(".pdf") else "")


def where_label(page: int | None, label: str | None) -> str:
    """'p. 12 (printed 10)': the PDF page, and the printed label when it differs."""
    if not page:
        return ""
    return f"p. {page}" + (f" (printed {label})" if label and label != str(page) else "")


def highlight(text: str, quote_text: str, context: int = CONTEXT_CHARS) -> str:
    """HTML of `text` around `quote_text` with the quote in <mark> (whitespace-insensitive)."""
    words = quote_text.split()
    match = None
    if words:
        pattern = r"\s+".join(re.escape(w) for w in words)
        match = re.search(pattern, text) or re.search(pattern, text, re.IGNORECASE)
    if match is None:
        shown = text[: 2 * context]
        marked = f"<mark>{_plain(quote_text)}</mark>" if words else ""
        rest = _plain(shown) + ("…" if len(text) > len(shown) else "")
        return f"{marked} <span>{rest}</span>" if marked else rest
    start, end = match.span()
    a, b = max(0, start - context), min(len(text), end + context)
    if a > 0:  # start and end on word boundaries
        a = text.find(" ", a, start) + 1 or a
    if b < len(text):
        cut = text.rfind(" ", end, b)
        b = cut if cut > end else b
    return (
        ("…" if a > 0 else "") + _plain(text[a:start]) + " <mark>" + _plain(text[start:end]) + "</mark> "
        + _plain(text[end:b]) + ("…" if b < len(text) else "")
    ).replace("  ", " ").strip()


def answer_markdown(text: str) -> str:
    """Answer text safe for the chat's Markdown: HTML escaped, no accidental headings, [n] styled."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"(?m)^(\s*)#", r"\1\\#", escaped)
    return re.sub(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]", r'<span class="lantern-cite">[\1]</span>', escaped)


def _hit_for(citation: Citation, hits: list[Hit]) -> Hit | None:
    by_id = next((h for h in hits if h.chunk.id == citation.chunk_id), None)
    if by_id:
        return by_id
    words = citation.quote.split()[:6]
    for h in hits:
        if h.chunk.source == citation.source and h.chunk.page == citation.page and words and \
                " ".join(words) in " ".join(h.chunk.text.split()):
            return h
    return None


def _source_links(source: str, page: int | None, served: set[str], url: str | None) -> str:
    links = []
    if source in served:
        kind = "PDF" if source.lower().endswith(".pdf") else "file"
        at = f" at p. {page}" if page and kind == "PDF" else ""
        links.append(f'<a href="{html.escape(file_url(source, page))}" target="_blank" rel="noopener">Open {kind}{at}</a>')
    if url:
        links.append(f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">original</a>')
    return " · ".join(links)


def _meta_line(parts: list[str | None]) -> str:
    return " · ".join(p for p in parts if p)


def render_sources(answer: Answer, served: set[str]) -> str:
    """HTML for the sources of one answer (one line: Markdown ends an HTML block at a blank line)."""
    out: list[str] = []
    if answer.abstained:
        nearest = answer.retrieved[:3]
        if nearest:
            out.append('<div class="lantern-sources"><div class="lantern-sources-title">Nearest sources</div>')
            for hit in nearest:
                c = hit.chunk
                meta = _meta_line([
                    c.metadata.get("publisher"), str(c.metadata.get("year") or "") or None,
                    where_label(c.page, c.metadata.get("page_label")),
                    _source_links(c.source, c.page, served, c.metadata.get("url")),
                ])
                snippet = " ".join(c.text.split())
                snippet = snippet[:220] + ("…" if len(snippet) > 220 else "")
                out.append(
                    f'<div class="lantern-source"><strong>{_esc(c.title)}</strong>'
                    f'<div class="lantern-meta">{meta}</div>'
                    f'<blockquote class="lantern-passage">{_plain(snippet)}</blockquote></div>'
                )
            out.append("</div>")
        return "".join(out)
    if answer.citations:
        out.append('<div class="lantern-sources"><div class="lantern-sources-title">Sources</div>')
        for c in answer.citations:
            hit = _hit_for(c, answer.retrieved)
            passage = highlight(hit.chunk.text, c.quote) if hit else f"<mark>{_plain(c.quote)}</mark>"
            meta = _meta_line([
                c.publisher, str(c.year) if c.year else None, where_label(c.page, c.page_label),
                _source_links(c.source, c.page, served, c.url),
            ])
            out.append(
                f'<div class="lantern-source" id="source-{c.n}"><span class="lantern-cite">[{c.n}]</span> '
                f'<strong>{_esc(c.title)}</strong><div class="lantern-meta">{meta}</div>'
                f'<blockquote class="lantern-passage">{passage}</blockquote></div>'
            )
        out.append("</div>")
    if answer.removed_citations:
        n = len(answer.removed_citations)
        reasons = "; ".join(f"[{r.n}] {_esc(r.reason)}" for r in answer.removed_citations[:4])
        out.append(f'<div class="lantern-note">{n} citation{"s" if n > 1 else ""} removed by the checker: {reasons}</div>')
    return "".join(out)


def render_answer(answer: Answer, served: set[str]) -> str:
    """The chat message for a finished answer: text with [n] markers, then its sources."""
    body = answer_markdown(answer.text)
    if answer.abstained:
        body = f"**No answer in these documents.** {body}"
    sources = render_sources(answer, served)
    return f"{body}\n\n{sources}" if sources else body


# --- per-session state ------------------------------------------------------------------

@dataclass
class Session:
    """One browser tab's conversation: turns for follow-ups, answers for feedback."""

    turns: deque = field(default_factory=lambda: deque(maxlen=6))
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)  # chat index → record
    rated: int | None = None  # the answer a comment box is open for


# --- the app's logic (no Gradio here: the event handlers below are thin) ----------------

class LanternUI:
    """The shared state behind the app: one Lantern, the feedback log and the ingest lock."""

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
        with contextlib.suppress(EmptyStore):
            self.lantern.retrieve("forced labour", top_k=1)
        self.extractive = self._variant(None)
        self.llm_lantern = self._llm_variant()
        self._feedback_lock = threading.Lock()
        self._ingest_lock = threading.Lock()

    def _variant(self, llm: Any) -> Lantern:
        """The shared Lantern answering with another LLM (or none): same store, embedder, retriever."""
        if self.lantern.llm is llm:
            return self.lantern
        variant = copy.copy(self.lantern)
        variant.llm = llm
        return variant

    def _llm_variant(self) -> Lantern | None:
        if self.lantern.llm is not None:
            return self.lantern
        if not self.settings.llm_configured:
            return None
        from assistant.answer import LLMClient

        return self._variant(LLMClient(self.settings))

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
        store = self.settings.store
        if not cat["documents"]:
            return (
                f'<div class="lantern-banner lantern-empty"><strong>The store <code>{_esc(str(store))}</code> '
                "holds no documents yet.</strong> Add some in the <em>Add documents</em> tab, or run "
                f"<code>lantern ingest PATH --store {_esc(str(store))}</code> and reload this page.</div>"
            )
        n = len(cat["documents"])
        return (
            f'<div class="lantern-banner" title="store: {_esc(str(store))}">Searching <strong>{n} '
            f'document{"s" if n != 1 else ""}</strong> ({cat["chunks"]} passages). Each sentence of an '
            "answer cites its source [n]: check the highlighted passage before relying on it.</div>"
        )

    def mode_choices(self) -> tuple[list[str], str, bool, str]:
        """(choices, default, interactive, info) for the answer-mode control."""
        if self.llm_lantern is None:
            return (
                [EXTRACTIVE_LABEL, "LLM (no endpoint configured)"], EXTRACTIVE_LABEL, False,
                "Set llm_base_url and llm_model (LANTERN_LLM_BASE_URL, LANTERN_LLM_MODEL) to enable the LLM mode.",
            )
        assert self.llm_lantern.llm is not None
        label = f"LLM: {self.llm_lantern.llm.where}"
        default = label if self.settings.use_llm else EXTRACTIVE_LABEL
        return [EXTRACTIVE_LABEL, label], default, True, "The LLM writes the answer; the checker verifies every [n]."

    def documents_rows(self) -> list[list[Any]]:
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
        use_llm = bool(mode and mode.startswith("LLM") and self.llm_lantern is not None)
        lantern = self.llm_lantern if use_llm and self.llm_lantern is not None else self.extractive
        filters = self.filters(publisher, year_from, year_to, language, document)
        try:
            conversation = Conversation(lantern, filters=filters)
            conversation.turns = session.turns
            stream = conversation.stream(question, top_k=int(top_k) if top_k else None)
            text = ""
            for delta in stream:
                text += delta
                history[-1] = {"role": "assistant", "content": answer_markdown(text.rstrip()) + " ▌"}
                yield list(history), session, ""
            answer = stream.answer
            assert answer is not None
            history[-1] = {"role": "assistant", "content": render_answer(answer, self.served_sources())}
            session.answers[len(history) - 1] = {
                "answer_id": uuid.uuid4().hex, "question": question, "answer": answer.text,
                "abstained": answer.abstained, "mode": answer.mode, "filters": filters,
                "citations": [asdict(c) for c in answer.citations],
            }
        except EmptyStore:
            history[-1] = {"role": "assistant", "content": (
                "This store holds no documents yet. Add some in the **Add documents** tab, or run "
                f"`lantern ingest PATH --store {self.settings.store}`."
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
        if suffix not in ACCEPTED + ACCEPTED_ALSO:
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
                lines.append(f"- **{_md(name)}** rejected: {reason}.")
                continue
            if name in accepted:
                lines.append(f"- **{_md(name)}** rejected: a file of that name is already in this upload.")
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
            files, problems = discover([uploads / name for name in accepted])
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
                lines.append(f"- **{_md(name)}** could not be ingested: {failed[name]}.")
            else:
                doc = self.lantern.store.document(name)
                detail = f"{doc.pages} page(s), {doc.chunks} passages" if doc else "ingested"
                done = "added" if name not in before else (
                    "already in the store, unchanged" if doc and before[name] == doc.sha256 else "updated"
                )
                lines.append(f"- **{_md(name)}** {done} ({detail}).")
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
                        return f"**{_md(source)}** is not in the store."
                    store.remove_document(source)
                    KeywordIndex.rebuild(store)
                    store.prune_file_copies()
            finally:
                store.close()
        uploaded = Path(self.settings.store) / "uploads" / source
        if doc.metadata.get("path") and Path(doc.metadata["path"]) == uploaded.resolve():
            uploaded.unlink(missing_ok=True)
        return f"Removed **{_md(doc.title or source)}** ({_md(source)})."

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

    def routes(self) -> list[Any]:
        """FastAPI routes the app adds to Gradio's: the cited-file route."""
        from fastapi.routing import APIRoute

        def lantern_file(source: str) -> Response:
            return self.file_response(source)

        return [APIRoute(f"{FILE_ROUTE}/{{source:path}}", lantern_file, methods=["GET", "HEAD"],
                         include_in_schema=False)]


def _safe_name(name: str) -> str:
    """A file name without folders or odd characters (it becomes the document's source id)."""
    base = Path(name.replace("\\", "/")).name
    clean = re.sub(r"[^\w.\-()+ ]+", "_", base).strip(" .")
    return clean or "upload"


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


# --- the Gradio app -------------------------------------------------------------------------

def build_app(settings: Settings) -> gr.Blocks:
    """The Blocks app over the store in `settings` (use `launch` to serve it with its file route)."""
    global gr  # the handlers' `gr.LikeData`-style hints are resolved from this module's globals
    offline_environment()
    import gradio as gr

    ui = LanternUI(settings)
    mode_choices, mode_default, mode_interactive, mode_info = ui.mode_choices()
    max_top_k = max(15, settings.top_k)

    def choices_of(cat: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
        return {
            "publisher": [("Any publisher", ANY)] + [(p, p) for p in cat["publishers"]],
            "year_from": [("Any", ANY)] + [(str(y), str(y)) for y in cat["year_list"]],
            "year_to": [("Any", ANY)] + [(str(y), str(y)) for y in reversed(cat["year_list"])],
            "language": [("Any language", ANY)] + [(lang, lang) for lang in cat["languages"]],
            "document": [("Any document", ANY)] + [(d.title or d.source, d.source) for d in cat["documents"]],
            "remove": [(f"{d.title or d.source} ({d.source})", d.source) for d in cat["documents"]],
        }

    first = choices_of(ui.catalog())

    with gr.Blocks(title="Lantern", analytics_enabled=False, fill_width=True) as demo:
        session = gr.State(None)
        banner = gr.HTML(ui.banner())
        with gr.Tabs():
            with gr.Tab("Ask"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    chatbot = gr.Chatbot(
                        label="Lantern", show_label=False, height="68vh", min_height=360,
                        examples=[{"text": q} for q in EXAMPLES],
                        placeholder="**Ask about anti-trafficking policy and practice.** Answers quote the "
                                    "documents in this store, with page references you can open.",
                        buttons=["copy"], sanitize_html=True, autoscroll=True,
                    )
                    with gr.Row(visible=False) as comment_row:
                        comment = gr.Textbox(label="Comment on this answer (optional)", lines=1, scale=4,
                                             placeholder="What was wrong, missing or useful?")
                        comment_send = gr.Button("Send comment", scale=1, min_width=120)
                    feedback_note = gr.Markdown("")
                    with gr.Row():
                        msg = gr.Textbox(
                            show_label=False, placeholder="Ask a question and press Enter", lines=1, max_lines=6,
                            autofocus=True, scale=5, container=False, elem_id="lantern-question",
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                    new_chat = gr.Button("New conversation", size="sm")
                with gr.Column(scale=1, min_width=260):
                    gr.Markdown("### Search settings")
                    publisher = gr.Dropdown(first["publisher"], value=ANY, label="Publisher", allow_custom_value=True)
                    with gr.Row():
                        year_from = gr.Dropdown(first["year_from"], value=ANY, label="From year", min_width=110,
                                                allow_custom_value=True)
                        year_to = gr.Dropdown(first["year_to"], value=ANY, label="To year", min_width=110,
                                              allow_custom_value=True)
                    language = gr.Dropdown(first["language"], value=ANY, label="Language", allow_custom_value=True)
                    document = gr.Dropdown(first["document"], value=ANY, label="Document", allow_custom_value=True)
                    top_k = gr.Slider(1, max_top_k, value=settings.top_k, step=1, label="Number of sources")
                    mode = gr.Radio(mode_choices, value=mode_default, label="Answer mode",
                                    interactive=mode_interactive, info=mode_info)
            with gr.Tab("Add documents"):
                gr.Markdown(
                    f"Upload **PDF, Markdown, text or HTML** files (up to {settings.max_upload_mb} MB each). "
                    f"They are copied into the store (`{settings.store}`) and indexed; questions keep "
                    "working meanwhile."
                )
                files = gr.File(label="Files to add (.pdf .md .txt .html)", file_count="multiple", type="filepath")
                add = gr.Button("Add to the store", variant="primary")
                add_result = gr.Markdown("")
                table = gr.Dataframe(
                    ui.documents_rows(), headers=["Title", "Source", "Publisher", "Year", "Pages", "Chunks", "Ingested"],
                    label="In this store", interactive=False, wrap=True, max_height=420,
                    column_widths=["28%", "22%", "16%", "7%", "7%", "7%", "13%"],
                )
                with gr.Row():
                    to_remove = gr.Dropdown(first["remove"], value=None, label="Document to remove", scale=4)
                    remove = gr.Button("Remove", variant="stop", scale=1, min_width=100)
                remove_result = gr.Markdown("")

        controls = [publisher, year_from, year_to, language, document, top_k, mode]
        catalog_outputs = [banner, publisher, year_from, year_to, language, document, to_remove, table]

        def refresh() -> tuple[Any, ...]:
            c = choices_of(ui.catalog())
            return (
                ui.banner(), gr.Dropdown(choices=c["publisher"]), gr.Dropdown(choices=c["year_from"]),
                gr.Dropdown(choices=c["year_to"]), gr.Dropdown(choices=c["language"]),
                gr.Dropdown(choices=c["document"]), gr.Dropdown(choices=c["remove"], value=None),
                ui.documents_rows(),
            )

        def ask(
            message: str, history: list, state: Session | None, publisher: str | None, year_from: str | None,
            year_to: str | None, language: str | None, document: str | None, top_k: float, mode: str | None,
        ) -> Iterator[tuple]:
            yield from ui.respond(message, history, state, publisher, year_from, year_to, language, document,
                                  top_k, mode)

        ask_io = {"inputs": [msg, chatbot, session, *controls], "outputs": [chatbot, session, msg]}
        msg.submit(ask, **ask_io, api_name="ask", show_progress="hidden")
        send.click(ask, **ask_io, api_name=False, show_progress="hidden")

        def pick_example(evt: gr.SelectData) -> str:
            value = evt.value
            return value.get("text", "") if isinstance(value, dict) else str(value)

        chatbot.example_select(pick_example, None, msg, api_name=False).then(
            ask, **ask_io, api_name=False, show_progress="hidden"
        )

        def new_conversation() -> tuple[list, None, str, Any, str]:
            return [], None, "", gr.Row(visible=False), ""

        new_chat.click(new_conversation, None, [chatbot, session, msg, comment_row, feedback_note], api_name=False)
        chatbot.clear(lambda: None, None, session, api_name=False)  # the chat's own clear button

        def on_like(state: Session | None, evt: gr.LikeData) -> tuple[Session | None, Any, str]:
            index = evt.index if isinstance(evt.index, int) else evt.index[0]
            rating = {True: "up", False: "down"}.get(evt.liked) if isinstance(evt.liked, bool) else (evt.liked or None)
            value = evt.value if isinstance(evt.value, str) else json.dumps(evt.value, default=str)
            ui.record_feedback(state, index, rating, message=value)
            if state is not None:
                state.rated = index
            if rating is None:
                return state, gr.Row(visible=False), "Rating withdrawn."
            thanks = ("Thanks: marked as helpful." if rating == "up"
                      else "Thanks: marked as not helpful. A comment on what was wrong helps most.")
            return state, gr.Row(visible=True), thanks

        chatbot.like(on_like, [session], [session, comment_row, feedback_note], api_name=False)

        def on_comment(text: str, state: Session | None) -> tuple[str, Any, str]:
            if not (text or "").strip():
                return "", gr.Row(visible=True), "Write a comment first, or ignore the box."
            index = state.rated if state and state.rated is not None else -1
            rating = state.answers.get(index, {}).get("rating") if state else None
            ui.record_feedback(state, index, rating, comment=text)
            return "", gr.Row(visible=False), "Comment saved. Thank you."

        comment.submit(on_comment, [comment, session], [comment, comment_row, feedback_note], api_name=False)
        comment_send.click(on_comment, [comment, session], [comment, comment_row, feedback_note], api_name=False)

        def upload(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            def notify(message: str, done: int, total: int) -> None:
                progress((done, total) if total else None, desc=message)

            report = ui.add_documents(list(paths or []), progress=notify)
            return (report, None, *refresh())

        add.click(upload, [files], [add_result, files, *catalog_outputs], api_name="upload",
                  concurrency_limit=1, concurrency_id="store-write", show_progress_on=[files])

        def remove_doc(source: str | None) -> tuple[Any, ...]:
            return (ui.remove_document(source), *refresh())

        remove.click(remove_doc, [to_remove], [remove_result, *catalog_outputs], api_name="remove",
                     concurrency_limit=1, concurrency_id="store-write", show_progress_on=[to_remove],
                     js="(s) => (s && !confirm('Remove ' + s + ' from the store?')) ? null : s")

        def pick_row(evt: gr.SelectData) -> Any:
            row = getattr(evt, "row_value", None)
            return gr.Dropdown(value=row[1]) if row and len(row) > 1 else gr.Dropdown()

        table.select(pick_row, None, to_remove, api_name=False)
        demo.load(refresh, None, catalog_outputs, api_name=False, show_progress="hidden")

    demo.lantern_ui = ui  # type: ignore[attr-defined]
    return demo


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, **kw: Any) -> gr.Blocks:
    """Build the app, queue it for several users, add the cited-file route and serve it.

    Blocks until stopped unless `prevent_thread_lock=True`; returns the Blocks (its
    `lantern_ui.close()` closes the store). `concurrency_limit` sets how many answers
    run at once (default 8); other keywords go to `gr.Blocks.launch`.
    """
    demo = build_app(settings)
    ui: LanternUI = demo.lantern_ui  # type: ignore[attr-defined]
    demo.queue(default_concurrency_limit=kw.pop("concurrency_limit", DEFAULT_CONCURRENCY))
    app_kwargs = dict(kw.pop("app_kwargs", None) or {})
    app_kwargs["routes"] = [*(app_kwargs.get("routes") or []), *ui.routes()]
    kw.setdefault("max_file_size", settings.max_upload_mb * 2 * 1024 * 1024)  # our check names the file below 2×
    kw.setdefault("ssr_mode", False)  # no Node server
    kw.setdefault("footer_links", ["api", "settings"])
    kw.setdefault("css", CSS)
    kw.setdefault("head", HEAD)
    demo.launch(server_name=host, server_port=port, app_kwargs=app_kwargs, mcp_server=False, pwa=False, **kw)
    return demo
