"""Conversations rebuilt from a transcript that a client sends back each turn.

Chat front-ends (OpenAI-compatible clients, llama-index chat engines) hold the history and
send it with every message; Lantern's `Conversation` needs it as turns to make a follow-up
standalone. A replayed assistant turn has no citations: only its text and question matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from core.types import Answer

if TYPE_CHECKING:
    from .api import Lantern
    from .chat import Conversation


def conversation_from(lantern: Lantern, turns: Iterable[tuple[str, str]], filters: Any = None) -> Conversation:
    """A Conversation whose memory holds these (user question, assistant answer) turns."""
    conversation = lantern.chat(filters=filters)
    for question, text in turns:
        conversation.turns.append(
            (question, Answer(question=question, text=text, citations=[], abstained=False, retrieved=[]))
        )
    return conversation


def pair_turns(messages: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(role, text) messages as (user, assistant) turns; system messages and unanswered
    user messages are dropped."""
    turns: list[tuple[str, str]] = []
    pending: str | None = None
    for role, text in messages:
        if role == "user":
            pending = text
        elif role == "assistant" and pending is not None:
            turns.append((pending, text))
            pending = None
    return turns
