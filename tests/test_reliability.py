"""Nothing lost, nothing leaked, nothing hangs: a damaged store is reported and repaired, a
damaged ledger is one clear line, OpenAI's variables never switch on remote calls, and ingest
workers die with their parent. Stores use the hashing embedder (the real model is not the
point here); the tests that start processes or load the ONNX model are marked integration.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, REPO, SAMPLE_CORPUS, needs_shared, settings_for

from app.cli import main
from assistant.api import Lantern
from core.errors import StoreError
from core.keyword import KeywordIndex
from core.settings import Settings
from core.store import Store
from core.store_check import check
from core.types import Chunk, Page
from ingest.embed import HashEmbedder
from ingest.pipeline import ingest

QUESTION = "What is a reasonable grounds decision?"


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the environment: only what a test sets counts."""
    for key in list(os.environ):
        if key.startswith(("LANTERN_", "OPENAI_")):
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of the bundled sample corpus (hashing embedder), to be copied by each test."""
    tmp = tmp_path_factory.mktemp("reliability")
    report = ingest([SAMPLE_CORPUS], settings_for(tmp, embed_backend="hash"))
    assert report.added == 6 and not report.failed
    return tmp / "store"


@pytest.fixture
def store_dir(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(built, target)
    return target


def lantern(capsys: pytest.CaptureFixture[str], store: Path, *args: str) -> tuple[int, str, str]:
    """`lantern ARGS --store STORE` in this process: (exit code, stdout, stderr)."""
    command, *rest = args
    extra = ["--embed-backend", "hash"] if command in ("ask", "doctor", "ingest") else []
    code = main([command, *rest, "--store", str(store), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("lantern: "), err
    for needle in needles:
        assert needle in lines[0], err


def dense_hits(store: Path) -> int:
    settings = settings_for(store.parent, store=store, embed_backend="hash")
    with Lantern.open(settings=settings) as lt:
        return sum("dense" in hit.via for hit in lt.retrieve(QUESTION))


# --- Chroma damage: seen, refused, repaired ---------------------------------------------

def test_deleted_chroma_shows_in_status_and_doctor_repairs_it(store_dir: Path, capsys) -> None:
    shutil.rmtree(store_dir / "chroma")
    code, out, _ = lantern(capsys, store_dir, "status")
    assert code == 0 and "problem: 40 of 40 passages in the ledger are missing from Chroma" in out
    assert f"to fix: lantern doctor --repair --store {store_dir}" in out
    code, out, _ = lantern(capsys, store_dir, "status", "--json")
    status = json.loads(out)
    assert [p["part"] for p in status["problems"]] == ["chroma"] and "doctor --repair" in status["fix"]

    code, _, err = lantern(capsys, store_dir, "ask", QUESTION)
    assert code == 1
    one_line_error(err, "missing from Chroma", "lantern doctor --repair")
    assert lantern(capsys, store_dir, "doctor")[0] == 1

    code, out, _ = lantern(capsys, store_dir, "doctor", "--repair")
    assert code == 0 and "rebuilt Chroma from the ledger" in out and "40 passages put back" in out
    assert lantern(capsys, store_dir, "doctor")[0] == 0
    assert dense_hits(store_dir) > 0


def test_truncated_chroma_is_one_line_then_repaired(store_dir: Path, capsys) -> None:
    with open(store_dir / "chroma" / "chroma.sqlite3", "r+b") as fh:
        fh.truncate(50_000)
    code, _, err = lantern(capsys, store_dir, "ask", QUESTION)
    assert code == 1
    one_line_error(err, "cannot be opened", "lantern doctor --repair")
    code, out, _ = lantern(capsys, store_dir, "doctor", "--repair")
    assert code == 0, out
    code, out, _ = lantern(capsys, store_dir, "ask", QUESTION)
    assert code == 0 and "[1]" in out


def _big_store(tmp_path: Path, n: int = 1200) -> Settings:
    """A store past Chroma's sync threshold (1,000), so that vectors live in the HNSW segment
    and not only in Chroma's log: built through the store's own writing methods."""
    settings = settings_for(tmp_path, embed_backend="hash")
    store = Store.open(settings, create=True)
    texts = [f"Passage {i} on shelter, referral and victim support number {i}." for i in range(n)]
    pages = [Page("big.md", None, "\n".join(texts))]
    chunks, at = [], 0
    for i, text in enumerate(texts):
        chunks.append(Chunk(f"big-{i}", "big.md", None, at, at + len(text), text, {"title": "Big", "language": "en"}))
        at += len(text) + 1
    with store.write_lock():
        store.check_embedder(HashEmbedder.name)
        store.mark_pending("big.md", "0" * 64)
        store.add_vectors(chunks, HashEmbedder().embed(texts))
        store.commit_document("big.md", "0" * 64, {"title": "Big"}, pages, chunks, None)
        KeywordIndex.rebuild(store)
    store.close()
    return settings


def test_lost_hnsw_segment_is_found_although_the_count_is_right(tmp_path: Path, capsys) -> None:
    settings = _big_store(tmp_path)
    root = Path(settings.store)
    segments = [p for p in (root / "chroma").iterdir() if p.is_dir()]
    assert segments
    for segment in segments:
        shutil.rmtree(segment)
    store = Store.open(settings)
    store.reopen_collection()  # as a new process would: this one's client keeps the index in memory
    assert store.collection.count() == 1200  # what a count-only check would trust
    problems = check(store)
    store.close()
    assert [p.code for p in problems] == ["vectors_lost"], problems
    code, out, _ = lantern(capsys, root, "doctor", "--repair")
    assert code == 0, out
    store = Store.open(settings)
    vector = HashEmbedder().embed(["Passage 7 on shelter"])[0]
    found = store.collection.query(query_embeddings=[vector.tolist()], n_results=50, include=[])
    store.close()
    assert len(found["ids"][0]) == 50


def test_ingest_heals_what_it_used_to_call_unchanged(store_dir: Path, tmp_path: Path) -> None:
    shutil.rmtree(store_dir / "chroma")
    shutil.rmtree(store_dir / "keyword")
    for copy in (store_dir / "files").iterdir():
        copy.unlink()
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    settings = settings_for(tmp_path, store=store_dir, embed_backend="hash")
    report = ingest([corpus], settings)
    assert report.unchanged == 6 and report.added == report.updated == 0
    assert any("rebuilt Chroma" in line for line in report.repaired)
    assert sum("restored the file copy" in line for line in report.repaired) == 6
    store = Store.open(settings)
    assert check(store) == []
    store.close()
    assert dense_hits(store_dir) > 0


# --- the ledger ---------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_damaged_ledger_is_one_line_naming_the_file(store_dir: Path, capsys, damage: str) -> None:
    ledger = store_dir / "ledger.sqlite"
    if damage == "truncated":
        with open(ledger, "r+b") as fh:
            fh.truncate(ledger.stat().st_size // 3)
    else:
        ledger.write_bytes(np.random.default_rng(1).bytes(100_000))
    for command in (("status",), ("ask", QUESTION), ("ingest", str(SAMPLE_CORPUS)), ("doctor",)):
        code, _, err = lantern(capsys, store_dir, *command)
        assert code == 1, command
        one_line_error(err, f"the ledger {ledger} is damaged", "restore it from a backup", "re-ingest")


def test_emptied_ledger_beside_indexes_is_refused_not_started_afresh(store_dir: Path, capsys) -> None:
    ledger = store_dir / "ledger.sqlite"
    for extra in store_dir.glob("ledger.sqlite-*"):
        extra.unlink()
    ledger.write_bytes(b"")
    code, _, err = lantern(capsys, store_dir, "ingest", str(SAMPLE_CORPUS))
    assert code == 1
    one_line_error(err, f"the ledger {ledger} is damaged", "empty")
    assert ledger.stat().st_size == 0  # nothing was written over it
    with pytest.raises(StoreError, match="is damaged"):
        Store.open(settings_for(store_dir.parent, store=store_dir), create=True)


# --- the keyword index ------------------------------------------------------------------

def test_missing_keyword_index_is_written_back_by_the_first_question(store_dir: Path) -> None:
    shutil.rmtree(store_dir / "keyword")
    settings = settings_for(store_dir.parent, store=store_dir, embed_backend="hash")
    with Lantern.open(settings=settings) as lt:
        assert not lt.ask(QUESTION).abstained
        saved = json.loads((store_dir / "keyword" / "lantern.json").read_text())
        assert saved["generation"] == lt.store.generation


def test_keyword_index_is_not_written_while_a_writer_holds_the_store(store_dir: Path) -> None:
    shutil.rmtree(store_dir / "keyword")
    settings = settings_for(store_dir.parent, store=store_dir, embed_backend="hash")
    writer = Store.open(settings)
    with writer.write_lock(), Lantern.open(settings=settings) as lt:
        started = time.monotonic()
        assert not lt.ask(QUESTION).abstained  # answered from an index built in memory
        assert time.monotonic() - started < 10  # did not wait for the lock
        assert not (store_dir / "keyword").exists()
    writer.close()


# --- nothing leaked -------------------------------------------------------------------

def test_openai_api_key_alone_does_not_switch_on_remote_calls() -> None:
    alone = Settings.load(environ={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "https://api.openai.com/v1"})
    assert not alone.use_llm and not alone.llm_api_key and not alone.llm_model
    named = Settings.load(environ={"OPENAI_API_KEY": "sk-test", "LANTERN_LLM_MODEL": "gpt-4o-mini"})
    assert named.use_llm and named.llm_api_key == "sk-test"
    local = Settings.load(environ={"OPENAI_API_KEY": "sk-test"}, llm_base_url="http://127.0.0.1:8080/v1",
                          llm_model="local")
    assert local.use_llm and local.llm_api_key == ""  # OpenAI's key never goes to another endpoint


@pytest.mark.integration
def test_onnx_session_switches_off_onnxruntime_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    from ingest.embed import OnnxMiniLM

    if not hasattr(onnxruntime, "disable_telemetry_events"):
        pytest.skip("this onnxruntime has no telemetry switch")
    calls: list[int] = []
    monkeypatch.setattr(onnxruntime, "disable_telemetry_events", lambda: calls.append(1))
    OnnxMiniLM(quantized=True, threads=1)
    assert calls


# --- nothing hangs on ---------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie waits only for a reaper


@pytest.mark.integration
@needs_shared
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ingest_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    pdfs = sorted((CORPUS / "pdf").glob("*.pdf"), key=lambda p: -p.stat().st_size)[:6]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for pdf in pdfs:
        shutil.copy2(pdf, corpus / pdf.name)
    script = (
        "import sys; from pathlib import Path; from core.settings import Settings, offline_environment; "
        "offline_environment(); from ingest.pipeline import ingest; "
        "ingest([Path(sys.argv[1])], Settings.load(environ={}, store=sys.argv[2], embed_backend='hash'), workers=3)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTERN_", "OPENAI_"))}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen([sys.executable, "-c", script, str(corpus), str(tmp_path / "store")], env=env)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers := _children(proc.pid)) < 3:
            assert proc.poll() is None, "ingest ended before its workers could be seen"
            assert time.monotonic() < deadline, "no worker processes appeared"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(5)
        assert [pid for pid in workers if _alive(pid)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
