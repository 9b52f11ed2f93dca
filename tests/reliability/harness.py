"""What the reliability modules share: the quick/full switch, the table's records, a clean
`lantern` subprocess, process-tree helpers, the small corpus and the store consistency check.

Why a subprocess: the promises are about what a user's `lantern` command does (its exit code,
its stderr lines, what a kill -9 leaves), so the suite runs the real command, with this
checkout's code first on PYTHONPATH and no LANTERN_* or OPENAI_* variable from outside.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SAMPLE_CORPUS = REPO / "ingest" / "sample_corpus"

FULL = os.environ.get("LANTERN_RELIABILITY") == "full"  # set by `make reliability`
OUT = os.environ.get("LANTERN_RELIABILITY_OUT")  # where `run.py` collects the table's numbers

# Small real PDFs of the shared corpus (2 and 10 pages, each parsed in about a second): with the
# sample corpus, enough documents to kill a run in the middle of, few enough to keep the time.
SHARED_PDFS = (
    "unodc-human-trafficking-indicators.pdf",
    "usdol-ilab-2021-findings-worst-forms-of-child-labor-ghana.pdf",
)


def scale(quick: int, full: int) -> int:
    """How many cases: `quick` in the default run (make test), `full` under make reliability."""
    return full if FULL else quick


def record(row: str, **numbers: Any) -> None:
    """Add this test's numbers to its row of the `make reliability` table (summed per key)."""
    if OUT:
        with open(OUT, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"kind": "numbers", "row": row, "numbers": numbers}) + "\n")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Lantern's or OpenAI's variables, this checkout first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTERN_", "OPENAI_"))}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def lantern_argv(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "app.cli", *map(str, args)]


def run_lantern(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
                **popen: Any) -> subprocess.CompletedProcess[str]:
    """`lantern ARGS` in a subprocess; raises TimeoutExpired if it hangs past `timeout`."""
    return subprocess.run(lantern_argv(*args), capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=env or clean_env(), **popen)


def copy_corpus(dest: Path, pdfs: Iterable[str] = SHARED_PDFS, sample: bool = True) -> Path:
    """A small corpus: the bundled sample corpus (4 Markdown, 2 PDF) and a few shared PDFs."""
    dest.mkdir(parents=True, exist_ok=True)
    if sample:
        shutil.copytree(SAMPLE_CORPUS, dest / "sample", dirs_exist_ok=True)
    for name in pdfs:
        (dest / "pdf").mkdir(exist_ok=True)
        shutil.copy2(CORPUS / "pdf" / name, dest / "pdf" / name)
    return dest


# --- processes ------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Direct children of `pid` (from /proc)."""
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


def descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie waits only for a reaper


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


# --- the store --------------------------------------------------------------------------


def store_parts(store_dir: Path) -> dict[str, Any]:
    """The ledger, Chroma, the keyword index and the file copies of a store, as sets to compare."""
    from conftest import settings_for

    from core.keyword import KeywordIndex
    from core.store import Store

    settings = settings_for(store_dir.parent, store=store_dir)
    store = Store.open(settings)
    try:
        docs = store.documents(include_pending=True)
        ledger_ids = [c.id for c in store.chunks()]
        chroma_ids = store.collection.get(include=[])["ids"]
        keyword = KeywordIndex.load_saved(store)
        copies = {p.name for p in (store_dir / "files").iterdir()} if (store_dir / "files").is_dir() else set()
        return {
            "sources": {d.source for d in docs if d.state == "complete"},
            "pending": {d.source for d in docs if d.state != "complete"},
            "sha": {d.source: d.sha256 for d in docs},
            "ledger_ids": ledger_ids,
            "chroma_ids": chroma_ids,
            "chroma_count": store.collection.count(),
            "keyword_ids": list(keyword.ids),
            "keyword_generation": store.get_meta("keyword_generation"),
            "generation": str(store.generation),
            "file_copies": {d.file_copy for d in docs if d.file_copy},
            "copies_on_disk": copies,
        }
    finally:
        store.close()


def assert_consistent(store_dir: Path, expected_sources: set[str]) -> dict[str, Any]:
    """Ledger = Chroma = keyword index = file copies, every expected document complete, once."""
    parts = store_parts(store_dir)
    assert parts["pending"] == set(), parts["pending"]
    assert parts["sources"] == expected_sources, expected_sources ^ parts["sources"]
    ids = parts["ledger_ids"]
    assert len(ids) == len(set(ids)), "duplicate chunk ids in the ledger"
    assert len(parts["chroma_ids"]) == len(set(parts["chroma_ids"])) == parts["chroma_count"]
    assert set(parts["chroma_ids"]) == set(ids), "Chroma and the ledger disagree"
    assert sorted(parts["keyword_ids"]) == sorted(ids), "the keyword index and the ledger disagree"
    assert parts["keyword_generation"] == parts["generation"], "the keyword index is stale"
    assert parts["file_copies"] == parts["copies_on_disk"], "file copies and the ledger disagree"
    return parts
