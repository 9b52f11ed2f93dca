"""`Lantern.as_query_engine()` and `as_chat_engine()` used the way llama-index code uses them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.base.response.schema import Response
from llama_index.core.chat_engine.types import BaseChatEngine
from llama_index.core.tools import QueryEngineTool

from assistant.api import Lantern
from assistant.spans import clean
from core.settings import Settings

pytestmark = pytest.mark.integration  # llama-index engines over a store built with the real model

QUESTION = "What does the non-punishment principle say about victims of trafficking?"


@pytest.fixture(scope="module")
def lantern(sample_store: Settings) -> Iterator[Lantern]:
    with Lantern.open(settings=sample_store) as opened:
        yield opened


def test_query_engine_answers_with_cited_source_nodes(lantern: Lantern) -> None:
    engine = lantern.as_query_engine()
    assert isinstance(engine, BaseQueryEngine)
    response = engine.query(QUESTION)
    assert isinstance(response, Response)
    assert response.response == lantern.ask(QUESTION).text and "[1]" in str(response)
    first = response.source_nodes[0]
    meta = first.node.metadata
    assert meta["n"] == 1 and meta["source"] == "victim-support.md"
    # the quote is the source's text as written (Markdown emphasis too); the answer shows it as read
    assert meta["quote"] in first.node.get_content() and clean(meta["quote"]) in str(response)
    assert response.metadata is not None and response.metadata["abstained"] is False


def test_query_engine_on_pdf_carries_the_page(lantern: Lantern) -> None:
    response = lantern.as_query_engine(filters={"doc_type": "pdf"}).query("What should a first responder do first?")
    pages = {n.node.metadata["page"] for n in response.source_nodes}
    assert response.source_nodes and pages <= {1, 2} and None not in pages


def test_query_engine_abstains_without_source_nodes(lantern: Lantern) -> None:
    response = asyncio.run(lantern.as_query_engine().aquery("What is the boiling point of mercury on Mars?"))
    assert response.metadata is not None and response.metadata["abstained"] is True
    assert response.source_nodes == []


def test_query_engine_as_a_tool(lantern: Lantern) -> None:
    tool = QueryEngineTool.from_defaults(
        lantern.as_query_engine(), name="lantern", description="Cited answers from anti-trafficking guidance.")
    output = tool.call(input=QUESTION)
    assert "not be prosecuted or punished" in output.content and "[1]" in output.content
    assert isinstance(output.raw_output, Response) and output.raw_output.source_nodes
    assert tool.metadata.name == "lantern"


def test_chat_engine_follow_up_and_stream(lantern: Lantern) -> None:
    engine = lantern.as_chat_engine()
    assert isinstance(engine, BaseChatEngine)
    engine.chat("What is a reasonable-grounds decision?")
    follow = engine.chat("how many working days should it take?")
    assert "5 working days" in follow.response and follow.source_nodes
    assert [m.role for m in engine.chat_history] == [MessageRole.USER, MessageRole.ASSISTANT] * 2

    streamed = lantern.as_chat_engine().stream_chat(QUESTION)
    text = "".join(streamed.response_gen)
    assert text.strip() == lantern.ask(QUESTION).text
    assert streamed.source_nodes[0].node.metadata["source"] == "victim-support.md"


def test_chat_engine_takes_the_callers_history(lantern: Lantern) -> None:
    history = [ChatMessage(role=MessageRole.USER, content="What is a reasonable-grounds decision?"),
               ChatMessage(role=MessageRole.ASSISTANT, content="A first decision by the competent authority.")]
    reply = asyncio.run(lantern.as_chat_engine().achat("how many working days should it take?", chat_history=history))
    assert "5 working days" in reply.response
