"""Query benchmark over the full shared corpus: retrieval and offline-answer latency, `lantern ask`
cold start, abstention, and dev-set retrieval quality for each fusion method beside the plain
llama-index pipeline, in one run. Prints tables; `python bench/query.py [--store DIR]`.

Targets (issue 3): retrieval p95 ≤ 50 ms, offline answer p95 ≤ 300 ms, cold start ≤ 2.5 s;
page hit@5 ≥ 0.95 and doc MRR ≥ 0.95 on the dev set's answerable questions (top 5).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# run as a script, this folder is first on sys.path and its ingest.py would shadow the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from core.settings import Settings, offline_environment  # noqa: E402

offline_environment()

from eval.aggregate import mean_retrieval  # noqa: E402
from eval.dataset import Question, load_dataset  # noqa: E402
from eval.metrics import abstention_scores, percentile  # noqa: E402
from eval.scoring import retrieval_scores  # noqa: E402

DEV = REPO.parent / "shared" / "eval" / "dev_questions.jsonl"
CORPUS = REPO.parent / "shared" / "corpus"


def top5_scores(ranked: list[list[tuple[str, int | None]]], questions: list[Question]) -> dict[str, float]:
    """Mean retrieval scores of top-5 rankings, as `lantern eval` defines them (`eval.scoring`).

    Doc MRR is eval's: the reciprocal rank of the first gold document among the distinct
    documents of the 5 chunks.
    """
    return mean_retrieval([retrieval_scores(q.gold, keys[:5]) for keys, q in zip(ranked, questions, strict=True)])


def main() -> None:
    """Build the store if needed, then time and score it; prints Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="a store of the full shared corpus (built if absent)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions per question")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    store = args.store or Path(tempfile.mkdtemp(prefix="lantern-bench-")) / "store"
    if not (store / "ledger.sqlite").exists():
        print(f"building {store} from {CORPUS} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(CORPUS), "--store", str(store), "--json"],
                       check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    from assistant.api import Lantern
    from assistant.retrieve import Filters

    dataset = load_dataset(DEV)
    answerable = dataset.answerable()
    settings = Settings.load(environ={}, store=store)
    lantern = Lantern(settings)

    # latency: retrieval alone, then the whole offline answer
    lantern.ask(answerable[0].question)  # warm caches (keyword index, model)
    retrieval_ms, answer_ms = [], []
    for _ in range(args.repeat):
        for q in dataset.questions:
            t = time.perf_counter()
            lantern.retriever.search(q.question, Filters(), 5)
            retrieval_ms.append((time.perf_counter() - t) * 1000)
            answer = lantern.ask(q.question)
            answer_ms.append(answer.timings["total_ms"])
    cold = []
    for q in dataset.questions[:5]:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app.cli", "ask", q.question, "--store", str(store), "--json"],
                       check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        cold.append(time.perf_counter() - t)

    answers = [lantern.ask(q.question) for q in dataset.questions]
    abst = abstention_scores([a.abstained for a in answers], [q.answerable for q in dataset.questions])

    print("\n| latency, full corpus | p50 | p95 | target |\n|---|---|---|---|")
    print(f"| retrieval ms | {percentile(retrieval_ms, 50):.1f} | {percentile(retrieval_ms, 95):.1f} | p95 ≤ 50 |")
    print(f"| offline answer ms (retrieval included) | {percentile(answer_ms, 50):.1f} | {percentile(answer_ms, 95):.1f} | p95 ≤ 300 |")
    print(f"| `lantern ask` cold start s | {statistics.median(cold):.2f} | {max(cold):.2f} (max) | ≤ 2.5 |")
    print(f"\nabstention on the dev set: precision {abst['precision']:.2f}, recall {abst['recall']:.2f}, "
          f"F1 {abst['f1']:.2f}, false refusals {abst['false_refusal']:.3f}")

    rows: dict[str, dict[str, float]] = {}
    for fusion in ("rrf", "weighted", "dense", "keyword"):
        lantern.retriever.fusion = fusion
        ranked = [[(h.chunk.source, h.chunk.page) for h in lantern.retrieve(q.question, top_k=5)] for q in answerable]
        rows[f"Lantern {fusion}" + (" (default)" if fusion == settings.fusion else "")] = top5_scores(ranked, answerable)
    if not args.skip_baseline:
        from eval.baseline import build_baseline

        baseline = build_baseline(lantern.store, store.parent / "baseline-index")
        ranked = [[(h.source, h.page) for h in baseline.retrieve(q.question)[0]] for q in answerable]
        rows["plain llama-index (dense, 1,024-token chunks)"] = top5_scores(ranked, answerable)
    print(f"\n| dev set, {len(answerable)} answerable questions, top 5 | doc hit@1 | doc hit@5 | page hit@5 | doc MRR |")
    print("|---|---|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} | {m['doc_hit@1']:.3f} | {m['doc_hit@5']:.3f} | {m['page_hit@5']:.3f} | {m['mrr']:.3f} |")
    lantern.close()


if __name__ == "__main__":
    main()
