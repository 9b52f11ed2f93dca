"""Write an evaluation report people read: report.json, report.md and two PNG charts.

report.json is the machine-readable record (every number, plus the per-question records
it was computed from); report.md puts the configurations side by side in tables, breaks
the first configuration down by category and language, and lists the ten worst
questions with what was retrieved, so a reader knows where to look first; metrics.png
and latency.png show the same comparison at a glance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .dataset import write_text_atomic

# (block, key, label, higher_is_better) in the order the summary table shows them.
SUMMARY_ROWS: tuple[tuple[str, str, str, bool], ...] = (
    ("retrieval", "doc_hit@1", "doc hit@1", True),
    ("retrieval", "doc_hit@5", "doc hit@5", True),
    ("retrieval", "page_hit@1", "page hit@1", True),
    ("retrieval", "page_hit@5", "page hit@5", True),
    ("retrieval", "page_recall@5", "page recall@5", True),
    ("retrieval", "mrr", "MRR (doc)", True),
    ("retrieval", "ndcg@10", "nDCG@10 (page)", True),
    ("answers", "required_fact_recall", "required-fact recall", True),
    ("answers", "token_f1", "token F1", True),
    ("citations", "precision", "citation precision", True),
    ("citations", "recall", "citation recall", True),
    ("citations", "quote_verified", "quotes verified", True),
    ("abstention", "precision", "abstention precision", True),
    ("abstention", "recall", "abstention recall", True),
    ("abstention", "f1", "abstention F1", True),
    ("abstention", "false_refusal", "false refusals", False),
    ("latency_ms", "p50", "latency p50 (ms)", False),
    ("latency_ms", "p95", "latency p95 (ms)", False),
)
GROUP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("n", "n"),
    ("doc_hit@5", "doc hit@5"),
    ("page_hit@5", "page hit@5"),
    ("mrr", "MRR"),
    ("ndcg@10", "nDCG@10"),
    ("required_fact_recall", "fact recall"),
    ("token_f1", "token F1"),
    ("citation_precision", "cite prec."),
    ("citation_recall", "cite rec."),
    ("abstained", "abstained"),
)
CHART_METRICS: tuple[tuple[str, str, str], ...] = (
    ("retrieval", "doc_hit@1", "doc hit@1"),
    ("retrieval", "doc_hit@5", "doc hit@5"),
    ("retrieval", "page_hit@5", "page hit@5"),
    ("retrieval", "page_recall@5", "page rec@5"),
    ("retrieval", "mrr", "MRR"),
    ("retrieval", "ndcg@10", "nDCG@10"),
    ("answers", "required_fact_recall", "fact recall"),
    ("answers", "token_f1", "token F1"),
    ("citations", "precision", "cite prec."),
    ("citations", "recall", "cite rec."),
    ("abstention", "f1", "abstain F1"),
)


def _fmt(value: Any, latency: bool = False) -> str:
    """A number as the tables show it: three decimals, whole milliseconds, '–' when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.0f}" if latency else f"{value:.3f}"
    return str(value)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def summary_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The summary table: one row per metric, one column per configuration, best value in bold."""
    configs: dict[str, Any] = report.get("configs") or {report.get("config", "lantern"): report}
    names = list(configs)
    rows: list[list[str]] = []
    for block, key, label, higher in SUMMARY_ROWS:
        values = [(configs[n].get(block) or {}).get(key) for n in names]
        defined = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        best = (max(defined) if higher else min(defined)) if len(set(defined)) > 1 else None
        cells = []
        for v in values:
            text = _fmt(v, latency=block == "latency_ms")
            cells.append(f"**{text}**" if best is not None and v == best and text != "–" else text)
        rows.append([label, *cells])
    return ["metric", *names], rows


def summary_markdown(report: dict[str, Any]) -> str:
    """Just the side-by-side summary table (what `lantern eval` prints)."""
    header, rows = summary_rows(report)
    return "\n".join(_table(header, rows))


def _group_table(groups: dict[str, Any], first: str) -> list[str]:
    rows = [
        [_cell(name), *(_fmt(g.get(key)) for key, _ in GROUP_COLUMNS)] for name, g in sorted(groups.items())
    ]
    return _table([first, *(label for _, label in GROUP_COLUMNS)], rows)


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: summary, breakdowns, LLM-judged extras, the ten worst questions, definitions."""
    ds, store = report.get("dataset", {}), report.get("store", {})
    first = report.get("config", "lantern")
    configs = report.get("configs", {})
    out: list[str] = ["# Lantern evaluation", ""]
    out.append(
        f"Gold set `{ds.get('path')}`: {ds.get('n')} questions ({ds.get('answerable')} answerable, "
        f"{ds.get('unanswerable')} unanswerable). Store `{store.get('path')}`: {store.get('documents')} "
        f"documents, {store.get('chunks')} chunks, embedder {store.get('embedder')}. "
        f"Created {report.get('created')} in {report.get('seconds')} s."
    )
    out += ["", "## Summary", "", "Best value per row in bold.", ""]
    out += summary_markdown(report).splitlines()
    out += ["", "Configurations:", ""]
    for name, cfg in configs.items():
        run = cfg.get("run", {})
        over = ", ".join(f"{k}={v}" for k, v in (cfg.get("overrides") or {}).items()) or "no overrides"
        out.append(f"- **{name}** ({over}; mode {run.get('mode')}; {run.get('seconds')} s): {cfg.get('description')}")
        if run.get("mode") == "baseline":
            how = (
                f"built in {run.get('index_seconds')} s (parse {run.get('parse_seconds')} s, "
                f"embed and store {run.get('embed_seconds')} s)" if run.get("built") else "reused from cache"
            )
            out.append(f"  - index: {run.get('chunks')} chunks, {how}")
        for note in run.get("notes") or []:
            out.append(f"  - note: {note}")
    out += ["", f"## By category ({first})", ""]
    out += _group_table(report.get("by_category", {}), "category")
    out += ["", f"## By language ({first})", ""]
    out += _group_table(report.get("by_language", {}), "language")
    out += ["", "## LLM-judged (separate, never required)", ""]
    judged_rows = []
    for name, cfg in configs.items():
        j = cfg.get("llm_judged") or {}
        if "n" in j:
            judged_rows.append(
                [name, _fmt(j.get("n")), _fmt(j.get("faithfulness")), _fmt(j.get("correctness")),
                 _fmt(j.get("correctness_pass")), _fmt(j.get("citation_precision")),
                 _fmt(j.get("citation_recall")), _cell(j.get("note", ""))]
            )
        else:
            judged_rows.append([name, *["–"] * 6, _cell(j.get("note", ""))])
    out += _table(
        ["config", "n", "faithfulness", "correctness (1-5)", "correct (≥4)", "cite prec.", "cite rec.", "note"],
        judged_rows,
    )
    worst = report.get("worst", [])
    out += ["", f"## The {len(worst)} worst questions ({first})", ""]
    if not worst:
        out.append("Every question scored full marks.")
    out.append("Only questions short of full marks are listed. Score = mean of page recall@5, MRR and fact recall (answerable), or 1/0 for a correct/missed "
               "abstention (unanswerable). ✓ marks a retrieved chunk from a gold page.")
    for w in report.get("worst", []):
        out += ["", f"### {w['id']} ({w['category']}, {w['language']}): score {_fmt(w['score'])}", ""]
        out.append(f"> {_cell(w['question'])}")
        out.append("")
        out.append(f"- gold: {', '.join(w['gold']) or 'none (unanswerable)'}")
        out.append(f"- abstained: {_fmt(w['abstained'])}; fact recall: {_fmt(w.get('required_fact_recall'))}")
        out.append(f"- answer: {_cell(w['answer'][:300]) or '(empty)'}")
        out.append("- retrieved:")
        for i, h in enumerate(w["retrieved"], 1):
            page = f" p.{h['page']}" if h.get("page") else ""
            mark = " ✓" if h.get("relevant") else ""
            out.append(f"  {i}. `{h['source']}`{page} (score {_fmt(h.get('score'))}){mark}")
    out += ["", "## Definitions", ""]
    for key, text in (report.get("definitions") or {}).items():
        out.append(f"- **{key}**: {text}")
    return "\n".join(out) + "\n"


def _figure(width: float, height: float) -> tuple[Any, Any]:
    """A bare matplotlib Figure (Agg canvas) and its axes.

    Not pyplot: no display is needed, and a notebook's inline backend is left alone.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def plot_metrics(report: dict[str, Any], path: Path) -> Path:
    """Grouped bars: each metric, one bar per configuration (undefined values left out)."""
    configs = report.get("configs") or {report.get("config", "lantern"): report}
    names = list(configs)
    width = 0.8 / max(1, len(names))
    fig, ax = _figure(max(8.0, 1.0 * len(CHART_METRICS) + 2), 4.5)
    for i, name in enumerate(names):
        xs, ys = [], []
        for j, (block, key, _) in enumerate(CHART_METRICS):
            v = (configs[name].get(block) or {}).get(key)
            if isinstance(v, int | float) and not (isinstance(v, float) and math.isnan(v)):
                xs.append(j + (i - (len(names) - 1) / 2) * width)
                ys.append(v)
        ax.bar(xs, ys, width=width, label=name)
    ax.set_xticks(range(len(CHART_METRICS)), [label for _, _, label in CHART_METRICS], rotation=30, ha="right")
    ax.set_ylim(0, 1.18)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("score (higher is better)")
    ax.set_title(f"Lantern evaluation: {report.get('n')} questions (missing bar = not defined)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", ncol=len(names), fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_latency(report: dict[str, Any], path: Path) -> Path:
    """Per-question latency distribution per configuration (box plot, p50/p95 marked)."""
    per_question = report.get("per_question") or {}
    configs = report.get("configs") or {}
    names = [n for n in configs if per_question.get(n)] or list(configs)
    data = [
        [r["latency_ms"] for r in per_question.get(n, []) if r.get("latency_ms") is not None] or [0.0]
        for n in names
    ]
    fig, ax = _figure(max(6.0, 1.6 * len(names) + 2), 4.5)
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(names) + 1), names)
    for i, n in enumerate(names, 1):
        lat = configs.get(n, {}).get("latency_ms") or {}
        for key, marker in (("p50", "o"), ("p95", "^")):
            if isinstance(lat.get(key), int | float):
                ax.plot(i, lat[key], marker, color="black", label=key if i == 1 else None)
    if any(max(d) > 0 for d in data):
        ax.set_yscale("log")
    ax.set_ylabel("milliseconds per question (log scale)")
    ax.set_title("Latency per question")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write_reports(report: dict[str, Any], out: Path) -> list[Path]:
    """report.json, report.md, metrics.png and latency.png in `out`; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "report.json", out / "report.md"
    write_text_atomic(json_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(md_path, render_markdown(report))
    return [json_path, md_path, plot_metrics(report, out / "metrics.png"), plot_latency(report, out / "latency.png")]
