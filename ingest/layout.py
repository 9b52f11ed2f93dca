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
from dataclasses import dataclass

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


def _ends_sentence(line: str) -> bool:
    """Whether a line closes its sentence, a footnote number after the stop aside ("employers.74")."""
    t = strip_footnote_digits(line.rstrip())
    return bool(t) and t[-1] in _END


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


# The heading of a reference list: everything under it is an entry, even a line that reads like a title.
_REFERENCE_LIST = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+)?(?:references?|bibliography|literature(?: cited| list)?|works cited|"
                             r"sources|notes|endnotes|further reading)$", re.IGNORECASE)


def is_reference_list(section: str | None) -> bool:
    """Whether a section path ends in a reference list's heading ("8.1 Aspects > Literature")."""
    return section is not None and _REFERENCE_LIST.match(section.rsplit(SEPARATOR, 1)[-1].strip()) is not None


def is_fragment(text: str) -> bool:
    """No longer than a heading and never closed: a title, a running header or a caption that the
    line labels missed ("Referring victims to the NRM"), not a statement to quote."""
    closed = _ends_sentence(text.rstrip().rstrip("\"”’')]"))  # a quote or bracket closes nothing: "(NRM)"
    return len(text.split()) <= MAX_HEADING_WORDS and not closed


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
    if len(tokens) <= MAX_CAPS_HEADING_WORDS and _CAPS_WORDS.fullmatch(t):
        return True  # "CHILDREN" under the last item of a list: words in capitals continue no sentence
    if before is not None and before.strip() and not _ends_sentence(before):
        return is_heading(before, None, t)  # a heading over two lines
    return True


def _stands_alone(before: str | None, after: str | None, done: list[tuple[int, int, str]]) -> bool:
    """A line that neither continues the sentence above nor runs on into the line below."""
    if after is not None and after.strip()[:1].islower():
        return False
    return _starts_afresh(before, done)


def _starts_afresh(before: str | None, done: list[tuple[int, int, str]]) -> bool:
    """A line that does not continue a sentence of the line above (a new entry, not the middle of
    prose that mentions "et al." or a web address)."""
    return before is None or not before.strip() or _ends_sentence(before) or (bool(done) and done[-1][2] != "text")


def _continues_entry(above: str, line: str) -> bool:
    """The rest of a reference entry that wrapped: it starts in lower case, or the entry above broke
    off mid-sentence (no closing stop, not a web address that ends an entry)."""
    t = line.strip()
    if t[:1].islower():
        return True
    last = above.rstrip()
    return bool(last) and not _ends_sentence(last) and not _URL.search(last.rsplit(" ", 1)[-1]) and not is_heading(t, None, None)


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
        elif is_reference(line) and _starts_afresh(before, out):
            label = "reference"
        elif out and out[-1][2] == "reference" and _continues_entry(raw[i - 1], line):
            label = "reference"  # an entry wrapped onto the next line: one span
            s = out.pop()[0]
        elif BULLET.match(line):
            label = "question" if line.rstrip().endswith("?") else "item"
        elif is_heading(line, before, after):
            label = "heading"
        elif out and out[-1][2] == "item" and (line.strip()[:1].islower() or not _ends_sentence(raw[i - 1])):
            label = "item"  # an item wrapped onto a second line
            s = out.pop()[0]
        else:
            label = "text"
        out.append((s, e, label))
    return out


# --------------------------------------------------------------------------- section paths

SEPARATOR = " > "  # between the headings of a path; app.ui_view splits on it too
MIN_BOOKMARKS = 3  # fewer bookmarks than this are not an outline (a cover, a stray "_GoBack")
MAX_BOOKMARKS = 5000  # each is searched for on its page: a hostile outline must not cost minutes
MAX_HEADING_CHARS = 60  # one heading in a path, cut at a word
MAX_DEPTH = 3  # a path keeps its innermost headings only: "Part 2 > Identification of victims"
MAX_PATH_CHARS = 100  # and drops outer ones while it is longer than this
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(?=[A-Za-z])")
_PART = re.compile(r"^(?:part|chapter|section|article|annex|appendix|module|unit|step)\s+(?:\d{1,3}|[ivxlc]{1,5}|[a-z])[.:]?$",
                   re.IGNORECASE)
_CAPTION = re.compile(r"^(?:table|figure|fig\.|graph|chart|map|source|note|photo)\b", re.IGNORECASE)
MAX_CARRY_PAGES = 2  # a heading line's section names at most this many following pages with no heading of
# their own: a missed heading must not leave a wrong path (a table's header row) on twenty pages; an
# outline's sections carry on to the next bookmark, however far
MAX_CHAPTER = 30  # a line opening with a larger bare number is a footnote or a list entry, not a chapter
MAX_HEADING_WORDS = 12  # a longer line is a sentence, even when it stands alone on its line
MAX_CAPS_HEADING_WORDS = 6  # a line in capitals this short is a heading wherever it stands
_CAPS_WORDS = re.compile(r"[A-Z]{3}[A-Z’'&\- ]*")  # words in capitals only: no digit, code or file name
MAX_HEADING_LINES = 3  # a longer run of heading-like lines is a table, a list of names or contents
# bookmarks that name no section: a stray anchor ("_GoBack"), a file name, or a table or figure
# (caption bookmarks, "13 - Misuse of identity", and the "Figures" / "Tables" entries over them)
_NOT_A_TITLE = re.compile(r"^_|\.(?:pdf|docx?|indd)\b|^(?:untitled|bookmark)\b|^(?:table|figure|fig\.|chart|graph)\b|"
                          r"^\d{1,3}\s+[-–]\s|^(?:list of )?(?:figures|tables|charts)$", re.IGNORECASE)

Marks = tuple[tuple[int, str], ...]  # (offset into a page's text, section path from there on)


@dataclass(frozen=True)
class Bookmark:
    """One entry of a PDF's outline: its title, 0-based page, and nesting depth (0 = top)."""

    title: str
    page: int
    depth: int


def _short(heading: str) -> str:
    text = " ".join(heading.replace(">", "›").split()).strip(" .:;-–—")
    if len(text) <= MAX_HEADING_CHARS:
        return text
    return text[:MAX_HEADING_CHARS].rsplit(" ", 1)[0] + "…"


def without_title(path: str, title: str | None) -> str:
    """The path less leading headings that repeat the document's title (a Markdown file's `# Title`,
    a Word file's title heading, a web page's `<h1>`): the citation names the title already."""
    def key(text: str) -> str:
        return re.sub(r"\W+", " ", text).strip().casefold()

    # a web page's title adds its site's name: "Shelter guidance | Safe Homes Network"
    titles = {key(_short(t)) for t in (title or "", re.split(r"\s+[|·]\s+", title or "")[0])} - {""}
    parts = path.split(SEPARATOR)
    while parts and key(parts[0]) in titles:
        parts = parts[1:]
    return SEPARATOR.join(parts)


def join_path(headings: list[str]) -> str:
    """A short section path: the innermost headings (`MAX_DEPTH`, `MAX_PATH_CHARS`), each cut to
    a readable length, joined by `SEPARATOR` (a ">" inside a heading becomes "›")."""
    parts = [p for p in (_short(h) for h in headings[-MAX_DEPTH:]) if p]
    while len(parts) > 1 and len(SEPARATOR.join(parts)) > MAX_PATH_CHARS:
        parts = parts[1:]
    return SEPARATOR.join(parts)


def _find(text: str, title: str, cursor: int) -> int | None:
    """Where a bookmark's title starts in the page text (whitespace and case aside), from `cursor`."""
    words = title.split()[:8]
    if not words:
        return None
    m = re.compile(r"\s*".join(re.escape(w) for w in words), re.IGNORECASE).search(text, cursor)
    return m.start() if m else None


def outline_marks(pages: list[str], bookmarks: list[Bookmark]) -> list[Marks] | None:
    """Section marks per page from a PDF outline, or None when it has too few usable bookmarks.

    A bookmark starts its section where its title is found on its page, else at the page's top;
    the section in force at the end of one page carries over to the start of the next.
    """
    usable = [b for b in bookmarks if 0 <= b.page < len(pages) and re.search(r"[A-Za-z]{2}", b.title)
              and not _NOT_A_TITLE.search(b.title.strip())][:MAX_BOOKMARKS]
    if len(usable) < MIN_BOOKMARKS:
        return None
    by_page: dict[int, list[Bookmark]] = {}
    for b in usable:
        by_page.setdefault(b.page, []).append(b)
    out: list[Marks] = []
    stack: list[tuple[int, str]] = []  # (depth, title) from the outermost in
    for i, text in enumerate(pages):
        marks: list[tuple[int, str]] = [(0, join_path([t for _, t in stack]))] if stack else []
        cursor = 0
        for b in by_page.get(i, []):
            at = _find(text, b.title, cursor)
            offset = cursor if at is None else at
            cursor = offset
            stack = [s for s in stack if s[0] < b.depth] + [(b.depth, b.title)]
            marks = [m for m in marks if m[0] < offset] + [(offset, join_path([t for _, t in stack]))]
        out.append(tuple(marks))
    return out


def _heading_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(offset, lines) of each heading on a page: a run of adjacent heading lines, split where a
    numbered line starts the next heading ("2 Methods" / "2.1 Scope"). A run of more than
    `MAX_HEADING_LINES` lines is a table, a list of names or a contents page, and gives none."""
    runs: list[list[tuple[int, str]]] = []
    last_end = -2
    for s, e, label in line_labels(text):
        if label != "heading":
            last_end = -2
            continue
        entry = (s, text[s:e].strip().lstrip("#").strip())
        if runs and last_end >= 0 and text[last_end:s].count("\n") == 1:
            runs[-1].append(entry)
        else:
            runs.append([entry])
        last_end = e
    blocks: list[tuple[int, list[str]]] = []
    for run in runs:
        if len(run) > MAX_HEADING_LINES or _beside_figures(text, run[0][0], run[-1][0]) or \
                any(not re.search(r"[A-Za-z]{3}", line) for _, line in run):
            continue
        for i, (s, line) in enumerate(run):
            if i and not (_NUMBERED.match(line) or _PART.match(line)):
                blocks[-1][1].append(line)
            else:
                blocks.append((s, [line]))
    return blocks


def _beside_figures(text: str, start: int, last: int) -> bool:
    """Whether the line above or below a heading run holds no word: a chart's axis ("2019 2020
    2021", "300"), so the run is its legend or labels, not a heading."""
    above = text[:start].rstrip().rsplit("\n", 1)[-1] if text[:start].strip() else None
    below = next((ln for ln in text[last:].split("\n")[1:] if ln.strip()), None)
    return any(ln is not None and not re.search(r"[A-Za-z]{3}", ln) for ln in (above, below))


def is_section_heading(line: str) -> bool:
    """A heading line that can name a section: words, not a caption, a table row or a figure.

    Table rows pass the labeller's test for a heading line ("Arizona 6", "Overview 2020 2021"),
    so a line holding numbers other than its own section number and one year or range is not one.
    """
    if re.search(r"\d\s*(?:%|percent\b|per cent\b)|\d[A-Z]", line):
        return False  # a figure ("93 percent"), digits run into a word: a chart or table
    text = _NUMBERED.sub("", line.strip())
    letters = sum(c.isalpha() for c in text)
    if not re.search(r"[A-Za-z]{3,}", text) or letters < 0.6 * len(text.replace(" ", "")) or len(text) < 4:
        return False
    if _CAPTION.match(text) or re.search(r"[a-z)]\d{1,2}$", text):  # a caption; a footnote number
        return False
    numbered = _NUMBERED.match(line.strip())
    if numbered and "." not in numbered.group(1) and int(numbered.group(1)) > MAX_CHAPTER:
        return False  # a footnote ("94 Organisation for Economic Co-operation…"), not chapter 94
    if re.search(r"[“”\"„«»]", text) or len(text.split()) > MAX_HEADING_WORDS:
        return False  # a reference quoting a title, or a sentence broken across lines
    if re.search(r"\s\d{1,3}\*?$", text) and not _PART.match(text):
        return False  # a table row ("Arizona 6")
    if is_reference(text) or re.search(r"(?<![–-]\s)(?<![–-])\b(?:19|20)\d{2}[a-z]?$", text):
        return False  # a bibliography key ("Chuang 2014", "Strik et al. 2012"), an address
    return len(re.findall(r"\d+", re.sub(r"\d{4}\s*[–-]\s*\d{2,4}", "2000", text))) <= 1


def _caps_over_title(lines: list[str]) -> bool:
    """A capitals heading over a mixed-case one ("YOUTH VULNERABILITIES" / "Risk Factors"): two levels."""
    return lines[0].isupper() and not any(ln.isupper() for ln in lines[1:])


def heading_marks(pages: list[str]) -> list[Marks]:
    """Section marks per page from the heading lines the labeller finds.

    A numbered heading ("2.1 Scope") nests under the heading numbered one level up; a
    "Part 2" line (or a capitals line) over a title line is a path of two; a capitals heading
    after capitals headings starts a new top-level section; any other heading goes under a
    numbered one, else replaces the innermost heading. The section carries over page ends until the
    next heading, for at most `MAX_CARRY_PAGES` pages without one.
    """
    out: list[Marks] = []
    stack: list[tuple[int, str]] = []  # (level, heading)
    quiet = 0  # pages since the last heading found
    for text in pages:
        if quiet >= MAX_CARRY_PAGES:
            stack = []
        marks: list[tuple[int, str]] = [(0, join_path([h for _, h in stack]))] if stack else []
        quiet += 1
        for offset, lines in _heading_blocks(text):
            lines = [ln for ln in lines if is_section_heading(ln) or _PART.match(ln)]
            if not lines or not any(is_section_heading(ln) for ln in lines):
                continue
            if len(lines) > 1 and (_PART.match(lines[0]) or _caps_over_title(lines)):
                stack = [(1, lines[0]), (2, " ".join(lines[1:]))]
            else:
                heading = " ".join(lines)
                numbered = _NUMBERED.match(heading)
                if numbered:
                    level = numbered.group(1).count(".") + 1
                    stack = [s for s in stack if s[0] < level] + [(level, heading)]
                elif heading.isupper() and stack and stack[0][1].isupper():
                    stack = [(1, heading)]  # capitals mark this document's top-level headings
                elif stack and (_NUMBERED.match(stack[-1][1]) or _PART.match(stack[-1][1])):
                    stack = [*stack, (stack[-1][0] + 1, heading)]
                else:
                    stack = [*stack[:-1], (stack[-1][0] if stack else 1, heading)]
            marks = [m for m in marks if m[0] < offset] + [(offset, join_path([h for _, h in stack]))]
            quiet = 0
        out.append(tuple(marks))
    return out


def section_marks(pages: list[str], bookmarks: list[Bookmark] | None = None) -> list[Marks]:
    """Where each section starts on each page, and its path: from the outline when the PDF has
    one (`MIN_BOOKMARKS` or more usable entries), else from the heading lines found."""
    return outline_marks(pages, bookmarks or []) or heading_marks(pages)
