"""Hostile files: one `lantern ingest` over hundreds of damaged, encrypted, empty, image-only,
huge, wrongly encoded, linked, unreadable and strangely named files. No traceback, no hang,
every bad file exactly one line naming it (escaped: no raw control character reaches the
terminal), every good file in the store, and a second run that changes nothing.

Root ignores file permissions: the ingest runs with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
dropped from its bounding set, so a mode-000 file is unreadable to it as to any user.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import settings_for

from core.store import Store
from core.text import terminal_safe

from .harness import CORPUS, FULL, clean_env, lantern_argv, record, scale
from .hostile import Case, make_hostile, restore_permissions

pytestmark = [pytest.mark.integration, pytest.mark.promise("hostile")]

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _as_a_user() -> None:
    """preexec_fn: root loses its power to read any file, as a user running Lantern has none."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


def _ingest(root: Path, store: Path, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run(lantern_argv("ingest", root, "--store", store, "--embed-backend", "hash"),
                          capture_output=True, text=True, timeout=900, cwd=cwd, env=clean_env(),
                          preexec_fn=_as_a_user)  # noqa: PLW1509 - only prctl, before exec
    return proc, time.monotonic() - started


def _lines_naming(err_lines: list[str], case: Case) -> list[str]:
    shown = terminal_safe(str(case.path))
    return [line for line in err_lines if line.startswith((f"failed: {shown}: ", f"skipped: {shown}: "))]


@pytest.mark.skipif(not CORPUS.is_dir() and not os.environ.get("LANTERN_TEST_STRICT"), reason="shared corpus absent")
def test_hostile_files_are_one_line_each_and_good_files_always_get_in() -> None:
    work = Path(tempfile.mkdtemp(prefix="lantern-hostile-"))
    try:
        root = work / "drive"
        cases = make_hostile(root, reps=scale(1, 7), quick=not FULL)
        proc, seconds = _ingest(root, work / "store", work)
        output = proc.stdout + proc.stderr
        assert "Traceback" not in output, output[-4000:]
        assert proc.returncode == 1, output[-4000:]  # some inputs failed, and the command said so
        for raw in ("\r", "\x1b", "\x07", "\u202e"):
            assert raw not in output, f"a raw {raw!r} reached the terminal"
        err_lines = [line for line in proc.stderr.splitlines() if line.strip()]

        store = Store.open(settings_for(work, store=work / "store"))
        try:
            sources = {d.source for d in store.documents()}
            pending = [d.source for d in store.documents(include_pending=True) if d.state != "complete"]
        finally:
            store.close()
        assert pending == []
        verdicts: Counter[str] = Counter()
        claimed: set[str] = set()
        for case in cases:
            lines = _lines_naming(err_lines, case)
            claimed.update(lines)
            source = case.path.relative_to(root).as_posix()
            stored = source in sources
            where = f"{case.kind} {case.path.name!r}: stored={stored}, lines={lines}"
            assert len(lines) + stored == 1, where  # in the store, or exactly one line: never both, never neither
            if case.expect != "either":
                assert stored == (case.expect == "in"), where
            verdicts["in" if stored else "out"] += 1
        unexplained = [line for line in err_lines if line not in claimed]
        assert unexplained == [], unexplained  # nothing else on stderr: no warnings, no second lines
        assert f"{len(sources)} documents" in proc.stdout

        again, _ = _ingest(root, work / "store", work)
        assert "Traceback" not in again.stdout + again.stderr
        assert f"0 added, 0 updated, {len(sources)} unchanged" in again.stdout, again.stdout
        assert sorted(again.stderr.splitlines()) == sorted(proc.stderr.splitlines())
    finally:
        restore_permissions(work)
        shutil.rmtree(work, ignore_errors=True)

    kinds = Counter(c.kind for c in cases)
    good = sum(c.expect == "in" for c in cases)
    record("hostile", files=len(cases), kinds=len(kinds), tracebacks=0, hangs=0, ingested=verdicts["in"],
           one_line=verdicts["out"], good_in=good, seconds=round(seconds, 1))
    if FULL:
        assert len(cases) >= 300
