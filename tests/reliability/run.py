"""`make reliability`: the whole reliability suite at full counts, then one table row per promise.

Runs pytest over tests/reliability with LANTERN_RELIABILITY=full; each test writes its numbers
and its outcome to a results file (see harness.record and conftest.py), and a row "holds" only
when every test of that row passed. Exit status: pytest's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# row → (promise, how its numbers read)
ROWS: dict[str, tuple[str, str]] = {
    "hostile": ("hostile files",
                "{files} files of {kinds} kinds: {tracebacks} tracebacks, {hangs} hangs; {one_line} left out with "
                "exactly one line each, {ingested} ingested (all {good_in} good files in); a second run changes "
                "nothing ({seconds} s)"),
    "crash-ingest": ("kill -9 during fresh ingest",
                     "{kills} kills at {committed_at_kill} of {documents} documents committed, plus {worker_kills} "
                     "with 3 busy workers: {lost} lost, {duplicated} duplicated ids, ledger = Chroma = keyword index "
                     "= file copies after the next run, {orphans} orphan processes 5 s after the kill"),
    "crash-update": ("kill -9 during update",
                     "{kills} kills ({changed} files changed, added or gone; {pending_at_kill} documents pending at "
                     "the kill): {lost} lost, {duplicated} duplicated ids, consistent after the next run, {orphans} "
                     "orphan processes"),
    "damage": ("damaged store files",
               "{cases} damages over all {files} files of a store (each file once, deleted, truncated or "
               "overwritten in turn; the ledger, chroma.sqlite3, the HNSW vectors and the keyword manifest all "
               "three ways): {detected} seen by status and doctor, {repaired} repaired by the documented command; "
               "{unseen_but_harmless} unseen but harmless ({harmless_cases}); answers identical to the intact "
               "store in {answers_identical}/{cases}"),
    "concurrency": ("concurrent writers and readers",
                    "{writers} ingests at once and {asks} questions meanwhile: {errors} errors, {answered} answered, "
                    "store consistent (questions done in {reader_seconds} s, writers in {writer_seconds} s)"),
    "llm": ("LLM misbehaviour and injections",
            "{injection_documents} injection documents, {obeyed_replies} obeyed replies: {injected_shown} injected "
            "sentences shown; invented, uncited and out-of-range sentences removed; endpoint down, stalled, 500, "
            "429: one line each ({down_seconds} / {stalled_seconds} / {error_500_seconds} / {error_429_seconds} s)"),
    "crawler": ("crawler vs misbehaving servers",
                "{hostile_urls} hostile URLs (slow-loris headers and body, endless body, loops, 404/500, fake PDF): "
                "one reason each, {robots_skips} robots.txt skip, {hangs} hangs ({crawl_seconds} s); a flood of "
                "{flood_links} links per page stopped at {flood_pages_fetched} pages; a crawl keeping nothing says why"),
    "network": ("network guard",
                "ingest, status, ask and ui (a question asked through it), OPENAI_API_KEY set: {python_socket_events} "
                "Python socket events, {outside_loopback} outside loopback; strace {strace}: {native_outside} native "
                "connects outside loopback"),
}


def summarise(results: Path) -> tuple[list[tuple[str, str, str]], bool]:
    numbers: dict[str, dict[str, Any]] = defaultdict(dict)
    outcomes: dict[str, list[str]] = defaultdict(list)
    for line in results.read_text(encoding="utf-8").splitlines() if results.exists() else []:
        item = json.loads(line)
        if item["kind"] == "numbers":
            for key, value in item["numbers"].items():
                old = numbers[item["row"]].get(key)
                numbers[item["row"]][key] = old + value if isinstance(value, int) and isinstance(old, int) else value
        else:
            outcomes[item["row"]].append(item["outcome"])
    rows, all_hold = [], True
    for row, (promise, template) in ROWS.items():
        ran = outcomes.get(row, [])
        holds = bool(ran) and all(o == "passed" for o in ran) and row in numbers
        all_hold &= holds
        try:
            text = template.format(**numbers[row])
        except KeyError as missing:
            text = f"(numbers incomplete: {missing} missing) {numbers.get(row, {})}"
        verdict = "holds" if holds else ("FAILS" if ran else "NOT RUN")
        rows.append((promise, verdict, text))
    return rows, all_hold


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lantern-reliability-") as tmp:
        results = Path(tmp) / "results.jsonl"
        env = {**os.environ, "LANTERN_RELIABILITY": "full", "LANTERN_RELIABILITY_OUT": str(results)}
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                                str(HERE), *sys.argv[1:]], cwd=REPO, env=env)
        minutes = (time.monotonic() - started) / 60
        rows, all_hold = summarise(results)
    width = max(len(p) for p, _, _ in rows)
    print(f"\nLantern reliability suite: {minutes:.1f} min on {os.cpu_count()} cores\n")
    print(f"| {'promise':<{width}} | verdict | numbers |")
    print(f"|{'-' * (width + 2)}|---------|---------|")
    for promise, verdict, text in rows:
        print(f"| {promise:<{width}} | {verdict:<7} | {text} |")
    return code or (0 if all_hold else 1)


if __name__ == "__main__":
    sys.exit(main())
