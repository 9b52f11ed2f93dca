"""Fit every constant Lantern tunes on the gold questions, by stratified k-fold cross-validation,
and report OUT-OF-FOLD figures beside those of the current constants.

    python bench/fit.py --store STORE [--cache FILE] [--folds 5] [--features a,b,c] [--max-false-refusal 0.05] [--write]

Fitted: the fusion constants (RRF K, keyword weight, the dense half's weight for questions not in
English, candidates per half) by grid search on page hit@5 + doc MRR, and the abstention model
(logistic regression over assistant.gate's evidence features, numpy only; `--features` tries another
set from gate.CANDIDATE_FEATURES) with its operating point: the highest F1 of abstaining on unanswerable
questions that refuses at most MAX_FALSE_REFUSAL of answerable ones on inner out-of-fold predictions.
Each outer fold fits all of that on the other folds only; the report gives the spread of abstention
F1 over the outer folds beside the pooled out-of-fold figures (42 unanswerable questions: about 8 a fold).
`--write` refits on every question and writes assistant/fitted.json, the one place the values live.

Expensive per-question work (embedding, Chroma and BM25 top-100 lists) is cached on disk once per
store generation (`--cache`), so the cross-validation itself runs in seconds to minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from core.settings import Settings, offline_environment  # noqa: E402

offline_environment()

from assistant.fitted import FITTED, PATH, AbstainModel, Fusion, Ranker  # noqa: E402
from assistant.gate import (  # noqa: E402
    _NAME,
    ANSWER_FEATURES,
    CANDIDATE_FEATURES,
    FEATURES,
    Evidence,
    answer_text,
    gather_evidence,
    nothing_close,
)
from assistant.rerank import DEPTH as RERANK_DEPTH  # noqa: E402
from assistant.rerank import FEATURES as RANK_FEATURES  # noqa: E402
from assistant.rerank import Candidate, features  # noqa: E402
from assistant.retrieve import fuse, merge_overlapping  # noqa: E402
from core.text import all_stopwords  # noqa: E402
from core.types import Chunk, Hit  # noqa: E402
from eval.dataset import Question, load_dataset, stratified_folds  # noqa: E402
from eval.metrics import abstention_scores, mean  # noqa: E402
from eval.scoring import DEPTH, gold_page_keys, page_key, retrieval_scores  # noqa: E402

GOLD = [REPO.parent / "shared" / "eval" / n for n in ("dev_questions.jsonl", "tune_questions.jsonl")]
POOL = 100  # candidates cached per half
GRID = {"rrf_k": (10, 30, 60, 100), "keyword_weight": (0.75, 1.0, 1.5, 2.0, 3.0),
        "candidates": (40, 60, 100), "foreign_dense_weight": (0.0, 0.25, 0.5, 1.0)}
MAX_FALSE_REFUSAL = 0.05  # refusing an answerable question costs trust: at most 5% of them (0.08 picks the
# same operating point with gate.FEATURES: out-of-fold F1 0.576, 3.3% refused; with weaker features the
# 5% cap is what tells: main's gate-term matching fell from 0.551 at 8% to 0.339 at 5%)
L2 = 1.0  # ridge penalty on the standardised coefficients
TOP_K = 5  # sources an answer draws on (Settings.top_k)


# --------------------------------------------------------------------------- cached candidates


@dataclass
class Candidates:
    """One question's retrieval pool: dense and keyword (chunk id, score), best first."""

    dense: list[tuple[str, float]]
    keyword: list[tuple[str, float]]
    english: bool


def build_cache(store: Path, questions: Sequence[Question], cache: Path | None) -> tuple[dict[str, Candidates], object]:
    """Top-POOL dense and keyword lists per question, read from `cache` when it matches the store."""
    from assistant.api import Lantern
    from assistant.retrieve import Filters
    from core.text import guess_language

    lantern = Lantern(Settings.load(environ={}, store=store))
    key = f"{store.resolve()}:{lantern.store.generation}:{lantern.store.get_meta('embedder')}"
    path = cache or Path(tempfile.gettempdir()) / f"lantern-fit-{hashlib.sha1(key.encode()).hexdigest()[:12]}.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    if data.get("key") != key:
        data = {"key": key, "questions": {}}
    todo = [q for q in questions if q.question not in data["questions"]]
    if todo:
        print(f"caching retrieval candidates of {len(todo)} questions in {path} ...", file=sys.stderr)
        retriever = lantern.retriever
        retriever._refresh()
        for q in todo:
            vector = retriever.embed_query(q.question)
            data["questions"][q.question] = {
                "dense": retriever.dense(vector, Filters(), None, POOL),
                "keyword": retriever.keyword(q.question, Filters(), None, POOL),
                "english": guess_language(q.question) == "en",
            }
        path.write_text(json.dumps(data))
    out = {q.id: Candidates([tuple(x) for x in c["dense"]], [tuple(x) for x in c["keyword"]], c["english"])  # type: ignore[misc]
           for q in questions for c in [data["questions"][q.question]]}
    return out, lantern


# --------------------------------------------------------------------------- retrieval under given constants


class Simulator:
    """Retriever.search replayed from the cached pools under any fusion constants."""

    def __init__(self, lantern, pools: dict[str, Candidates], answers: bool = False):
        self.lantern = lantern
        self.answers = answers  # compose the extractive answer for the gate's answer_* features
        self._drafts: dict[tuple[str, ...], str] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self.store = lantern.store
        self.pools = pools
        ids = {cid for p in pools.values() for cid, _ in p.dense + p.keyword}
        self.chunks: dict[str, Chunk] = {c.id: c for c in self.store.chunks(sorted(ids))}
        self._scores: dict[tuple, tuple[float, float]] = {}
        self._candidates: dict[tuple, list[Candidate]] = {}
        self._features: dict[tuple, list[dict[str, float]]] = {}
        self.questions: dict[str, Question] = {}
        self._pages: dict[tuple[str, int | None], str | None] = {}

    def page_text(self, source: str, page: int | None) -> str | None:
        if (source, page) not in self._pages:
            self._pages[(source, page)] = self.store.page_text(source, page)
        return self._pages[(source, page)]

    def candidates(self, qid: str, f: Fusion) -> list[Candidate]:
        """The fused candidates with what each half said, as Retriever.search builds them."""
        key = (qid, f)
        if key not in self._candidates:
            pool = self.pools[qid]
            dense, keyword = pool.dense[: f.candidates], pool.keyword[: f.candidates]
            weight = 1.0 if pool.english else f.foreign_dense_weight
            fused = fuse(dense if weight > 0 else [], keyword, rrf_k=f.rrf_k, keyword_weight=f.keyword_weight,
                         dense_weight=weight)
            d, k = dict(dense), dict(keyword)
            self._candidates[key] = [Candidate(self.chunks[cid], s, d.get(cid), k.get(cid))
                                     for cid, s in fused[: max(RERANK_DEPTH, DEPTH * 4)] if cid in self.chunks]
        return self._candidates[key]

    def features(self, q: Question, f: Fusion) -> list[dict[str, float]]:
        key = (q.id, f)
        if key not in self._features:
            self._features[key] = features(q.question, self.candidates(q.id, f)[:RERANK_DEPTH])
        return self._features[key]

    def hits(self, qid: str, f: Fusion, top_k: int, texts: bool = False, ranker: Ranker | None = None) -> list[Hit]:
        return self.search(qid, f, top_k, texts, ranker)[0]

    def search(self, qid: str, f: Fusion, top_k: int, texts: bool = False,
               ranker: Ranker | None = None) -> tuple[list[Hit], list[Chunk]]:
        """The hits and the candidate pool, as Retriever.search makes them."""
        found = self.candidates(qid, f)
        if ranker is not None and self.pools[qid].english:  # other languages: the cross-lingual stage orders
            q = self.questions[qid]
            scores = [ranker.score(x) for x in self.features(q, f)]
            head = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
            found = [found[i] for i in head] + found[len(scores):]
        hits = [Hit(c.chunk, c.fused, 0) for c in found[: top_k * 4]]
        merged = merge_overlapping(hits, self.page_text if texts else (lambda s, p: None))[:top_k]
        return merged, [h.chunk for h in hits]

    def retrieval(self, q: Question, f: Fusion, ranker: Ranker | None = None) -> tuple[float, float]:
        """(page hit@5, doc MRR) of one answerable question, scored by eval.scoring."""
        keys = tuple((h.chunk.source, h.chunk.page) for h in self.hits(q.id, f, DEPTH, ranker=ranker))
        if (q.id, keys) not in self._scores:
            s = retrieval_scores(q.gold, list(keys))
            self._scores[(q.id, keys)] = (s.page_hit_5, s.mrr)
        return self._scores[(q.id, keys)]

    def evidence(self, q: Question, f: Fusion, ranker: Ranker | None = None) -> Evidence:
        pool = self.pools[q.id]
        hits, candidates = self.search(q.id, f, TOP_K, texts=True, ranker=ranker)
        said = answer_text(self.draft(q, hits), hits) if self.answers else None
        return gather_evidence(q.question, hits, [s for _, s in pool.dense[:3]], [s for _, s in pool.keyword[:3]],
                               pool.english, candidates, said)

    def draft(self, q: Question, hits: list[Hit]) -> str:
        """The extractive answer these hits give, as Lantern.ask composes it (chunks beside each hit included)."""
        key = (q.question, *(h.chunk.id for h in hits))
        if key not in self._drafts:
            if q.question not in self._vectors:
                self._vectors[q.question] = self.lantern.retriever.embed_query(q.question)
            d, _ = self.lantern.extractive_draft(q.question, hits, self._vectors[q.question])
            self._drafts[key] = "" if d.abstained else d.text
        return self._drafts[key]


def fit_ranker(sim: Simulator, questions: Sequence[Question], fusion: Fusion) -> Ranker:
    """Pointwise logistic regression: is this candidate on a gold page? (English answerable questions
    whose gold page is among the candidates and not all of them; the others teach nothing about
    order). A listwise softmax objective was tried and ranked worse out-of-fold (0.837 vs 0.843)."""
    rows: list[list[float]] = []
    labels: list[bool] = []
    for q in questions:
        if not q.answerable or not sim.pools[q.id].english:
            continue
        rel = gold_page_keys(q.gold)
        found = sim.candidates(q.id, fusion)[:RERANK_DEPTH]
        y = [page_key(c.chunk.source, c.chunk.page, q.gold) in rel for c in found]
        if not any(y) or all(y):
            continue
        rows += [[x[n] for n in RANK_FEATURES] for x in sim.features(q, fusion)]
        labels += y
    m = fit_logistic(np.array(rows), np.array(labels, dtype=float), names=RANK_FEATURES)
    return Ranker(m.features, m.mean, m.scale, m.coef)


def fit_fusion(sim: Simulator, questions: Sequence[Question], prefer: Fusion) -> Fusion:
    """The grid point with the best mean page hit@5 + doc MRR (ties: the one nearest `prefer`)."""
    answerable = [q for q in questions if q.answerable]
    english = [q for q in answerable if sim.pools[q.id].english]
    foreign = [q for q in answerable if not sim.pools[q.id].english]
    best: tuple[float, float, Fusion] | None = None
    for k, w, c in itertools.product(GRID["rrf_k"], GRID["keyword_weight"], GRID["candidates"]):
        base = sum(sum(sim.retrieval(q, Fusion(k, w, 0.0, c))) for q in english)
        for fw in GRID["foreign_dense_weight"]:
            f = Fusion(k, w, fw, c)
            total = (base + sum(sum(sim.retrieval(q, f)) for q in foreign)) / max(1, len(answerable))
            distance = (abs(np.log(k / prefer.rrf_k)) + abs(np.log(w / prefer.keyword_weight))
                        + abs(np.log(c / prefer.candidates)) + abs(fw - prefer.foreign_dense_weight))
            if best is None or (round(total, 9), -distance) > (round(best[0], 9), best[1]):
                best = (total, -distance, f)
    assert best is not None
    return best[2]


# --------------------------------------------------------------------------- the abstention model


def fit_logistic(x: np.ndarray, y: np.ndarray, threshold: float = 0.5,
                 names: Sequence[str] = FEATURES) -> AbstainModel:
    """L2-regularised logistic regression by Newton's method on standardised features."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    penalty = np.diag([0.0] + [L2] * (z.shape[1] - 1))
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + penalty @ w
        hess = z.T @ (z * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return AbstainModel(tuple(names), tuple(mu.tolist()), tuple(sd.tolist()), tuple(w[1:].tolist()), float(w[0]),
                        threshold)


def predict(model: AbstainModel, x: np.ndarray) -> np.ndarray:
    return np.array([model.probability(dict(zip(model.features, row, strict=True))) for row in x])


def operating_point(p: np.ndarray, y: np.ndarray, cap: float | None = None) -> float:
    """The threshold with the highest F1 of abstaining on unanswerables (y=1) that refuses at most
    MAX_FALSE_REFUSAL of answerables (a wrong answer costs more than a refusal, but refusing an
    answerable question costs trust); among equal ones, the middle of the widest interval."""
    cap = MAX_FALSE_REFUSAL if cap is None else cap
    cuts = np.unique(np.concatenate([p, [1.0 + 1e-9]]))
    best: float | None = None
    feasible: list[float] = []
    for t in cuts:
        abstain = p >= t
        refused = abstain[y == 0].mean() if (y == 0).any() else 0.0
        if refused > cap:
            continue
        tp = float((abstain & (y == 1)).sum())
        f1 = 2 * tp / (abstain.sum() + (y == 1).sum()) if tp else 0.0
        if best is None or f1 > best + 1e-12:
            best, feasible = f1, [t]
        elif abs(f1 - best) < 1e-12:
            feasible.append(t)
    if not feasible:
        return 1.0
    lo = feasible[0]
    below = p[p < lo]
    low_edge = below.max() if len(below) else lo
    return float((low_edge + lo) / 2)  # halfway between the last refused and the first accepted score


def fit_gate(x: np.ndarray, y: np.ndarray, k: int, names: Sequence[str] = FEATURES,
             cap: float | None = None) -> AbstainModel:
    """Coefficients on all of x (columns `names`); the operating point from k-fold predictions within x."""
    inner = np.arange(len(y)) % k
    rng = np.random.default_rng(1)
    inner = rng.permutation(inner)
    p = np.zeros(len(y))
    for f in range(k):
        test = inner == f
        p[test] = predict(fit_logistic(x[~test], y[~test], names=names), x[test])
    model = fit_logistic(x, y, names=names)
    return AbstainModel(model.features, model.mean, model.scale, model.coef, model.intercept, operating_point(p, y, cap))


# --------------------------------------------------------------------------- the legacy rule (before)


def legacy_key_terms(question: str) -> list[str]:
    """main's key terms before the gate learnt periods and codes, frozen so the "current" row stays put."""
    terms = [m.group(0).rstrip(".,") for m in re.finditer(r"\b\d[\d,.]*\d\b|\b\d\b", question)]
    stop = all_stopwords()
    for i, m in enumerate(_NAME.finditer(question)):
        w = re.sub(r"['’]s?$", "", m.group(0))
        if i == 0 or not w[:1].isupper() or w.lower() in stop:
            continue
        if w.isupper() or len(w) > 2:
            terms.append(w)
    return list({t.lower(): t for t in reversed(terms)}.values())[::-1]


def legacy_abstain(q: Question, hits: list[Hit], pool: Candidates) -> bool:
    """main's gate before this fit: cosine < 0.35, or a key term not found as a word prefix."""
    text = " ".join(f"{h.chunk.title} {h.chunk.metadata.get('publisher', '')} {h.chunk.text}" for h in hits)
    if not pool.english:
        stop = all_stopwords()
        terms = [w for w in re.findall(r"[a-zà-ÿ0-9][\w-]*", q.question.lower()) if len(w) >= 5 and w not in stop]
        found = [w for w in terms if re.search(rf"\b{re.escape(w[: max(5, len(w) - 2)])}", text.lower())]
        return bool(terms) and len(found) / len(terms) < 0.4
    if max((s for _, s in pool.dense), default=0.0) < 0.35:
        return True
    flat = re.sub(r"(?<=\d)[,.\s](?=\d{3}\b)", "", text)
    for t in legacy_key_terms(q.question):
        if t[0].isdigit():
            ok = re.search(rf"(?<![\d]){re.escape(t.replace(',', '').replace('.', ''))}(?![\d])", flat)
        else:
            ok = re.search(rf"\b{re.escape(t.lower()[: max(4, len(t) - 2)])}", text.lower())
        if not ok:
            return True
    return False


# --------------------------------------------------------------------------- report


def figures(sim: Simulator, questions: Sequence[Question], fusion_of: Callable[[Question], Fusion],
            abstained: Sequence[bool], ranker_of: Callable[[Question], Ranker | None] = lambda q: None,
            ) -> dict[str, float]:
    answerable = [q for q in questions if q.answerable]
    scores = [sim.retrieval(q, fusion_of(q), ranker_of(q)) for q in answerable]
    cross = [s[0] for q, s in zip(answerable, scores, strict=True) if q.category == "cross_lingual"]
    a = abstention_scores(list(abstained), [q.answerable for q in questions])
    return {"page_hit@5": mean(s[0] for s in scores), "doc_mrr": mean(s[1] for s in scores),
            "xling_page_hit@5": mean(cross), "abstain_precision": a["precision"], "abstain_recall": a["recall"],
            "abstain_f1": a["f1"], "answerable_refused": a["false_refusal"]}


def print_table(rows: dict[str, dict[str, float]]) -> None:
    cols = list(next(iter(rows.values())))
    print("| " + " | ".join(["constants"] + cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for name, r in rows.items():
        print("| " + " | ".join([name] + [f"{r[c]:.3f}" for c in cols]) + " |")


def pr_curve(p: np.ndarray, y: np.ndarray) -> None:
    print("\nOut-of-fold precision-recall of abstaining (positive = unanswerable):")
    print("| threshold P(unanswerable) | abstain precision | abstain recall | answerable refused |\n|---|---|---|---|")
    for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        a = abstention_scores(list(p >= t), list(y == 0))
        print(f"| {t:.1f} | {a['precision']:.3f} | {a['recall']:.3f} | {a['false_refusal']:.3f} |")


def fold_spread(abstained: Sequence[bool], y: np.ndarray, fold: Sequence[int], k: int) -> list[float]:
    """Abstention F1 of each outer fold on its own (about 8 unanswerable questions each): how far
    the pooled out-of-fold figure may move on another set of unseen questions."""
    out = []
    for f in range(k):
        idx = [i for i, g in enumerate(fold) if g == f]
        out.append(abstention_scores([abstained[i] for i in idx], [bool(y[i] == 0) for i in idx])["f1"])
    return out


def by_category(questions: Sequence[Question], abstained: Sequence[bool]) -> None:
    """Out-of-fold abstentions per gold category: recall on the unanswerable, refusals elsewhere."""
    print("\n| category | questions | abstained |\n|---|---|---|")
    for cat in sorted({q.category for q in questions}):
        idx = [i for i, q in enumerate(questions) if q.category == cat]
        print(f"| {cat} | {len(idx)} | {sum(abstained[i] for i in idx) / len(idx):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a store of the full shared corpus")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=None, help="candidate cache file (default: in the temp dir)")
    parser.add_argument("--features", default=",".join(FEATURES),
                        help=f"the gate's features, comma-separated, from: {', '.join(CANDIDATE_FEATURES)}")
    parser.add_argument("--max-false-refusal", type=float, default=MAX_FALSE_REFUSAL,
                        help="the most answerable questions the operating point may refuse (inner out-of-fold)")
    parser.add_argument("--write", action="store_true", help="refit on all questions and write assistant/fitted.json")
    args = parser.parse_args()
    names = tuple(n.strip() for n in args.features.split(",") if n.strip())
    if unknown := [n for n in names if n not in CANDIDATE_FEATURES]:
        parser.error(f"unknown gate feature(s) {', '.join(unknown)}: choose from {', '.join(CANDIDATE_FEATURES)}")
    cap = args.max_false_refusal
    questions = [q for path in GOLD for q in load_dataset(path)]
    pools, lantern = build_cache(args.store, questions, args.cache)
    sim = Simulator(lantern, pools, answers=bool(ANSWER_FEATURES.intersection(names)))
    sim.questions = {q.id: q for q in questions}
    y = np.array([0 if q.answerable else 1 for q in questions])
    current = Fusion(30.0, 1.5, 0.0, 60)  # the constants on main before this fit

    before = [legacy_abstain(q, sim.hits(q.id, current, TOP_K, texts=True), pools[q.id]) for q in questions]
    rows = {"current (main: K 30, w 1.5, 60, legacy rule)": figures(sim, questions, lambda q: current, before)}

    fold = stratified_folds(questions, args.folds)
    fusion_of: dict[str, Fusion] = {}
    ranker_of: dict[str, Ranker] = {}
    p_oof = np.zeros(len(questions))
    chosen = []
    for f in range(args.folds):
        train = [q for q, g in zip(questions, fold, strict=True) if g != f]
        test_idx = [i for i, g in enumerate(fold) if g == f]
        fusion = fit_fusion(sim, train, current)
        ranker = fit_ranker(sim, train, fusion)
        x = np.array([[sim.evidence(q, fusion, ranker).features[n] for n in names] for q in questions])
        train_idx = np.array([i for i, g in enumerate(fold) if g != f])
        model = fit_gate(x[train_idx], y[train_idx], args.folds, names, cap)
        p_oof[test_idx] = predict(model, x[test_idx])
        for i in test_idx:
            fusion_of[questions[i].id] = fusion
            ranker_of[questions[i].id] = ranker
        chosen.append((fusion, model.threshold))
        print(f"fold {f + 1}: {fusion}, threshold {model.threshold:.3f}", file=sys.stderr)
    thresholds = np.array([chosen[g][1] for g in fold])
    after = [bool(a) or nothing_close(sim.evidence(q, fusion_of[q.id], ranker_of[q.id]))
             for q, a in zip(questions, p_oof >= thresholds, strict=True)]
    rows["fitted fusion, no ranker, out-of-fold"] = figures(sim, questions, lambda q: fusion_of[q.id], after)
    rows["fitted, out-of-fold"] = figures(sim, questions, lambda q: fusion_of[q.id], after, lambda q: ranker_of[q.id])
    for name, path in zip(("dev", "tune"), GOLD, strict=True):
        ids = {q.id for q in load_dataset(path)}
        sub = [i for i, q in enumerate(questions) if q.id in ids]
        qs = [questions[i] for i in sub]
        rows[f"  current, {name} only"] = figures(sim, qs, lambda q: current, [before[i] for i in sub])
        rows[f"  fitted out-of-fold, {name} only"] = figures(sim, qs, lambda q: fusion_of[q.id], [after[i] for i in sub],
                                                             lambda q: ranker_of[q.id])
    print(f"\n{len(questions)} questions ({int(y.sum())} unanswerable), {args.folds} folds stratified by category; "
          f"retrieval on answerable questions, first {DEPTH} chunks; abstention gate alone.\n")
    print_table(rows)
    spread = fold_spread(after, y, fold, args.folds)
    print(f"\ngate: {', '.join(names)}; operating point refuses at most {cap:.0%} of answerable questions (inner folds)")
    print("abstention F1 per outer fold: " + ", ".join(f"{v:.3f}" for v in spread)
          + f" (min–max {min(spread):.3f}–{max(spread):.3f}; pooled out-of-fold {rows['fitted, out-of-fold']['abstain_f1']:.3f})")
    by_category(questions, after)
    pr_curve(p_oof, y)

    # the grid search is kept only when it beats the current constants out-of-fold
    oof, cur = rows["fitted, out-of-fold"], rows["current (main: K 30, w 1.5, 60, legacy rule)"]
    final_fusion = fit_fusion(sim, questions, current)
    if oof["page_hit@5"] + oof["doc_mrr"] <= cur["page_hit@5"] + cur["doc_mrr"]:
        print(f"\nthe fitted fusion {final_fusion} does not beat the current constants out-of-fold: kept them")
        final_fusion = current
    final_ranker: Ranker | None = fit_ranker(sim, questions, final_fusion)
    plain = rows["fitted fusion, no ranker, out-of-fold"]
    if oof["page_hit@5"] + oof["doc_mrr"] <= plain["page_hit@5"] + plain["doc_mrr"]:
        print("\nthe ranker does not beat fusion alone out-of-fold: none written")
        final_ranker = None
    x = np.array([[sim.evidence(q, final_fusion, final_ranker).features[n] for n in names] for q in questions])
    final_model = fit_gate(x, y, args.folds, names, cap)
    if final_ranker is not None:
        print("ranker coefficients (standardised): " + ", ".join(
            f"{n} {c:+.2f}" for n, c in zip(RANK_FEATURES, final_ranker.coef, strict=True)))
    print(f"\nfitted on all folds: {final_fusion}; abstain when P(unanswerable) >= {final_model.threshold:.3f}")
    print("coefficients (standardised): " + ", ".join(f"{n} {c:+.2f}" for n, c in zip(names, final_model.coef, strict=True)))
    if args.write:
        data = {
            "fusion": {"rrf_k": final_fusion.rrf_k, "keyword_weight": final_fusion.keyword_weight,
                       "foreign_dense_weight": final_fusion.foreign_dense_weight, "candidates": final_fusion.candidates},
            "abstain": {k: (round(v, 6) if isinstance(v, float) else [round(e, 6) for e in v] if k != "features" else v)
                        for k, v in final_model.to_dict().items()},
            "ranker": None if final_ranker is None else {
                k: (v if k == "features" else [round(e, 6) for e in v]) for k, v in final_ranker.to_dict().items()},
            "provenance": {
                "command": "python bench/fit.py --store STORE --write", "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "questions": len(questions), "folds": args.folds, "grid": GRID, "max_false_refusal": cap,
                "out_of_fold": {k: round(v, 4) for k, v in rows["fitted, out-of-fold"].items()},
                "abstain_f1_per_fold": [round(v, 4) for v in spread],
                "previous": {"fusion": FITTED.fusion.__dict__},
            },
        }
        kept = json.loads(PATH.read_text(encoding="utf-8"))  # bench/fit_answers.py's section stays
        if "compose" in kept:
            data["compose"] = kept["compose"]
            data["provenance"]["compose"] = kept.get("provenance", {}).get("compose")
        PATH.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {PATH}")
    lantern.close()


if __name__ == "__main__":
    main()
