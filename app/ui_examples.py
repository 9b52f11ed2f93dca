"""Example questions drawn from the library in use, kept only when the library answers them.

Hard-coded examples written for the sample files mislead on any other library: they show
questions its documents cannot answer. Here every candidate comes from what is ingested (a
document's title, its short section headings), turned into a plain question, and is asked
offline (extractive mode, ~0.1 s each) before it is shown: a question the library declines
is dropped. `LanternUI` caches the result per store generation.

The questions are in the UI's language (English): a heading in another language (the Dutch
half of a bilingual treaty: "Verdrag betreffende de afschaffing van gedwongen arbeid",
"Werkingssfeer") would make a question in two languages at once. A heading is left out when its
own function words are another language's (none English), or when most passages under it were
read as another language at ingest (each chunk's `language`); a title, when its words are
another language's; a document whose languages leave English out gives none. A heading's language is
not guessed from its words alone: langid calls "Debt bondage" Dutch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from core.errors import LanternError
from core.text import LANGUAGES, stopwords, words
from ingest.layout import SEPARATOR

if TYPE_CHECKING:
    from assistant.api import Lantern
    from core.store import DocumentRecord

MAX_EXAMPLES = 4
MAX_TRIES = 14  # candidates asked at most (start-up time: ~0.1 s each offline)
MAX_WORDS = 9  # longer titles and headings make clumsy questions
UI_LANGUAGE = "en"  # the language of the UI, and so of its example questions

_WH = re.compile(r"^(what|who|how|where|when|why)\s+(.+?)\s+(is|are)$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(?:\d+[.)]|[ivx]+[.)]|article\s+\d+[.:]?|step\s+\d+[.:]?)\s*", re.IGNORECASE)
_LINKING = {"of", "for", "against", "in", "on", "to", "and", "by", "with", "under"}


def _lower_first(text: str) -> str:
    """'Debt bondage' -> 'debt bondage', 'The Trafficking Definition' -> 'the Trafficking
    Definition'; a Title Case phrase ('Supply-Chain Due Diligence') and 'ILO ...' keep theirs."""
    first, _, rest = text.partition(" ")
    sentence_case = not any(w[:1].isupper() for w in rest.split() if w.lower() not in _LINKING)
    if first.lower() in {"the", "a", "an"} or (sentence_case and first[:1].isupper() and first[1:].islower()):
        first = first.lower()
    return f"{first} {rest}".strip()


def _verb(phrase: str) -> str:
    """'is' or 'are' for a noun phrase, by its head noun (the word before 'of', 'for'...)."""
    words = phrase.split()
    head = next((words[i - 1] for i, w in enumerate(words) if i and w.lower() in _LINKING), words[-1])
    plural = head.lower().endswith("s") and not head.lower().endswith(("ss", "us", "is"))
    return "are" if plural else "is"


def _clean(text: str) -> str:
    text = _NUMBERED.sub("", " ".join(text.replace("#", " ").split())).strip(" .:;-")
    return re.sub(r"\s*\([^)]*\)$", "", text)  # "The act (what is done)" -> "The act"


def question_for(phrase: str, topic: str = "") -> str | None:
    """A question from a title or heading, or None when it would not read as one.

    'What a National Referral Mechanism is' -> 'What is a National Referral Mechanism?';
    'Debt bondage' -> 'What is debt bondage?'; 'Supporting victims' -> 'What does supporting
    victims involve?'; 'The five stages' of a document on `topic` 'National Referral
    Mechanisms' -> 'What are the five stages of National Referral Mechanisms?'. Headings that
    are already sentences, or too long, give nothing.
    """
    text = _clean(phrase)
    words = text.split()
    if not words or len(words) > MAX_WORDS or not re.search(r"[A-Za-z]{3}", text) or "?" in text:
        return None
    wh = _WH.match(text)
    if wh:
        return f"{wh.group(1).capitalize()} {wh.group(3).lower()} {wh.group(2)}?"
    if re.match(r"^(what|who|how|where|when|why|which)\b", text, re.IGNORECASE) or ":" in text:
        return None
    if any(w.lower() in {"is", "are", "was", "were", "comes", "must", "should", "can"} for w in words):
        return None  # a sentence ("Consent is irrelevant once means are used"), not a topic
    phrase_lc = _lower_first(text)
    verb = _verb(text)
    if words[0].lower().endswith("ing") and len(words) > 1:
        return f"What does {phrase_lc} involve?"
    if words[0].lower() == "the" and topic and len(words) <= 4:  # 'the purpose': of what?
        return f"What {verb} {phrase_lc} of {_lower_first(_clean(topic))}?"
    if phrase_lc[:1].isupper() and words[0] != words[0].upper() and verb == "is":
        phrase_lc = "the " + phrase_lc  # a Title Case name: 'What is the First-Responder Checklist?'
    return f"What {verb} {phrase_lc}?"


def _title_topic(title: str) -> str:
    """The part of a title before its subtitle ('The Trafficking Definition: Act, ...')."""
    return re.split(r"\s*[:|–—]\s+|\s+-\s+", title, maxsplit=1)[0]


def foreign_words(phrase: str) -> bool:
    """Whether a title or heading is visibly not English: another language's function words
    ('de', 'van', 'het'), none of English's."""
    tokens = words(phrase)
    english = stopwords(UI_LANGUAGE)
    others = frozenset().union(*(stopwords(lang) for lang in LANGUAGES if lang != UI_LANGUAGE))
    return any(t in others and t not in english for t in tokens) and not any(t in english for t in tokens)


def _in_ui_language(doc: DocumentRecord) -> bool:
    """Whether a document holds text in the UI's language (as far as its record says)."""
    codes = [c.strip() for c in (doc.language or "").split(";") if c.strip()]
    return not codes or UI_LANGUAGE in codes


def candidates(documents: Sequence[DocumentRecord], sections: dict[str, list[str]]) -> list[str]:
    """Questions from titles first (one per document), then from headings, documents in turn.

    `sections` holds each source's headings in the UI's language (`sections_by_source`).
    """
    per_doc: list[list[str]] = []
    for doc in documents:
        if not _in_ui_language(doc):
            continue
        topic = _title_topic(doc.title) if doc.title else ""
        title_question = question_for(topic) if not foreign_words(doc.title or "") else None
        phrases = [s for s in sections.get(doc.source, []) if s != doc.title and not foreign_words(s)]
        questions = [q for q in [title_question, *(question_for(p, topic) for p in phrases)] if q]
        per_doc.append(list(dict.fromkeys(questions)))
    out: list[str] = []
    for round_ in range(max((len(q) for q in per_doc), default=0)):
        out += [qs[round_] for qs in per_doc if round_ < len(qs) and qs[round_] not in out]
    return out


def sections_by_source(chunks: Iterable) -> dict[str, list[str]]:
    """Each source's section headings, in document order (from the chunks' `section` metadata),
    leaving out those over passages mostly in a language other than the UI's."""
    order: dict[str, list[str]] = {}
    tally: dict[tuple[str, str], list[int]] = {}  # (source, heading) -> [passages in the UI's language, all]
    for chunk in chunks:
        # the innermost heading of a path ("Part 2 > Identification of victims"): a question reads one topic
        section = str((chunk.metadata or {}).get("section") or "").split(SEPARATOR)[-1].strip()
        headings = order.setdefault(chunk.source, [])
        if not section:
            continue
        if section not in headings:
            headings.append(section)
        counts = tally.setdefault((chunk.source, section), [0, 0])
        language = str((chunk.metadata or {}).get("language") or UI_LANGUAGE)
        counts[0] += UI_LANGUAGE in language.split(";")
        counts[1] += 1
    return {source: [h for h in headings if 2 * tally[(source, h)][0] > tally[(source, h)][1]]
            for source, headings in order.items()}


def answered_examples(lantern: Lantern, limit: int = MAX_EXAMPLES, tries: int = MAX_TRIES) -> list[str]:
    """Up to `limit` questions from the library that it answers offline (no abstention)."""
    documents = [d for d in lantern.store.documents() if d.chunks]
    if not documents:
        return []
    kept: list[str] = []
    for question in candidates(documents, sections_by_source(lantern.store.chunks()))[:tries]:
        try:
            answer = lantern.ask(question, mode="extractive")
        except LanternError:
            continue
        if not answer.abstained and answer.citations:
            kept.append(question)
            if len(kept) == limit:
                break
    return kept
