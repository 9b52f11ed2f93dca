"""`lantern status`: what the store holds, per document."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from core.store import Store


def store_status(settings: Settings) -> dict[str, Any]:
    """Documents, chunks and one row per source; incomplete documents listed apart; what is
    wrong with the store (`problems`) and the command that fixes it (`fix`)."""
    from core.store_check import check, fix_command

    from .pipeline import vector_probe

    store = Store.open(settings)
    try:
        problems = check(store, embed=vector_probe(store, settings))
        docs = store.documents(include_pending=True)
        complete = [d for d in docs if d.state == "complete"]
        return {
            "store": str(settings.store),
            "chroma": settings.chroma or "embedded",
            "embedder": store.get_meta("embedder"),
            "documents": len(complete),
            "chunks": sum(d.chunks for d in complete),
            "pages": sum(d.pages for d in complete),
            "generation": store.generation,
            "sources": [
                {
                    "source": d.source, "title": d.title, "publisher": d.publisher, "year": d.year,
                    "language": d.language, "doc_type": d.doc_type, "pages": d.pages, "chunks": d.chunks,
                    "url": d.url, "ingested_at": d.ingested_at,
                }
                for d in complete
            ],
            "pending": [d.source for d in docs if d.state != "complete"],
            "problems": [p.to_dict() for p in problems],
            "fix": fix_command(store) if problems else None,
        }
    finally:
        store.close()
