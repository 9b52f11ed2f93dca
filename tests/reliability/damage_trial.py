"""One damaged-store trial, in a fresh process (`test_store_damage.py` runs it per case).

    python damage_trial.py STORE REL HOW SEED BACKUP QUESTIONS_JSON

Damages STORE/REL (HOW: deleted, truncated, overwritten, or none), then runs `lantern status`,
`lantern doctor`, the documented repair (the backup for the ledger, `lantern doctor --repair`
for the rest), `lantern doctor` again, and asks the questions; prints one JSON line.

Why a process per trial: every trial store is a copy of one store, so all hold the same Chroma
segment ids, and Chroma keeps vector indexes cached per segment id for the life of a process: a
second trial in the same process may read the first one's index (measured: a segfault).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from core.settings import Settings, offline_environment  # noqa: E402

offline_environment()


def damage(path: Path, how: str, seed: int) -> None:
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 3)
    elif how == "overwritten":
        path.write_bytes(np.random.default_rng(seed).bytes(max(path.stat().st_size, 64)))


def lantern(store: Path, *args: str) -> tuple[int, str, str]:
    from app.cli import main

    command, *rest = args
    extra = ["--embed-backend", "hash"] if command in ("ask", "doctor") else []
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([command, *rest, "--store", str(store), *extra])
    return code, out.getvalue(), err.getvalue()


def answers(store: Path, questions: list[str]) -> dict[str, dict]:
    from assistant.api import Lantern

    with Lantern.open(settings=Settings.load(environ={}, store=store, embed_backend="hash")) as lt:
        out = {}
        for q in questions:
            answer = lt.ask(q).to_dict()
            answer.pop("timings_ms")
            out[q] = answer
        return out


def main() -> None:
    store, rel, how, seed, backup, questions = sys.argv[1:7]
    store_dir = Path(store)
    result: dict = {"rel": rel, "how": how}
    if how != "none":
        damage(store_dir / rel, how, int(seed))
        code, out, err = lantern(store_dir, "status")
        result["status"] = out + err
        result["seen_by_status"] = (code == 1 and err.startswith("lantern: ") and err.count("\n") == 1) or "problem:" in out
        result["seen_by_doctor"] = lantern(store_dir, "doctor")[0] == 1
        if result["seen_by_status"]:
            if rel == "ledger.sqlite":
                shutil.copy2(backup, store_dir / rel)
                result["repair"] = 0
            else:
                code, out, err = lantern(store_dir, "doctor", "--repair")
                result["repair"], result["repair_output"] = code, out + err
            result["doctor_after"] = lantern(store_dir, "doctor")[0]
    result["answers"] = answers(store_dir, json.loads(questions))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
