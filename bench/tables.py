"""Tables as rows, measured: gold questions whose gold quote comes from a table, answered from two
stores of the whole shared corpus (or, with --gold-pdfs-only, of just their PDFs), one built with
table rows ("Header: value; …" lines from pdfplumber, the `pdf_tables` setting) and one without
(pypdf text alone).

A gold quote "comes from a table" when it is short and mostly numbers (t027's "Foreign National
2510 71% 2754 73% 3%"): at least two numeric tokens making up at least a quarter of its tokens,
at most 120 characters, and no sentence ending. Reports page hit@5 (a gold page among the top 5
retrieved) and required-fact recall of the offline answer, per question and overall, plus the
ingest time of each store.

Measured (whole shared corpus, MiniLM int8): pypdf only, page hit@5 0.80 and required-fact recall
0.18 (t027 and t130 miss their page). With table rows: not yet measured after rows were limited to
tables with a real header row and PDF rows with a label (a run on the shared 2-core machine under
load did not finish in time).

    python bench/tables.py [--embed onnx-int8|hash] [--questions ../shared/eval/*.jsonl]
                           [--gold-pdfs-only | --base-store STORE] [--work DIR]
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
_NUMBER = re.compile(r"^[\d$€£(]*\d[\d,.%)‡]*$")


def is_table_quote(quote: str) -> bool:
    """Whether a gold quote reads like a table row rather than a sentence."""
    tokens = quote.split()
    numeric = sum(1 for t in tokens if _NUMBER.match(t))
    return numeric >= 2 and numeric >= len(tokens) / 4 and len(quote) <= 120 and not quote.rstrip().endswith(".")


def table_questions(files: list[str]) -> list[dict[str, Any]]:
    """Answerable questions with at least one table-row gold quote in a PDF."""
    chosen = []
    for path in files:
        with open(path, encoding="utf-8") as fh:
            records = [json.loads(line) for line in fh if line.strip()]
        for q in records:
            gold = q.get("gold") or []
            if q.get("answerable") and any(g["file"].endswith(".pdf") and is_table_quote(g["quote"]) for g in gold):
                chosen.append(q)
    return chosen


def tabular_pdfs(corpus: Path) -> list[str]:
    """Sources of the corpus PDFs with a page pdf_tables would try (the only ones rows can change)."""
    from pypdf import PdfReader

    from ingest.tables import looks_tabular

    return [f"pdf/{p.name}" for p in sorted((corpus / "pdf").glob("*.pdf"))
            if any(looks_tabular(page.extract_text() or "") for page in PdfReader(str(p)).pages)]


def from_base(base: Path, folder: Path, embed: str, rows: bool) -> tuple[Any, float, int]:
    """A copy of an existing store of the whole shared corpus (built without table rows), brought
    up to date (in this process: worker pools forked after a store was opened here hung); for `rows`, the PDFs with tabular-looking pages are ingested again with their rows
    (every other file comes out the same either way). Saves two cold ingests of the corpus."""
    from core.settings import Settings
    from core.store import Store
    from ingest.pipeline import ingest

    shutil.rmtree(folder / "store", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(base, folder / "store")
    settings = Settings.load(environ={}, store=folder / "store", embed_backend=embed, pdf_tables=rows)
    ingest([SHARED / "corpus"], settings, workers=1)  # the base store may hold other versions of a few files
    if rows:
        store = Store.open(settings)
        try:
            with store.write_lock():
                for source in tabular_pdfs(SHARED / "corpus"):
                    store.remove_document(source)
        finally:
            store.close()
    start = time.perf_counter()
    report = ingest([SHARED / "corpus"], settings, workers=1)
    seconds = time.perf_counter() - start
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed}")
    return settings, seconds, report.chunks


def build_store(pdfs: list[Path] | None, folder: Path, embed: str, rows: bool) -> tuple[Any, float, int]:
    """A store of the whole shared corpus (or of `pdfs` alone, with their manifest rows), with or
    without table rows (the `pdf_tables` setting). Returns settings, ingest seconds and chunk count.
    A store left in `folder` by an earlier run is reused: only changed files are ingested again."""
    from core.settings import Settings
    from ingest.pipeline import ingest

    corpus = SHARED / "corpus"
    if pdfs is not None:
        corpus = folder / "corpus"
        shutil.rmtree(corpus, ignore_errors=True)
        (corpus / "pdf").mkdir(parents=True)
        for pdf in pdfs:
            (corpus / "pdf" / pdf.name).symlink_to(pdf)
        with open(pdfs[0].parent / "MANIFEST.csv", encoding="utf-8-sig") as fh:
            lines = fh.read().splitlines()
        names = {p.name for p in pdfs}
        kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(",", 1)[0].strip('"') in names]
        (corpus / "pdf" / "MANIFEST.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    settings = Settings.load(environ={}, store=folder / "store", embed_backend=embed, pdf_tables=rows)
    start = time.perf_counter()
    report = ingest([corpus], settings, workers=1)
    seconds = time.perf_counter() - start
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed}")
    return settings, seconds, report.chunks


def rows_on_gold_pages(questions: list[dict[str, Any]]) -> dict[str, int]:
    """How many row lines pdfplumber gives on each question's table gold pages (0: none found)."""
    from pypdf import PdfReader

    from ingest.tables import pdf_table_rows

    out = {}
    for q in questions:
        count = 0
        for g in q["gold"]:
            if g["file"].endswith(".pdf") and is_table_quote(g["quote"]):
                path = SHARED / "corpus" / g["file"]
                texts = [page.extract_text() or "" for page in PdfReader(str(path)).pages]
                count += len(pdf_table_rows(path, texts).get(int(g["page"]) - 1, []))
        out[q["id"]] = count
    return out


def score(settings: Any, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from assistant.api import Lantern
    from eval.metrics import required_fact_recall

    out = []
    with Lantern.open(settings=settings) as lantern:
        for q in questions:
            gold = {(g["file"], g["page"]) for g in q["gold"]}
            hits = lantern.retrieve(q["question"], top_k=5)
            answer = lantern.ask(q["question"])
            out.append({
                "id": q["id"],
                "page_hit@5": float(any((h.chunk.source, h.chunk.page) in gold for h in hits[:5])),
                "fact_recall": required_fact_recall(answer.text, q.get("required_facts") or []),
            })
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embed", default="onnx-int8", help="embedding backend (default: Lantern's default)")
    parser.add_argument("--questions", nargs="*", default=sorted(glob.glob(str(SHARED / "eval" / "*.jsonl"))))
    parser.add_argument("--gold-pdfs-only", action="store_true",
                        help="stores of the questions' PDFs alone instead of the whole shared corpus")
    parser.add_argument("--base-store", type=Path,
                        help="a store of the whole corpus without table rows to start both stores from (copied)")
    parser.add_argument("--rows-only", action="store_true", help="only the store with table rows (after a change to them)")
    parser.add_argument("--work", type=Path, help="folder for the two stores (kept and reused); default: a temp folder")
    args = parser.parse_args()

    from core.settings import offline_environment

    offline_environment()
    questions = table_questions(args.questions)
    names = sorted({g["file"].split("/", 1)[1] for q in questions for g in q["gold"] if g["file"].startswith("pdf/")})
    pdfs = [SHARED / "corpus" / "pdf" / n for n in names] if args.gold_pdfs_only else None
    print(f"{len(questions)} table questions ({', '.join(q['id'] for q in questions)}); stores of "
          f"{'their ' + str(len(names)) + ' PDFs' if pdfs else 'the whole shared corpus'}", flush=True)
    found = rows_on_gold_pages(questions)
    results: dict[str, list[dict[str, Any]]] = {}
    seconds: dict[str, float] = {}
    chunks: dict[str, int] = {}
    tmp = args.work or Path(tempfile.mkdtemp(prefix="lantern-tables-"))
    try:
        for label, rows in (("pypdf only", False), ("with table rows", True)):
            if args.rows_only and not rows:
                continue
            folder = tmp / label.replace(" ", "-")
            if args.base_store and not pdfs:
                settings, seconds[label], chunks[label] = from_base(args.base_store, folder, args.embed, rows)
            else:
                settings, seconds[label], chunks[label] = build_store(pdfs, folder, args.embed, rows)
            print(f"  {label}: ingest {seconds[label]:.1f} s", flush=True)
            results[label] = score(settings, questions)
    finally:
        if not args.work:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n| question | rows found on gold page | {' | '.join(f'{k} hit@5 / facts' for k in results)} |")
    print("|---|---|" + "---|" * len(results))
    for i, q in enumerate(questions):
        cells = [f"{r[i]['page_hit@5']:.0f} / {r[i]['fact_recall']:.2f}" for r in results.values()]
        print(f"| {q['id']} | {found[q['id']]} | {' | '.join(cells)} |")
    print()
    for label, rs in results.items():
        n = len(rs) or 1
        print(f"{label:16} page hit@5 {sum(r['page_hit@5'] for r in rs) / n:.3f}  "
              f"required-fact recall {sum(r['fact_recall'] for r in rs) / n:.3f}  "
              f"ingest {seconds[label]:.1f} s ({chunks[label]} chunks)")


if __name__ == "__main__":
    main()
