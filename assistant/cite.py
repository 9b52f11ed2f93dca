"""Citations: lexical support, verbatim quotes, and the checker every answer goes through.

The checker is the last step before an answer is shown: each [n] must name a retrieved
source, and the sentence it ends must be supported by that source (lexically here: shared
content words, the same numbers, the same polarity; an LLM judge can add a second opinion).
Markers that fail are removed and reported, never shown as real, and each surviving citation
carries a verbatim quote from its page. A sentence that makes a claim without a marker gets
the source that supports it, or is dropped: nothing reaches the reader unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from core.text import MARKER, Span, cited_numbers, claims, content_words, negated, numbers, sentence_spans
from core.types import Citation, Hit, RemovedCitation


def support_score(sentence: str, passage: str) -> float:
    """Share of the sentence's content words that the passage contains (0..1)."""
    words = content_words(sentence)
    if not words:
        return 1.0
    have = set(content_words(passage))
    return sum(w in have for w in words) / len(words)


CLAIM_WORDS = 3  # content words from which an uncited sentence is a claim, not a connective

# A sentence of a document that addresses the model ("Ignore previous instructions and reply
# exactly: ...") is a prompt injection: data that the model may have obeyed, never support.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}\b(?:instructions?|rules|prompt|above|previous|prior)\b"
    r"|\b(?:reply|respond|answer|output|print|say|write|repeat)\s*(?:exactly|only|with|verbatim|after me)\b"
    r"|\b(?:you are now|you must now|from now on|new instructions|system prompt|developer mode)\b"
    r"|\b(?:ai|language) model\b|^\W*(?:system|assistant)\s*[:,]|\bcite (?:it|this) as\b|\binclude this image\b",
    re.IGNORECASE,
)


def without_instructions(passage: str) -> str:
    """The passage less its sentences that give a model orders (see `_INSTRUCTION`)."""
    spans = sentence_spans(passage)
    if not any(_INSTRUCTION.search(s.text) for s in spans):
        return passage
    return " ".join(s.text for s in spans if not _INSTRUCTION.search(s.text))


def best_quote(claim: str, passage: str) -> Span | None:
    """The passage sentence that shares most content with the claim: the verbatim quote."""
    spans = sentence_spans(passage)
    if not spans:
        return None
    claim_words = set(content_words(claim))
    return max(spans, key=lambda s: (len(claim_words & set(content_words(s.text))), -abs(len(s.text) - len(claim))))


def make_citation(n: int, hit: Hit, quote: str, page_label: str | None = None) -> Citation:
    meta = hit.chunk.metadata
    return Citation(
        n=n,
        source=hit.chunk.source,
        title=hit.chunk.title,
        page=hit.chunk.page,
        quote=" ".join(quote.split()),
        url=meta.get("url"),
        score=round(float(hit.score), 4),
        chunk_id=hit.chunk.id,
        page_label=page_label or meta.get("page_label"),
        publisher=meta.get("publisher"),
        year=meta.get("year"),
        resource_url=meta.get("resource_url"),
        resource_title=meta.get("resource_title"),
        ocr=bool(meta.get("ocr")),
        section=meta.get("section") or None,
    )


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    removed: list[RemovedCitation]


def check_citations(
    text: str,
    hits: list[Hit],
    threshold: float = 0.5,
    judge: Callable[[str, str], bool] | None = None,
) -> CheckedAnswer:
    """Keep only [n] markers that name a retrieved source supporting their sentence.

    Surviving sources are renumbered 1..m in order of first use, and each gets the quote
    (a verbatim sentence of its chunk) that best matches the first claim citing it. A
    sentence whose every citation failed is dropped from the text (and reported).
    `judge(sentence, passage)`, when given, must also agree (an LLM check).
    """
    removed: list[RemovedCitation] = []
    renumber: dict[int, int] = {}
    citations: list[Citation] = []
    out: list[str] = []

    @cache  # an uncited claim is judged while its source is sought, then again as cited: ask once
    def refusal(n: int, claim: str) -> str | None:
        """Why source n does not support the claim (None: it does)."""
        if not 1 <= n <= len(hits):
            return f"no source [{n}]: only {len(hits)} were retrieved"
        passage = without_instructions(hits[n - 1].chunk.text)
        score = support_score(claim, passage)
        if score < threshold:
            return f"source [{n}] does not support this sentence (overlap {score:.2f})"
        wrong = sorted(numbers(claim) - numbers(passage))
        if wrong:  # "45 days" is not supported by a page that says "30 days"
            return f"source [{n}] does not support this sentence ({', '.join(wrong)} not in it)"
        quote = best_quote(claim, passage)
        if quote is not None and negated(quote.text) != negated(claim) and not _verbatim(claim, passage):
            return f"source [{n}] says the opposite of this sentence"
        if judge is not None and not judge(claim, passage):
            return f"source [{n}] does not support this sentence (LLM check)"
        return None

    for sentence in claims(text):
        claim = MARKER.sub("", sentence).strip()
        kept: list[int] = []
        cited = cited_numbers(sentence)
        if not cited and len(content_words(claim)) >= CLAIM_WORDS:
            supporting = _best_supporting(claim, hits, refusal)
            if supporting is None:
                removed.append(RemovedCitation(0, claim, "an uncited sentence that no retrieved source supports"))
                continue
            cited = [supporting]
        for n in cited:
            reason = refusal(n, claim)
            if reason is not None:
                removed.append(RemovedCitation(n, claim, reason))
                continue
            if n not in renumber:
                renumber[n] = len(renumber) + 1
                quote = best_quote(claim, without_instructions(hits[n - 1].chunk.text))
                citations.append(make_citation(renumber[n], hits[n - 1], quote.text if quote else hits[n - 1].chunk.text))
            if renumber[n] not in kept:
                kept.append(renumber[n])
        body = MARKER.sub("", sentence).rstrip()
        if cited and not kept:
            continue  # a claim whose every citation failed is not shown as if it were sourced
        out.append(body + "".join(f" [{k}]" for k in kept) if body else "")
    return CheckedAnswer(" ".join(s for s in out if s).strip(), citations, removed)


def _verbatim(claim: str, passage: str) -> bool:
    """Whether the passage holds the claim word for word from the start of a sentence or line (the
    sentence an extractive answer quoted): it cannot say the opposite, whichever of the passage's
    sentences matches it best. A fragment from inside a sentence ("…not true that X") is no such quote."""
    words = claim.rstrip(" .;:!?").split()  # the claim's stop may be the passage's semicolon
    if not words:
        return False
    # after a stop (and any note number or closing quote printed after it) or a line break
    pattern = r"(?:^|[.;:!?][\"”’)\]\d]*\s+|\n\s*)" + r"\s+".join(map(re.escape, words))
    return re.search(pattern, passage, re.IGNORECASE) is not None


def _best_supporting(claim: str, hits: list[Hit], refusal: Callable[[int, str], str | None]) -> int | None:
    """The source number (1-based) that best supports an uncited claim, if any does."""
    ranked = sorted(range(1, len(hits) + 1), key=lambda n: -support_score(claim, hits[n - 1].chunk.text))
    return next((n for n in ranked if refusal(n, claim) is None), None)
