"""The evaluation runner end to end: library, CLI, bad input, drafting, LLM judges, notebook.

Runs on the store built from the bundled sample corpus with the bundled example gold set,
with the real embedder, Chroma and (for the baseline) llama-index; the LLM paths talk to a
real OpenAI-compatible HTTP server on 127.0.0.1 whose replies are built from each prompt.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import SettingsError
from core.settings import Settings
from eval.dataset import Dataset, load_dataset
from eval.metrics import quote_verified

pytestmark = pytest.mark.integration  # the real MiniLM and stores built from real files

try:  # `python -m pytest` puts the repo root on sys.path; plain `pytest` puts tests/ there.
    from tests.support.openai_server import ScriptedOpenAIServer
except ImportError:  # pragma: no cover - depends on how pytest was started
    from support.openai_server import ScriptedOpenAIServer

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "eval" / "examples" / "sample_questions.jsonl"
SAMPLE_CORPUS = REPO / "ingest" / "sample_corpus"
NOTEBOOK = REPO / "notebooks" / "evaluation.ipynb"
RETRIEVAL = {"doc_hit@1", "doc_hit@5", "page_hit@1", "page_hit@5", "page_recall@5", "mrr", "ndcg@10"}
BLOCKS = {
    "retrieval": RETRIEVAL,
    "answers": {"required_fact_recall", "token_f1"},
    "citations": {"precision", "recall", "quote_verified"},
    "abstention": {"precision", "recall", "f1", "false_refusal"},
    "latency_ms": {"p50", "p95"},
}
# An environment with no LLM endpoint, whatever the developer's shell holds.
OFFLINE = {"LANTERN_LLM_BASE_URL": "", "LANTERN_LLM_MODEL": "", "LANTERN_LLM_API_KEY": "", "LANTERN_CONFIG": ""}


def _check_blocks(section: dict[str, Any]) -> None:
    for block, keys in BLOCKS.items():
        assert keys <= set(section[block]), f"{block} lacks {keys - set(section[block])}"


@pytest.fixture(scope="module")
def sample_report(sample_store: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """One evaluation of three configurations on the sample store, reports written to a temp folder."""
    from eval.report import write_reports
    from eval.run import evaluate

    out = tmp_path_factory.mktemp("eval_out")
    report = evaluate(load_dataset(EXAMPLES), sample_store, ["lantern", "keyword", "baseline"], out=out)
    write_reports(report, out)
    return report, out


# --------------------------------------------------------------------------- the example set


def test_example_quotes_are_verbatim_on_their_pages() -> None:
    from ingest.load import SourceFile, load

    root = REPO / "ingest" / "sample_corpus"
    dataset = load_dataset(EXAMPLES)
    assert 8 <= len(dataset) <= 10 and len(dataset.unanswerable()) == 2
    for q in dataset:
        for g in q.gold:
            pages = {p.page: p.text for p in load(SourceFile(root / g.file, g.file)).pages}
            assert quote_verified(g.quote, pages[g.page]), (q.id, g.file, g.page)


# --------------------------------------------------------------------------- library run


def test_report_files_and_fields(sample_report: tuple[dict[str, Any], Path]) -> None:
    report, out = sample_report
    for name in ("report.json", "report.md"):
        assert (out / name).stat().st_size > 0
    for name in ("metrics.png", "latency.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    on_disk = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert on_disk["n"] == report["n"] == 10
    _check_blocks(on_disk)
    assert {"configs", "by_category", "by_language", "worst", "dataset", "store", "created"} <= set(on_disk)
    assert list(on_disk["configs"]) == ["lantern", "keyword", "baseline"]
    for section in on_disk["configs"].values():
        _check_blocks(section)
    assert on_disk["retrieval"] == on_disk["configs"]["lantern"]["retrieval"]
    assert on_disk["store"]["documents"] == 6
    assert on_disk["dataset"]["answerable"] == 8


def test_numbers_match_the_per_question_records(sample_report: tuple[dict[str, Any], Path]) -> None:
    report, _ = sample_report
    for name in ("lantern", "keyword"):
        cfg = report["configs"][name]
        records = report["per_question"][name]
        answerable = [r for r in records if r["answerable"]]
        # every block is the mean of what the per-question records hold, so a reader can recheck it
        for block, keys in (("retrieval", RETRIEVAL), ("answers", {"required_fact_recall", "token_f1"})):
            for key in keys:
                expected = sum(r[key] for r in answerable) / len(answerable)
                assert cfg[block][key] == pytest.approx(expected, abs=1e-4), (name, key)
        quotes = [r["citations"] for r in records if r["citations"]]
        assert cfg["citations"]["n_citations"] == sum(c["n_quotes"] for c in quotes) > 0
        assert cfg["retrieval"]["doc_hit@5"] >= 0.75
        assert cfg["latency_ms"]["p50"] > 0
        assert cfg["latency_ms"]["p95"] >= cfg["latency_ms"]["p50"]
    base = report["configs"]["baseline"]
    assert base["retrieval"]["doc_hit@5"] >= 0.5
    assert base["citations"]["quote_verified"] is None  # the baseline cites nothing
    assert base["abstention"]["false_refusal"] == 0.0 and base["abstention"]["recall"] == 0.0
    assert base["run"]["chunks"] > 0
    # offline: the LLM-judged extras are skipped with a note, never silently absent
    assert "no LLM endpoint" in report["llm_judged"]["note"]


def _original_page(source: str, page: int | None) -> str:
    """The page's text read from the ORIGINAL file with pypdf, independently of the store."""
    from pypdf import PdfReader

    path = SAMPLE_CORPUS / source
    if path.suffix == ".pdf":
        assert page is not None
        return PdfReader(path).pages[page - 1].extract_text() or ""
    return path.read_text(encoding="utf-8")


def test_cited_quotes_are_on_the_original_pages(
    sample_store: Settings, sample_report: tuple[dict[str, Any], Path]
) -> None:
    from assistant.api import Lantern

    report, _ = sample_report
    with Lantern.open(settings=sample_store) as lantern:
        answers = [lantern.ask(q.question) for q in load_dataset(EXAMPLES)]
    cites = [c for a in answers if not a.abstained for c in a.citations]
    assert any(c.source.endswith(".pdf") for c in cites)
    off_page = [(c.source, c.page, c.quote) for c in cites if not quote_verified(c.quote, _original_page(c.source, c.page))]
    assert not off_page
    # what the report counted as verified is what an independent check of the same answers finds
    lantern_cites = report["configs"]["lantern"]["citations"]
    assert lantern_cites["n_citations"] == len(cites)
    assert lantern_cites["quote_verified"] == 1.0


def test_a_tampered_quote_is_caught(
    sample_store: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from assistant.api import Lantern
    from eval.run import evaluate

    real_ask = Lantern.ask

    def tampered_ask(self: Lantern, question: str, *args: Any, **kwargs: Any) -> Any:
        answer = real_ask(self, question, *args, **kwargs)
        if answer.citations:  # the first citation now quotes words its page does not hold
            first = answer.citations[0]
            answer.citations[0] = dataclasses.replace(first, quote=first.quote + " and forty invented witnesses")
        return answer

    monkeypatch.setattr(Lantern, "ask", tampered_ask)
    full = load_dataset(EXAMPLES)
    subset = Dataset([q for q in full.questions if q.answerable][:3], full.path, full.lines)
    report = evaluate(subset, sample_store, ["lantern"], out=tmp_path, progress=lambda _: None)
    cites = report["citations"]
    answered = [r for r in report["per_question"]["lantern"] if r["citations"]]
    assert answered and cites["n_citations"] > 0
    # one quote per answered question is wrong: verified = (citations - answered) / citations
    assert cites["quote_verified"] == pytest.approx((cites["n_citations"] - len(answered)) / cites["n_citations"], abs=1e-4)
    assert cites["quote_verified"] < 1.0
    for r in answered:
        (bad,) = r["citations"]["unverified"]
        assert bad["n"] == 1 and bad["quote"].endswith("and forty invented witnesses")


def test_breakdowns_and_worst(sample_report: tuple[dict[str, Any], Path]) -> None:
    report, _ = sample_report
    cats = report["by_category"]
    assert {"fact", "definition", "multi_hop", "cross_lingual", "unanswerable"} <= set(cats)
    assert cats["unanswerable"]["doc_hit@5"] is None  # retrieval is not scored without gold
    assert sum(c["n"] for c in cats.values()) == 10
    assert set(report["by_language"]) == {"en", "nl"}
    assert len(report["worst"]) <= 10
    for w in report["worst"]:
        assert w["score"] < 1.0
        assert w["retrieved"] and {"source", "page", "relevant"} <= set(w["retrieved"][0])
    per_q = report["per_question"]["lantern"]
    assert len(per_q) == 10 and all(len(r["retrieved"]) <= 10 for r in per_q)


def test_markdown_puts_configs_side_by_side(sample_report: tuple[dict[str, Any], Path]) -> None:
    _, out = sample_report
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| metric | lantern | keyword | baseline |" in md
    for heading in ("## Summary", "## By category", "## By language", "worst questions", "## Definitions"):
        assert heading in md
    assert "quotes verified" in md and "page hit@5" in md


def test_baseline_index_is_cached(sample_store: Settings, tmp_path: Path) -> None:
    from core.store import Store
    from eval.baseline import build_baseline

    store = Store.open(sample_store)
    try:
        first = build_baseline(store, tmp_path / "idx")
        again = build_baseline(store, tmp_path / "idx")
    finally:
        store.close()
    assert first.built and not again.built
    assert again.chunks == first.chunks > 0
    hits, ms = again.retrieve("What is the Employer Pays Principle?")
    assert len(hits) <= 10 and ms >= 0
    assert hits[0].source == "supply-chain-due-diligence.pdf" and hits[0].page == 3


def test_unknown_or_offline_llm_config_is_a_settings_error(sample_store: Settings) -> None:
    from eval.run import evaluate

    dataset = load_dataset(EXAMPLES)
    with pytest.raises(SettingsError, match="unknown configuration 'nope'"):
        evaluate(dataset, sample_store, ["nope"])
    offline = sample_store.with_overrides(llm_base_url="", llm_model="", llm_api_key="")
    with pytest.raises(SettingsError, match="LANTERN_LLM_BASE_URL"):
        evaluate(dataset, offline, ["llm"])


# --------------------------------------------------------------------------- CLI


def test_cli_json_prints_only_the_report(
    sample_store: Settings, lantern_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = lantern_cli(
        "eval", EXAMPLES, "--store", sample_store.store, "--out", out, "--json",
        "--config", "lantern", "--config", "dense", "--limit", "4", env=OFFLINE, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["n"] == 4 and list(report["configs"]) == ["lantern", "dense"]
    _check_blocks(report)
    assert report["citations"]["n_citations"] > 0
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.md", "metrics.png", "latency.png"}


def test_cli_list_configs(lantern_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    proc = lantern_cli("eval", EXAMPLES, "--list-configs", env=OFFLINE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("lantern", "dense", "keyword", "weighted", "llm", "baseline"):
        assert re.search(rf"^{name}\b", proc.stdout, flags=re.MULTILINE), name


def _lines(path: Path, *objs: dict[str, Any] | str) -> Path:
    path.write_text("\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs) + "\n", encoding="utf-8")
    return path


def _example(i: int) -> dict[str, Any]:
    return json.loads(EXAMPLES.read_text(encoding="utf-8").splitlines()[i])


def test_cli_malformed_line_names_the_line(
    sample_store: Settings, lantern_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    bad = _lines(tmp_path / "bad.jsonl", _example(0), '{"id": "x", "question": ')
    proc = lantern_cli("eval", bad, "--store", sample_store.store, "--json", env=OFFLINE, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{bad}:2:" in proc.stderr and "malformed JSON" in proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr


def test_cli_unknown_gold_file_names_the_line(
    sample_store: Settings, lantern_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    wrong = _example(2)
    wrong["gold"][0]["file"] = "pdf/not-in-this-store.pdf"
    bad = _lines(tmp_path / "bad.jsonl", _example(0), _example(1), wrong)
    proc = lantern_cli("eval", bad, "--store", sample_store.store, env=OFFLINE, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{bad}:3:" in proc.stderr and "pdf/not-in-this-store.pdf" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_missing_store(
    lantern_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    missing = tmp_path / "no-store-here"
    proc = lantern_cli("eval", EXAMPLES, "--store", missing, "--out", tmp_path / "out", env=OFFLINE, cwd=tmp_path)
    assert proc.returncode == 1
    assert "no Lantern store" in proc.stderr and str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr and not missing.exists()


def test_cli_llm_config_offline_explains(
    sample_store: Settings, lantern_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    proc = lantern_cli("eval", EXAMPLES, "--store", sample_store.store, "--config", "llm",
                       env=OFFLINE, cwd=tmp_path)
    assert proc.returncode == 2
    assert "LANTERN_LLM_BASE_URL" in proc.stderr and "'llm'" in proc.stderr


# --------------------------------------------------------------------------- drafting


def _passage(body: dict[str, Any]) -> str:
    user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    match = re.search(r"<passage>\n(.*)\n</passage>", user, flags=re.DOTALL)
    assert match, "the draft prompt should wrap its chunk in <passage> tags"
    return match.group(1)


def _draft_reply(body: dict[str, Any]) -> str:
    """A question built from the chunk in the prompt, quoting its longest line verbatim."""
    text = _passage(body)
    line = max((ln.strip() for ln in text.splitlines()), key=len)
    words = line.split()
    return "```json\n" + json.dumps(
        {
            "question": f"What does the guidance say about {' '.join(words[:4])}?",
            "answer": line,
            "quote": line,
            "facts": [" ".join(words[:3]), "a fact the passage does not hold"],
        }
    ) + "\n```"


def test_draft_questions_offline_needs_an_endpoint(
    sample_store: Settings, lantern_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out = tmp_path / "drafts.jsonl"
    proc = lantern_cli("draft-questions", "--store", sample_store.store, "--n", "2", "--out", out,
                       env=OFFLINE, cwd=tmp_path)
    assert proc.returncode == 2
    assert "LANTERN_LLM_BASE_URL" in proc.stderr and "LANTERN_LLM_MODEL" in proc.stderr
    assert not out.exists()


def test_draft_questions_with_an_endpoint(
    sample_store: Settings, lantern_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    from core.store import Store

    out = tmp_path / "drafts.jsonl"
    # the first reply quotes nothing from the passage and must be dropped
    bad = json.dumps({"question": "Q?", "answer": "A.", "quote": "words that appear nowhere in it", "facts": []})
    with ScriptedOpenAIServer(replies=[bad], default=_draft_reply) as srv:
        env = {**OFFLINE, "LANTERN_LLM_BASE_URL": srv.base_url, "LANTERN_LLM_MODEL": srv.model}
        proc = lantern_cli("draft-questions", "--store", sample_store.store, "--n", "3", "--out", out,
                           env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert len(srv.chat_requests()) == 4
    drafted = load_dataset(out)
    assert len(drafted) == 3
    store = Store.open(sample_store)
    try:
        for q in drafted:
            assert q.synthetic and q.category == "synthetic" and q.answerable
            assert q.required_facts and "a fact the passage does not hold" not in q.required_facts
            (g,) = q.gold
            assert quote_verified(g.quote, store.page_text(g.file, g.page) or "")
    finally:
        store.close()


# --------------------------------------------------------------------------- LLM configuration


def _llm_reply(body: dict[str, Any]) -> str:
    """Answer, citation-judge and llama-index-judge prompts, each in the shape its parser wants."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
    if "NOT_IN_SOURCES" in system:  # Lantern's answer prompt: repeat the first source's first sentence
        first = re.search(r'<source n="1"[^>]*>\n(.*?)\n</source>', prompt, flags=re.DOTALL)
        assert first
        sentence = re.split(r"(?<=[.!?])\s", " ".join(first.group(1).split()))[0]
        return f"{sentence} [1]"
    if "Answer YES or NO only" in system:  # Lantern's citation judge
        return "YES"
    if "score" in prompt and "reference answer" in prompt:  # llama-index CorrectnessEvaluator
        return "4.0\nRelevant and correct."
    return "YES"  # llama-index FaithfulnessEvaluator (and its refine step)


def test_llm_config_reports_llm_judged_numbers(sample_store: Settings, tmp_path: Path) -> None:
    from eval.report import write_reports
    from eval.run import evaluate

    full = load_dataset(EXAMPLES)
    subset = Dataset([full.questions[i] for i in (0, 3, 5)], full.path, full.lines)
    with ScriptedOpenAIServer(default=_llm_reply) as srv:
        settings = sample_store.with_overrides(llm_base_url=srv.base_url, llm_model=srv.model)
        report = evaluate(subset, settings, ["llm"], out=tmp_path)
    write_reports(report, tmp_path)
    cfg = report["configs"]["llm"]
    assert cfg["run"]["mode"].startswith("llm")
    assert cfg["citations"]["n_citations"] > 0
    judged = report["llm_judged"]
    assert judged.get("errors") == 0, judged.get("note")
    assert judged["n"] >= 1
    assert judged["faithfulness"] == 1.0 and judged["correctness"] == 4.0
    assert judged["citation_precision"] == 1.0
    assert "correctness (1-5)" in (tmp_path / "report.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- notebook
