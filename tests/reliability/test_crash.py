"""kill -9 during a fresh ingest and during an update: nothing lost, nothing duplicated, no
process left behind.

Each trial starts `lantern ingest` (its worker processes parse in parallel), waits until the
ledger shows a chosen number of committed documents (so the kills land at every stage: while
parsing, between the vectors and the commit, while the keyword index is written), then sends
SIGKILL to the ingest alone, as `kill -9 PID` would. Five seconds later none of its processes
may be alive; the next ingest must leave ledger = Chroma = keyword index = file copies, with
exactly the documents and chunks an uninterrupted run gives.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ledger_states

from .harness import (
    CORPUS,
    REPO,
    alive,
    assert_consistent,
    clean_env,
    copy_corpus,
    descendants,
    kill_all,
    lantern_argv,
    record,
    run_lantern,
    scale,
    store_parts,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
    pytest.mark.skipif(not CORPUS.is_dir() and not os.environ.get("LANTERN_TEST_STRICT"), reason="shared corpus absent"),
]

ORPHAN_WAIT = 5.0


def ingest_args(corpus: Path, store: Path, *extra: str) -> list[str]:
    return ["ingest", str(corpus), "--store", str(store), "--embed-backend", "hash", *extra]


def kill_during(args: list[str], store: Path, cwd: Path, ready, extra: float) -> dict:
    """Run `lantern ARGS`; SIGKILL it (alone) `extra` seconds after the ledger's document states
    first satisfy `ready`. Returns whether it was killed, when, its processes and what it left."""
    proc = subprocess.Popen(lantern_argv(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=cwd, env=clean_env())
    ledger = store / "ledger.sqlite"
    seen: set[int] = set()
    reached: float | None = None
    deadline = time.monotonic() + 600
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            seen |= descendants(proc.pid)
            if reached is None and ready(ledger_states(ledger) if ledger.exists() else []):
                reached = time.monotonic()
            if reached is not None and time.monotonic() - reached >= extra:
                seen |= descendants(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        proc.wait(timeout=60)
        killed_at = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    states = ledger_states(ledger)
    return {"killed": proc.returncode == -signal.SIGKILL, "at": killed_at, "children": seen,
            "complete": states.count("complete"), "pending": states.count("pending")}


def finish_and_check(trial: dict, args: list[str], store: Path, cwd: Path, reference: dict) -> None:
    """The next run completes the store; the killed run's processes are gone 5 s after the kill."""
    done = run_lantern(*args, cwd=cwd)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    time.sleep(max(0.0, trial["at"] + ORPHAN_WAIT - time.monotonic()))
    orphans = [pid for pid in trial["children"] if alive(pid)]
    kill_all(orphans)
    assert orphans == [], f"{len(orphans)} processes of the killed ingest still alive {ORPHAN_WAIT} s later"
    parts = assert_consistent(store, reference["sources"])
    assert set(parts["ledger_ids"]) == set(reference["ledger_ids"]), "chunks lost or invented"
    assert parts["sha"] == reference["sha"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_corpus(tmp_path_factory.mktemp("crash") / "corpus")


@pytest.mark.promise("crash-ingest")
def test_kill_9_during_a_fresh_ingest_loses_and_leaves_nothing(corpus: Path, tmp_path: Path) -> None:
    rng = random.Random(9)
    args = ingest_args(corpus, tmp_path / "reference")
    assert run_lantern(*args, cwd=tmp_path).returncode == 0
    reference = store_parts(tmp_path / "reference")
    n_docs = len(reference["sources"])
    trials = scale(1, 10)
    kills, hit, children = 0, [], 0
    for i in range(trials * 2):
        if kills == trials:
            break
        store = tmp_path / f"store-{i}"
        args = ingest_args(corpus, store)
        k = (i * 3) % n_docs  # 0, 3, 6, 1, 4, ... documents committed, then a little more
        trial = kill_during(args, store, tmp_path, lambda s, k=k: s.count("complete") >= k and bool(s),
                            extra=rng.uniform(0, 0.3))
        if not trial["killed"]:
            continue  # the ingest finished first: not a kill, try another point
        kills += 1
        hit.append(trial["complete"])
        children = max(children, len(trial["children"]))
        finish_and_check(trial, args, store, tmp_path, reference)
        shutil.rmtree(store)
    assert kills == trials
    record("crash-ingest", kills=kills, documents=n_docs, committed_at_kill=f"{min(hit)}-{max(hit)}", lost=0,
           duplicated=0, orphans=0, processes=children)


def _edit(corpus: Path) -> None:
    """An update: three files changed in place, one replaced, one gone, two new."""
    for name in ("victim-support.md", "referral-mechanisms.md", "trafficking-definition.md"):
        path = corpus / "sample" / name
        path.write_text(path.read_text(encoding="utf-8") + "\n\n## Update\n\nReviewed after the inspection of "
                        f"{name[:-3].replace('-', ' ')} services; contact points were renamed.\n", encoding="utf-8")
    shutil.copyfile(CORPUS / "pdf" / "usdol-ilab-2021-findings-worst-forms-of-child-labor-cote-divoire.pdf",
                    corpus / "pdf" / "unodc-human-trafficking-indicators.pdf")
    (corpus / "sample" / "forced-labour-indicators.md").unlink()
    shutil.copyfile(CORPUS / "pdf" / "usdol-ilab-2021-findings-worst-forms-of-child-labor-uzbekistan.pdf",
                    corpus / "pdf" / "uzbekistan.pdf")
    (corpus / "new-notes.md").write_text("# Notes\n\nShelters report more referrals from labour inspectors.\n",
                                         encoding="utf-8")


@pytest.mark.promise("crash-update")
def test_kill_9_during_an_update_loses_and_leaves_nothing(tmp_path: Path) -> None:
    rng = random.Random(3)
    corpus = copy_corpus(tmp_path / "corpus")
    base = tmp_path / "base"
    assert run_lantern(*ingest_args(corpus, base), cwd=tmp_path).returncode == 0
    _edit(corpus)
    shutil.copytree(base, tmp_path / "reference")
    assert run_lantern(*ingest_args(corpus, tmp_path / "reference", "--prune"), cwd=tmp_path).returncode == 0
    reference = store_parts(tmp_path / "reference")
    trials = scale(1, 3)
    kills, hit = 0, []
    for i in range(trials * 3):
        if kills == trials:
            break
        store = tmp_path / f"store-{i}"
        shutil.copytree(base, store)
        args = ingest_args(corpus, store, "--prune")
        # from the update's first write (a document marked pending), a random moment later
        trial = kill_during(args, store, tmp_path, lambda s: "pending" in s, extra=rng.uniform(0, 1.5))
        if not trial["killed"]:
            shutil.rmtree(store)
            continue
        kills += 1
        hit.append(trial["pending"])
        finish_and_check(trial, args, store, tmp_path, reference)
        shutil.rmtree(store)
    assert kills == trials
    record("crash-update", kills=kills, changed=7, pending_at_kill=f"{min(hit)}-{max(hit)}", lost=0, duplicated=0,
           orphans=0)


@pytest.mark.promise("crash-ingest")
def test_ingest_workers_die_with_a_killed_parent(corpus: Path, tmp_path: Path) -> None:
    """Three workers busy parsing; SIGKILL the ingest; none of them is alive 5 s later."""
    script = (
        "import sys; from pathlib import Path; from core.settings import Settings, offline_environment; "
        "offline_environment(); from ingest.pipeline import ingest; "
        "ingest([Path(sys.argv[1])], Settings.load(environ={}, store=sys.argv[2], embed_backend='hash'), workers=3)"
    )
    env = clean_env(PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", script, str(corpus), str(tmp_path / "store")], env=env)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers := descendants(proc.pid)) < 3:
            assert proc.poll() is None, "ingest ended before its workers could be seen"
            assert time.monotonic() < deadline, "no worker processes appeared"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(ORPHAN_WAIT)
        assert [pid for pid in workers if alive(pid)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_all(workers)
    record("crash-ingest", worker_kills=1)
