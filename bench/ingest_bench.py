"""Ingest benchmark: the whole shared corpus into a fresh store, then again unchanged, beside
the plain llama-index pipeline (pypdf pages → SentenceSplitter defaults → HuggingFaceEmbedding
→ Chroma) in the same run. Prints a table; run with `make bench` or `python bench/ingest_bench.py`.

Each pipeline runs in its own process so its peak memory (summed over its worker processes,
sampled every 0.1 s) and timings are its own. Targets (issue 2): cold ≤ 80 s on 2 cores with
every word embedded, unchanged re-run ≤ 3 s, peak RSS ≤ 2 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
# run as a script, this folder is first on sys.path and its ingest.py would shadow the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus"
MAX_TOKENS = 256


def run_measured(cmd: list[str]) -> tuple[dict, float, float]:
    """Run a command that prints one JSON object; return it, wall seconds and peak tree RSS (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed ({proc.returncode}):\n{err[-3000:]}")
    return json.loads(out), wall, peak / 2**20


def plain_pipeline(corpus: Path, work: Path) -> dict:
    """The llama-index starter pipeline over the corpus files, timed per stage (runs in a child).
    The same recipe as eval's baseline (eval.baseline), so the two comparisons agree."""
    from core.settings import offline_environment

    offline_environment()
    from llama_index.core import Document

    from core.store import scratch_chroma
    from eval.baseline import index_documents, pages_of, plain_embedder
    from ingest.embed import load_tokenizer
    from ingest.load import SUPPORTED_SUFFIXES

    t = time.perf_counter()
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
    docs = [Document(text=text, metadata={"file": str(f.relative_to(corpus)), "page": page or 0})
            for f in files for page, text in pages_of(f) if text.strip()]
    parse = time.perf_counter() - t
    collection = scratch_chroma(work / "plain").get_or_create_collection("plain")
    nodes, chunk, embed_store = index_documents(docs, collection, plain_embedder())
    tok = load_tokenizer()
    tok.no_truncation()
    lengths = [len(e.ids) for e in tok.encode_batch([n.get_content() for n in nodes])]
    return {
        "documents": len(files), "pages": len(docs), "chunks": len(nodes), "parse": parse, "chunk": chunk,
        "embed+store": embed_store, "embedded_share": sum(min(n, MAX_TOKENS) for n in lengths) / sum(lengths),
    }


def lantern_embedded_share(store: Path) -> float:
    """Share of chunk tokens inside MiniLM's window (title line included), from the built store."""
    from core.settings import Settings, offline_environment

    offline_environment()
    from core.store import Store
    from ingest.chunk import embedding_text
    from ingest.embed import load_tokenizer

    tok = load_tokenizer()
    tok.no_truncation()
    s = Store.open(Settings.load(environ={}, store=store))
    lengths = [len(e.ids) for e in tok.encode_batch([embedding_text(c) for c in s.chunks()])]
    return sum(min(n, MAX_TOKENS) for n in lengths) / sum(lengths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--skip-plain", action="store_true", help="only Lantern")
    parser.add_argument("--keep", type=Path, default=None, help="build the Lantern store here and keep it")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lantern-bench-"))
    store = args.keep or work / "store"
    lantern = [sys.executable, "-m", "app.cli", "ingest", str(args.corpus), "--store", str(store), "--json"]
    print(f"Lantern: cold ingest of {args.corpus} ...", file=sys.stderr)
    cold, cold_wall, cold_rss = run_measured(lantern)
    print("Lantern: unchanged re-run ...", file=sys.stderr)
    warm, warm_wall, warm_rss = run_measured(lantern)
    share = lantern_embedded_share(store)
    status = json.loads(subprocess.run([sys.executable, "-m", "app.cli", "status", "--store", str(store), "--json"],
                                       capture_output=True, text=True, cwd=REPO).stdout)
    pages = status["pages"]
    plain = None
    if not args.skip_plain:
        print("plain llama-index pipeline ...", file=sys.stderr)
        code = f"import json,sys; sys.path.insert(0, {str(REPO)!r}); from bench.ingest_bench import plain_pipeline; " \
               f"from pathlib import Path; print(json.dumps(plain_pipeline(Path({str(args.corpus)!r}), Path({str(work)!r}))))"
        plain, plain_wall, plain_rss = run_measured([sys.executable, "-c", code])
    t = cold["timings"]
    rows = [
        ("documents", cold["documents"], plain and plain["documents"]),
        ("failed", len(cold["failed"]), None),
        ("pages", pages, plain and plain["pages"]),
        ("chunks", cold["chunks"], plain and plain["chunks"]),
        ("parse s (CPU, summed over workers)", f"{t['parse']:.1f}", plain and f"{plain['parse']:.1f}"),
        ("chunk s (CPU, summed over workers)", f"{t['chunk']:.1f}", plain and f"{plain['chunk']:.1f}"),
        ("embed s (CPU, summed over workers)", f"{t['embed']:.1f}", None),
        ("store s", f"{t['store'] + t['keyword']:.1f}", None),
        ("embed + store s (wall)", None, plain and f"{plain['embed+store']:.1f}"),
        ("cold ingest, wall s", f"{cold_wall:.1f}", plain and f"{plain_wall:.1f}"),
        ("pages/s (cold, wall)", f"{pages / cold_wall:.1f}", plain and f"{plain['pages'] / plain_wall:.1f}"),
        ("share of chunk tokens embedded", f"{share:.1%}", plain and f"{plain['embedded_share']:.1%}"),
        ("peak RSS MB (process tree)", f"{cold_rss:.0f}", plain and f"{plain_rss:.0f}"),
        ("unchanged re-run, wall s", f"{warm_wall:.2f} ({warm['unchanged']} unchanged)", "n/a (no incremental mode)"),
        ("unchanged re-run peak RSS MB", f"{warm_rss:.0f}", None),
    ]
    print("\n| ingest, full shared corpus | Lantern | plain llama-index |\n|---|---|---|")
    for name, a, b in rows:
        print(f"| {name} | {'' if a is None else a} | {'' if b is None else b} |")
    print(f"\nLantern store: {store}")


if __name__ == "__main__":
    main()
