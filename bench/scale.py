"""Million-chunk benchmark: a synthetic library built from the shared corpus's own sentences,
ingested into a `chroma run` server through Lantern's store, then queried through Lantern's
hybrid retrieval. Prints one table; `python bench/scale.py --chunks 1000000 --work DIR`.

Why synthetic: the shared corpus holds 6k chunks, and embedding 1M chunks with MiniLM on a CPU
takes hours. So ~20k distinct real sentences are embedded once with the real model (cached under
--work), and each synthetic chunk is a recombination of them whose vector is the normalised sum
of its sentences' vectors: the benchmark measures the store and retrieval, not the embedder.
Questions are real (the shared gold sets' English questions) and embedded by the real model at
query time, as `lantern ask` does.

The library is written as text files with a MANIFEST.csv per folder (title, publisher, year),
spread over 50k documents at 1M chunks (20 chunks each on average), so publisher and year
filters admit realistic shares of it; each chunk and document is committed through
`core.store.Store` in the pipeline's order (mark pending, add vectors, commit), with the content
hash the pipeline itself computes, so the unchanged re-run is a real `lantern ingest` of the
library folder that must find every file unchanged.

Measured: ingest throughput (Chroma and ledger), keyword-index build time and peak RSS, ledger
size, hybrid query p50/p95 without and with a publisher+year filter (in a fresh process, as a
`lantern ui` would be), peak RSS of every process (VmHWM, reset per phase), the unchanged re-run.
Targets (issue 14), 1M chunks on 2 cores: hybrid p95 ≤ 100 ms unfiltered, ≤ 150 ms with a
publisher+year filter; keyword index and ledger within 8 GB peak RSS together.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# run as a script, this folder is first on sys.path and its ingest.py would shadow the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from core import local_server  # noqa: E402
from core.settings import Settings, offline_environment  # noqa: E402

offline_environment()

CORPUS = REPO.parent / "shared" / "corpus"
QUESTIONS = [REPO.parent / "shared" / "eval" / name for name in ("dev_questions.jsonl", "tune_questions.jsonl")]
SEED = 14
SENTENCES = 20_000
CHUNKS_PER_DOC = 20  # 1M chunks → 50k documents
DOCS_PER_FOLDER = 1000
OFFICES = 24  # each real publisher appears as this many offices ("UNODC (office 007)")
GROUP_CHUNKS = 5000  # chunks per Chroma write (Store.add_vectors batches within it)


# --------------------------------------------------------------------------- memory


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset) of a process, in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds a process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int | str = "self") -> None:
    """Start a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


# --------------------------------------------------------------------------- sentences and vectors


def corpus_sentences(work: Path) -> list[str]:
    """~20k distinct real sentences of the shared corpus (cached): parsed and cleaned by
    Lantern's own loader, kept when they read as prose (6-60 words, mostly letters)."""
    cache = work / "sentences.json"
    if cache.exists():
        return json.loads(cache.read_text())
    from core.text import sentences
    from ingest.load import discover, load

    files, _ = discover([CORPUS])
    seen: dict[str, None] = {}
    for sf in files:
        try:
            doc = load(sf)
        except Exception as exc:  # noqa: BLE001 - a file that does not load only gives fewer sentences
            print(f"skipped {sf.source}: {exc}", file=sys.stderr)
            continue
        for page in doc.pages:
            for s in sentences(page.text):
                s = " ".join(s.split())
                n = len(s.split())
                letters = sum(ch.isalpha() for ch in s)
                if 6 <= n <= 60 and letters >= 0.7 * len(s):
                    seen.setdefault(s, None)
    pool = list(seen)
    rng = np.random.default_rng(SEED)
    if len(pool) > SENTENCES:  # keep corpus order, so neighbouring sentences share a topic
        keep = np.sort(rng.choice(len(pool), SENTENCES, replace=False))
        pool = [pool[i] for i in keep]
    work.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(pool))
    return pool


def sentence_vectors(work: Path, pool: list[str], settings: Settings) -> np.ndarray:
    """The real embedder's vectors of the sentence pool, computed once and cached."""
    from ingest.embed import embedder_name, make_embedder

    name = embedder_name(settings)
    cache = work / f"sentences.{name}.npy"
    if cache.exists():
        vectors = np.load(cache)
        if len(vectors) == len(pool):
            return vectors
    t = time.perf_counter()
    vectors = make_embedder(settings).embed(pool).astype(np.float32)
    print(f"embedded {len(pool)} sentences with {name} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    np.save(cache, vectors)
    return vectors


def publishers() -> list[str]:
    """Publisher names: the corpus manifests' real ones, each as several offices."""
    names: dict[str, None] = {}
    for manifest in sorted(CORPUS.glob("*/MANIFEST.csv")):
        with open(manifest, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                if (p := row.get("publisher", "").strip()) and not p.startswith("unknown"):
                    names.setdefault(p, None)
    return [f"{p} (office {i:03d})" for p in names for i in range(OFFICES)]


# --------------------------------------------------------------------------- the library


@dataclass
class DocPlan:
    """One synthetic document: where it lives, its metadata and how many chunks it holds."""

    index: int
    source: str
    title: str
    publisher: str
    year: int
    chunks: int
    home: int  # where in the sentence pool its topic lies


def plan_library(n_chunks: int, pool: list[str], names: list[str]) -> list[DocPlan]:
    """Documents and their metadata: publishers Zipf-distributed, years skewed recent,
    chunk counts log-normal around CHUNKS_PER_DOC, summing to exactly `n_chunks`."""
    n_docs = max(1, round(n_chunks / CHUNKS_PER_DOC))
    rng = np.random.default_rng([SEED, n_chunks])
    weights = rng.lognormal(0.0, 0.6, n_docs)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * n_chunks)).astype(int)
    while (diff := n_chunks - int(sizes.sum())) != 0:  # spread the rounding over documents
        pick = rng.choice(n_docs, abs(diff), replace=abs(diff) > n_docs)
        np.add.at(sizes, pick, 1 if diff > 0 else -1)
        sizes = np.maximum(sizes, 1)
    zipf = 1.0 / np.arange(1, len(names) + 1) ** 0.8
    order = rng.permutation(len(names))  # which office is big is random, not the list order
    pub = rng.choice(len(names), n_docs, p=zipf / zipf.sum())
    years = np.clip(2026 - rng.geometric(0.12, n_docs), 1990, 2025)
    homes = rng.integers(0, len(pool), n_docs)
    plans = []
    for d in range(n_docs):
        words = pool[homes[d]].split()[:9]
        plans.append(DocPlan(d, f"{d // DOCS_PER_FOLDER:04d}/doc-{d:06d}.txt", " ".join(words).rstrip(".,;:"),
                             names[order[pub[d]]], int(years[d]), int(sizes[d]), int(homes[d])))
    return plans


def doc_chunks(plan: DocPlan, pool: list[str], vectors: np.ndarray) -> tuple[str, list[tuple[int, int, str]], np.ndarray]:
    """A document's text, its chunks as (start, end, text) and their vectors, deterministic
    in the document's index. Chunks take ~120-170 words of sentences, mostly from a window
    of the pool around the document's topic (some from anywhere)."""
    rng = np.random.default_rng([SEED, plan.index])
    n = len(pool)
    spans, texts, out = [], [], np.empty((plan.chunks, vectors.shape[1]), dtype=np.float32)
    at = 0
    for c in range(plan.chunks):
        target = int(rng.integers(120, 170))
        picked: list[int] = []
        words = 0
        while words < target:
            i = int(rng.integers(0, n)) if rng.random() < 0.2 else (plan.home + int(rng.integers(0, 400))) % n
            picked.append(i)
            words += len(pool[i].split())
        text = " ".join(pool[i] for i in picked)
        v = vectors[picked].sum(axis=0)
        out[c] = v / (np.linalg.norm(v) or 1.0)
        spans.append((at, at + len(text), text))
        texts.append(text)
        at += len(text) + 2
    return "\n\n".join(texts), spans, out


def write_library(folder: Path, plans: list[DocPlan], pool: list[str], vectors: np.ndarray) -> None:
    """The library as files (cached: a `done` marker is written last)."""
    if (folder / "done").exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    t = time.perf_counter()
    by_folder: dict[str, list[DocPlan]] = {}
    for p in plans:
        by_folder.setdefault(p.source.split("/")[0], []).append(p)
    for name, docs in by_folder.items():
        sub = folder / name
        sub.mkdir(parents=True)
        with open(sub / "MANIFEST.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "title", "publisher", "year", "language"])
            for p in docs:
                writer.writerow([p.source.split("/")[1], p.title, p.publisher, p.year, "en"])
        for p in docs:
            text, _, _ = doc_chunks(p, pool, vectors)
            (folder / p.source).write_text(text, encoding="utf-8")
    (folder / "done").write_text("")
    print(f"wrote {len(plans)} files to {folder} in {time.perf_counter() - t:.0f} s", file=sys.stderr)


# --------------------------------------------------------------------------- Chroma server


def start_chroma(data: Path) -> tuple[subprocess.Popen, str]:
    """`chroma run` on a free loopback port; returns the process and host:port."""
    try:
        return local_server.start_chroma(data, data.parent / "chroma.log", wait_s=120)
    except local_server.ServerDidNotStart as e:
        sys.exit(f"chroma run did not start: {e}")


# --------------------------------------------------------------------------- phases


def ingest_library(settings: Settings, folder: Path, plans: list[DocPlan], pool: list[str],
                   vectors: np.ndarray) -> dict[str, float]:
    """Commit every document through Store as the pipeline does, a group of documents per
    Chroma write; returns seconds per part."""
    from core.store import Store
    from core.types import Chunk, Page, chunk_id
    from ingest.embed import embedder_name
    from ingest.load import SourceFile
    from ingest.pipeline import file_hash

    seconds = {"generate": 0.0, "hash": 0.0, "chroma": 0.0, "ledger": 0.0}
    store = Store.open(settings, create=True)
    done = 0
    last = time.monotonic()

    def groups() -> Iterator[list[DocPlan]]:
        group: list[DocPlan] = []
        size = 0
        for p in plans:
            group.append(p)
            size += p.chunks
            if size >= GROUP_CHUNKS:
                yield group
                group, size = [], 0
        if group:
            yield group

    try:
        with store.write_lock():
            store.check_embedder(embedder_name(settings))
            for group in groups():
                t = time.perf_counter()
                docs = []
                for p in group:
                    text, spans, vecs = doc_chunks(p, pool, vectors)
                    meta = {"title": p.title, "publisher": p.publisher, "year": p.year, "language": "en",
                            "doc_type": "text"}
                    chunks = [Chunk(chunk_id(p.source, None, s), p.source, None, a, b, s, dict(meta))
                              for a, b, s in spans]
                    docs.append((p, text, chunks, vecs, meta))
                t1 = time.perf_counter()
                shas = [file_hash(SourceFile(folder / p.source, p.source), settings) for p, *_ in docs]
                t2 = time.perf_counter()
                for (p, *_), sha in zip(docs, shas, strict=True):
                    store.mark_pending(p.source, sha)
                all_chunks = [c for _, _, chunks, _, _ in docs for c in chunks]
                store.add_vectors(all_chunks, np.concatenate([v for *_, v, _ in docs]))
                t3 = time.perf_counter()
                for (p, text, chunks, vecs, meta), sha in zip(docs, shas, strict=True):
                    page = Page(p.source, None, text)
                    store.commit_document(p.source, sha, {**meta, "path": str((folder / p.source).resolve())},
                                          [page], chunks, None, vecs)
                t4 = time.perf_counter()
                seconds["generate"] += t1 - t
                seconds["hash"] += t2 - t1
                seconds["chroma"] += t3 - t2
                seconds["ledger"] += t4 - t3
                done += len(all_chunks)
                if time.monotonic() - last > 30:
                    last = time.monotonic()
                    rate = done / (seconds["chroma"] + seconds["ledger"])
                    print(f"  {done:,} chunks, {rate:.0f}/s into the store", file=sys.stderr)
    finally:
        store.close()
    return seconds


def build_keyword(settings: Settings) -> float:
    from core.keyword import KeywordIndex
    from core.store import Store

    store = Store.open(settings)
    try:
        t = time.perf_counter()
        with store.write_lock():
            KeywordIndex.rebuild(store)
        return time.perf_counter() - t
    finally:
        store.close()


def english_questions() -> list[str]:
    out = []
    for path in QUESTIONS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and (row := json.loads(line)).get("language", "en") == "en":
                out.append(row["question"])
    return out


def query_phase(settings: Settings, n_queries: int, plans_file: Path, server: int) -> dict[str, Any]:
    """In a fresh process, as a UI would be: open, warm, then time hybrid retrieval without
    and with a publisher+year filter (publisher: a real name's family of offices, or one
    office; years from a random start)."""
    from assistant.retrieve import CANDIDATES, Filters, Retriever
    from core.store import Store
    from core.text import guess_language
    from ingest.embed import make_embedder

    reset_peak()
    t = time.perf_counter()
    store = Store.open(settings)
    retriever = Retriever(store, make_embedder(settings))
    questions = english_questions()
    retriever.search(questions[0], Filters(), 5)
    first = time.perf_counter() - t
    for q in questions:  # load what some questions need once (the language identifier), untimed
        guess_language(q)
    _, open_peak = rss_mb()
    rng = np.random.default_rng(SEED)
    docs = json.loads(plans_file.read_text())
    rows: dict[str, list[float]] = {"plain": [], "filtered": [], "embed": [], "dense": [], "keyword": [],
                                    "dense_f": [], "keyword_f": [], "cpu": [], "cpu_f": []}
    admitted = []
    for i in range(n_queries):
        q = questions[i % len(questions)]
        t, c = time.perf_counter(), time.process_time() + cpu_s(server)
        retriever.search(q, Filters(), 5)
        rows["plain"].append(time.perf_counter() - t)
        rows["cpu"].append(time.process_time() + cpu_s(server) - c)
        d = docs[int(rng.integers(0, len(docs)))]  # a publisher weighted as the library holds them
        publisher = d["publisher"] if rng.random() < 0.5 else d["publisher"].split(" (office")[0]
        f = Filters(publisher=publisher, year_min=int(rng.integers(2000, 2021)))
        t, c = time.perf_counter(), time.process_time() + cpu_s(server)
        result = retriever.search(q, f, 5)
        rows["filtered"].append(time.perf_counter() - t)
        rows["cpu_f"].append(time.process_time() + cpu_s(server) - c)
        assert all(publisher.lower() in (h.chunk.metadata.get("publisher") or "").lower() for h in result.hits)
        # the parts, with the vector already computed
        t = time.perf_counter()
        vector = retriever.embed_query(q)
        rows["embed"].append(time.perf_counter() - t)
        for name, filters in (("", Filters()), ("_f", f)):
            sources = retriever.matching_sources(filters)
            if name:
                admitted.append(len(sources or []))
            t = time.perf_counter()
            retriever.dense(vector, filters, sources, CANDIDATES)
            rows["dense" + name].append(time.perf_counter() - t)
            t = time.perf_counter()
            retriever.keyword(q, filters, sources, CANDIDATES)
            rows["keyword" + name].append(time.perf_counter() - t)
    ms = {k: (1000 * float(np.percentile(v, 50)), 1000 * float(np.percentile(v, 95))) for k, v in rows.items()}
    ms["cpu_mean"] = (1000 * float(np.mean(rows["cpu"])), 1000 * float(np.mean(rows["cpu_f"])))
    return {"ms": ms, "first_s": first, "open_peak_mb": open_peak, "peak_mb": rss_mb()[1],
            "admitted_docs_median": statistics.median(admitted) if admitted else 0, "queries": n_queries}


def run_child(args: list[str], out: Path) -> tuple[str, float, float]:
    """Run a child to completion; (its stdout, wall seconds, its peak RSS in MiB, sampled from
    VmHWM every 0.2 s: wait4's figure would include this process's size at the fork)."""
    t = time.perf_counter()
    peak = 0.0
    with open(out, "w") as fh, open(out.with_suffix(".err"), "w") as err:
        proc = subprocess.Popen(args, stdout=fh, stderr=err, cwd=REPO)
        while proc.poll() is None:
            with contextlib.suppress(OSError):
                peak = max(peak, rss_mb(proc.pid)[1])
            time.sleep(0.2)
    wall = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(args[:4])} failed ({proc.returncode}):\n{out.with_suffix('.err').read_text()[-3000:]}")
    return out.read_text(), wall, peak


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20 if path.exists() else 0.0


def hardware() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({model}), {mem / 2**20:.0f} GiB RAM"


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000, help="library size in chunks (50k documents at 1M)")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "lantern-scale",
                        help="cache and scratch folder (sentences, vectors, library files, store, Chroma data)")
    parser.add_argument("--queries", type=int, default=200, help="timed questions per kind")
    parser.add_argument("--keep", action="store_true", help="keep the store and Chroma data afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a store kept (--keep) by an earlier run of this size: skip the ingest, "
                             "rebuild the keyword index and measure the rest")
    parser.add_argument("--query-phase", type=Path, help=argparse.SUPPRESS)  # internal: the child process
    parser.add_argument("--chroma", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.query_phase:
        settings = Settings.load(environ={}, store=args.store, chroma=args.chroma)
        print(json.dumps(query_phase(settings, args.queries, args.query_phase, args.server_pid)))
        return

    work = args.work.resolve()
    run = work / f"run-{args.chunks}"
    saved = run / "ingest.json"
    if not (args.reuse and saved.exists()):
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
    started = time.perf_counter()
    base = Settings.load(environ={}, store=run / "store")
    pool = corpus_sentences(work)
    vectors = sentence_vectors(work, pool, base)
    plans = plan_library(args.chunks, pool, publishers())
    library = work / f"library-{args.chunks}"
    write_library(library, plans, pool, vectors)
    plans_file = run / "plans.json"
    plans_file.write_text(json.dumps([{"source": p.source, "publisher": p.publisher} for p in plans]))

    server, address = start_chroma(run / "chroma")
    results: dict[str, Any] = {}
    try:
        settings = Settings.load(environ={}, store=run / "store", chroma=address)
        if args.reuse and saved.exists():
            print(f"reusing the ingested store in {run}", file=sys.stderr)
            results.update(json.loads(saved.read_text()))
            shutil.rmtree(run / "store" / "keyword", ignore_errors=True)
        else:
            print(f"ingesting {args.chunks:,} chunks in {len(plans):,} documents into {address} ...", file=sys.stderr)
            reset_peak()
            t, c, cs = time.perf_counter(), time.process_time(), cpu_s(server.pid)
            results["ingest"] = ingest_library(settings, library, plans, pool, vectors)
            results["ingest_wall"] = time.perf_counter() - t
            results["ingest_cpu"] = time.process_time() - c
            results["server_ingest_cpu"] = cpu_s(server.pid) - cs
            results["ingest_peak"] = rss_mb()[1]
            results["server_ingest_peak"] = rss_mb(server.pid)[1]
            saved.write_text(json.dumps(results))

        print("building the keyword index ...", file=sys.stderr)
        reset_peak()
        before = rss_mb()[0]
        results["keyword_s"] = build_keyword(settings)
        results["keyword_peak"] = rss_mb()[1]
        results["keyword_base"] = before
        results["keyword_mb"] = folder_mb(run / "store" / "keyword")
        results["ledger_mb"] = sum(p.stat().st_size for p in (run / "store").glob("ledger.sqlite*")) / 2**20

        print("querying ...", file=sys.stderr)
        reset_peak(server.pid)
        out, _, _ = run_child([sys.executable, str(Path(__file__)), "--query-phase", str(plans_file),
                               "--store", str(run / "store"), "--chroma", address, "--queries", str(args.queries),
                               "--server-pid", str(server.pid)],
                              run / "query.json")
        results["query"] = json.loads(out)
        results["server_query_peak"] = rss_mb(server.pid)[1]

        print("unchanged re-run ...", file=sys.stderr)
        out, wall, peak = run_child([sys.executable, "-m", "app.cli", "ingest", str(library), "--store",
                                     str(run / "store"), "--chroma", address, "--json"], run / "rerun.json")
        rerun = json.loads(out)
        results["rerun"] = {"wall": wall, "unchanged": rerun["unchanged"], "added": rerun["added"],
                            "updated": rerun["updated"], "failed": len(rerun["failed"]), "peak": peak,
                            "timings": rerun.get("timings", {})}
        results["chroma_mb"] = folder_mb(run / "chroma")
        results["server_peak"] = rss_mb(server.pid)[1]
    finally:
        local_server.stop_process(server, 60)
    results["total_s"] = time.perf_counter() - started
    print_table(args.chunks, len(plans), results)
    (run / "results.json").write_text(json.dumps(results, indent=1))
    if not args.keep:
        shutil.rmtree(run / "store", ignore_errors=True)
        shutil.rmtree(run / "chroma", ignore_errors=True)


def print_table(chunks: int, docs: int, r: dict[str, Any]) -> None:
    ing = r["ingest"]
    into_store = ing["chroma"] + ing["ledger"]
    q = r["query"]["ms"]
    rows = [
        ("library", f"{chunks:,} chunks in {docs:,} documents"),
        ("ingest into the store (Chroma + ledger)", f"{chunks / into_store:,.0f} chunks/s ({into_store:,.0f} s: "
         f"Chroma {ing['chroma']:,.0f} s, ledger {ing['ledger']:,.0f} s); wall {r['ingest_wall']:,.0f} s with "
         f"generating {ing['generate']:,.0f} s and hashing {ing['hash']:,.0f} s; CPU: Chroma server "
         f"{r['server_ingest_cpu']:,.0f} s, bench {r['ingest_cpu']:,.0f} s"),
        ("keyword index build", f"{r['keyword_s']:,.0f} s, peak RSS {r['keyword_peak']:,.0f} MiB "
         f"(process at {r['keyword_base']:,.0f} MiB before), {r['keyword_mb']:,.0f} MiB on disk"),
        ("ledger size", f"{r['ledger_mb']:,.0f} MiB"),
        ("Chroma data", f"{r['chroma_mb']:,.0f} MiB"),
        ("hybrid query p50 / p95, no filter", f"{q['plain'][0]:.0f} / {q['plain'][1]:.0f} ms"),
        ("hybrid query p50 / p95, publisher + year", f"{q['filtered'][0]:.0f} / {q['filtered'][1]:.0f} ms "
         f"(median {r['query']['admitted_docs_median']:,.0f} documents admitted)"),
        ("  CPU per query, mean (client + Chroma server)", f"{q['cpu_mean'][0]:.0f} ms no filter, "
         f"{q['cpu_mean'][1]:.0f} ms with the filter"),
        ("  parts p50/p95: embed", f"{q['embed'][0]:.0f} / {q['embed'][1]:.0f} ms"),
        ("  dense (Chroma), no filter / filter", f"{q['dense'][0]:.0f} / {q['dense'][1]:.0f} ms; "
         f"{q['dense_f'][0]:.0f} / {q['dense_f'][1]:.0f} ms"),
        ("  keyword (bm25s), no filter / filter", f"{q['keyword'][0]:.0f} / {q['keyword'][1]:.0f} ms; "
         f"{q['keyword_f'][0]:.0f} / {q['keyword_f'][1]:.0f} ms"),
        ("query process: first answer, peak RSS", f"{r['query']['first_s']:.1f} s, {r['query']['peak_mb']:,.0f} MiB"),
        ("peak RSS: bench process (ingest)", f"{r['ingest_peak']:,.0f} MiB"),
        ("peak RSS: Chroma server (ingest / queries / overall)",
         f"{r['server_ingest_peak']:,.0f} / {r['server_query_peak']:,.0f} / {r['server_peak']:,.0f} MiB"),
        ("unchanged re-run (`lantern ingest`)", f"{r['rerun']['wall']:.1f} s wall, {r['rerun']['unchanged']:,} "
         f"unchanged, {r['rerun']['added'] + r['rerun']['updated']} re-ingested, {r['rerun']['failed']} failed, "
         f"peak RSS {r['rerun']['peak']:,.0f} MiB"),
        ("bench wall time", f"{r['total_s']:,.0f} s"),
        ("hardware", hardware()),
    ]
    width = max(len(a) for a, _ in rows)
    print(f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|---|")
    for a, b in rows:
        print(f"| {a:<{width}} | {b} |")


if __name__ == "__main__":
    main()
