"""Evaluation metrics as pure functions: retrieval, answer facts, citations, abstention, latency.

No I/O and no models here, so every number in a report can be recomputed by
hand from the per-question records. Retrieval metrics take ranked keys (strings
or tuples) and a set of relevant keys; `page_key` and friends build those keys
from chunks and gold references.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

K = TypeVar("K", bound=Hashable)

__all__ = [
    "CitationScores",
    "abstention_scores",
    "citation_scores",
    "cited_numbers",
    "dedupe",
    "doc_relevant",
    "gold_doc_keys",
    "gold_page_keys",
    "hit_at_k",
    "lexical_support",
    "mean",
    "ndcg_at_k",
    "normalise",
    "page_key",
    "page_relevant",
    "percentile",
    "quote_verified",
    "recall_at_k",
    "reciprocal_rank",
    "required_fact_recall",
    "split_sentences",
    "strip_citations",
    "token_f1",
]


# --------------------------------------------------------------------------- retrieval


def dedupe(keys: Iterable[K]) -> list[K]:
    """Keep each key's first occurrence: five chunks of one page must count as one hit, not five."""
    seen: set[K] = set()
    out: list[K] = []
    for key in keys:
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def _prepare(ranked: Sequence[K], relevant: Collection[K], k: int | None) -> tuple[list[K], set[K]]:
    """De-duplicate, then cut at k distinct keys; refuse an empty relevant set (the score is undefined)."""
    if k is not None and k < 1:
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    rel = set(relevant)
    if not rel:
        raise ValueError("no relevant keys: score retrieval on answerable questions only")
    top = dedupe(ranked)
    if k is not None:
        top = top[:k]
    return top, rel


def hit_at_k(ranked: Sequence[K], relevant: Collection[K], k: int | None = None) -> float:
    """1.0 if any of the top-k distinct keys is relevant, else 0.0 (llama-index HitRate, default mode)."""
    from llama_index.core.evaluation.retrieval.metrics import HitRate

    top, rel = _prepare(ranked, relevant, k)
    if not top:  # llama-index raises on an empty list; an empty result is simply a miss
        return 0.0
    return float(HitRate().compute(expected_ids=list(rel), retrieved_ids=top).score)  # type: ignore[arg-type]


def recall_at_k(ranked: Sequence[K], relevant: Collection[K], k: int | None = None) -> float:
    """Fraction of relevant keys among the top-k distinct keys (llama-index Recall, set-based)."""
    from llama_index.core.evaluation.retrieval.metrics import Recall

    top, rel = _prepare(ranked, relevant, k)
    if not top:
        return 0.0
    return float(Recall().compute(expected_ids=list(rel), retrieved_ids=top).score)  # type: ignore[arg-type]


def reciprocal_rank(ranked: Sequence[K], relevant: Collection[K], k: int | None = None) -> float:
    """1/rank of the first relevant distinct key, 0.0 if none in the top k (llama-index MRR, default mode).

    Ranks count distinct keys: at document level [A, A, B] puts B at rank 2.
    Averaging over questions gives MRR.
    """
    from llama_index.core.evaluation.retrieval.metrics import MRR

    top, rel = _prepare(ranked, relevant, k)
    if not top:
        return 0.0
    return float(MRR().compute(expected_ids=list(rel), retrieved_ids=top).score)  # type: ignore[arg-type]


def ndcg_at_k(ranked: Sequence[K], relevant: Collection[K], k: int | None = None) -> float:
    """Binary-relevance nDCG@k with log2 discounts: DCG / IDCG, gain 1/log2(rank+1) per relevant key.

    Implemented here rather than with llama-index's NDCG because that one takes the
    ideal DCG over *all* expected ids, not min(|relevant|, k): with 3 relevant keys
    and k=2, a perfect top 2 would score 0.77 instead of 1.0. With k=None the ideal
    ranking has all relevant keys.
    """
    top, rel = _prepare(ranked, relevant, k)
    dcg = sum(1.0 / math.log2(i + 1) for i, key in enumerate(top, start=1) if key in rel)
    n_ideal = len(rel) if k is None else min(len(rel), k)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, n_ideal + 1))
    return dcg / idcg


class _Ref(Protocol):
    """Anything with a corpus file and a page, such as `eval.dataset.GoldRef`."""

    @property
    def file(self) -> str: ...

    @property
    def page(self) -> int | None: ...


def page_key(source: str, page: int | None, gold: Iterable[_Ref] = ()) -> tuple[str, int | None]:
    """The page-level key of a retrieved chunk, matched against `gold_page_keys`.

    A gold ref with page None (a Markdown treaty counts as one page) matches any
    chunk of that file, so such chunks map to (source, None).
    """
    if any(g.file == source and g.page is None for g in gold):
        return (source, None)
    return (source, page)


def gold_page_keys(gold: Iterable[_Ref]) -> set[tuple[str, int | None]]:
    """Relevant page keys of a question; a whole-file ref (page None) absorbs that file's page refs."""
    refs = list(gold)
    whole = {g.file for g in refs if g.page is None}
    return {(g.file, None) if g.file in whole else (g.file, g.page) for g in refs}


def gold_doc_keys(gold: Iterable[_Ref]) -> set[str]:
    """Relevant document keys of a question: its gold files."""
    return {g.file for g in gold}


def page_relevant(retrieved_source: str, retrieved_page: int | None, gold_refs: Iterable[_Ref]) -> bool:
    """Whether a chunk comes from a gold file and gold page (any page when the gold page is None)."""
    return any(g.file == retrieved_source and (g.page is None or g.page == retrieved_page) for g in gold_refs)


def doc_relevant(retrieved_source: str, gold_refs: Iterable[_Ref]) -> bool:
    """Whether a chunk comes from any gold file."""
    return any(g.file == retrieved_source for g in gold_refs)


# --------------------------------------------------------------------------- answers

_PERCENT_WORDS = re.compile(r"\s*\b(?:per\s*cent|percent|pour\s*cent|procent)\b")
_SPACE_BEFORE_PERCENT = re.compile(r"(?<=\d)\s+%")
# Thousands groups: one separator, used consistently, between groups of exactly three digits.
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?P<sep>[,. ])\d{3}(?:(?P=sep)\d{3})*(?!\d)")
_ARTICLES = frozenset({"a", "an", "the"})


def _strip_separators(match: re.Match[str]) -> str:
    return match.group(0).replace(match.group("sep"), "")


def normalise(text: str) -> str:
    """Canonical text for fact matching, so "7,905"/"7 905"/"7905" and "23 per cent"/"23%" compare equal.

    NFKC and casefold; percent words become "%"; separators between digit groups
    of three are dropped (a decimal like "1.5" is kept, a decimal comma becomes a
    point); other punctuation becomes a space; whitespace is collapsed.
    """
    s = unicodedata.normalize("NFKC", text).casefold()
    s = _PERCENT_WORDS.sub("%", s)
    s = _SPACE_BEFORE_PERCENT.sub("%", s)
    s = _THOUSANDS.sub(_strip_separators, s)
    out: list[str] = []
    last = len(s) - 1
    for i, ch in enumerate(s):
        if ch == "%" or not unicodedata.category(ch).startswith("P"):
            out.append(ch)
        elif ch in ".," and 0 < i < last and s[i - 1].isdigit() and s[i + 1].isdigit():
            out.append(".")
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def _contains_fact(answer: str, fact: str) -> bool:
    """Whole-word containment: "14" must not match "2014", but "photo" may match "photos"."""
    if not fact:
        return True
    left = r"(?<!\w)" if fact[0].isalnum() else ""
    if fact[-1].isdigit():
        right = r"(?!\d|\.\d)"
    elif fact[-1].isalpha():
        right = r"(?:s|es|d|ed|ing|ings)?(?!\w)"
    else:
        right = ""
    return re.search(left + re.escape(fact) + right, answer) is not None


def required_fact_recall(answer_text: str, facts: Sequence[str]) -> float:
    """Fraction of required facts found in the answer after `normalise`; 1.0 when there are none.

    Matching is on word boundaries rather than raw substrings (an inflection
    suffix such as a plural "s" is allowed), because many gold facts are short
    numbers like "14" or "25" that a raw substring test would find inside "2014".
    """
    if not facts:
        return 1.0
    answer = normalise(answer_text)
    found = sum(1 for fact in facts if _contains_fact(answer, normalise(fact)))
    return found / len(facts)


def _answer_tokens(text: str) -> list[str]:
    return [t for t in normalise(text).split() if t not in _ARTICLES]


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 on normalised tokens without articles; two empty texts score 1.0."""
    pred, ref = _answer_tokens(prediction), _answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


# --------------------------------------------------------------------------- citations

_NUM = r"\d{1,3}(?:\s*[-\u2013]\s*\d{1,3})?"
_CITE_BODY = rf"\s*{_NUM}(?:\s*[,;]\s*{_NUM})*\s*"
_CITE = re.compile(rf"\[({_CITE_BODY})\]")
# A sentence end: terminator, closing quotes/brackets, then any citation markers that follow it.
_SENT_END = re.compile(rf"[.!?]+[\"'\u201d\u2019)]*(?:\s*\[{_CITE_BODY}\])*")
_ABBREVIATIONS = frozenset(
    {
        "e.g", "i.e", "cf", "vs", "viz", "al", "art", "arts", "no", "nos", "nr", "para", "paras",
        "p", "pp", "fig", "sec", "ch", "vol", "approx", "incl", "inc", "ltd", "co", "corp", "dept",
        "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "op", "cit", "ibid", "ed", "eds",
    }
)  # fmt: skip
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")
_LIST_NUMBER = re.compile(r"\(?\d{1,3}[.)]")


def cited_numbers(sentence: str) -> list[int]:
    """Citation numbers in a sentence, in order and without repeats: [1], [1, 2], [1][2], [2-4]."""
    numbers: list[int] = []
    for match in _CITE.finditer(sentence):
        for part in re.split(r"[,;]", match.group(1)):
            bounds = [int(x) for x in re.findall(r"\d+", part)]
            if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] < 50:
                numbers.extend(range(bounds[0], bounds[1] + 1))
            else:
                numbers.extend(bounds)
    return dedupe(numbers)


def strip_citations(text: str) -> str:
    """The text without [n] markers, so a claim can be checked against its evidence."""
    s = _CITE.sub(" ", text)
    s = re.sub(r"\s+([.,;:!?])", r"\1", s)
    return " ".join(s.split())


def _is_abbreviation(line: str, dot: int) -> bool:
    if line[dot] != ".":
        return False
    match = re.search(r"(\S+)$", line[:dot])
    if not match:
        return False
    token = match.group(1).lstrip("(\"'\u201c\u2018")
    return token.casefold() in _ABBREVIATIONS or _INITIALISM.fullmatch(token) is not None


def split_sentences(text: str) -> list[str]:
    """Answer sentences, each keeping the [n] markers that follow its full stop.

    Lines (list items) are split first; within a line a sentence ends at . ! or ?
    followed by space and a non-lowercase character, except after abbreviations
    ("e.g.", "Art.", "No."), initials ("U.S.") and list numbers ("1.").
    """
    sentences: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        start = 0
        for match in _SENT_END.finditer(line):
            end = match.end()
            if end < len(line) and not line[end].isspace():
                continue
            rest = line[end:].lstrip()
            if rest and rest[0].islower():
                continue
            if rest and _is_abbreviation(line, match.start()):
                continue
            if _LIST_NUMBER.fullmatch(line[start:end].strip()):  # "1. First item": not a sentence
                continue
            piece = line[start:end].strip()
            if piece:
                sentences.append(piece)
            start = end
        tail = line[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each either few for from further
    had has have having he her here hers herself him himself his how however i if in into is it its
    itself just may me might more most must my myself neither no nor not of off on once only or other
    our ours ourselves out over own same shall she should so some such than that the their theirs them
    themselves then there these they this those through thus to too under until up upon very was we
    were what when where whether which while who whom whose why will with within without would yes yet
    you your yours yourself yourselves according said says per via etc
    de het een en van le la les des du et un une
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _stem(word: str) -> str:
    """Crude suffix stripping so "victims"/"victim" and "exploited"/"exploitation" meet."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ations", "ation", "ings", "ing", "edly", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    """Stemmed content words of a text (stopwords and [n] markers removed)."""
    tokens = normalise(strip_citations(text)).split()
    return [_stem(t) for t in tokens if t not in _STOPWORDS and any(c.isalnum() for c in t)]


def _verbatim_key(text: str) -> str:
    return _flatten(strip_citations(text), dehyphenate=False).casefold().strip(" .!?;:\"'")


def lexical_support(sentence: str, passage: str, threshold: float = 0.6) -> bool:
    """Cheap offline stand-in for an NLI judge: enough of the sentence's content words occur in the passage.

    True when the sentence (without [n] markers) appears verbatim in the passage,
    or when at least `threshold` of its distinct stemmed content words do. A
    sentence with no content words is not supported.
    """
    claim = _verbatim_key(sentence)
    if claim and claim in _flatten(passage, dehyphenate=False).casefold():
        return True
    words = set(_words(sentence))
    if not words:
        return False
    available = set(_words(passage))
    return len(words & available) / len(words) >= threshold


@dataclass(frozen=True)
class CitationScores:
    """ALCE-style citation recall and precision of one answer, with the counts behind them."""

    recall: float
    precision: float
    n_sentences: int
    n_citations: int
    n_supported: int = 0
    n_relevant: int = 0


def citation_scores(
    answer_text: str,
    sources: dict[int, str],
    supports: Callable[[str, str], bool],
) -> CitationScores:
    """Citation recall and precision per answer sentence, after ALCE (Gao et al., 2023).

    `supports(claim, passage)` judges entailment; `lexical_support` fits. Claims are
    sentences without their [n] markers; sentences with no content words, and
    uncited lead-ins ending in ":", are not scored.

    - recall: fraction of sentences whose valid cited passages, joined, support
      them; an uncited sentence is unsupported.
    - precision: fraction of citations that exist in `sources` and either support
      the sentence alone or are needed (the others alone would not support it).
      Unlike ALCE, a citation number missing from `sources` costs only itself,
      not the whole sentence.

    With no sentences (or no citations) recall (or precision) is 0.0; check the counts.
    """
    cache: dict[tuple[str, tuple[int, ...]], bool] = {}

    def judged(claim: str, ids: Sequence[int]) -> bool:
        key = (claim, tuple(ids))
        if key not in cache:
            cache[key] = bool(supports(claim, "\n".join(sources[i] for i in ids)))
        return cache[key]

    n_sentences = n_citations = n_supported = n_relevant = 0
    for sentence in split_sentences(answer_text):
        claim = strip_citations(sentence)
        cites = cited_numbers(sentence)
        if not _words(claim) or (not cites and claim.endswith(":")):
            continue
        n_sentences += 1
        n_citations += len(cites)
        valid = [c for c in cites if c in sources]
        joint = bool(valid) and judged(claim, valid)
        n_supported += joint
        if len(valid) == 1:
            n_relevant += joint
            continue
        for c in valid:
            if judged(claim, [c]) or (joint and not judged(claim, [x for x in valid if x != c])):
                n_relevant += 1
    return CitationScores(
        recall=n_supported / n_sentences if n_sentences else 0.0,
        precision=n_relevant / n_citations if n_citations else 0.0,
        n_sentences=n_sentences,
        n_citations=n_citations,
        n_supported=n_supported,
        n_relevant=n_relevant,
    )


_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None,
    }
)  # fmt: skip
_HYPHEN_BREAK = re.compile(r"(\w)-[ \t]*\r?\n\s*(\w)")


def _flatten(text: str, *, dehyphenate: bool) -> str:
    """Text as compared for quotes: NFKC (ligatures), plain quotes/dashes, optional hyphen-break joins, one space."""
    s = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    if dehyphenate:
        s = _HYPHEN_BREAK.sub(r"\1\2", s)
    return " ".join(s.split())


def quote_verified(quote: str, page_text: str) -> bool:
    """Whether the quote occurs verbatim (case-sensitive) in the page, up to whitespace and glyph variants.

    Both sides get the same treatment: NFKC (so "ﬁ" is "fi"), typographic quotes and
    dashes made plain, soft hyphens dropped, whitespace collapsed. A second try also
    joins words hyphenated across a line break, as PDF extraction leaves them.
    """
    for dehyphenate in (False, True):
        q = _flatten(quote, dehyphenate=dehyphenate)
        if q and q in _flatten(page_text, dehyphenate=dehyphenate):
            return True
    return False


# --------------------------------------------------------------------------- abstention, latency


def abstention_scores(predicted_abstain: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float]:
    """Abstention quality; the positive class is "abstained on an unanswerable question".

    precision = correct abstentions / abstentions (0.0 when nothing abstained);
    recall = correct abstentions / unanswerable questions (0.0 when there are none);
    f1 their harmonic mean (0.0 when both are 0); false_refusal = abstentions on
    answerable questions / answerable questions (0.0 when there are none).
    """
    if len(predicted_abstain) != len(answerable):
        raise ValueError(f"{len(predicted_abstain)} predictions for {len(answerable)} questions")
    tp = sum(1 for a, ok in zip(predicted_abstain, answerable, strict=True) if a and not ok)
    fp = sum(1 for a, ok in zip(predicted_abstain, answerable, strict=True) if a and ok)
    n_abstained = sum(1 for a in predicted_abstain if a)
    n_unanswerable = sum(1 for ok in answerable if not ok)
    n_answerable = len(answerable) - n_unanswerable
    precision = tp / n_abstained if n_abstained else 0.0
    recall = tp / n_unanswerable if n_unanswerable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    false_refusal = fp / n_answerable if n_answerable else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "false_refusal": false_refusal}


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation, as numpy's default; nan for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p!r}")
    data = sorted(values)
    if not data:
        return math.nan
    rank = (len(data) - 1) * p / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; nan for no values, so an empty group reads as missing rather than zero."""
    data = list(values)
    return math.fsum(data) / len(data) if data else math.nan
