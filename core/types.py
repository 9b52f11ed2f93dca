"""Core data types that flow through Lantern: Page → Chunk → Hit → Answer.

Plain dataclasses so that every stage (ingest, retrieval, answering, eval, UI)
passes the same small, inspectable objects, and so that results serialise to
JSON with `dataclasses.asdict`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Page:
    """One unit of extracted text: a PDF page, or a whole text file (page=None).

    `sections`: (offset into `text`, section path from there on), as found at ingest (a PDF's
    outline or heading lines); empty when the text marks its headings itself (Markdown lines).
    """

    source: str
    page: int | None
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sections: tuple[tuple[int, str], ...] = ()


def chunk_id(source: str, page: int | None, text: str) -> str:
    """Stable id from source, page and content: re-ingesting the same text gives the same id."""
    digest = hashlib.sha256(f"{source}\x00{page}\x00{text}".encode()).hexdigest()
    return digest[:32]


@dataclass(frozen=True)
class Chunk:
    """A passage of one page; `start`/`end` are character offsets into that page's text."""

    id: str
    source: str
    page: int | None
    start: int
    end: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.source)


@dataclass
class Hit:
    """A retrieved chunk with its score, 1-based rank and the retriever(s) that found it."""

    chunk: Chunk
    score: float
    rank: int
    via: str = "hybrid"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one retrieved passage (in `lantern ask --json` and the search API)."""
        return {
            "source": self.chunk.source,
            "title": self.chunk.title,
            "page": self.chunk.page,
            "score": round(self.score, 4),
            "via": self.via,
            "text": self.chunk.text,
            "ocr": bool(self.chunk.metadata.get("ocr")),
        }


SCANNED_NOTE = "text read from a scan"  # shown beside a citation whose page was read by OCR


@dataclass
class Citation:
    """A checked reference: [n] in the answer text points to this page and verbatim quote."""

    n: int
    source: str
    title: str
    page: int | None
    quote: str
    url: str | None = None
    score: float = 0.0
    chunk_id: str = ""
    page_label: str | None = None
    publisher: str | None = None
    year: int | None = None
    resource_url: str | None = None  # the resource-library page a downloaded PDF came from
    resource_title: str | None = None
    ocr: bool = False  # the page had no text layer: its text (and so the quote) was read by OCR
    section: str | None = None  # the headings the quoted passage sits under ("Part 2 > Screening")


@dataclass
class RemovedCitation:
    """A citation marker the checker took out of an answer, and why."""

    n: int
    sentence: str
    reason: str


@dataclass
class Answer:
    """What `Lantern.ask` returns: the answer text, its checked citations and the evidence."""

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    retrieved: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)
    mode: str = "extractive"
    standalone_question: str | None = None
    removed_citations: list[RemovedCitation] = field(default_factory=list)
    abstain_reason: str | None = None  # when abstained: why, in general words ("nothing retrieved mentions 2019")

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape printed by `lantern ask --json`."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "mode": self.mode,
            "standalone_question": self.standalone_question,
            "citations": [
                {k: v for k, v in asdict(c).items() if k != "chunk_id"} | {"chunk_id": c.chunk_id}
                for c in self.citations
            ],
            "removed_citations": [asdict(r) for r in self.removed_citations],
            "retrieved": [h.to_dict() for h in self.retrieved],
            "timings_ms": {k: round(v, 1) for k, v in self.timings.items()},
        }
