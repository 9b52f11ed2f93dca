"""Conversations: bounded memory, and follow-ups turned into standalone questions.

Retrieval needs a question that stands alone ("and for children?" finds nothing). With an
LLM configured it rewrites the follow-up; offline a rule carries the conversation's topic
over when the follow-up starts like a continuation, or is short and either leans on a pronoun
or is not a whole question. A long question carries its own referent ("What is debt bondage and
how is it detected?"), so a pronoun alone does not make it a follow-up.
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
    r"same|again|more)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there)\b", re.IGNORECASE)
# "What is the NRM?" is short but whole: a question word, a verb and a subject
_WHOLE_QUESTION = re.compile(r"^(what|who|which|when|where|how)\s+(is|are|was|were|do|does|did|can|should|must)\s+\S", re.I)

CONDENSE_PROMPT = (
    "Rewrite the user's last message as one standalone question that can be understood without the "
    "conversation. Keep names, places, numbers and the language of the question. Reply with the question only."
)


SHORT = 4  # content words: at most this many, a question may lean on the conversation


def is_follow_up(question: str) -> bool:
    """A question that needs the conversation to make sense."""
    q = question.strip()
    if _CONTINUATION.match(q):
        return True
    size = len(content_words(q))
    if size <= SHORT and _PRONOUN.search(q):
        return True
    return size <= 2 and not _WHOLE_QUESTION.match(q)


def carry_over(question: str, topic: str) -> str:
    """Offline condensing: the conversation's topic question plus the follow-up. The topic is
    the last question that stood alone, so a chain of follow-ups does not pile up prefixes."""
    follow = _CONTINUATION.sub("", question.strip()).strip(" ,?") or question.strip()
    return f"{topic.rstrip(' ?')}: {follow}?"


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

    def _topic(self) -> str:
        """The last question of the conversation that stood alone (the oldest remembered if none).
        A replayed transcript (assistant/history.py) has no standalone questions, so a turn
        counts only if its own wording is not a follow-up either."""
        for question, answer in reversed(self.turns):
            if answer.standalone_question is None and not is_follow_up(question):
                return question
        last = self.turns[-1][1].standalone_question
        return last or self.turns[0][0]

    @property
    def history(self) -> list[tuple[str, str]]:
        return [(q, a.text) for q, a in self.turns]

    def standalone(self, question: str) -> str:
        """The question to retrieve with, given the conversation so far."""
        if not self.turns or not is_follow_up(question):
            return question
        llm = self.lantern.llm_for(self.mode)
        if llm is not None:
            messages = [{"role": "system", "content": CONDENSE_PROMPT}]
            for q, a in self.history[-3:]:
                messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a[:600]}]
            messages.append({"role": "user", "content": question})
            rewritten = llm.complete(messages, max_tokens=80).strip().strip('"')
            if rewritten and "\n" not in rewritten:
                return rewritten
        return carry_over(question, self._topic())

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
