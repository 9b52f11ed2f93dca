"""Lantern's hybrid retriever as a llama-index retriever, for developers who compose
llama-index query engines (imports llama-index, so only loaded on request)."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode


class LanternRetriever(BaseRetriever):
    """Dense ⊕ keyword retrieval over a Lantern store, returning llama-index nodes."""

    def __init__(self, lantern: Any, filters: dict[str, Any] | None = None, top_k: int | None = None):
        super().__init__()
        self._lantern = lantern
        self._filters = filters
        self._top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._lantern.retrieve(query_bundle.query_str, filters=self._filters, top_k=self._top_k)
        return [
            NodeWithScore(
                node=TextNode(
                    id_=h.chunk.id, text=h.chunk.text,
                    metadata={"source": h.chunk.source, "page": h.chunk.page, **h.chunk.metadata},
                    start_char_idx=h.chunk.start, end_char_idx=h.chunk.end,
                ),
                score=h.score,
            )
            for h in hits
        ]
