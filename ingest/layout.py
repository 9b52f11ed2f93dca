"""What each line of a page is: text, list item, heading, source question, reference entry,
contents line or boilerplate.

PDF text arrives as lines: running headings, contents lines, reference entries, download
prompts and footnote numbers sit between the sentences and glue onto them ("The economics of
slavery These forms…", "Organisations1"). Ingest reads a document's section headings from these
labels (`section_marks` below), and the extractive answerer (`assistant.spans`) quotes only prose
and lists, so both share this one labeller. Pure functions over text, no state.
"""

from __future__ import annotations

import re

from core.text import numbers, stopwords

BULLET = re.compile(r"^\s*(?:[•▪●◦■□➢✓»*–\-o]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+(?=\S)")
_URL = re.compile(r"https?://|\bwww\.|\S+@\S+\.\w{2,}")
_CITATION = re.compile(
    r"\bet al\b|\bISBN\b|\bdoi\b|doi\.org|\bIbid\b|\bop\. cit\b|\bRetrieved (?:from|on)\b|"
    r"\bAvailable (?:at|from|online)\b|\baccessed (?:on )?\d|\b[Aa]ccessed \w+ \d",
)
_AUTHOR_YEAR = re.compile(
    r"^(?:\d{1,3}\s+)?(?:[A-Z][\w'’-]+,\s+(?:[A-Z]\.\s?){1,3}|"  # Surname, I.
    r"[A-Z][\w'’-]+(?:\s+(?:and|&)\s+[A-Z][\w'’-]+)?,?\s+"
    r"(?:\(?(?:19|20)\d{2}[a-z]?\)?[.:,]|\((?:19|20)\d{2}[a-z]?\)\s+[A-Z]))"  # Name, 2013: / Name (2013) Title
)
_TOC = re.compile(r"\.\.\.|…|\s\.{3,}")
_TRAILING_PAGE = re.compile(r"^[^.!?]{3,90}?\s\d{1,3}$")
_BOILERPLATE = re.compile(
    r"^(?:download\b|read more\b|click here\b|page \d+(?: of \d+)?$|back to top\b|share this\b|"
    r"subscribe\b|print this\b|follow us\b|(?:sources?|notes?|references?|photo|image|credit)\s*:)|"
    r"all rights reserved|©",
    re.IGNORECASE,
)
_FOOTNOTE_DIGITS = re.compile(r"(?<=[a-z\)\]’”'\"])(?:(?<=[a-z]{3})|(?<=[)\]’”'\"]))([.,;:]?)\d{1,3}(?=[\s.,;:)]|$)")
_ENUMERATOR = re.compile(r"^\s*(?:\(?\d{1,3}(?:\.\d+)*[.)]?|\(?[a-z][.)]|[ivx]+[.)])\s*$")
_END = ".!?:;\"”’)"



# --------------------------------------------------------------------------- line labels


def strip_footnote_digits(text: str) -> str:
    """Footnote numbers glued to a word or after its stop go ("Organisations1" → "Organisations",
    "effect.26" → "effect."); numbers that stand alone or follow a capital ("B9") stay."""
    return _FOOTNOTE_DIGITS.sub(r"\1", text)


def is_reference(text: str) -> bool:
    """A bibliography or footnote reference entry rather than a statement."""
    t = " ".join(text.split())
    if _CITATION.search(t):
        return True
    first = re.sub(r"^\d+\s+", "", t).split(" ", 1)[0].lower()
    if _AUTHOR_YEAR.match(t) and first not in stopwords("en"):
        return True
    if _URL.search(t):
        rest = _URL.sub(" ", t)
        prose = [w for w in rest.split() if w.isalpha()]
        return len(prose) < 10 or bool(re.search(r"\(?(?:19|20)\d{2}\)?[.,]", rest))
    return False


def is_title_run(text: str) -> bool:
    """Title-page or banner text run together: long, unpunctuated, mostly capitalised words."""
    tokens = [w for w in text.split() if w[:1].isalpha()]
    if len(tokens) < 12 or text.rstrip()[-1:] in _END:
        return False
    capitalised = sum(w[0].isupper() for w in tokens if w.lower() not in stopwords("en"))
    content = sum(w.lower() not in stopwords("en") for w in tokens) or 1
    return capitalised / content > 0.6


def is_contents(line: str) -> bool:
    """A table-of-contents line: dot leaders, or a title ending in a page number."""
    t = line.strip()
    return bool(_TOC.search(t)) or (bool(_TRAILING_PAGE.match(t)) and not re.search(r"[.,;]\s", t)
                                    and len(numbers(t)) <= 2 and t[:1].isalnum())


def is_boilerplate(line: str) -> bool:
    """Running website or report furniture ("Download: …", "Read more", "Page 3 of 9")."""
    return bool(_BOILERPLATE.search(line.strip()))


def is_heading(line: str, before: str | None, after: str | None) -> bool:
    """A short title line: no closing punctuation, not ending on a function word, after the end of
    a sentence (or another heading) and before a line that starts a new sentence."""
    t = line.strip()
    tokens = t.split()
    if not t or not 1 <= len(tokens) <= 12 or len(t) > 90 or t[-1] in _END + ",":
        return False
    if BULLET.match(t) and not re.match(r"^\d+(?:\.\d+)*\s", t):
        return False
    if not (t[0].isupper() or t[0].isdigit()) or tokens[-1].lower() in stopwords("en"):
        return False
    if after is not None and after.strip()[:1].islower():
        return False
    if before is not None and before.strip() and before.strip()[-1] not in _END:
        return is_heading(before, None, t)  # a heading over two lines
    return True


def _stands_alone(before: str | None, after: str | None, done: list[tuple[int, int, str]]) -> bool:
    """A line that neither continues the sentence above nor runs on into the line below."""
    if after is not None and after.strip()[:1].islower():
        return False
    return before is None or not before.strip() or before.rstrip()[-1] in _END or (bool(done) and done[-1][2] != "text")


def line_labels(text: str) -> list[tuple[int, int, str]]:
    """(start, end, label) of every non-blank line; labels: text, item, heading, question,
    reference, contents, boilerplate."""
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
    raw = [text[s:e] for s, e in lines]
    out: list[tuple[int, int, str]] = []
    for i, (s, e) in enumerate(lines):
        line = raw[i]
        before = raw[i - 1] if i and text[lines[i - 1][1]:s].count("\n") == 1 else None
        after = raw[i + 1] if i + 1 < len(raw) else None
        if not line.strip():
            continue
        if is_boilerplate(line) or _ENUMERATOR.match(line):
            label = "boilerplate"
        elif line.lstrip().startswith("#"):
            label = "heading"
        elif is_contents(line) and (_TOC.search(line) or _stands_alone(before, after, out)):
            label = "contents"
        elif BULLET.match(line):
            label = "question" if line.rstrip().endswith("?") else "item"
        elif is_heading(line, before, after):
            label = "heading"
        elif out and out[-1][2] == "item" and (line.strip()[:1].islower() or raw[i - 1].rstrip()[-1:] not in _END):
            label = "item"  # an item wrapped onto a second line
            s = out.pop()[0]
        else:
            label = "text"
        out.append((s, e, label))
    return out
