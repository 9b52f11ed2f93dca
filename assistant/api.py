"""The `Lantern` facade: the public API that the CLI, the UI and eval all use.

    lantern = Lantern.open(store=".lantern")
    answer = lantern.ask("What is a reasonable grounds decision?", filters={"publisher": "Home Office"})
    for piece in (stream := lantern.stream("...")): print(piece, end="")
    stream.answer.citations
    lantern.ask("...", mode="extractive")   # this call only: offline, whatever the settings say

One instance is safe to share between threads (the UI does): the store's SQLite connection
is serialised by sqlite3, Chroma is opened once under a lock, and the retriever reloads its
keyword index when an ingest changes the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from core.errors import EmptyStore, LanternError, SettingsError
from core.settings import ANSWER_MODES, Settings, offline_environment
from core.text import MARKER, complete_claims
from core.text import claims as split_claims
from core.types import Answer, Chunk, Hit

from .answer import NOT_FOUND, Draft, LLMClient, build_messages, extractive_answer, read_passage
from .chat import Conversation
from .cite import check_citations
from .fitted import FITTED
from .gate import ANSWER_FEATURES, Evidence, abstain_reason, answer_text, gather_evidence, should_abstain
from .retrieve import Filters, Retriever, SearchResult

ABSTAIN_TEXT = (
    "The documents in this store do not answer this question. "
    "The nearest passages found are listed as sources below; they may help you look further."
)
NO_MATCH_TEXT = "No document in this store matches these filters."


class Lantern:
    """Question answering with checked citations over one store."""

    def __init__(self, settings: Settings):
        from core.store import Store
        from ingest.embed import embedder_name, make_embedder

        self.settings = settings
        self.store = Store.open(settings)
        self.store.check_embedder(embedder_name(settings), record=False)
        self._refuse_damaged_chroma()
        self.embedder = make_embedder(settings)
        self.retriever = Retriever(self.store, self.embedder, settings.fusion)
        # the settings' answer mode; another mode can be asked for per call (`mode=`)
        self.llm: LLMClient | None = self._endpoint if settings.use_llm else None

    @classmethod
    def open(cls, store: str | Path | None = None, settings: Settings | None = None, **overrides: Any) -> Lantern:
        """Open a store. Settings come from `settings`, else defaults < config < environment;
        `store` and keyword overrides (e.g. `top_k=8`) win."""
        offline_environment()
        base = settings or Settings.load()
        return cls(base.with_overrides(store=store, **overrides))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Lantern:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- questions ------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """'llm (<model> at <url>)' or 'extractive': the settings' answer mode."""
        return f"llm ({self.llm.where})" if self.llm else "extractive"

    @cached_property
    def _endpoint(self) -> LLMClient | None:
        """The configured endpoint's client, made once and shared by every mode that uses it."""
        return LLMClient(self.settings) if self.settings.llm_configured else None

    def llm_for(self, mode: str | None = None) -> LLMClient | None:
        """The client that writes answers in `mode` ('auto', 'extractive' or 'llm'; None: the
        settings' mode); None means extractive answers. 'llm' without an endpoint is an error."""
        if mode is None:
            return self.llm
        if mode not in ANSWER_MODES:
            raise SettingsError(f"unknown answer mode {mode!r} (choose from {', '.join(ANSWER_MODES)})")
        if mode == "extractive":
            return None
        if mode == "llm" and self._endpoint is None:
            raise SettingsError("answer mode 'llm' needs llm_model and llm_base_url or llm_api_key")
        return self._endpoint

    def retrieve(self, question: str, filters: dict[str, Any] | Filters | None = None, top_k: int | None = None) -> list[Hit]:
        """The passages an answer would draw on, best first."""
        return self._search(question, Filters.parse(filters), top_k or self.settings.top_k).hits

    def ask(
        self, question: str, filters: dict[str, Any] | Filters | None = None, top_k: int | None = None,
        _asked: str | None = None, mode: str | None = None,
    ) -> Answer:
        """Answer one question with checked citations, or abstain. `mode` ('extractive', 'llm'
        or 'auto') overrides the settings' answer mode for this call only."""
        stream = self.stream(question, filters=filters, top_k=top_k, _asked=_asked, mode=mode)
        for _ in stream:
            pass
        if stream.answer is None:  # the events always end with the Answer
            raise LanternError("the answer stream ended without an answer")
        return stream.answer

    def stream(
        self, question: str, filters: dict[str, Any] | Filters | None = None, top_k: int | None = None,
        _asked: str | None = None, mode: str | None = None,
    ) -> Stream:
        """Like `ask`, but iterate the returned Stream for text as it is produced; the checked
        Answer is `stream.answer` once iteration ends."""
        question = question.strip()
        if not question:
            raise LanternError("the question is empty")
        llm = self.llm_for(mode)
        return Stream(self._answer_events(question, Filters.parse(filters), top_k or self.settings.top_k, _asked, llm))

    def chat(self, filters: dict[str, Any] | Filters | None = None, mode: str | None = None) -> Conversation:
        """A multi-turn conversation: follow-ups are made standalone before retrieval."""
        return Conversation(self, filters=Filters.parse(filters), mode=mode)

    # --- store ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        from ingest.status import store_status

        return store_status(self.settings)

    def ingest(self, paths: list[str | Path], prune: bool = False, progress: Callable | None = None,
               workers: int | None = None):
        """Add files or folders to this store (same pipeline as `lantern ingest`). From a
        threaded server pass `workers=1`: forking worker processes there is unsafe."""
        from ingest.pipeline import ingest

        return ingest([Path(p) for p in paths], self.settings, prune=prune, progress=progress, workers=workers)

    def as_retriever(self, filters: dict[str, Any] | None = None, top_k: int | None = None):
        """This retriever as a llama-index `BaseRetriever` (imports llama-index)."""
        from .llama import LanternRetriever

        return LanternRetriever(self, filters=filters, top_k=top_k)

    # --- internals --------------------------------------------------------------------
    def _refuse_damaged_chroma(self) -> None:
        """A damaged Chroma would make every answer keyword-only without a word: say so instead."""
        from core.errors import StoreError
        from core.store_check import check, fix_command

        if not self.store.has_documents() or not check(self.store, quick=True):
            return
        self.store.reopen_collection()  # this process's cached Chroma may predate another's writes
        if problems := check(self.store, quick=True):
            self.store.close()
            raise StoreError(f"{problems[0].message}: run `{fix_command(self.store)}`")

    def _search(self, question: str, filters: Filters, top_k: int) -> SearchResult:
        if not self.store.has_documents():
            raise EmptyStore(f"the store {self.settings.store} holds no documents: run `lantern ingest PATH` first")
        return self.retriever.search(question, filters, top_k)

    def _answer_events(
        self, question: str, filters: Filters, top_k: int, asked: str | None, llm: LLMClient | None,
    ) -> Iterator[str | Answer]:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        result = self._search(question, filters, top_k)
        hits = result.hits
        timings["retrieve_ms"] = (time.perf_counter() - t0) * 1000
        shown_question = asked or question
        standalone = question if asked and asked != question else None

        def finish(text: str, draft: Draft | None, abstained: bool, removed=(), reason: str | None = None,
                   read: list[Hit] | None = None) -> Answer:
            timings["total_ms"] = (time.perf_counter() - t0) * 1000
            timings["answer_ms"] = timings["total_ms"] - timings["retrieve_ms"]
            return Answer(
                question=shown_question, text=text, citations=draft.citations if draft else [],
                abstained=abstained, retrieved=read or hits, timings=timings, mode="llm" if llm else "extractive",
                standalone_question=standalone, removed_citations=list(removed), abstain_reason=reason,
            )

        if not hits:
            text = NO_MATCH_TEXT if not filters.empty else ABSTAIN_TEXT
            yield text
            yield finish(text, None, True, reason="no document matches the filters" if not filters.empty else
                         "nothing was retrieved")
            return
        draft: Draft | None = None
        around: list[list[Chunk]] = []
        if llm is None or ANSWER_FEATURES.intersection(FITTED.abstain.features):
            # the gate reads the sentences the extractive answer would quote (in LLM mode too: they
            # are the evidence an answer stands on, whoever writes it)
            draft, around = self.extractive_draft(question, hits, result.query_vector)
        evidence = self._evidence(question, result, draft)
        if should_abstain(evidence, self.settings.abstain_threshold):
            yield ABSTAIN_TEXT
            yield finish(ABSTAIN_TEXT, None, True, reason=abstain_reason(evidence))
            return
        if llm is None:
            assert draft is not None
            if draft.abstained or not draft.text:
                yield ABSTAIN_TEXT
                yield finish(ABSTAIN_TEXT, None, True, reason="no sentence retrieved answers the question")
                return
            read = [read_passage(h, near, self.store.page_text(h.chunk.source, h.chunk.page) if near else None)
                    for h, near in zip(hits, around, strict=True)]
            checked = check_citations(draft.text, read)
            if not checked.citations:  # every sentence failed its check: nothing left to show
                yield ABSTAIN_TEXT
                yield finish(ABSTAIN_TEXT, None, True, checked.removed, read=read,
                             reason="no sentence retrieved could be tied to what its source says")
                return
            claims = split_claims(checked.text)
            for i, claim in enumerate(claims):
                yield claim + (" " if i < len(claims) - 1 else "")
            # the sources shown are the passages the answer read, so each quote is in its source's text
            yield finish(checked.text, Draft(checked.text, checked.citations), False, checked.removed, read=read)
            return
        judge = llm.supports if self.settings.llm_check_citations else None
        raw = ""
        shown = ""
        for delta in llm.stream(build_messages(question, hits)):
            raw += delta
            # Only checked text is shown: re-check the complete sentences so far and pass on
            # what is new, once it holds a citation that survived (so an answer that ends up
            # with no citation never shows a word of it).
            pending = split_claims(complete_claims(raw))
            while pending and not MARKER.search(pending[-1]):
                pending.pop()  # its marker may still be on its way: check it when it arrives
            complete = " ".join(pending)
            if not complete or NOT_FOUND.startswith(raw.strip()[: len(NOT_FOUND)]):
                continue
            checked = check_citations(complete, hits, judge=judge)
            if checked.citations and checked.text.startswith(shown) and len(checked.text) > len(shown):
                yield checked.text[len(shown):]
                shown = checked.text
        raw = raw.strip()
        if NOT_FOUND in raw or not raw:
            yield ABSTAIN_TEXT
            yield finish(ABSTAIN_TEXT, None, True, reason="the model found no answer in the passages retrieved")
            return
        checked = check_citations(raw, hits, judge=judge)
        if not checked.citations:
            # nothing the model said could be tied to a source: do not present it as an answer
            yield ABSTAIN_TEXT
            yield finish(ABSTAIN_TEXT, None, True, checked.removed,
                         reason="no statement of the model's answer could be tied to a source")
            return
        if checked.text.startswith(shown):
            yield checked.text[len(shown):]
        yield finish(checked.text, Draft(checked.text, checked.citations), False, checked.removed)

    def extractive_draft(self, question: str, hits: list[Hit], query_vector: Any = None) -> tuple[Draft, list[list[Chunk]]]:
        """The extractive answer these hits give, each hit read with the chunks beside it on its
        page (returned too: the citation checker reads the same passages)."""
        around = [self.store.neighbours(h.chunk) for h in hits]
        return extractive_answer(question, hits, self.embedder, self.settings, query_vector, around=around), around

    def _evidence(self, question: str, result: SearchResult, draft: Draft | None = None) -> Evidence:
        said = None if draft is None else answer_text("" if draft.abstained else draft.text, result.hits)
        return gather_evidence(question, result.hits, result.dense_scores, result.keyword_scores, result.english,
                               result.pool, said)

    # --- llama-index engines (added last: imports llama-index only when called) -------------
    def as_query_engine(self, filters: dict[str, Any] | None = None, top_k: int | None = None):
        """A llama-index `BaseQueryEngine` whose responses are this Lantern's checked answers,
        with one source node per citation (page and quote in its metadata)."""
        from .engines import LanternQueryEngine

        return LanternQueryEngine(self, filters=filters, top_k=top_k)

    def as_chat_engine(self, filters: dict[str, Any] | None = None, top_k: int | None = None):
        """A llama-index `BaseChatEngine` over a Lantern conversation (follow-ups made standalone)."""
        from .engines import LanternChatEngine

        return LanternChatEngine(self, filters=filters, top_k=top_k)


class Stream:
    """Text pieces as they are produced; `answer` holds the checked Answer afterwards."""

    def __init__(self, events: Iterator[str | Answer]):
        self._events = events
        self._done: list[Callable[[Answer], None]] = []
        self.answer: Answer | None = None

    def on_done(self, callback: Callable[[Answer], None]) -> None:
        self._done.append(callback)

    def __iter__(self) -> Iterator[str]:
        for event in self._events:
            if isinstance(event, Answer):
                self.answer = event
                for callback in self._done:
                    callback(event)
            else:
                yield event
