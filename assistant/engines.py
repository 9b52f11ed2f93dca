"""Lantern as llama-index query and chat engines, for code that composes llama-index apps
(agents, `QueryEngineTool`, routers). Imports llama-index, so it is loaded only on request.

The answer text is Lantern's checked answer (every `[n]` survived the citation check) and
`source_nodes` are its citations: one `NodeWithScore` per `[n]`, whose node text is the cited
passage and whose metadata holds `n`, `source`, `title`, `page`, `page_label` and the verbatim
`quote`. An abstention has no source nodes and `metadata["abstained"]` set.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.base.response.schema import Response
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from core.types import Answer

from .history import conversation_from, pair_turns

if TYPE_CHECKING:
    from .api import Lantern


def cited_nodes(answer: Answer) -> list[NodeWithScore]:
    """One node per citation: the cited passage, with page and quote in its metadata."""
    passages = {h.chunk.id: h.chunk for h in answer.retrieved}
    nodes = []
    for c in answer.citations:
        chunk = passages.get(c.chunk_id)
        metadata = {"n": c.n, "source": c.source, "title": c.title, "page": c.page, "page_label": c.page_label,
                    "quote": c.quote, "url": c.url, "publisher": c.publisher, "year": c.year, "ocr": c.ocr}
        node = TextNode(
            id_=c.chunk_id or f"{c.source}#{c.page}#{c.n}", text=chunk.text if chunk else c.quote, metadata=metadata,
            start_char_idx=chunk.start if chunk else None, end_char_idx=chunk.end if chunk else None,
        )
        nodes.append(NodeWithScore(node=node, score=c.score))
    return nodes


def _metadata(answer: Answer) -> dict[str, Any]:
    return {"abstained": answer.abstained, "mode": answer.mode, "citations": answer.to_dict()["citations"],
            "removed_citations": len(answer.removed_citations)}


class LanternQueryEngine(BaseQueryEngine):
    """`query(question)` -> a `Response` holding Lantern's checked answer and its citations."""

    def __init__(self, lantern: Lantern, filters: dict[str, Any] | None = None, top_k: int | None = None):
        super().__init__(callback_manager=None)
        self._lantern = lantern
        self._filters = filters
        self._top_k = top_k

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}  # no prompts: the answer is Lantern's own

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self._lantern.ask(query_bundle.query_str, filters=self._filters, top_k=self._top_k)
        return Response(response=answer.text, source_nodes=cited_nodes(answer), metadata=_metadata(answer))

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return await asyncio.to_thread(self._query, query_bundle)


class LanternChatEngine(BaseChatEngine):
    """A conversation: follow-ups are made standalone before retrieval, as in `lantern chat`."""

    def __init__(self, lantern: Lantern, filters: dict[str, Any] | None = None, top_k: int | None = None):
        self._lantern = lantern
        self._filters = filters
        self._top_k = top_k
        self._conversation = lantern.chat(filters=filters)

    def reset(self) -> None:
        self._conversation.reset()

    @property
    def chat_history(self) -> list[ChatMessage]:
        messages = []
        for question, text in self._conversation.history:
            messages += [ChatMessage(role=MessageRole.USER, content=question),
                         ChatMessage(role=MessageRole.ASSISTANT, content=text)]
        return messages

    def _use_history(self, chat_history: list[ChatMessage] | None) -> None:
        if chat_history is not None:  # the caller's transcript replaces what we remember
            turns = pair_turns((m.role.value, m.content or "") for m in chat_history)
            self._conversation = conversation_from(self._lantern, turns, filters=self._filters)

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        self._use_history(chat_history)
        answer = self._conversation.ask(message, top_k=self._top_k)
        return AgentChatResponse(response=answer.text, source_nodes=cited_nodes(answer), metadata=_metadata(answer))

    def stream_chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> StreamingAgentChatResponse:
        """Text pieces as they are checked; `source_nodes` is filled once the stream ends."""
        self._use_history(chat_history)
        stream = self._conversation.stream(message, top_k=self._top_k)
        response = StreamingAgentChatResponse(is_writing_to_memory=False)

        def pieces() -> Generator[ChatResponse, None, None]:
            text = ""
            for piece in stream:
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)
            if stream.answer is not None:
                response.source_nodes.extend(cited_nodes(stream.answer))

        response.chat_stream = pieces()
        return response

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        """The answer is computed in a worker thread, then handed out piece by piece."""
        whole = await asyncio.to_thread(self.stream_chat, message, chat_history)
        pieces = await asyncio.to_thread(lambda: list(whole.chat_stream or ()))
        response = StreamingAgentChatResponse(is_writing_to_memory=False, source_nodes=whole.source_nodes)

        async def replay() -> AsyncGenerator[ChatResponse, None]:
            for piece in pieces:
                yield piece

        response.achat_stream = replay()
        return response
