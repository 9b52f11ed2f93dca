"""`lantern serve` under load: concurrent /v1/chat/completions requests, with the store idle and
while `lantern ingest` adds documents to the same store. Prints a latency table.

    python bench/serve_bench.py [--requests 20] [--extra 6]

Builds a store from the bundled sample corpus in a temporary folder, starts `lantern serve` on
127.0.0.1 (a subprocess, as a user would), and fires the requests all at once from threads,
half streamed and half not. The ingest adds the `--extra` smallest PDFs of ../shared/corpus/pdf
(or a renamed copy of the sample corpus when that is absent). Every request goes to loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# run as a script, this folder is first on sys.path and its ingest.py would shadow the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from eval.metrics import percentile  # noqa: E402

SAMPLE = REPO / "ingest" / "sample_corpus"
SHARED_PDFS = REPO.parent / "shared" / "corpus" / "pdf"
QUESTIONS = [json.loads(line)["question"] for line in
             (REPO / "eval" / "examples" / "sample_questions.jsonl").read_text(encoding="utf-8").splitlines() if line]


def lantern(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=REPO, env=env, **kw)


def extra_corpus(root: Path, count: int) -> Path:
    folder = root / "extra"
    folder.mkdir()
    if SHARED_PDFS.is_dir():
        pdfs = sorted((p for p in SHARED_PDFS.glob("*.pdf")), key=lambda p: p.stat().st_size)[:count]
        for pdf in pdfs:
            shutil.copy2(pdf, folder / pdf.name)
    else:
        for path in SAMPLE.iterdir():
            if path.suffix in {".md", ".pdf"}:
                shutil.copy2(path, folder / f"copy-{path.name}")
    return folder


def one_request(base: str, question: str, stream: bool) -> tuple[float, str | None]:
    body = {"model": "lantern", "messages": [{"role": "user", "content": question}], "stream": stream}
    start = time.perf_counter()
    try:
        with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=120) as response:
            text = response.read().decode()
            if response.status_code != 200:
                return time.perf_counter() - start, f"HTTP {response.status_code}"
            if stream and ('"error"' in text or "[DONE]" not in text):
                return time.perf_counter() - start, "stream error"
            if not stream and "citations" not in json.loads(text):
                return time.perf_counter() - start, "no citations field"
    except httpx.HTTPError as exc:
        return time.perf_counter() - start, type(exc).__name__
    return time.perf_counter() - start, None


def burst(base: str, n: int) -> tuple[list[float], list[str]]:
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda i: one_request(base, QUESTIONS[i % len(QUESTIONS)], i % 2 == 0), range(n)))
    return [r[0] * 1000 for r in results], [r[1] for r in results if r[1]]


def row(label: str, latencies: list[float], errors: list[str]) -> str:
    return (f"| {label} | {len(latencies)} | {percentile(latencies, 50):.0f} | {percentile(latencies, 95):.0f} | "
            f"{max(latencies):.0f} | {len(errors)}{' (' + ', '.join(sorted(set(errors))) + ')' if errors else ''} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--extra", type=int, default=6, help="PDFs the concurrent ingest adds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = str(root / "store")
        subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(SAMPLE), "--store", store, "--json"],
                       cwd=REPO, check=True, capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        server = lantern("serve", "--store", store, "--serve-port", str(port), stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(base + "/v1/models", timeout=2)
                    break
                except httpx.HTTPError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("lantern serve did not start") from None
                    time.sleep(0.2)
            one_request(base, QUESTIONS[0], False)  # warm: first retrieval loads the keyword index
            idle = burst(base, args.requests)

            extra = extra_corpus(root, args.extra)
            ingest = lantern("ingest", str(extra), "--store", store, "--json", stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
            time.sleep(3)  # past its imports: embedding and writing are under way
            t0 = time.perf_counter()
            during = burst(base, args.requests)
            overlapped = ingest.poll() is None
            out, _ = ingest.communicate(timeout=900)
            report = json.loads(out)
            burst_s = time.perf_counter() - t0
            after = burst(base, args.requests)
            status = httpx.get(base + "/v1/status", timeout=10).json()
            docs = status.get("documents", status)
        finally:
            server.terminate()
            server.wait(10)
    print(f"{args.requests} concurrent /v1/chat/completions (half streamed), extractive mode, 127.0.0.1\n")
    print("| store | requests | p50 ms | p95 ms | max ms | errors |")
    print("|---|---|---|---|---|---|")
    print(row("idle (sample corpus, 6 docs)", *idle))
    print(row(f"while ingest adds {report['added']} docs", *during))
    print(row(f"after ingest ({docs} docs)", *after))
    print(f"\ningest: {report['added']} added, {report['chunks']} chunks in {report['seconds']:.1f} s; "
          f"still running when the burst ended: {overlapped}; burst to ingest end {burst_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
