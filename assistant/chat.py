"""Conversations: bounded memory, and follow-ups turned into standalone questions.

Retrieval needs a question that stands alone ("and for children?" finds nothing). With an
LLM configured it rewrites the follow-up; offline a rule carries the previous topic over
when the follow-up is short, starts like a continuation, or leans on a pronoun.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any

from core.text import content_words
from core.types import Answer

if TYPE_CHECKING:
    from .api import Lantern, Stream

_CONTINUATION = re.compile(
    r"^(and|but|also|what about|how about|and what about|what if|or|then|so|en|et|und|"
    r"same|again|more|why|how come)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there)\b", re.IGNORECASE)
# "What is the NRM?" is short but whole: a question word, a verb and a subject
_WHOLE_QUESTION = re.compile(r"^(what|who|which|when|where|how)\s+(is|are|was|were|do|does|did|can|should|must)\s+\S", re.I)

CONDENSE_PROMPT = (
    "Rewrite the user's last message as one standalone question that can be understood without the "
    "conversation. Keep names, places, numbers and the language of the question. Reply with the question only."
)


def is_follow_up(question: str) -> bool:
    """A question that needs the conversation to make sense."""
    q = question.strip()
    if _CONTINUATION.match(q) or _PRONOUN.search(q):
        return True
    return len(content_words(q)) <= 2 and not _WHOLE_QUESTION.match(q)


def carry_over(question: str, previous: str) -> str:
    """Offline condensing: the previous standalone question's topic plus the follow-up."""
    follow = _CONTINUATION.sub("", question.strip()).strip(" ,?") or question.strip()
    return f"{previous.rstrip(' ?')}: {follow}?"


class Conversation:
    """A multi-turn chat over one Lantern; remembers the last `memory` turns. `mode` is the
    answer mode of every turn (None: the settings'); it also decides who condenses follow-ups."""

    def __init__(self, lantern: Lantern, filters: Any = None, memory: int | None = None, mode: str | None = None):
        self.lantern = lantern
        self.filters = filters
        self.mode = mode
        self.turns: deque[tuple[str, Answer]] = deque(maxlen=memory or lantern.settings.chat_memory_turns)

    def reset(self) -> None:
        self.turns.clear()

    @property
    def history(self) -> list[tuple[str, str]]:
        return [(q, a.text) for q, a in self.turns]

    def standalone(self, question: str) -> str:
        """The question to retrieve with, given the conversation so far."""
        if not self.turns or not is_follow_up(question):
            return question
        previous = self.turns[-1][1].standalone_question or self.turns[-1][0]
        llm = self.lantern.llm_for(self.mode)
        if llm is not None:
            messages = [{"role": "system", "content": CONDENSE_PROMPT}]
            for q, a in self.history[-3:]:
                messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a[:600]}]
            messages.append({"role": "user", "content": question})
            rewritten = llm.complete(messages, max_tokens=80).strip().strip('"')
            if rewritten and "\n" not in rewritten:
                return rewritten
        return carry_over(question, previous)

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        standalone = self.standalone(question)
        answer = self.lantern.ask(standalone, filters=self.filters, top_k=top_k, _asked=question, mode=self.mode)
        self.turns.append((question, answer))
        return answer

    def stream(self, question: str, top_k: int | None = None) -> Stream:
        standalone = self.standalone(question)
        stream = self.lantern.stream(standalone, filters=self.filters, top_k=top_k, _asked=question, mode=self.mode)
        stream.on_done(lambda answer: self.turns.append((question, answer)))
        return stream
