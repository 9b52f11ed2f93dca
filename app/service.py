"""What the HTTP API and the MCP server both offer, over one shared `Lantern`.

Each operation returns plain JSON-ready dicts, in the same shapes as the CLI's `--json`
output (`Answer.to_dict`, `Hit.to_dict`, `lantern status --json`), and raises a
`ServiceError` carrying an HTTP status for anything the caller got wrong. No web framework
is imported here, so both servers (and their tests) share one behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from core.errors import EmptyStore, EndpointError, FilterError, LanternError, StoreError
from core.types import SCANNED_NOTE, Answer

if TYPE_CHECKING:
    from assistant.api import Lantern, Stream

MODEL_ID = "lantern"
SOURCES_HEADING = "**Sources**"


class ServiceError(LanternError):
    """An error the client can act on; `status` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request"):
        super().__init__(message)
        self.status = status
        self.code = code


def status_of(exc: LanternError) -> tuple[int, str]:
    """The HTTP status and error code for a Lantern error."""
    if isinstance(exc, ServiceError):
        return exc.status, exc.code
    if isinstance(exc, FilterError):
        return 400, "invalid_filter"
    if isinstance(exc, EmptyStore):
        return 409, "empty_store"
    if isinstance(exc, EndpointError):
        return 502, "llm_endpoint_error"
    if isinstance(exc, StoreError):
        return 503, "store_unavailable"
    return 400, "invalid_request"


def sources_markdown(answer: Answer) -> str:
    """The citations as a Markdown list, for clients that show only the message text."""
    if not answer.citations:
        return ""
    lines = [SOURCES_HEADING, ""]
    for c in answer.citations:
        where = c.title + (f", p. {c.page_label or c.page}" if c.page is not None else "")
        where += f" ({SCANNED_NOTE})" if c.ocr else ""
        link = f" ({c.url})" if c.url else ""
        lines.append(f"- [{c.n}] *{where}*{link}: “{c.quote}”")
    return "\n".join(lines)


def strip_sources(text: str) -> str:
    """An assistant message sent back by a client, without the source list we appended."""
    head, _, _ = text.partition("\n\n" + SOURCES_HEADING)
    return head.strip()


class LanternService:
    """Ask, search, list documents and read passages: the operations both servers expose."""

    def __init__(self, lantern: Lantern):
        self.lantern = lantern

    # --- questions ----------------------------------------------------------------------
    def ask(self, question: str, filters: dict[str, Any] | None = None, top_k: int | None = None) -> dict[str, Any]:
        """`lantern ask --json`'s shape."""
        self._check(question, filters)
        return self.lantern.ask(question, filters=filters, top_k=top_k).to_dict()

    def search(self, question: str, filters: dict[str, Any] | None = None, top_k: int | None = None) -> dict[str, Any]:
        """The passages an answer would draw on, best first, as in `retrieved` of an answer."""
        self._check(question, filters)
        hits = self.lantern.retrieve(question, filters=filters, top_k=top_k)
        return {"question": question, "retrieved": [h.to_dict() for h in hits]}

    def chat_stream(self, messages: Iterable[tuple[str, str]], filters: dict[str, Any] | None = None) -> Stream:
        """Answer the last user message of a transcript, with the earlier turns as context."""
        from assistant.history import conversation_from, pair_turns

        transcript = [(role, strip_sources(text) if role == "assistant" else text) for role, text in messages]
        if not transcript or transcript[-1][0] != "user" or not transcript[-1][1].strip():
            raise ServiceError("the last message must be a non-empty message with role 'user'", 400, "invalid_messages")
        self._check(transcript[-1][1], filters)
        conversation = conversation_from(self.lantern, pair_turns(transcript[:-1]), filters=filters)
        return conversation.stream(transcript[-1][1])

    # --- documents ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """`lantern status --json`'s shape."""
        return self.lantern.status()

    def documents(self) -> list[dict[str, Any]]:
        return list(self.status()["sources"])

    def document(self, source: str) -> dict[str, Any]:
        """One document's metadata and its pages (number, printed label, characters)."""
        doc = self.lantern.store.document(source)
        if doc is None or doc.state != "complete":
            raise self._unknown(source)
        store = self.lantern.store
        pages = [
            {"page": page, "label": store.page_label(source, page), "chars": len(text)}
            for page, text in store.pages(source)
        ]
        return {
            "source": doc.source, "title": doc.title, "publisher": doc.publisher, "year": doc.year,
            "language": doc.language, "doc_type": doc.doc_type, "url": doc.url, "chunks": doc.chunks,
            "ingested_at": doc.ingested_at, "pages": pages,
        }

    def passage(self, chunk_id: str | None = None, source: str | None = None, page: int | None = None) -> dict[str, Any]:
        """A cited passage by its `chunk_id`, or the full text of one page of a document."""
        store = self.lantern.store
        if chunk_id:
            found = store.chunks([chunk_id])
            if not found:
                raise ServiceError(f"no passage with chunk_id {chunk_id!r} in this store", 404, "unknown_passage")
            chunk = found[0]
            return {"chunk_id": chunk.id, "source": chunk.source, "title": chunk.title, "page": chunk.page,
                    "start": chunk.start, "end": chunk.end, "text": chunk.text}
        if not source:
            raise ServiceError("give either chunk_id, or source (and page for a paged document)", 400, "missing_field")
        doc = store.document(source)
        if doc is None or doc.state != "complete":
            raise self._unknown(source)
        text = store.page_text(source, page)
        if text is None:
            raise ServiceError(f"{source} has no page {page} (it has {doc.pages} pages)", 404, "unknown_page")
        return {"chunk_id": None, "source": source, "title": doc.title or source, "page": page,
                "label": store.page_label(source, page), "text": text}

    # --- internals ----------------------------------------------------------------------
    def _check(self, question: str, filters: dict[str, Any] | None) -> None:
        if not question or not question.strip():
            raise ServiceError("the question is empty", 400, "missing_field")
        source = (filters or {}).get("source")
        if source and self.lantern.store.document(str(source)) is None:
            raise self._unknown(str(source))
        if not self.lantern.store.has_documents():
            raise EmptyStore("this store holds no documents: run `lantern ingest PATH` first")

    @staticmethod
    def _unknown(source: str) -> ServiceError:
        return ServiceError(f"no document {source!r} in this store (GET /v1/documents lists them)", 404,
                            "unknown_document")
