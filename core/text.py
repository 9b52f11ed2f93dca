"""The one text toolkit: sentences, words, stopwords, stems, numbers, citation markers, languages.

Ingest, retrieval, the abstention gate, answers, the citation checker and eval all read text
the same way through these functions, so a word that counts in one place counts in all of
them. Word lists come from general sources (NLTK's stopword lists as llama-index ships them,
Snowball stemmers from PyStemmer, langid.py's model), never from the questions we test on.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

# --------------------------------------------------------------------------- citation markers

_NUM = r"\d{1,3}(?:\s*[-\u2013]\s*\d{1,3})?"
_MARKER_BODY = rf"{_NUM}(?:\s*[,;]\s*{_NUM})*"
MARKER = re.compile(rf"\s*\[\s*({_MARKER_BODY})\s*\]")
"""A citation marker with the space before it: [1], [1, 2], [1;3], [2-4]."""
_MARKER_RUN = re.compile(rf"((?:\s*\[\s*{_MARKER_BODY}\s*\])+)")


def cited_numbers(text: str) -> list[int]:
    """Citation numbers in order of first appearance, without repeats; ranges expand ([2-4])."""
    out: list[int] = []
    for match in MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            bounds = [int(x) for x in re.findall(r"\d+", part)]
            numbers = range(bounds[0], bounds[1] + 1) if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] < 50 else bounds
            out.extend(n for n in numbers if n not in out)
    return out


def strip_markers(text: str) -> str:
    """The text without [n] markers, spaces before punctuation tidied."""
    return " ".join(re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub(" ", text)).split())


def neutralise_markers(text: str) -> str:
    """[n] written inside a source becomes (n), so it cannot pose as one of our citations."""
    return re.sub(r"\[(\s*\d[\d\s,;\-\u2013]*)\]", r"(\1)", text)


# --------------------------------------------------------------------------- sentences

_BULLET = "•▪●◦■□➢✓\uf0a7\uf0a8\uf0b7\uf076\uf0d8–*\\-"
# A report's note references set after the full stop ("made.(49) Although", "children. (21,32-37) As a
# result"): they belong to neither sentence, and quoting them would start a sentence with "(21,32-37)".
_NOTE_REFS = r"\(\d{1,3}(?:\s?[,\u2013-]\s?\d{1,3})*\)"
# A footnote set under a table or at the foot of a page opens with its mark ("‡ Age calculated…",
# "* Based on 772 victims…"): its own sentence, shown without the mark. A line that ends with note
# references ("…available information (16)") ends its sentence when a capital opens the next.
_NOTE_MARKS = "*†‡"
_LEADING_REFS = re.compile(r"(?:" + _NOTE_REFS + r"|[" + _NOTE_MARKS + r"]{1,2})\s+(?=[A-Z])")
_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"”’)\]]*(?:\s*" + _NOTE_REFS + r")?\s+(?=[\"“‘(\[]?[A-Z0-9" + _BULLET + r"])"  # end of a sentence
    r"|\n\s*\n"  # a paragraph break
    # a new list item, or a footnote under the text ("*" is a bullet too)
    r"|(?<!\s)\s*\n(?=\s*(?:[" + _BULLET + r"]|\d{1,2}[.)]\s)|[" + _NOTE_MARKS + r"]{1,2}\s+[A-Z])"
    r"|(?<=:)\s*\n"  # a line that introduces what follows
    r"|(?<=\d\))(?<!\(\d{4}\))[ \t]*\n(?=[A-Z])"  # note references ending a line (a footnote's, a table cell's)
    r"|(?<!\s)\s+(?=•)"  # an inline bullet
    r"|(?<=[^\W\d_][.!?])\d{1,3}[ \t]*\n?[ \t]*(?=[A-Z])"  # a note number set after the stop ("areas.89 Sexual")
)
# (?<!\s): these two are tried only where a run of whitespace begins. Tried inside one (spans.units
# blanks headings out with spaces), each failed attempt rescanned the rest of the run, quadratic in
# its length; matches are unchanged, since one from inside a run also matches from its start.
_ABBREVIATION = re.compile(
    r"(?:\b(?:No|Nos|Art|Arts|art|para|paras|e\.g|i\.e|cf|vs|etc|Mr|Mrs|Ms|Dr|St|Vol|vol|p|pp|Fig|fig|Inc|Ltd|Co|Jr|Sr)"
    r"|\b[A-Z]|\b(?:[A-Z]\.){1,3}[A-Z])\.$"
)


@dataclass(frozen=True)
class Span:
    """A sentence as character offsets into a text."""

    start: int
    end: int
    text: str


def sentence_spans(text: str) -> list[Span]:
    """Sentences (and list items, and lines that introduce a list) with their offsets, trimmed.

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
    if lead := _LEADING_REFS.match(text, start, end):
        start = lead.end()
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append(Span(start, end, text[start:end]))


def sentences(text: str) -> list[str]:
    """The sentences of a text (see `sentence_spans`)."""
    return [s.text for s in sentence_spans(text)]


def claims(text: str) -> list[str]:
    """An answer split into claims, each keeping the [n] markers that follow it.

    A run of markers ends a claim, and so does the end of a sentence ("... [1]." keeps the stop).
    """
    pieces = _MARKER_RUN.split(text.strip())
    out: list[str] = []
    for i in range(0, len(pieces), 2):
        segment = pieces[i]
        if out and re.match(r"^[.!?;:,]", segment):
            out[-1] += segment[0]
            segment = segment[1:]
        parts = sentences(segment) or [""]
        if i + 1 < len(pieces):
            parts[-1] = parts[-1] + pieces[i + 1]
        out.extend(p.strip() for p in parts if p.strip())
    return out


def complete_claims(text: str) -> str:
    """The part of a text being streamed that ends at a finished claim; "" before the first."""
    ends = [m.end() for m in re.finditer(rf"[.!?](?:\s*\[{_MARKER_BODY}\])*(?=\s)|\](?=\s+\S)", text)]
    return text[: ends[-1]] if ends else ""


# --------------------------------------------------------------------------- words

_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
_LANGUAGE_NAMES = {"en": "english", "nl": "dutch", "fr": "french", "de": "german", "es": "spanish",
                   "it": "italian", "pt": "portuguese"}
# Words that frame a question or an instruction rather than carry its content (general English).
_QUESTION_FRAMING = ("according also any give given list name per say says said shall tell upon via etc "
                     "may might must would within there's it's")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; numbers keep inner separators ("2,500", "1.5"), apostrophes stay."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


@cache
def stopwords(lang: str = "en") -> frozenset[str]:
    """General function words of a language (NLTK's lists, as llama-index-core bundles them)."""
    name = _LANGUAGE_NAMES.get(lang, lang)
    found: set[str] = set()
    for folder in _nltk_stopword_folders():
        path = folder / name
        if path.is_file():
            found.update(path.read_text(encoding="utf-8").split())
            break
    if lang == "en":
        found.update(_QUESTION_FRAMING.split())
    return frozenset(found)


@cache
def all_stopwords() -> frozenset[str]:
    """Function words of every language Lantern reads questions in."""
    return frozenset().union(*(stopwords(lang) for lang in ("en", "nl", "fr", "de", "es")))


def _nltk_stopword_folders() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("llama_index")
    roots = list(spec.submodule_search_locations or []) if spec else []
    return [Path(r) / "core" / "_static" / "nltk_cache" / "corpora" / "stopwords" for r in roots]


_STEMMERS: dict[str, object] = {}
_STEMMER_LOCK = threading.Lock()


def stem(word: str, lang: str = "en") -> str:
    """Snowball stem ("victims" → "victim", "exploitation" → "exploit")."""
    stemmer = _STEMMERS.get(lang)
    if stemmer is None:
        import Stemmer

        with _STEMMER_LOCK:
            name = _LANGUAGE_NAMES.get(lang, "english")
            stemmer = _STEMMERS.setdefault(lang, Stemmer.Stemmer(name))
    return stemmer.stemWord(word)  # type: ignore[attr-defined]


def content_words(text: str, lang: str = "en") -> list[str]:
    """Stemmed words that carry meaning: markers, stopwords and single letters removed."""
    stop = stopwords(lang)
    out = []
    for w in words(MARKER.sub(" ", text)):
        w = w.replace(",", "") if w[0].isdigit() else w
        if w in stop or (len(w) < 2 and not w.isdigit()):
            continue
        out.append(w if w[0].isdigit() else stem(w, lang))
    return out


# Negation cues of the corpus languages: stopword lists drop them, so support by shared words
# alone would count "children need to consent" as backed by "children do not need to consent".
def idf_weights(terms: Iterable[str], passages: Sequence[set[str]]) -> dict[str, float]:
    """How telling each term is among a few passages (their content-word sets): rarer weighs more,
    and a term in every passage still counts (+0.5), so a word of the question is never worthless."""
    n = len(passages) or 1
    return {w: math.log(1 + n / (1 + sum(w in p for p in passages))) + 0.5 for w in set(terms)}


_NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|none|nobody|nothing|without|cannot|can't|\w+n[’']t|"
    r"niet|geen|nooit|zonder|pas|jamais|aucun|aucune|sans|nicht|kein|keine|nie|nunca|sin)\b",
    re.IGNORECASE,
)


def negated(text: str) -> bool:
    """Whether a sentence is worded as a negation (an odd number of negation cues)."""
    return len(_NEGATION.findall(text)) % 2 == 1


# --------------------------------------------------------------------------- numbers

_NUMBER = re.compile(r"(?<!\d)\d{1,3}(?:[,.\u202f\u00a0 ]\d{3}(?!\d))+(?:[.,]\d+)?|\d+(?:[.,]\d+)?")


def normalise_number(raw: str) -> str:
    """One spelling per number: thousands separators dropped, a decimal comma becomes a point."""
    digits = re.sub(r"[.,\u202f\u00a0 ](?=\d{3}(?!\d))", "", raw.strip())
    return digits.replace(",", ".")


def numbers(text: str) -> set[str]:
    """The numbers a text states, normalised ("2,500" and "2 500" → "2500")."""
    return {normalise_number(m) for m in _NUMBER.findall(text)}


_PERCENT_WORDS = re.compile(r"\s*\b(?:per\s*cent|percent|pour\s*cent|procent)\b")
_THOUSANDS = re.compile(r"(?<!\d)\d{1,3}(?:(?P<sep>[,.\u202f\u00a0 ])\d{3})(?:(?P=sep)\d{3})*(?![\d])")


def normalise(text: str) -> str:
    """Canonical text for matching facts and quotes: "7,905"/"7 905"/"7905" and "23 per cent"/"23%"
    compare equal. NFKC, casefold, thousands separators dropped, other punctuation a space."""
    s = unicodedata.normalize("NFKC", text).casefold()
    s = _PERCENT_WORDS.sub("%", s)
    s = re.sub(r"(?<=\d)\s+%", "%", s)
    s = _THOUSANDS.sub(lambda m: m.group(0).replace(m.group("sep"), ""), s)
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


# --------------------------------------------------------------------------- languages

LANGUAGES = ("en", "nl", "fr", "de", "es")
_IDENTIFIER = None
_IDENTIFIER_LOCK = threading.Lock()


def _identifier():
    global _IDENTIFIER
    with _IDENTIFIER_LOCK:
        if _IDENTIFIER is None:
            from langid.langid import LanguageIdentifier, model

            identifier = LanguageIdentifier.from_modelstring(model, norm_probs=True)
            identifier.set_languages(list(LANGUAGES))
            _IDENTIFIER = identifier
    return _IDENTIFIER


def guess_language(text: str, default: str = "en") -> str:
    """The language of a text (langid.py's model, limited to the languages Lantern reads).

    Plain English decides on its function words alone, so the common case never loads the
    model; `default` when there are too few words to tell.
    """
    tokens = [w for w in words(text) if not w[0].isdigit()]
    if len(tokens) < 2:
        return default
    others = frozenset().union(*(stopwords(lang) for lang in LANGUAGES[1:]))
    english = sum(w in stopwords("en") for w in tokens)
    english_only = sum(w in stopwords("en") and w not in others for w in tokens)
    foreign_only = sum(w in others and w not in stopwords("en") for w in tokens)
    if english >= max(2, len(tokens) // 4) and english_only and not foreign_only:
        return "en"
    lang, _ = _identifier().classify(text)
    return str(lang)


# --------------------------------------------------------------------------- layout and HTML

_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\u00ad": ""}
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\x7f]")  # bullets and ticks from symbol fonts (Wingdings, Symbol)


def normalise_whitespace(text: str) -> str:
    """Single spaces within lines, at most one blank line between paragraphs, no edge blanks;
    ligatures spelled out; symbol-font bullets become "•"; dot leaders shortened."""
    for k, v in _LIGATURES.items():
        text = text.replace(k, v)
    text = _PRIVATE_USE.sub("•", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ").replace("\xa0", " ")
    text = re.sub(r"(?:\. ?){4,}|…{2,}", " ... ", text)  # table-of-contents dot leaders
    text = re.sub(r"[ \f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None,
    }
)  # fmt: skip
_HYPHEN_BREAK = re.compile(r"(\w)-[ \t]*\r?\n\s*(\w)")


def plain_glyphs(text: str, *, dehyphenate: bool = False) -> str:
    """Text as compared for verbatim quotes: NFKC (ligatures), plain quotes and dashes, soft hyphens
    and zero-width marks dropped, one space; with `dehyphenate`, words broken across a line
    ("traf-\nficking") joined first, as PDF extraction leaves them. Case is kept."""
    s = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    if dehyphenate:
        s = _HYPHEN_BREAK.sub(r"\1\2", s)
    return " ".join(s.split())


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "nav", "header", "footer", "noscript", "svg", "form"})
    # Used only with `boilerplate=True`: what a page saved from a browser carries around its content.
    _SKIP_SAVED = frozenset({"aside", "template", "iframe", "button", "dialog", "select"})
    _SKIP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary", "dialog"})
    _BLOCK = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article"})
    _HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
    _VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self, headings: bool = False, boilerplate: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.skip_tags: list[str] = []  # an open element dropped as saved-page boilerplate, and its nesting
        self.headings = headings
        self.boilerplate = boilerplate
        self.in_heading = False

    def _is_boilerplate(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if not self.boilerplate or tag in self._VOID:
            return False
        found = dict(attrs)
        return (tag in self._SKIP_SAVED or (found.get("role") or "").lower() in self._SKIP_ROLES
                or "hidden" in found or (found.get("aria-hidden") or "").lower() == "true")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_tags:
            if tag == self.skip_tags[0]:
                self.skip_tags.append(tag)
        elif self._is_boilerplate(tag, attrs):
            self.skip_tags.append(tag)
        elif tag in self._SKIP:
            self.skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n")
            if self.headings and tag in self._HEADINGS and not self.skip:
                self.parts.append("#" * int(tag[1]) + " ")
                self.in_heading = True

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tags:
            if tag == self.skip_tags[0]:
                self.skip_tags.pop()
        elif tag in self._SKIP and self.skip:
            self.skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n")
            self.in_heading = self.in_heading and tag not in self._HEADINGS

    def handle_data(self, data: str) -> None:
        if not self.skip and not self.skip_tags:
            self.parts.append(data.replace("\n", " ") if self.in_heading else data)


def html_to_text(html: str, *, headings: bool = False, boilerplate: bool = False) -> str:
    """Visible text of an HTML page, paragraphs kept, scripts and navigation dropped.

    `headings` writes h1-h6 as Markdown heading lines ("## Title") so sections can be found;
    `boilerplate` also drops what a page saved from a browser carries around its content
    (asides, dialogs, buttons, hidden elements, ARIA navigation, banner and footer regions).
    """
    parser = _TextExtractor(headings=headings, boilerplate=boilerplate)
    parser.feed(html)
    text = normalise_whitespace(re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(parser.parts)))
    if headings:
        text = re.sub(r"^#{1,6} *(?:\n+|$)", "", text, flags=re.MULTILINE)  # headings with no text
    return text


def dedupe(items: Iterable[str]) -> list[str]:
    """Items in first-seen order, case-insensitively unique."""
    seen: set[str] = set()
    return [x for x in items if not (x.lower() in seen or seen.add(x.lower()))]  # type: ignore[func-returns-value]


_UNSAFE_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_UNSAFE = {True: re.compile(f"[{_UNSAFE_CHARS}]"), False: re.compile(f"[{_UNSAFE_CHARS}\t\n]")}


def terminal_safe(text: str, newlines: bool = False) -> str:
    """`text` with control characters shown as escapes (`\\r`, `\\x1b`, `\\u202e`), for printing
    names and titles that came from files: a file name holding a carriage return or an escape
    sequence must not rewrite or recolour the terminal. `newlines`: keep line breaks and tabs
    (answers); otherwise they are escaped too (one-line messages)."""
    return _UNSAFE[newlines].sub(lambda m: repr(m.group(0))[1:-1], text)
