"""Concurrent writers and readers on one store: ingests started together take turns on the
write lock and all succeed; questions asked from another process while they write are all
answered (no error, no wait for the writers); afterwards ledger = Chroma = keyword index =
file copies, holding every writer's documents.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .harness import (
    CORPUS,
    assert_consistent,
    clean_env,
    copy_corpus,
    lantern_argv,
    record,
    run_lantern,
    scale,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.promise("concurrency"),
    pytest.mark.skipif(not CORPUS.is_dir() and not os.environ.get("LANTERN_TEST_STRICT"), reason="shared corpus absent"),
]

QUESTIONS = (
    "What is a reasonable grounds decision?",
    "Which indicators of forced labour should a first responder look for?",
    "Who can refer a potential victim?",
    "What support is offered to victims?",
)

# One process, one Lantern, several threads asking while other processes ingest: one JSON line per answer.
READER = """
import json, sys, threading
from core.settings import Settings, offline_environment
offline_environment()
from assistant.api import Lantern
store, n, questions = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
lantern = Lantern.open(settings=Settings.load(environ={}, store=store, embed_backend="hash"))
lock = threading.Lock()
def ask(i):
    q = questions[i % len(questions)]
    try:
        a = lantern.ask(q)
        line = {"ok": True, "abstained": a.abstained, "sources": len({c.source for c in a.citations})}
    except Exception as exc:
        line = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    with lock:
        print(json.dumps(line), flush=True)
threads = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_writers_take_turns_and_readers_are_answered_meanwhile(tmp_path: Path) -> None:
    store = tmp_path / "store"
    base = copy_corpus(tmp_path / "base", pdfs=())
    assert run_lantern("ingest", base, "--store", store, "--embed-backend", "hash", cwd=tmp_path).returncode == 0
    writers = scale(2, 3)
    asks = scale(8, 40)
    folders = []
    for i in range(writers):
        folder = tmp_path / f"batch-{i}"
        folder.mkdir()
        shutil.copy2(CORPUS / "pdf" / "unodc-human-trafficking-indicators.pdf", folder / f"indicators-{i}.pdf")
        (folder / f"notes-{i}.md").write_text(f"# Field notes {i}\n\nShelter staff in region {i} referred "
                                              f"{10 + i} people after labour inspections.\n", encoding="utf-8")
        folders.append(folder)
    env = clean_env()
    started = time.monotonic()
    procs = [subprocess.Popen(lantern_argv("ingest", f, "--store", store, "--embed-backend", "hash"), cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in folders]
    reader = subprocess.run([sys.executable, "-c", READER, str(store), str(asks), json.dumps(QUESTIONS)],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    reader_done = time.monotonic()
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0 and "Traceback" not in err, err[-3000:]
    writers_done = time.monotonic()
    assert reader.returncode == 0, reader.stderr[-3000:]
    answers = [json.loads(line) for line in reader.stdout.splitlines()]
    errors = [a["error"] for a in answers if not a["ok"]]
    assert len(answers) == asks and errors == [], errors
    answered = sum(not a["abstained"] for a in answers)
    assert answered > 0
    expected = {f"sample/{p.name}" for p in (base / "sample").iterdir() if p.name != "MANIFEST.csv"}
    expected |= {p.name for f in folders for p in f.iterdir()}
    assert_consistent(store, expected)
    record("concurrency", writers=writers, asks=asks, errors=0, answered=answered,
           reader_seconds=round(reader_done - started, 1), writer_seconds=round(writers_done - started, 1))
