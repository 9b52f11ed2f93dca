"""Conversations: follow-ups made standalone (offline by rule, with an LLM by a rewrite request),
bounded memory, reset, and `lantern chat` reading questions from standard input."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import TOOLKIT, lantern_command
from support.openai_server import ScriptedOpenAIServer

from assistant.api import Lantern
from assistant.chat import CONDENSE_PROMPT, is_follow_up
from core.settings import Settings

pytestmark = pytest.mark.integration  # the real MiniLM and stores built from real files

FIRST = "What are the indicators of human trafficking?"
FOLLOW_UP = "and for children?"
REWRITE = "What are the indicators that a child is a victim of human trafficking?"


@pytest.fixture(scope="module")
def offline(small_store: Settings):
    with Lantern.open(settings=small_store) as lantern:
        yield lantern


def mentions_children(answer) -> bool:
    return any("child" in h.chunk.text.lower() for h in answer.retrieved[:3])


def test_offline_follow_up_carries_the_topic_over(offline: Lantern) -> None:
    alone = offline.ask(FOLLOW_UP)
    assert alone.abstained  # on its own the follow-up means nothing

    chat = offline.chat()
    first = chat.ask(FIRST)
    assert first.standalone_question is None and not first.abstained
    second = chat.ask(FOLLOW_UP)
    assert second.question == FOLLOW_UP
    standalone = second.standalone_question or ""
    assert "indicators of human trafficking" in standalone and "children" in standalone
    assert not second.abstained and second.citations
    assert mentions_children(second)
    assert any(h.chunk.source == f"pdf/{TOOLKIT}" and h.chunk.page == 22 for h in second.retrieved)


def test_memory_is_bounded_and_reset_forgets(small_store: Settings) -> None:
    questions = [
        "How does the UCR program define human trafficking commercial sex acts?",
        "What are the indicators of human trafficking?",
        "What is the duty to notify?",
    ]
    with Lantern.open(settings=small_store.with_overrides(chat_memory_turns=2)) as lantern:
        chat = lantern.chat()
        chat.ask(questions[0])
        for piece in (stream := chat.stream(questions[1])):
            assert isinstance(piece, str)
        assert stream.answer is not None
        third = chat.ask(questions[2])
        assert third.standalone_question is None  # short, but a whole question: not glued to the last one
        assert [q for q, _ in chat.history] == questions[1:]
        assert chat.ask(FOLLOW_UP).standalone_question.startswith("What is the duty to notify")
        assert len(chat.history) == 2

        chat.reset()
        assert chat.history == []
        fresh = chat.ask(FOLLOW_UP)
        assert fresh.standalone_question is None and fresh.abstained


def test_llm_rewrites_the_follow_up_and_the_rewrite_is_used(small_store: Settings) -> None:
    def cite_first_source(body: dict) -> str:
        return "People who have been trafficked may show fear or anxiety [1]."

    with ScriptedOpenAIServer(replies=[cite_first_source, REWRITE, cite_first_source]) as srv:
        settings = Settings.load(
            environ={}, store=small_store.store, llm_base_url=srv.base_url, llm_model="scripted-model",
            llm_api_key="not-needed", answer_mode="llm",
        )
        with Lantern.open(settings=settings) as lantern:
            chat = lantern.chat()
            first = chat.ask(FIRST)
            second = chat.ask(FOLLOW_UP)
        first_request, condense, answer_request = srv.chat_requests()

    roles = [(m["role"], m["content"]) for m in condense["messages"]]
    assert roles[0] == ("system", CONDENSE_PROMPT)
    assert ("user", FIRST) in roles and ("assistant", first.text) in roles
    assert roles[-1] == ("user", FOLLOW_UP)
    assert second.question == FOLLOW_UP and second.standalone_question == REWRITE
    assert f"Question: {REWRITE}" in answer_request["messages"][-1]["content"]
    assert f"Question: {FIRST}" in first_request["messages"][-1]["content"]
    assert mentions_children(second)


def test_chat_command_answers_each_line_of_stdin_as_json(small_store: Settings, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTERN_", "OPENAI_"))}
    result = subprocess.run(
        [*lantern_command(), "chat", "--json", "--store", str(small_store.store)],
        input=f"{FIRST}\n{FOLLOW_UP}\n", capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["question"] == FIRST and first["citations"] and not first["abstained"]
    assert second["question"] == FOLLOW_UP
    assert "indicators of human trafficking" in second["standalone_question"]
    assert second["citations"] and f"[{second['citations'][0]['n']}]" in second["answer"]


@pytest.mark.parametrize(("question", "follow_up"), [
    ("and for children?", True),
    ("What about Scotland?", True),
    ("Is it mandatory?", True),
    ("Who pays for them?", True),
    ("What is the NRM?", False),
    ("Why is debt bondage a form of forced labour?", False),
    ("What is debt bondage and how can a first responder recognise it during an interview?", False),
    ("Which organisations can refer a potential victim to the National Referral Mechanism, and what do they do?", False),
])
def test_what_counts_as_a_follow_up(question: str, follow_up: bool) -> None:
    assert is_follow_up(question) is follow_up


def test_follow_ups_do_not_pile_up_prefixes(offline: Lantern) -> None:
    chat = offline.chat()
    chat.ask(FIRST)
    second = chat.ask(FOLLOW_UP)
    third = chat.ask("and for adults?")
    assert second.standalone_question == "What are the indicators of human trafficking: for children?"
    assert third.standalone_question == "What are the indicators of human trafficking: for adults?"
