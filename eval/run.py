"""Drive Lantern's public API over a gold set, once per named configuration, and score it.

`lantern eval QUESTIONS --out DIR` calls `main_eval`; notebooks and scripts call
`evaluate(dataset, settings, configs)`, which returns report.json's content. Every
configuration except `baseline` goes through `Lantern.open(...).ask/.retrieve`, exactly what
a user or the UI gets, so a number in the report is a number a user would see.

Definitions (also written into each report under "definitions"):

* Retrieval is scored on answerable questions over the first 10 retrieved chunks. Keys
  are documents (the gold file) or pages (gold file and page; a Markdown treaty is one
  page, so any chunk of it counts). "@k" looks at the first k chunks; their keys are
  de-duplicated before scoring, so ranks count distinct documents or pages.
  `mrr` is document-level over the 10 chunks, `ndcg@10` page-level.
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

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import SettingsError
from core.settings import Settings
from eval.dataset import Dataset, Question, load_dataset, validate_against
from eval.metrics import (
    abstention_scores,
    citation_scores,
    gold_doc_keys,
    gold_page_keys,
    hit_at_k,
    lexical_support,
    mean,
    ndcg_at_k,
    page_key,
    percentile,
    quote_verified,
    recall_at_k,
    reciprocal_rank,
    required_fact_recall,
    strip_citations,
    token_f1,
)

DEPTH = 10  # chunks retrieved for scoring: @1 and @5 look at the first ones, nDCG at all 10
N_WORST = 10

# Named configurations: plain data, listed by `lantern eval --list-configs`.
CONFIGS: dict[str, dict[str, Any]] = {
    "lantern": {
        "overrides": {},
        "description": "Lantern as configured: hybrid dense+keyword search fused by reciprocal rank; "
        "extractive answers offline, LLM answers when an endpoint is configured",
    },
    "dense": {"overrides": {"fusion": "dense"}, "description": "Lantern with the dense (MiniLM) half only"},
    "keyword": {"overrides": {"fusion": "keyword"}, "description": "Lantern with the BM25 keyword half only"},
    "weighted": {
        "overrides": {"fusion": "weighted"},
        "description": "Lantern with a weighted score sum (0.6 cosine + 0.4 BM25) instead of rank fusion",
    },
    "llm": {
        "overrides": {"answer_mode": "llm"},
        "needs_llm": True,
        "description": "Lantern with LLM answers (needs LANTERN_LLM_BASE_URL and LANTERN_LLM_MODEL)",
    },
    "baseline": {
        "overrides": {},
        "baseline": True,
        "description": "plain llama-index pipeline: pypdf pages, SentenceSplitter defaults (1,024 tokens), "
        "all-MiniLM-L6-v2, Chroma, dense top 5; its 'answer' is the top chunk's text and it never abstains",
    },
}
DEFAULT_CONFIGS: tuple[str, ...] = ("lantern", "baseline")

RETRIEVAL_KEYS = ("doc_hit@1", "doc_hit@5", "page_hit@1", "page_hit@5", "page_recall@5", "mrr", "ndcg@10")
ANSWER_KEYS = ("required_fact_recall", "token_f1")
DEFINITIONS = {
    "retrieval": "answerable questions; first 10 retrieved chunks; @k = first k chunks; keys de-duplicated "
    "before scoring; a Markdown file (gold page null) is one page; mrr document-level, ndcg@10 page-level",
    "answers": "answerable questions; [n] markers removed; an abstention scores 0",
    "citations": "non-abstained answers; ALCE-style per sentence, lexical support; precision averaged over "
    "answers with citations, recall over answers with scored sentences; quote_verified over all citations",
    "abstention": "positive class = abstained on an unanswerable question; false_refusal = abstentions on "
    "answerable questions / answerable questions",
    "latency_ms": "Answer.timings['total_ms'] per question (baseline: its retrieval time)",
}

Progress = Callable[[str], None]



def _question_fields(q: Question) -> dict[str, Any]:
    """The gold question's own fields, as every per-question record starts."""
    return {
        "id": q.id, "question": q.question, "category": q.category, "language": q.language,
        "answerable": q.answerable, "gold": [g.to_dict() for g in q.gold],
    }

def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _clean(value: Any) -> Any:
    """Round floats and turn NaN into None, so report.json is strict JSON a person can read."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _avg(values: Iterable[float | None]) -> float:
    """Mean of the defined values (nan when none)."""
    return mean(v for v in values if v is not None)


# --------------------------------------------------------------------------- per question


def retrieval_scores(q: Question, keys: Sequence[tuple[str, int | None]]) -> dict[str, float]:
    """Document- and page-level retrieval scores of one answerable question from ranked (source, page)."""
    docs = [s for s, _ in keys]
    pages = [page_key(s, p, q.gold) for s, p in keys]
    rel_docs, rel_pages = gold_doc_keys(q.gold), gold_page_keys(q.gold)
    return {
        "doc_hit@1": hit_at_k(docs[:1], rel_docs, 1),
        "doc_hit@5": hit_at_k(docs[:5], rel_docs, 5),
        "page_hit@1": hit_at_k(pages[:1], rel_pages, 1),
        "page_hit@5": hit_at_k(pages[:5], rel_pages, 5),
        "page_recall@5": recall_at_k(pages[:5], rel_pages, 5),
        "mrr": reciprocal_rank(docs[:DEPTH], rel_docs, DEPTH),
        "ndcg@10": ndcg_at_k(pages[:DEPTH], rel_pages, DEPTH),
    }


def answer_scores(q: Question, text: str, abstained: bool) -> dict[str, float]:
    """Fact recall and token F1 of one answerable question; an abstention scores 0."""
    if abstained:
        return {"required_fact_recall": 0.0, "token_f1": 0.0}
    plain = strip_citations(text)
    return {
        "required_fact_recall": required_fact_recall(plain, q.required_facts),
        "token_f1": token_f1(plain, q.reference_answer),
    }


def _citation_record(
    answer: Any, page_text: Callable[[str, int | None], str | None], judge: Callable[[str, str], bool] | None
) -> dict[str, Any]:
    """Citation scores of one Lantern answer, lexical and (with a judge) LLM, plus quote checks."""
    by_chunk = {h.chunk.id: h.chunk.text for h in answer.retrieved}
    sources: dict[int, str] = {}
    verified = 0
    unverified: list[dict[str, Any]] = []
    for c in answer.citations:
        page = page_text(c.source, c.page) or ""
        sources[c.n] = by_chunk.get(c.chunk_id) or page or c.quote
        if quote_verified(c.quote, page):
            verified += 1
        else:
            unverified.append({"n": c.n, "source": c.source, "page": c.page, "quote": c.quote})
    lexical = citation_scores(answer.text, sources, lexical_support)
    out: dict[str, Any] = {
        "n_sentences": lexical.n_sentences,
        "n_citations": lexical.n_citations,
        "precision": lexical.precision if lexical.n_citations else None,
        "recall": lexical.recall if lexical.n_sentences else None,
        "n_quotes": len(answer.citations),
        "n_verified": verified,
        "unverified": unverified,
    }
    if judge is not None:
        judged = citation_scores(answer.text, sources, judge)
        out["llm_precision"] = judged.precision if judged.n_citations else None
        out["llm_recall"] = judged.recall if judged.n_sentences else None
    return out


# --------------------------------------------------------------------------- LLM-judged extras


class _LlamaJudges:
    """llama-index Faithfulness and Correctness evaluators on the configured endpoint."""

    def __init__(self, settings: Settings):
        from llama_index.core.evaluation import CorrectnessEvaluator, FaithfulnessEvaluator
        from llama_index.llms.openai_like import OpenAILike

        llm = OpenAILike(
            model=settings.llm_model,
            api_base=settings.llm_base_url or "https://api.openai.com/v1",
            api_key=settings.llm_api_key or "not-needed",
            is_chat_model=True,
            timeout=settings.llm_timeout,
            max_retries=1,
        )
        self.faithfulness = FaithfulnessEvaluator(llm=llm)
        self.correctness = CorrectnessEvaluator(llm=llm)

    def judge(self, q: Question, text: str, contexts: list[str]) -> dict[str, Any]:
        """Faithfulness (pass/fail) and correctness (1-5) of one answer; an error is recorded, not raised."""
        out: dict[str, Any] = {}
        plain = strip_citations(text)
        try:
            res = self.faithfulness.evaluate(query=q.question, response=plain, contexts=contexts)
            out["faithfulness"] = 1.0 if res.passing else 0.0
        except Exception as exc:  # a judge failure must not stop the run
            out["faithfulness_error"] = f"{exc.__class__.__name__}: {exc}"[:300]
        try:
            res = self.correctness.evaluate(query=q.question, response=plain, reference=q.reference_answer)
            if res.score is not None:
                out["correctness"] = float(res.score)
                out["correctness_pass"] = 1.0 if res.passing else 0.0
            else:
                out["correctness_error"] = "the judge's reply had no score on its first line"
        except Exception as exc:  # likewise
            out["correctness_error"] = f"{exc.__class__.__name__}: {exc}"[:300]
        return out


# --------------------------------------------------------------------------- running one configuration


def _lantern_records(
    dataset: Dataset, settings: Settings, judges: _LlamaJudges | None, progress: Progress
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ask every question through the public API; one record per question, plus run facts."""
    from assistant.answer import LLMClient
    from assistant.api import Lantern

    records: list[dict[str, Any]] = []
    with Lantern.open(settings=settings) as lantern:
        judge: Callable[[str, str], bool] | None = None
        if settings.llm_configured:
            judge = (lantern.llm or LLMClient(settings)).supports
        info = {"mode": lantern.mode, "fusion": settings.fusion, "top_k": settings.top_k}
        for i, q in enumerate(dataset, 1):
            hits = lantern.retrieve(q.question, top_k=DEPTH)
            answer = lantern.ask(q.question)
            keys = [(h.chunk.source, h.chunk.page) for h in hits]
            rec: dict[str, Any] = {
                **_question_fields(q),
                "retrieved": [
                    {"source": s, "page": p, "score": round(float(h.score), 4)}
                    for (s, p), h in zip(keys, hits, strict=True)
                ],
                "abstained": answer.abstained,
                "answer": answer.text,
                "latency_ms": answer.timings.get("total_ms", math.nan),
                "timings_ms": dict(answer.timings),
            }
            if q.answerable:
                rec.update(retrieval_scores(q, keys))
                rec.update(answer_scores(q, answer.text, answer.abstained))
            rec["citations"] = (
                None if answer.abstained else _citation_record(answer, lantern.store.page_text, judge)
            )
            if judges is not None and q.answerable and not answer.abstained:
                rec["llm_judged"] = judges.judge(q, answer.text, [h.chunk.text for h in answer.retrieved])
            records.append(rec)
            if i % 10 == 0 or i == len(dataset):
                progress(f"  {i}/{len(dataset)} questions")
    return records, info


def _baseline_records(
    dataset: Dataset, settings: Settings, work_dir: Path, progress: Progress
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
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
    records: list[dict[str, Any]] = []
    for q in dataset:
        hits, ms = index.retrieve(q.question)
        keys = [(h.source, h.page) for h in hits]
        text = hits[0].text if hits else ""
        rec: dict[str, Any] = {
            **_question_fields(q),
            "retrieved": [{"source": h.source, "page": h.page, "score": round(h.score, 4)} for h in hits],
            "abstained": False,
            "answer": text,
            "latency_ms": ms,
            "citations": None,
        }
        if q.answerable:
            rec.update(retrieval_scores(q, keys))
            rec.update(answer_scores(q, text, False))
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


# --------------------------------------------------------------------------- aggregation


def _group_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The few numbers a per-category or per-language row shows."""
    answerable = [r for r in records if r["answerable"]]
    cites = [r["citations"] for r in records if r.get("citations")]
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "doc_hit@5": _avg(r["doc_hit@5"] for r in answerable),
        "page_hit@5": _avg(r["page_hit@5"] for r in answerable),
        "mrr": _avg(r["mrr"] for r in answerable),
        "ndcg@10": _avg(r["ndcg@10"] for r in answerable),
        "required_fact_recall": _avg(r["required_fact_recall"] for r in answerable),
        "token_f1": _avg(r["token_f1"] for r in answerable),
        "citation_precision": _avg(c["precision"] for c in cites),
        "citation_recall": _avg(c["recall"] for c in cites),
        "abstained": mean(1.0 if r["abstained"] else 0.0 for r in records),
    }


def _grouped(records: list[dict[str, Any]], field: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r[field]), []).append(r)
    return {name: _group_summary(rs) for name, rs in groups.items()}


def _llm_summary(records: list[dict[str, Any]], note: str | None) -> dict[str, Any]:
    """Averages of the LLM-judged extras, or the note saying why there are none."""
    judged = [r["llm_judged"] for r in records if r.get("llm_judged")]
    cites = [r["citations"] for r in records if r.get("citations") and "llm_precision" in r["citations"]]
    if not judged and not cites:
        return {"note": note or "no answer was judged"}
    errors = sum(1 for j in judged if "faithfulness_error" in j or "correctness_error" in j)
    out: dict[str, Any] = {
        "n": len(judged),
        "faithfulness": _avg(j.get("faithfulness") for j in judged),
        "correctness": _avg(j.get("correctness") for j in judged),
        "correctness_pass": _avg(j.get("correctness_pass") for j in judged),
        "citation_precision": _avg(c["llm_precision"] for c in cites),
        "citation_recall": _avg(c["llm_recall"] for c in cites),
        "errors": errors,
    }
    if errors:
        first = next(j for j in judged if "faithfulness_error" in j or "correctness_error" in j)
        out["note"] = f"{errors} answer(s) could not be judged, e.g. " + (
            first.get("faithfulness_error") or first.get("correctness_error", "")
        )
    else:
        out["note"] = (
            "llama-index FaithfulnessEvaluator (pass rate) and CorrectnessEvaluator (1-5, pass at 4) "
            "on answered answerable questions; citation precision/recall with the LLM as support judge"
        )
    return out


def summarise(records: list[dict[str, Any]], llm_note: str | None = None) -> dict[str, Any]:
    """Aggregate per-question records into the report's metric blocks."""
    answerable = [r for r in records if r["answerable"]]
    cites = [r["citations"] for r in records if r.get("citations")]
    n_quotes = sum(c["n_quotes"] for c in cites)
    latencies = [r["latency_ms"] for r in records if r["latency_ms"] is not None]
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "retrieval": {k: _avg(r[k] for r in answerable) for k in RETRIEVAL_KEYS},
        "answers": {k: _avg(r[k] for r in answerable) for k in ANSWER_KEYS},
        "citations": {
            "precision": _avg(c["precision"] for c in cites),
            "recall": _avg(c["recall"] for c in cites),
            "quote_verified": sum(c["n_verified"] for c in cites) / n_quotes if n_quotes else math.nan,
            "n_answers": len(cites),
            "n_citations": n_quotes,
        },
        "abstention": abstention_scores([r["abstained"] for r in records], [r["answerable"] for r in records]),
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": mean(latencies),
        },
        "by_category": _grouped(records, "category"),
        "by_language": _grouped(records, "language"),
        "llm_judged": _llm_summary(records, llm_note),
    }


def _question_score(r: dict[str, Any]) -> float:
    """How well one question went (0 worst): retrieval, facts and abstention together."""
    if not r["answerable"]:
        return 1.0 if r["abstained"] else 0.0
    parts = [r["page_recall@5"], r["mrr"], r["required_fact_recall"]]
    return sum(parts) / len(parts)


def worst_questions(records: list[dict[str, Any]], n: int = N_WORST) -> list[dict[str, Any]]:
    """The n worst questions short of full marks, with what was retrieved: where to look first."""
    short = [r for r in records if _question_score(r) < 1.0]
    ranked = sorted(short, key=lambda r: (_question_score(r), r["id"]))[:n]
    out = []
    for r in ranked:
        gold = [(g["file"], g["page"]) for g in r["gold"]]
        out.append(
            {
                "id": r["id"],
                "question": r["question"],
                "category": r["category"],
                "language": r["language"],
                "answerable": r["answerable"],
                "score": _question_score(r),
                "abstained": r["abstained"],
                "gold": [f"{f}" + (f" p.{p}" if p else "") for f, p in gold],
                "retrieved": [
                    {
                        **h,
                        "relevant": any(
                            f == h["source"] and (p is None or p == h["page"]) for f, p in gold
                        ),
                    }
                    for h in r["retrieved"][:5]
                ],
                "answer": r["answer"][:400],
                "required_fact_recall": r.get("required_fact_recall"),
            }
        )
    return out


# --------------------------------------------------------------------------- the library entry point


def check_configs(names: Sequence[str], settings: Settings) -> list[str]:
    """Validate configuration names before any work starts; returns them de-duplicated."""
    out: list[str] = []
    for name in names:
        if name not in CONFIGS:
            raise SettingsError(f"unknown configuration {name!r}: choose from {', '.join(CONFIGS)}")
        if CONFIGS[name].get("needs_llm") and not settings.llm_configured:
            raise SettingsError(
                f"configuration {name!r} needs an LLM endpoint: set LANTERN_LLM_BASE_URL and "
                "LANTERN_LLM_MODEL (or --llm-base-url/--llm-model)"
            )
        if name not in out:
            out.append(name)
    return out


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


def evaluate(
    dataset: Dataset,
    settings: Settings,
    configs: Sequence[str] | None = None,
    *,
    out: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run each named configuration over the dataset and return report.json's content.

    The top-level metric blocks are those of the first configuration; `configs` holds every
    configuration side by side. `out` is where the baseline caches its index (a temporary
    folder, deleted afterwards, when None).
    """
    import tempfile

    progress = progress or _stderr
    names = check_configs(list(configs or DEFAULT_CONFIGS), settings)
    store = _store_info(settings)
    validate_against(dataset, set(store["sources"]))
    llm_note = None if settings.llm_configured else (
        "skipped: no LLM endpoint configured (set LANTERN_LLM_BASE_URL and LANTERN_LLM_MODEL to add "
        "llama-index Faithfulness/Correctness and LLM-judged citation support)"
    )
    judges = _LlamaJudges(settings) if settings.llm_configured else None
    results: dict[str, Any] = {}
    per_question: dict[str, list[dict[str, Any]]] = {}
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
                note = "not judged: the baseline's answer is its top chunk"
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
        "per_question": per_question,
    }
    return _clean(report)


# --------------------------------------------------------------------------- the CLI entry point


def list_configs() -> str:
    """One line per named configuration, for `--list-configs`."""
    width = max(len(n) for n in CONFIGS)
    lines = []
    for name, spec in CONFIGS.items():
        over = ", ".join(f"{k}={v}" for k, v in spec["overrides"].items()) or "-"
        default = " (default)" if name in DEFAULT_CONFIGS else ""
        lines.append(f"{name:<{width}}  {over:<18} {spec['description']}{default}")
    return "\n".join(lines)


def main_eval(args: argparse.Namespace, settings: Settings) -> int:
    """`lantern eval`: load and check the gold set, run the configurations, write and print the report."""
    import json

    from eval.report import summary_markdown, write_reports

    if getattr(args, "list_configs", False):
        print(list_configs())
        return 0
    dataset = load_dataset(args.questions)
    limit = getattr(args, "limit", None)
    if limit is not None:
        if limit < 1:
            raise SettingsError(f"--limit must be at least 1, got {limit}")
        dataset = Dataset(dataset.questions[:limit], dataset.path, dataset.lines)
    as_json = bool(getattr(args, "json", False))
    out: Path | None = args.out if args.out is not None else (None if as_json else Path("eval-report"))
    configs = check_configs(list(args.configs or DEFAULT_CONFIGS), settings)
    # With --json, stdout carries the report and nothing else: stray prints go to stderr.
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        report = evaluate(dataset, settings, configs, out=out)
        written = write_reports(report, out) if out is not None else []
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(summary_markdown(report))
        for path in written:
            print(f"wrote {path}")
    if written and as_json:
        _stderr("wrote " + ", ".join(str(p) for p in written))
    return 0
