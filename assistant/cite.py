"""Citations: sentence spans, lexical support, and the checker every answer goes through.

The checker is the last step before an answer is shown: each [n] must name a retrieved
source, and the sentence it ends must be supported by that source (lexically here; an
LLM judge can add a second opinion). Markers that fail are removed and reported, never
shown as real, and each surviving citation carries a verbatim quote from its page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.types import Citation, Hit, RemovedCitation

MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_BULLET = "•▪●◦■□➢✓\uf0a7\uf0a8\uf0b7\uf076\uf0d8–*\\-"
_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9" + _BULLET + r"])"  # end of a sentence
    r"|\n\s*\n"  # a paragraph break
    r"|\s*\n(?=\s*(?:[" + _BULLET + r"]|\d{1,2}[.)]\s))"  # a new list item
    r"|(?<=:)\s*\n"  # a line that introduces what follows
    r"|\s+(?=•)"  # an inline bullet
)
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "may", "might", "more", "most", "must", "no", "not", "of", "on", "or", "other", "our", "per", "shall", "should", "so", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "under", "up", "upon", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "within", "would", "you", "your", "also", "any", "all", "each", "about", "after", "before", "both", "between", "during", "only", "same", "very", "there's", "it's", "according", "did", "does", "done", "give", "given", "list", "name", "say", "says", "said", "tell"]
)


@dataclass(frozen=True)
class Span:
    """A sentence as character offsets into a text."""

    start: int
    end: int
    text: str


_ABBREVIATION = re.compile(
    r"(?:\b(?:No|Nos|Art|Arts|art|para|paras|e\.g|i\.e|cf|vs|etc|Mr|Mrs|Ms|Dr|St|Vol|vol|p|pp|Fig|fig|Inc|Ltd|Co|Jr|Sr)"
    r"|\b[A-Z]|\b(?:[A-Z]\.){1,3}[A-Z])\.$"
)


def sentence_spans(text: str) -> list[Span]:
    """Sentences (and list items / lines) of a passage with their offsets, whitespace trimmed.

    A full stop after an abbreviation ("No. 29", "U.S.", "e.g.") does not end a sentence.
    """
    spans: list[Span] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        after_abbreviation = text[m.start() - 1 : m.start()] == "." and _ABBREVIATION.search(
            text[max(0, m.start() - 8) : m.start()]
        )
        if after_abbreviation and "\n" not in m.group(0):
            continue
        _add_span(spans, text, pos, m.start())
        pos = m.end()
    _add_span(spans, text, pos, len(text))
    return spans


def _add_span(spans: list[Span], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append(Span(start, end, text[start:end]))


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "ied", "es", "ed", "ly", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, stemmed words that carry meaning (stopwords and [n] markers removed)."""
    text = MARKER.sub(" ", text.lower()).replace("’", "'")
    words = [w.replace(",", "") for w in _WORD.findall(text)]
    return [_stem(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _numbers(text: str) -> set[str]:
    """The numbers a text states, thousands separators dropped ("2,500" -> "2500")."""
    return {re.sub(r"[.,](?=\d{3}\b)", "", m) for m in _NUMBER.findall(text)}


def support_score(sentence: str, passage: str) -> float:
    """Share of the sentence's content words that the passage contains (0..1)."""
    words = content_words(sentence)
    if not words:
        return 1.0
    have = set(content_words(passage))
    return sum(w in have for w in words) / len(words)


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
    for sentence in answer_sentences(text):
        claim = MARKER.sub("", sentence).strip()
        kept: list[int] = []
        for group in MARKER.finditer(sentence):
            for raw in re.split(r"[,;]", group.group(1)):
                n = int(raw)
                if not 1 <= n <= len(hits):
                    removed.append(RemovedCitation(n, claim, f"no source [{n}]: only {len(hits)} were retrieved"))
                    continue
                passage = hits[n - 1].chunk.text
                score = support_score(claim, passage)
                if score < threshold:
                    removed.append(RemovedCitation(n, claim, f"source [{n}] does not support this sentence (overlap {score:.2f})"))
                    continue
                wrong = sorted(_numbers(claim) - _numbers(passage))
                if wrong:  # "45 days" is not supported by a page that says "30 days"
                    removed.append(RemovedCitation(n, claim, f"source [{n}] does not support this sentence ({', '.join(wrong)} not in it)"))
                    continue
                if judge is not None and not judge(claim, passage):
                    removed.append(RemovedCitation(n, claim, f"source [{n}] does not support this sentence (LLM check)"))
                    continue
                if n not in renumber:
                    renumber[n] = len(renumber) + 1
                    quote = best_quote(claim, passage)
                    citations.append(make_citation(renumber[n], hits[n - 1], quote.text if quote else passage))
                if renumber[n] not in kept:
                    kept.append(renumber[n])
        body = MARKER.sub("", sentence).rstrip()
        if MARKER.search(sentence) and not kept:
            continue  # a claim whose every citation failed is not shown as if it were sourced
        out.append(body + "".join(f" [{k}]" for k in kept) if body else "")
    joined = _join(out)
    return CheckedAnswer(joined, citations, removed)


def answer_sentences(text: str) -> list[str]:
    """Split an answer into claims: a run of [n] markers ends a claim, and so does the end
    of a sentence; markers stay with the claim they follow."""
    pieces = re.split(r"((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)", text.strip())
    sentences: list[str] = []
    for i in range(0, len(pieces), 2):
        segment = pieces[i]
        if sentences and re.match(r"^[.!?;:,]", segment):  # "... [1]." : the stop ends the cited claim
            sentences[-1] += segment[0]
            segment = segment[1:]
        parts = [s.text for s in sentence_spans(segment)] or [""]
        if i + 1 < len(pieces):
            parts[-1] = parts[-1] + pieces[i + 1]
        sentences.extend(p.strip() for p in parts if p.strip())
    return sentences


def complete_sentences(text: str) -> str:
    """The part of a text being streamed that ends at a finished claim (sentence end, or
    citation markers followed by more text); "" while the first is still being written."""
    ends = [m.end() for m in re.finditer(r"[.!?](?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*(?=\s)|\](?=\s+\S)", text)]
    return text[: ends[-1]] if ends else ""


def _join(sentences: list[str]) -> str:
    return " ".join(s for s in sentences if s).strip()
