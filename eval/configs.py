"""The named configurations `lantern eval` compares, and the metric definitions every report states."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import SettingsError
from core.settings import Settings

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


def list_configs() -> str:
    """One line per named configuration, for `--list-configs`."""
    width = max(len(n) for n in CONFIGS)
    lines = []
    for name, spec in CONFIGS.items():
        over = ", ".join(f"{k}={v}" for k, v in spec["overrides"].items()) or "-"
        default = " (default)" if name in DEFAULT_CONFIGS else ""
        lines.append(f"{name:<{width}}  {over:<18} {spec['description']}{default}")
    return "\n".join(lines)
