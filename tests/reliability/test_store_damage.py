"""Damaged stores: every file of a store deleted, truncated and overwritten, each damage seen by
`lantern status` and `lantern doctor`, repaired by the documented command (`lantern doctor
--repair`; for the ledger, its backup), and the answers afterwards identical to the intact
store's. Also: a damaged ledger is one clear line, an emptied or deleted one beside indexes is
refused, and the keyword index is written back when it can be. Stores use the hashing embedder
(the real model is not the point here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_CORPUS, settings_for

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

from .harness import FULL, clean_env, record

pytestmark = pytest.mark.promise("damage")

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


def test_deleted_ledger_beside_indexes_is_one_line_never_a_new_store(store_dir: Path, capsys) -> None:
    ledger = store_dir / "ledger.sqlite"
    ledger.unlink()
    for command in (("status",), ("ask", QUESTION), ("ingest", str(SAMPLE_CORPUS)), ("doctor",)):
        code, _, err = lantern(capsys, store_dir, *command)
        assert code == 1, command
        one_line_error(err, f"the ledger {ledger} is damaged", "it is missing", "restore it from a backup")
    assert not ledger.exists()


# --- every file of a store, damaged once each way --------------------------------------------

MATRIX_QUESTIONS = (QUESTION, "Which indicators of forced labour should a first responder look for?",
                    "What does register entry 417 say about wage deductions?")
DAMAGES = ("deleted", "truncated", "overwritten")
# An empty lock file, recreated on use: nothing to detect or repair. Damage to one of Chroma's HNSW
# files may go unseen only where it changes no answer (measured: its upper-layer links, link_lists.bin,
# and some truncations of length.bin); the table lists each such case.
HARMLESS = {"write.lock"}
WORDS = ["referral", "shelter", "labour", "inspector", "victim", "consent", "debt", "recruitment", "agency", "passport", "wage", "employer", "document", "support", "indicator", "identification", "protection", "interview", "exploitation", "housing", "child", "guardian", "hotline", "court", "prosecution", "compensation", "deductions"]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store past Chroma's 1,000-vector sync threshold (so its HNSW segment files exist), built
    by `lantern ingest` from the sample corpus and a generated register."""
    root = tmp_path_factory.mktemp("matrix")
    corpus = root / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    rng = np.random.default_rng(12)
    entries = [f"Register entry {i}. " + " ".join(rng.choice(WORDS, 30)) + "." for i in range(1100)]
    (corpus / "register.md").write_text("# Case register\n\n" + "\n\n".join(entries), encoding="utf-8")
    settings = settings_for(root, embed_backend="hash", chunk_size=48)
    report = ingest([corpus], settings)
    assert not report.failed and report.chunks > 1000
    return root / "store"


def _trial(intact: Path, trial: Path, rel: str, how: str, seed: int) -> dict:
    """Copy the store, damage one file, check, repair and ask, in a fresh process (damage_trial.py)."""
    shutil.copytree(intact, trial)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("damage_trial.py")), str(trial), rel, how, str(seed),
         str(intact / "ledger.sqlite"), json.dumps(MATRIX_QUESTIONS)],
        capture_output=True, text=True, timeout=600, env=clean_env(),
    )
    shutil.rmtree(trial, ignore_errors=True)
    assert proc.returncode == 0, f"{how} {rel}: the trial process failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.splitlines()[-1])


def _cases(store: Path) -> list[tuple[str, str]]:
    """Every file of the store damaged once (the three damages in turn), and the files that matter
    most (ledger, Chroma's database and vectors, the keyword index's manifest) all three ways. The
    default run takes one file of each part."""
    files = sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())
    core = {"ledger.sqlite", "chroma/chroma.sqlite3", "keyword/lantern.json"}
    core.add(next(f for f in files if f.endswith("data_level0.bin")))
    if not FULL:
        pick = sorted(core) + ["write.lock", next(f for f in files if f.startswith("files/"))]
        return [(f, DAMAGES[i % 3]) for i, f in enumerate(pick)]
    cases = [(f, DAMAGES[i % 3]) for i, f in enumerate(files)]
    return cases + [(f, how) for f in sorted(core) for how in DAMAGES if (f, how) not in cases]


@pytest.mark.integration  # a process per trial
def test_every_store_file_damaged_is_seen_repaired_and_answers_are_identical(matrix: Path, tmp_path: Path) -> None:
    intact = matrix
    baseline = _trial(intact, tmp_path / "baseline", "-", "none", 0)["answers"]
    cases = _cases(intact)
    assert any(f.startswith("chroma/") and f.endswith(".bin") for f, _ in cases)
    detected = repaired = identical = 0
    harmless: list[str] = []
    failures: list[str] = []
    for i, (rel, how) in enumerate(cases):
        result = _trial(intact, tmp_path / f"trial-{i}", rel, how, seed=i)
        where = f"{how} {rel}"
        if result["seen_by_status"] != result["seen_by_doctor"]:
            failures.append(f"{where}: status and doctor disagree ({result['status']})")
        elif result["seen_by_status"]:
            detected += 1
            if result["repair"] != 0 or result["doctor_after"] != 0:
                failures.append(f"{where}: not repaired ({result.get('repair_output', '')})")
            else:
                repaired += 1
        elif rel in HARMLESS or rel.startswith("chroma/"):  # unseen: allowed only if no answer changes
            harmless.append(f"{how} {Path(rel).name}")
        else:
            failures.append(f"{where}: not seen ({result['status']})")
        if result["answers"] == baseline:
            identical += 1
        else:
            failures.append(f"{where}: answers differ from the intact store's")
    assert failures == [], failures
    record("damage", files=len({f for f, _ in cases}), cases=len(cases), detected=detected, repaired=repaired,
           answers_identical=identical, unseen_but_harmless=len(harmless), harmless_cases=", ".join(harmless))
