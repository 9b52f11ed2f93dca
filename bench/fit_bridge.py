"""Fit the e5 -> MiniLM bridge (assistant/bridge.py) on a corpus embedded by both models.

    python bench/fit_bridge.py --store MINILM_STORE --e5-store E5_STORE [--folds 5] [--write]

The two stores hold the same files (`lantern ingest` with dense_model=minilm, and again with
dense_model=e5): their ledgers keep every chunk's vector, so the pairs cost no embedding here.
Ridge regression from the e5 passage vector to the MiniLM vector of the same chunk; the ridge
penalty is chosen by k-fold cross-validation BY DOCUMENT (no document is in both the fit and the
check) on the reciprocal rank of a held-out chunk's own MiniLM vector among all the held-out ones
when searched with its mapped e5 vector (a search, as at run time; the mean cosine to the true
vector is printed too, but it rewards shrinking every map toward the corpus's mean direction, which
searches worse); no gold question is read. `--write`
refits on every pair and writes assistant/bridge.npz (the matrix) and assistant/bridge.json (its
provenance). Opens the stores as `lantern ask` does (pass copies if nothing may touch them).

Measured on the shared corpus (6,126 chunks of 44 documents, 2 cores, ~20 s), see bridge.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from assistant import bridge  # noqa: E402
from core.settings import Settings, offline_environment  # noqa: E402
from core.store import Store  # noqa: E402

LAMBDAS = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)  # on unit vectors: X'X has trace = n chunks


def pairs(minilm: Store, e5: Store) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(e5 vectors, MiniLM vectors, document index per row, documents) of the chunks both ledgers hold."""
    by_source: dict[str, list[str]] = {}
    for chunk in minilm.chunks():
        by_source.setdefault(chunk.source, []).append(chunk.id)
    xs, ys, docs, sources = [], [], [], []
    for source, ids in sorted(by_source.items()):
        m, e = minilm.document_vectors(source), e5.document_vectors(source)
        e_ids = [c.id for c in e5.chunks(ids)]
        if m is None or e is None or len(m) != len(ids) or len(e) != len(ids) or e_ids != ids:
            print(f"skipped {source}: the two stores do not hold the same chunks", file=sys.stderr)
            continue
        xs.append(e.astype(np.float32))
        ys.append(m.astype(np.float32))
        docs.append(np.full(len(ids), len(sources)))
        sources.append(source)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(docs), sources


def ridge(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """argmin_W |xW - y|² + lam |W|² (float64 normal equations: 384 columns)."""
    x64 = x.astype(np.float64)
    return np.linalg.solve(x64.T @ x64 + lam * np.eye(x.shape[1]), x64.T @ y.astype(np.float64)).astype(np.float32)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def document_folds(documents: int, folds: int, seed: int = 0) -> np.ndarray:
    """The fold of each document (by index): a seeded shuffle dealt round-robin, so a document's
    chunks are never split between the fit and the check."""
    fold_of_doc = np.empty(documents, dtype=int)
    fold_of_doc[np.random.default_rng(seed).permutation(documents)] = np.arange(documents) % folds
    return fold_of_doc


def cross_validate(x: np.ndarray, y: np.ndarray, doc: np.ndarray, folds: int, seed: int = 0) -> dict[float, dict[str, float]]:
    """Per penalty, held-out (by document) mean cosine to the true MiniLM vector and the mean
    reciprocal rank of a chunk's own MiniLM vector among the held-out fold's chunks."""
    fold = document_folds(doc.max() + 1, folds, seed)[doc]
    out: dict[float, dict[str, float]] = {}
    for lam in LAMBDAS:
        cos, rr = [], []
        for f in range(folds):
            test = fold == f
            mapped = unit(x[test] @ ridge(x[~test], y[~test], lam))
            truth = unit(y[test])
            sims = mapped @ truth.T
            own = np.diag(sims)
            cos.append(own)
            rr.append(1.0 / (1 + (sims > own[:, None]).sum(axis=1)))
        out[lam] = {"cosine": float(np.concatenate(cos).mean()), "own_mrr": float(np.concatenate(rr).mean())}
    return out


def commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a store embedded with MiniLM")
    parser.add_argument("--e5-store", type=Path, required=True, help="the same files embedded with dense_model=e5")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="refit on every pair and write assistant/bridge.npz + .json")
    args = parser.parse_args()
    offline_environment()
    minilm = Store.open(Settings.load(environ={}, store=args.store))
    e5 = Store.open(Settings.load(environ={}, store=args.e5_store, dense_model="e5"))
    names = {"source": e5.get_meta("embedder") or "", "target": minilm.get_meta("embedder") or ""}
    if not names["target"].startswith(bridge.TARGET_MODEL) or "e5" not in names["source"]:
        sys.exit(f"expected a MiniLM store and an e5 store, got {names['target']!r} and {names['source']!r}")
    x, y, doc, sources = pairs(minilm, e5)
    print(f"{len(x)} chunk pairs from {len(sources)} documents")
    table = cross_validate(x, y, doc, args.folds)
    print("\n| ridge penalty | held-out cosine | own-chunk MRR |\n|---|---|---|")
    for lam, row in table.items():
        print(f"| {lam:g} | {row['cosine']:.4f} | {row['own_mrr']:.4f} |")
    best = max(table, key=lambda lam: table[lam]["own_mrr"])
    print(f"\nchosen penalty (held-out own-chunk MRR, {args.folds} folds by document): {best:g}")
    if not args.write:
        return
    matrix = ridge(x, y, best).astype(np.float16)
    np.savez(bridge.MATRIX, matrix=matrix)
    provenance = {
        "what": "ridge map from e5 passage vectors to MiniLM vectors of the same chunks (row vector e5 @ matrix)",
        "written_by": "bench/fit_bridge.py", "date": datetime.now(UTC).strftime("%Y-%m-%d"), "commit": commit(),
        "source_model": names["source"], "target_model": bridge.TARGET_MODEL, "target_embedder": names["target"],
        "stores": [str(args.store), str(args.e5_store)], "documents": len(sources), "chunks": int(len(x)),
        "ridge_penalty": best, "chosen_by": "held-out own-chunk MRR", "folds_by_document": args.folds,
        "cross_validation": {f"{lam:g}": {k: round(v, 4) for k, v in row.items()} for lam, row in table.items()},
        "matrix_sha256": hashlib.sha256(matrix.tobytes()).hexdigest(), "gold_questions_used": False,
    }
    bridge.PROVENANCE.write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {bridge.MATRIX.relative_to(REPO)} and {bridge.PROVENANCE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
