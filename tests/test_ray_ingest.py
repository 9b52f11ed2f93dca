"""`lantern ingest PATH --ray ADDRESS`: a real two-node Ray cluster on loopback (a head and one
worker node, started with `ray start` as a user would), a real `chroma run`, real PDFs. The
store it builds must equal a single-machine ingest of the same files, and a driver killed
mid-run must leave nothing that the next run does not complete.

Everything stays on this machine: the head binds 127.0.0.2 and the worker node 127.0.0.3, both
loopback (Ray swaps 127.0.0.1 and "localhost" for the machine's network address, so those two
are avoided), usage statistics are off, and no dashboard runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    BIN,
    CORPUS,
    REPO,
    copy_with_manifest,
    lantern_command,
    run_lantern,
    settings_for,
    unavailable,
)

from core.local_server import free_port
from core.store import Store

pytestmark = pytest.mark.integration

RAY_PDFS = (  # 2, 11 and 36 short pages
    "unodc-human-trafficking-indicators.pdf",
    "fbi-ucr-human-trafficking-2014.pdf",
    "uk-home-office-nrm-first-responder-form-offline-prompt-sheet-2026.pdf",
)
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"  # loopback addresses Ray keeps as given
OFFLINE = {"RAY_USAGE_STATS_ENABLED": "0"}


def _ray_env(**extra: str) -> dict[str, str]:
    """This checkout first on the nodes' path, so Ray workers run the code under test."""
    path = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, **OFFLINE, "PYTHONPATH": path, **extra}


def _agent_ports() -> list[str]:
    """Every fixed port a node would take, made free ones: two nodes share this machine."""
    return ["--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
            "--metrics-export-port", str(free_port()), "--runtime-env-agent-port", str(free_port())]


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _nodes_alive(address: str) -> int:
    probe = (f"import ray; ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False); "
             "print(sum(1 for n in ray.nodes() if n['Alive']))")
    done = subprocess.run([sys.executable, "-c", probe], env=_ray_env(), capture_output=True,
                          text=True, timeout=120)
    return int(done.stdout.strip() or 0) if done.returncode == 0 else 0


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A head and a worker node on loopback, one CPU each; yields the head's address."""
    ray = BIN / "ray"
    if not ray.exists():
        unavailable("Ray is not installed (pip install 'lantern[ray]')")
    temp = Path(tempfile.mkdtemp(prefix="lr", dir="/tmp"))  # Ray's socket paths must stay short
    port = free_port()
    address = f"{HEAD_IP}:{port}"
    common = ["--num-cpus", "1", "--object-store-memory", "100000000", "--block", "--disable-usage-stats",
              "--log-style", "record"]
    started: list[subprocess.Popen] = []
    logs = [open(temp / "head.log", "w"), open(temp / "worker.log", "w")]  # noqa: SIM115 - closed at teardown

    def fail(why: str) -> None:
        for log in logs:
            log.flush()
        tails = "\n".join(Path(log.name).read_text()[-1500:] for log in logs)
        pytest.fail(f"{why}:\n{tails}")

    try:
        started.append(subprocess.Popen(
            [str(ray), "start", "--head", "--port", str(port), "--node-ip-address", HEAD_IP,
             "--include-dashboard=false", "--dashboard-port", str(free_port()),
             "--ray-client-server-port", str(free_port()), "--temp-dir", str(temp), *_agent_ports(), *common],
            env=_ray_env(), stdout=logs[0], stderr=subprocess.STDOUT, start_new_session=True,
        ))
        deadline = time.monotonic() + 120
        while _nodes_alive(address) < 1:
            if started[0].poll() is not None or time.monotonic() > deadline:
                fail("the Ray head did not start")
            time.sleep(1)
        started.append(subprocess.Popen(
            [str(ray), "start", "--address", address, "--node-ip-address", WORKER_IP, *_agent_ports(), *common],
            env=_ray_env(), stdout=logs[1], stderr=subprocess.STDOUT, start_new_session=True,
        ))
        while _nodes_alive(address) < 2:
            if started[1].poll() is not None or time.monotonic() > deadline:
                fail("the Ray worker node did not join")
            time.sleep(1)
        yield address
    finally:
        # every process the two `ray start` commands began, ended by id (SIGKILL: a node
        # would otherwise drain for 30 s); their process groups catch any started since
        pids = [pid for proc in started for pid in (proc.pid, *_descendants(proc.pid))]
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        for log in logs:
            log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CORPUS.is_dir():
        unavailable("shared corpus not beside the checkout")
    folder = tmp_path_factory.mktemp("ray_corpus") / "pdf"
    copy_with_manifest(CORPUS / "pdf", RAY_PDFS, folder)
    return folder


@pytest.fixture(scope="module")
def local(pdfs: Path, tmp_path_factory: pytest.TempPathFactory):
    """Settings of the same files ingested on this machine alone (embedded Chroma, worker processes)."""
    from ingest.pipeline import ingest

    settings = settings_for(tmp_path_factory.mktemp("local"))
    report = ingest([pdfs], settings)
    assert report.added == len(RAY_PDFS) and not report.failed
    return settings


def _ingest(*args: str | Path) -> dict:
    done = run_lantern("ingest", *args, "--json", env=OFFLINE, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _contents(settings) -> tuple[dict, dict, dict]:
    """(documents' metadata, chunk texts, vectors) by source / chunk id, read back from the store."""
    store = Store.open(settings)
    try:
        docs = {d.source: (d.state, d.title, d.publisher, d.year, d.pages, d.chunks, d.sha256)
                for d in store.documents(include_pending=True)}
        chunks = {c.id: (c.source, c.page, c.text) for c in store.chunks()}
        got = store.collection.get(include=["embeddings"])
        vectors = {i: np.asarray(v) for i, v in zip(got["ids"], got["embeddings"], strict=True)}
        assert len(got["ids"]) == len(set(got["ids"]))
        return docs, chunks, vectors
    finally:
        store.close()


def _same_store(a, b) -> None:
    docs_a, chunks_a, vectors_a = _contents(a)
    docs_b, chunks_b, vectors_b = _contents(b)
    assert docs_a == docs_b and len(docs_a) == len(RAY_PDFS)
    assert all(state == "complete" for state, *_ in docs_a.values())
    assert chunks_a == chunks_b, "same chunk ids, pages and texts"
    assert sorted(vectors_a) == sorted(chunks_a) == sorted(vectors_b), "Chroma holds exactly the ledger's chunks"
    assert min(float(vectors_a[i] @ vectors_b[i]) for i in chunks_a) >= 0.999


def test_ray_ingest_builds_the_store_a_single_machine_builds(
    ray_cluster: str, chroma_server: str, pdfs: Path, local, tmp_path: Path,
) -> None:
    distributed = settings_for(tmp_path / "ray", chroma=chroma_server, collection="ray")
    report = _ingest(pdfs, "--store", distributed.store, "--chroma", chroma_server, "--collection", "ray",
                     "--ray", ray_cluster)
    assert (report["added"], report["failed"]) == (len(RAY_PDFS), [])
    assert not (distributed.store / "chroma").exists(), "vectors belong on the Chroma server"
    _same_store(distributed, local)

    again = _ingest(pdfs, "--store", distributed.store, "--chroma", chroma_server, "--collection", "ray",
                    "--ray", ray_cluster)
    assert (again["unchanged"], again["added"], again["updated"]) == (len(RAY_PDFS), 0, 0)


def test_a_killed_ray_ingest_is_completed_by_the_next_run(
    ray_cluster: str, chroma_server: str, pdfs: Path, local, tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path / "ray", chroma=chroma_server, collection="killed")
    args = ["ingest", str(pdfs), "--store", str(settings.store), "--chroma", chroma_server,
            "--collection", "killed", "--ray", ray_cluster, "--json"]
    driver = subprocess.Popen([*lantern_command(), *args], env={**os.environ, **OFFLINE},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = settings.store / "ledger.sqlite"
    deadline = time.monotonic() + 240
    try:  # kill the driver as soon as it has begun writing a document
        while driver.poll() is None and time.monotonic() < deadline:
            if ledger.exists():
                try:
                    with sqlite3.connect(ledger, timeout=1) as db:
                        if db.execute("SELECT count(*) FROM documents").fetchone()[0]:
                            break
                except sqlite3.Error:
                    pass
            time.sleep(0.05)
    finally:
        driver.kill()
        driver.wait()
    assert driver.returncode == -signal.SIGKILL, "the driver was killed before it finished"
    report = _ingest(pdfs, "--store", settings.store, "--chroma", chroma_server, "--collection", "killed",
                     "--ray", ray_cluster)
    assert report["documents"] == len(RAY_PDFS) and not report["failed"]
    assert report["added"] + report["updated"] + report["unchanged"] == len(RAY_PDFS)
    assert report["added"] + report["updated"] >= 1, "the killed run left work for this one"
    _same_store(settings, local)


def test_an_unreachable_cluster_is_one_clear_error(pdfs: Path, tmp_path: Path) -> None:
    if shutil.which("ray", path=str(BIN)) is None:
        unavailable("Ray is not installed (pip install 'lantern[ray]')")
    address = f"{HEAD_IP}:{free_port()}"
    done = run_lantern("ingest", pdfs, "--store", tmp_path / "store", "--ray", address, env=OFFLINE, timeout=300)
    assert done.returncode == 1
    assert f"cannot join the Ray cluster at {address}" in done.stderr
    assert "Traceback" not in done.stderr
