"""Drive Lantern's public API over a gold set, once per named configuration, and score it.

`lantern eval QUESTIONS --out DIR` calls `run_eval(settings, questions, out, ...)`, which
returns an `EvalReport`; notebooks and scripts call `evaluate(dataset, settings, configs)`,
which returns report.json's content. Scoring is in `eval.scoring`, aggregation in
`eval.aggregate`, the named configurations in `eval.configs`. Every
configuration except `baseline` goes through `Lantern.open(...).ask/.retrieve`, exactly what
a user or the UI gets, so a number in the report is a number a user would see.

Definitions (also written into each report under "definitions"):

* Retrieval is scored on answerable questions over the first 10 retrieved chunks. Keys
  are documents (the gold file) or pages (gold file and page; a Markdown treaty is one
  page, so any chunk of it counts). "@k" looks at the first k chunks; their keys are
  de-duplicated before scoring, so ranks count distinct documents or pages.
  `mrr` is document-level over the 10 chunks (reciprocal rank of the first gold document
  among the distinct documents retrieved), `ndcg@10` page-level.
* Answers are scored on answerable questions against `required_facts` (fact recall) and
  `reference_answer` (token F1), with [n] markers removed. An abstention on an answerable
  question scores 0 on both: declining is a failure to answer, not a missing value.
* Citations (ALCE-style) are scored per non-abstained answer: recall = share of answer
  sentences their cited passages support, precision = share of citations that support
  or are needed; support is judged lexically offline (and by the LLM as well, when an
  endpoint is configured). quote_verified = share of citations whose quote occurs
  verbatim (whitespace collapsed) on the cited page as the store holds it.
* Abstention: the positive class is "abstained on an unanswerable question".
* Latency: `Answer.timings["total_ms"]` of `ask` (retrieval + answer), per question.
"""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import SettingsError
from core.settings import Settings
from eval.aggregate import clean, summarise, worst_questions
from eval.configs import CONFIGS, DEFAULT_CONFIGS, DEFINITIONS, check_configs, list_configs
from eval.dataset import Dataset, load_dataset, validate_against
from eval.judges import LlamaJudges
from eval.records import QuestionRecord, RetrievedRef
from eval.scoring import DEPTH, Judge, answer_scores, citation_record, retrieval_scores

__all__ = ["CONFIGS", "DEFAULT_CONFIGS", "EvalReport", "check_configs", "evaluate", "evaluate_report",
           "list_configs", "run_eval"]  # fmt: skip

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class EvalReport:
    """One evaluation: report.json's content, the typed records behind it, and the files written."""

    data: dict[str, Any]  # report.json's content (rounded, NaN as None)
    records: dict[str, list[QuestionRecord]]  # per configuration, in run order
    written: list[Path] = field(default_factory=list)

    @property
    def configs(self) -> list[str]:
        return list(self.records)


# --------------------------------------------------------------------------- running one configuration


def _lantern_records(
    dataset: Dataset, settings: Settings, judges: LlamaJudges | None, progress: Progress
) -> tuple[list[QuestionRecord], dict[str, Any]]:
    """Ask every question through the public API; one record per question, plus run facts."""
    from assistant.answer import LLMClient
    from assistant.api import Lantern

    records: list[QuestionRecord] = []
    with Lantern.open(settings=settings) as lantern:
        judge: Judge | None = None
        if settings.llm_configured:
            judge = (lantern.llm or LLMClient(settings)).supports
        info = {"mode": lantern.mode, "fusion": settings.fusion, "top_k": settings.top_k}
        for i, q in enumerate(dataset, 1):
            hits = lantern.retrieve(q.question, top_k=DEPTH)
            answer = lantern.ask(q.question)
            keys = [(h.chunk.source, h.chunk.page) for h in hits]
            rec = QuestionRecord(
                question=q,
                retrieved=[RetrievedRef(s, p, float(h.score)) for (s, p), h in zip(keys, hits, strict=True)],
                abstained=answer.abstained,
                answer=answer.text,
                latency_ms=answer.timings.get("total_ms", math.nan),
                timings_ms=dict(answer.timings),
            )
            if q.answerable:
                rec.retrieval = retrieval_scores(q.gold, keys)
                rec.answer_scores = answer_scores(q.required_facts, q.reference_answer, answer.text, answer.abstained)
            if not answer.abstained:
                rec.citations = citation_record(answer, lantern.store.page_text, judge)
            if judges is not None and q.answerable and not answer.abstained:
                rec.llm_judged = judges.judge(q, answer.text, [h.chunk.text for h in answer.retrieved])
            records.append(rec)
            if i % 10 == 0 or i == len(dataset):
                progress(f"  {i}/{len(dataset)} questions")
    return records, info


def _baseline_records(
    dataset: Dataset, settings: Settings, work_dir: Path, progress: Progress
) -> tuple[list[QuestionRecord], dict[str, Any]]:
    """Score the plain llama-index pipeline: retrieval, and its top chunk as the 'answer'."""
    from core.store import Store
    from eval.baseline import build_baseline

    store = Store.open(settings)
    try:
        index = build_baseline(store, work_dir)
    finally:
        store.close()
    progress(
        f"  baseline index {'built' if index.built else 'reused'}: {index.chunks} chunks "
        f"from {index.documents} documents in {index.seconds:.1f} s"
    )
    records: list[QuestionRecord] = []
    for q in dataset:
        hits, ms = index.retrieve(q.question)
        text = hits[0].text if hits else ""
        rec = QuestionRecord(
            question=q,
            retrieved=[RetrievedRef(h.source, h.page, h.score) for h in hits],
            abstained=False,
            answer=text,
            latency_ms=ms,
        )
        if q.answerable:
            rec.retrieval = retrieval_scores(q.gold, [(h.source, h.page) for h in hits])
            rec.answer_scores = answer_scores(q.required_facts, q.reference_answer, text, False)
        records.append(rec)
    info = {
        "mode": "baseline",
        "index": str(index.path),
        "collection": index.collection,
        "chunks": index.chunks,
        "built": index.built,
        "index_seconds": round(index.seconds, 1),
        "parse_seconds": None if index.parse_seconds is None else round(index.parse_seconds, 1),
        "embed_seconds": None if index.embed_seconds is None else round(index.embed_seconds, 1),
        "notes": index.notes,
    }
    return records, info


# --------------------------------------------------------------------------- the library entry points


def _store_info(settings: Settings) -> dict[str, Any]:
    from core.store import Store

    store = Store.open(settings)
    try:
        return {
            "path": str(settings.store),
            "documents": len(store.documents()),
            "chunks": store.count_chunks(),
            "embedder": store.get_meta("embedder"),
            "sources": sorted(d.source for d in store.documents()),
        }
    finally:
        store.close()


def evaluate_report(
    dataset: Dataset,
    settings: Settings,
    configs: Sequence[str] | None = None,
    *,
    out: Path | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Run each named configuration over the dataset; the report and the typed records behind it.

    The top-level metric blocks are those of the first configuration; `configs` holds every
    configuration side by side. `out` is where the baseline caches its index (a temporary
    folder, deleted afterwards, when None).
    """
    progress = progress or _stderr
    names = check_configs(list(configs or DEFAULT_CONFIGS), settings)
    store = _store_info(settings)
    validate_against(dataset, set(store["sources"]))
    llm_note = None if settings.llm_configured else (
        "skipped: no LLM endpoint configured (set LANTERN_LLM_BASE_URL and LANTERN_LLM_MODEL to add "
        "llama-index Faithfulness/Correctness and LLM-judged citation support)"
    )
    judges = LlamaJudges(settings) if settings.llm_configured else None
    results: dict[str, Any] = {}
    per_question: dict[str, list[QuestionRecord]] = {}
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        for name in names:
            spec = CONFIGS[name]
            t0 = time.perf_counter()
            progress(f"eval: {name} ({len(dataset)} questions)")
            cfg_settings = settings.with_overrides(**spec["overrides"])
            if spec.get("baseline"):
                work = out / "baseline-index" if out else Path(stack.enter_context(tempfile.TemporaryDirectory()))
                records, info = _baseline_records(dataset, cfg_settings, work, progress)
                note: str | None = "not judged: the baseline's answer is its top chunk"
            else:
                records, info = _lantern_records(dataset, cfg_settings, judges, progress)
                note = llm_note
            summary = summarise(records, note)
            summary["description"] = spec["description"]
            summary["overrides"] = dict(spec["overrides"])
            summary["run"] = {**info, "seconds": round(time.perf_counter() - t0, 1)}
            results[name] = summary
            per_question[name] = records
            progress(f"eval: {name} done in {time.perf_counter() - t0:.1f} s")
    first = results[names[0]]
    report: dict[str, Any] = {
        "n": len(dataset),
        "config": names[0],
        **{k: first[k] for k in ("retrieval", "answers", "citations", "abstention", "latency_ms")},
        "configs": results,
        "by_category": first["by_category"],
        "by_language": first["by_language"],
        "llm_judged": first["llm_judged"],
        "worst": worst_questions(per_question[names[0]]),
        "dataset": {
            "path": str(dataset.path),
            "n": len(dataset),
            "answerable": len(dataset.answerable()),
            "unanswerable": len(dataset.unanswerable()),
            "categories": {c: len(qs) for c, qs in dataset.by_category().items()},
        },
        "store": {k: v for k, v in store.items() if k != "sources"},
        "definitions": DEFINITIONS,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "per_question": {name: [r.to_dict() for r in rs] for name, rs in per_question.items()},
    }
    return EvalReport(data=clean(report), records=per_question)


def evaluate(
    dataset: Dataset,
    settings: Settings,
    configs: Sequence[str] | None = None,
    *,
    out: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """report.json's content for the dataset (see `evaluate_report`)."""
    return evaluate_report(dataset, settings, configs, out=out, progress=progress).data


def run_eval(
    settings: Settings,
    questions: Path,
    out: Path | None,
    configs: Sequence[str] | None = None,
    *,
    limit: int | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """`lantern eval` as a function: load and check the gold set, run the configurations, write the report.

    `configs` are names from `CONFIGS` (default: Lantern and the plain llama-index baseline);
    `limit` keeps the first N questions; with `out`, report.json, report.md and the charts
    are written there (and the baseline index cached). Raises `DatasetError` naming the line
    of a bad question and `SettingsError` for a bad configuration or limit, before any work.
    """
    from eval.report import write_reports

    dataset = load_dataset(questions)
    if limit is not None:
        if limit < 1:
            raise SettingsError(f"--limit must be at least 1, got {limit}")
        dataset = Dataset(dataset.questions[:limit], dataset.path, dataset.lines)
    names = check_configs(list(configs or DEFAULT_CONFIGS), settings)
    report = evaluate_report(dataset, settings, names, out=out, progress=progress)
    if out is not None:
        report.written = write_reports(report.data, out)
    return report
