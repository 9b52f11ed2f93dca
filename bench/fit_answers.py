"""Fit the extractive answer's weights (assistant.fitted.Composer) by k-fold cross-validation over
the gold questions, and report OUT-OF-FOLD required-fact recall, token F1 and answer length beside
the current weights and "show the top chunk" (what a plain pipeline gives a reader).

    python bench/fit_answers.py --store STORE [--folds 5] [--only NAME,...] [--write]

Retrieval runs once per answerable question (Lantern's own search, top_k sources; the abstention
gate is left out so that composition is judged on every answerable question, and a declined
answer would score 0 under any weights). Passage vectors are cached, so each grid point only
re-scores and re-chooses the units. Each outer fold picks the grid point with the best mean fact
recall + token F1 on the other folds; `--write` refits on all questions and writes the weights
into assistant/fitted.json (its "compose" section, beside what bench/fit.py writes). `--only`
fits the named weights alone, the others held at their shipped values (`--only beside_penalty`:
how the penalty for the chunks beside a hit was chosen), a steadier reading than refitting all.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from core.settings import Settings, offline_environment  # noqa: E402

offline_environment()

import assistant.answer as answer_module  # noqa: E402
from assistant.answer import extractive_answer  # noqa: E402
from assistant.fitted import FITTED, PATH, Composer  # noqa: E402
from core.text import strip_markers  # noqa: E402
from eval.dataset import Question, load_dataset, stratified_folds  # noqa: E402
from eval.scoring import answer_scores  # noqa: E402

GOLD = [REPO.parent / "shared" / "eval" / n for n in ("dev_questions.jsonl", "tune_questions.jsonl")]
GRID = {"semantic": (0.35, 0.55, 0.75), "type_bonus": (0.0, 0.08, 0.16), "list_bonus": (0.0, 0.08, 0.16),
        "keep_ratio": (0.6, 0.7, 0.8), "beside_penalty": (0.03, 0.06, 0.12, 1.0)}  # 1.0: the chunks beside a hit never win


class CachedEmbedder:
    """The store's embedder with a memory: the grid re-embeds the same units many times."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.memory: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memory]
        if todo:
            self.memory.update(zip(todo, self.embedder.embed(todo), strict=True))
        return np.array([self.memory[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a store of the full shared corpus")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", default="", help=f"weights to fit, comma-separated, from: {', '.join(GRID)} "
                        "(default: all); the others stay as shipped")
    parser.add_argument("--write", action="store_true", help="refit on all questions and write the weights")
    args = parser.parse_args()
    only = [n.strip() for n in args.only.split(",") if n.strip()] or list(GRID)
    if unknown := [n for n in only if n not in GRID]:
        parser.error(f"unknown weight(s) {', '.join(unknown)}: choose from {', '.join(GRID)}")
    from assistant.api import Lantern

    questions = [q for path in GOLD for q in load_dataset(path) if q.answerable]
    settings = Settings.load(environ={}, store=args.store)
    lantern = Lantern(settings)
    embedder = CachedEmbedder(lantern.embedder)
    print(f"retrieving for {len(questions)} answerable questions ...", file=sys.stderr)
    hits = {q.id: lantern.retrieve(q.question) for q in questions}
    vectors = {q.id: embedder.embed([q.question])[0] for q in questions}
    around = {q.id: [lantern.store.neighbours(h.chunk) for h in hits[q.id]] for q in questions}

    def score(q: Question, text: str) -> tuple[float, float, int]:
        s = answer_scores(q.required_facts, q.reference_answer or "", text, not text)
        return s.required_fact_recall, s.token_f1, len(strip_markers(text).split())

    def answer(q: Question, w: Composer, beside: bool = True) -> tuple[float, float, int]:
        draft = extractive_answer(q.question, hits[q.id], embedder, settings, vectors[q.id], w,
                                  around[q.id] if beside else None)
        return score(q, "" if draft.abstained else draft.text)

    # the grid re-reads the same chunks many times: split each into answer units once
    answer_module.units = functools.lru_cache(maxsize=None)(answer_module.units)  # type: ignore[assignment]
    grid = {n: (GRID[n] if n in only else (getattr(FITTED.compose, n),)) for n in GRID}
    points = [Composer(*values) for values in itertools.product(*grid.values())]
    results: dict[Composer, list[tuple[float, float, int]]] = {}
    for n, w in enumerate([FITTED.compose, *points], 1):
        if w not in results:
            results[w] = [answer(q, w) for q in questions]
        if n % 20 == 0:
            print(f"  {n}/{len(points) + 1} weight settings", file=sys.stderr)

    def objective(w: Composer, idx: Sequence[int]) -> float:
        return sum(results[w][i][0] + results[w][i][1] for i in idx) / max(1, len(idx))

    fold = stratified_folds(questions, args.folds)
    oof: list[tuple[float, float, int]] = [(0.0, 0.0, 0)] * len(questions)
    for f in range(args.folds):
        train = [i for i, g in enumerate(fold) if g != f]
        best = max(points, key=lambda w: (round(objective(w, train), 9), w == FITTED.compose))
        print(f"fold {f + 1}: {best}", file=sys.stderr)
        for i, g in enumerate(fold):
            if g == f:
                oof[i] = results[best][i]
    top_chunk = [score(q, hits[q.id][0].chunk.text if hits[q.id] else "") for q in questions]
    everything = [score(q, " ".join(h.chunk.text for h in hits[q.id])) for q in questions]

    def row(name: str, rs: Sequence[tuple[float, float, int]]) -> None:
        cats: dict[str, list[float]] = {}
        for q, r in zip(questions, rs, strict=True):
            cats.setdefault(q.category, []).append(r[0])
        print(f"| {name} | {statistics.mean(r[0] for r in rs):.3f} | {statistics.mean(r[1] for r in rs):.3f} | "
              f"{statistics.median(r[2] for r in rs):.0f} | "
              + " | ".join(f"{statistics.mean(cats.get(c, [0.0])):.3f}" for c in ("list", "multi_hop")) + " |")

    print(f"\n{len(questions)} answerable questions, {args.folds} folds stratified by category; offline extractive "
          "answers from Lantern's retrieval (gate off).\n")
    print("| weights | fact recall | token F1 | median words | list: fact recall | multi-hop: fact recall |")
    print("|---|---|---|---|---|---|")
    row("top chunk shown as the answer", top_chunk)
    row(f"current {FITTED.compose}", results[FITTED.compose])
    row("the same, the hits' own chunks only (nothing beside them)", [answer(q, FITTED.compose, False) for q in questions])
    row("fitted, out-of-fold", oof)
    row("ceiling: all five sources read whole", everything)
    row("ceiling: the same with the chunks beside them",
        [score(q, " ".join(c.text for h, near in zip(hits[q.id], around[q.id], strict=True) for c in [h.chunk, *near]))
         for q in questions])
    final = max(points, key=lambda w: (round(objective(w, range(len(questions))), 9), w == FITTED.compose))
    print(f"\nfitted on all questions: {final}")
    if args.write:
        data = json.loads(PATH.read_text(encoding="utf-8"))
        data["compose"] = {k: getattr(final, k) for k in GRID}
        data.setdefault("provenance", {})["compose"] = {
            "command": "python bench/fit_answers.py --store STORE --write" + (f" --only {args.only}" if args.only else ""),
            "grid": grid, "folds": args.folds,
            "out_of_fold": {"fact_recall": round(statistics.mean(r[0] for r in oof), 4),
                            "token_f1": round(statistics.mean(r[1] for r in oof), 4)}}
        PATH.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {PATH}")
    lantern.close()


if __name__ == "__main__":
    main()
