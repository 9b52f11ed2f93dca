"""What a question asks for, and which answer units carry it.

A reader asking "how many…" wants the sentence with the figure, "which indicators…" wants the
whole list under its lead-in, "what is meant by…" wants the defining sentence, and a question
in two parts wants each part answered. The rules here read only the question's own wording
(English interrogatives and general nouns), so they hold for any library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.text import numbers, stopwords, words

_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
                 r"forty|fifty|hundred|thousand|million|billion|half|third|quarter|dozen")
_UNIT = r"(?:hours?|days?|weeks?|months?|years?|decades?)"
_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|december")

_ASKS = {
    "duration": re.compile(rf"\bhow long\b|\bhow many {_UNIT}\b|\b(?:what|which) (?:period|duration|length|term)\b|"
                           r"\bwithin (?:what|which) (?:time|period)\b"),
    "number": re.compile(r"\bhow (?:many|much|often|old)\b|\b(?:what|which) (?:percentage|proportion|share|number|"
                         r"amount|fraction|ratio|age|rate|figure|sum|fine|total|ratios|figures|amounts)\b|"
                         r"\b(?:what|which) (?:was|is|were|are) the (?:number|total|share|percentage|proportion|"
                         r"rate|amount|ratio|figure)\b"),
    "date": re.compile(r"^when\b|\bwhen (?:did|was|were|does|do|is|will|has|had)\b|\b(?:what|which|in what|in which) "
                       r"(?:year|date|month|day|years)\b|\bsince when\b"),
    "definition": re.compile(r"\bwhat (?:is|are|was) (?:meant by|the definition|the meaning)\b|\bdefin(?:e|es|ition|ed)\b|"
                             r"\bwhat does .{1,60} mean\b|\bmeaning of\b|\bwhat counts as\b|\bwhat constitutes\b"),
    "agent": re.compile(r"^who\b|\bwho (?:is|are|was|were|must|should|can|may|did|does|do|runs?|has|have)\b|"
                        r"\b(?:which|what) (?:organi[sz]ations?|agenc(?:y|ies)|bod(?:y|ies)|authorit(?:y|ies)|"
                        r"institutions?|ministr(?:y|ies)|courts?|departments?|offices?|persons?|people|groups?|"
                        r"partners?|actors?|services?)\b"),
    "place": re.compile(r"^where\b|\bwhere (?:did|was|were|do|does|is|are|can|should|must)\b|\b(?:which|what) "
                        r"(?:countr(?:y|ies)|cit(?:y|ies)|regions?|provinces?|states?|places?|locations?|"
                        r"municipalit(?:y|ies)|sectors?|industr(?:y|ies))\b"),
}
_LIST = re.compile(r"\b(?:what|which) (?:are the |were the |kinds? of |types? of |sorts? of |forms? of )?"
                   r"(?:\w+ ){0,2}?(\w{4,}s)\b|\bwhat (?:are|were) (?:the )?\w+|\blist\b|\bname the\b|"
                   r"\b(?:what|which) (?:\w+ )?(?:criteria|people|children|women|men|media|data)\b|\bin what (?:different )?ways\b|\bhow (?:should|can|could|must|do|does|to)\b")
_NOT_PLURAL = re.compile(r"(?:ss|us|is|ous|ics|ness)$")
_YES_NO = re.compile(r"^(?:is|are|does|do|did|can|could|must|should|may|has|have|had|was|were|will|would|shall)\b")
_SECOND_PART = re.compile(
    r"(?:,\s*|\s+)(?:and|but)\s+(?=(?:what|which|how|when|where|who|whom|whose|why|whether|is|are|does|do|did|"
    r"can|must|was|were)\b)|\?\s+(?=\S)|;\s+(?=\w)"
)


@dataclass(frozen=True)
class Asks:
    """The shape of an answer a question wants: kinds of token it names, list or not, its parts."""

    kinds: frozenset[str]
    wants_list: bool
    yes_no: bool
    parts: tuple[str, ...]


def analyse(question: str) -> Asks:
    """What kind of answer a question wants, from its interrogative wording alone."""
    q = " ".join(question.lower().split())
    kinds = {name for name, pattern in _ASKS.items() if pattern.search(q)}
    if "duration" in kinds:
        kinds.discard("date")
    wants_list = False
    for m in _LIST.finditer(q):
        noun = m.group(1)
        if noun is None or (noun not in stopwords("en") and not _NOT_PLURAL.search(noun)):
            wants_list = True
    if kinds & {"number", "duration", "date"} and not re.search(r"\b(?:ratios|figures|amounts|years)\b", q):
        wants_list = False
    parts = tuple(p.strip(" ,;?") for p in _SECOND_PART.split(q) if len(words(p)) >= 2)
    return Asks(frozenset(kinds), wants_list, bool(_YES_NO.match(q)), parts if len(parts) > 1 else (q.strip(" ?"),))


def wants_number(question: str) -> bool:
    """Whether the question asks for a figure (a count, a share, an age, a duration): the gate's
    "a figure asked for and none found" reads the question as the answer does."""
    return bool(analyse(question).kinds & {"number", "duration"})


_HAS = {
    "number": re.compile(rf"\d|%|\b(?:{_NUMBER_WORDS}|per ?cent|percent|majority|most)\b", re.IGNORECASE),
    "date": re.compile(rf"\b(?:1[89]|20)\d{{2}}\b|\b(?:{_MONTHS})\b", re.IGNORECASE),
    # "17 years old" and "a 28.5-year-old" are ages, not how long something lasted
    "duration": re.compile(rf"(?:\b(?:\d+|{_NUMBER_WORDS}|a|an)[ -]{_UNIT}\b|\b(?:{_NUMBER_WORDS}|\d+)-(?:day|week|month|year)\b)"
                           r"(?![ -]olds?\b)", re.IGNORECASE),
    "definition": re.compile(r"\b(?:means?|is defined as|are defined as|refers? to|shall mean|is understood|"
                             r"definition|is the term|is used to describe|describes?)\b|\b(?:is|are) an?\b|^[^:]{3,60}:\s",
                             re.IGNORECASE),
    "agent": re.compile(r"(?<!^)(?<![.!?] )\b(?:[A-Z]{2,}|[A-Z][a-z]+(?: (?:of |for |and )?[A-Z][a-z]+)+)\b|"
                        r"\b(?:police|ministry|agency|inspectorate|court|organi[sz]ation|authority|council|"
                        r"commission|office|service|department|NGOs?)\b"),
    "place": re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]{2,}\b"),
}


def carries(kind: str, text: str) -> bool:
    """Whether a sentence holds the kind of token a question asks for (a figure, a date, a name…)."""
    if kind == "number":
        plain = [n for n in numbers(text) if not re.fullmatch(r"(?:19|20)\d{2}", n)]
        return bool(plain) or bool(_HAS["number"].search(re.sub(r"\d", "", text)))
    pattern = _HAS.get(kind)
    return bool(pattern and pattern.search(text))


_LEADING_REFERENCE = re.compile(r"^(?:this|these|they|it|its|their|such|those|he|she|his|her|them|that)\b", re.IGNORECASE)


def leans_back(text: str) -> bool:
    """A sentence that starts by pointing at the one before it ("This…", "They…")."""
    return bool(_LEADING_REFERENCE.match(text.lstrip("•▪●◦»*–- ")))
