"""LLM-judged extras: llama-index Faithfulness and Correctness evaluators on the configured endpoint.

Only built when an LLM endpoint is configured; a judge error is recorded on the question,
never raised, so one bad reply cannot stop a run.
"""

from __future__ import annotations

from core.settings import Settings
from core.text import strip_markers
from eval.dataset import Question
from eval.records import LLMJudgement


class LlamaJudges:
    """llama-index Faithfulness (pass/fail) and Correctness (1-5) evaluators on one endpoint."""

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

    def judge(self, q: Question, text: str, contexts: list[str]) -> LLMJudgement:
        """Faithfulness and correctness of one answer, [n] markers removed."""
        plain = strip_markers(text)
        faithfulness = faithfulness_error = correctness = correctness_pass = correctness_error = None
        try:
            res = self.faithfulness.evaluate(query=q.question, response=plain, contexts=contexts)
            faithfulness = 1.0 if res.passing else 0.0
        except Exception as exc:  # a judge failure must not stop the run
            faithfulness_error = f"{exc.__class__.__name__}: {exc}"[:300]
        try:
            res = self.correctness.evaluate(query=q.question, response=plain, reference=q.reference_answer)
            if res.score is not None:
                correctness = float(res.score)
                correctness_pass = 1.0 if res.passing else 0.0
            else:
                correctness_error = "the judge's reply had no score on its first line"
        except Exception as exc:  # likewise
            correctness_error = f"{exc.__class__.__name__}: {exc}"[:300]
        return LLMJudgement(
            faithfulness=faithfulness,
            faithfulness_error=faithfulness_error,
            correctness=correctness,
            correctness_pass=correctness_pass,
            correctness_error=correctness_error,
        )
