"""GPU embedding benchmark: which hardware `embed_backend = auto` picks here, MiniLM passages/s on
each embedding path this machine can run, and a cold ingest of the whole shared corpus with the
chosen path. Runs anywhere; on a machine without a CUDA GPU it says so and measures the CPU.

    python bench/gpu.py                 # everything (on 2 CPU cores: ~5 min)
    python bench/gpu.py --skip-ingest   # passages/s only

Targets (issue 14), on one GPU: ≥ 3,000 passages/s and the shared corpus ingested in ≤ 30 s,
with vectors at cosine ≥ 0.99 to the CPU path. Prints Markdown tables; run it in one go.
Passages are the chunks of the shared corpus as the ingest makes them (≈ 6,100).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus"

from core.settings import Settings, offline_environment  # noqa: E402

offline_environment()

from ingest import embed  # noqa: E402


def machine() -> str:
    gpu = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip().replace("\n", "; ")
    return f"{platform.machine()}, {os.cpu_count()} CPU cores" + (f", {gpu}" if gpu else ", no NVIDIA GPU")


def ingest_corpus(corpus: Path, store: Path) -> tuple[dict, float]:
    """A cold `lantern ingest` of the corpus in a fresh process (model loading included)."""
    cmd = [sys.executable, "-m", "app.cli", "ingest", str(corpus), "--store", str(store), "--json"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"ingest failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout), wall


def corpus_passages(store: Path) -> list[str]:
    from core.store import Store
    from ingest.chunk import embedding_text

    s = Store.open(Settings.load(environ={}, store=store))
    try:
        return [embedding_text(c) for c in s.chunks()]
    finally:
        s.close()


def measure(name: str, make, passages: list[str]) -> tuple[dict, object]:
    """Load, warm up, then embed all passages once; passages/s over the timed pass."""
    t = time.perf_counter()
    embedder = make()
    load = time.perf_counter() - t
    embedder.embed(passages[:64])  # CUDA kernels, allocator and thread pools warmed
    t = time.perf_counter()
    vectors = embedder.embed(passages)
    seconds = time.perf_counter() - t
    row = {"path": name, "provider": getattr(embedder, "provider", "?"), "load_s": load,
           "passages": len(passages), "seconds": seconds, "passages_per_s": len(passages) / seconds}
    return row, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--skip-ingest", action="store_true", help="passages/s only (chunks the corpus without embedding it)")
    parser.add_argument("--cpu-passages", type=int, default=1500,
                        help="passages the CPU reference embeds (all of them takes minutes on 2 cores)")
    parser.add_argument("--keep", type=Path, default=None, help="build the store here and keep it")
    args = parser.parse_args()

    plan = embed.detect_embedding()
    import onnxruntime

    providers = onnxruntime.get_available_providers()
    print(f"machine: {machine()}")
    print(f"visible CUDA GPUs: {embed.visible_gpus()}; onnxruntime {onnxruntime.__version__} providers: "
          f"{', '.join(providers)}; CUDA build of torch: {embed.torch_has_cuda()}")
    print(f"embed_backend=auto chooses {plan.backend}: {plan.reason}\n", flush=True)

    work = Path(tempfile.mkdtemp(prefix="lantern-gpu-bench-"))
    store = args.keep or work / "store"
    ingest_row = None
    if args.skip_ingest:
        from ingest.pipeline import ingest

        ingest([args.corpus], Settings.load(environ={}, store=store, embed_backend="hash"))  # chunks only
    else:
        print(f"cold ingest of {args.corpus} (embed_backend=auto) ...", file=sys.stderr, flush=True)
        report, wall = ingest_corpus(args.corpus, store)
        ingest_row = (report, wall)
    passages = corpus_passages(store)

    # every path this machine can run: the chosen one, the other GPU one if present, and the CPU
    gpus = embed.visible_gpus()
    candidates: list[tuple[str, object]] = []
    if gpus and embed.CUDA_PROVIDER in providers:
        onnx_plan = embed.choose_embedding(providers, gpus, False)
        candidates.append(("onnx-cuda (onnxruntime-gpu, fp32)", lambda p=onnx_plan: embed.embedder_for_plan(p)))
    if gpus and embed.torch_has_cuda():
        torch_plan = embed.choose_embedding([embed.CPU_PROVIDER], gpus, True)
        candidates.append(("torch-cuda (sentence-transformers, fp16)", lambda p=torch_plan: embed.embedder_for_plan(p)))
    cpu_plan = embed.choose_embedding([embed.CPU_PROVIDER], 0, False)
    cpu_count = min(len(passages), args.cpu_passages)
    rows = []
    print("embedding with the CPU path (reference) ...", file=sys.stderr, flush=True)
    cpu_row, cpu_vectors = measure("onnx-int8 (CPU, the default without a GPU)",
                                   lambda: embed.embedder_for_plan(cpu_plan, batch_size=8), passages[:cpu_count])
    rows.append(cpu_row | {"cos_min": 1.0, "cos_mean": 1.0})
    if not candidates:  # the GPU code paths, their device forced to the CPU: what the tests check
        forced = replace(embed.choose_embedding([embed.CUDA_PROVIDER, embed.CPU_PROVIDER], 1, False),
                         providers=(embed.CPU_PROVIDER,))
        candidates.append(("onnx-cuda code path forced to the CPU (fp32)", lambda p=forced: embed.embedder_for_plan(p)))
        forced = replace(embed.choose_embedding([embed.CPU_PROVIDER], 1, True), device="cpu", half=False)
        candidates.append(("torch-cuda code path forced to the CPU (fp32)", lambda p=forced: embed.embedder_for_plan(p)))
    for name, make in candidates:
        print(f"embedding with {name} ...", file=sys.stderr, flush=True)
        count = len(passages) if "forced" not in name else cpu_count
        row, vectors = measure(name, make, passages[:count])
        cos = (vectors[:cpu_count] * cpu_vectors).sum(axis=1)  # type: ignore[index]
        rows.append(row | {"cos_min": float(cos.min()), "cos_mean": float(cos.mean())})

    print("| embedding path | provider | passages | load s | embed s | passages/s | cosine to CPU path (min / mean) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['path']} | {r['provider']} | {r['passages']} | {r['load_s']:.1f} | {r['seconds']:.1f} | "
              f"{r['passages_per_s']:,.0f} | {r['cos_min']:.4f} / {r['cos_mean']:.4f} |")
    if ingest_row:
        report, wall = ingest_row
        t = report["timings"]
        print(f"\n| shared-corpus ingest ({plan.backend}) | value |\n|---|---|")
        for name, value in (
            ("documents / chunks", f"{report['documents']} / {report['chunks']}"),
            ("failed", len(report["failed"])),
            ("cold ingest, wall s (process start to exit)", f"{wall:.1f}"),
            ("parse + chunk s (summed over workers)", f"{t['parse'] + t['chunk']:.1f}"),
            ("embed s", f"{t['embed']:.1f}"),
            ("store + keyword s", f"{t['store'] + t['keyword']:.1f}"),
        ):
            print(f"| {name} | {value} |")
    print(f"\nstore: {store}")


if __name__ == "__main__":
    main()
