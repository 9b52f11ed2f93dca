"""One-line recognisers and text repair shared by the text and HTML parsers.

Why: a captured page is read line by line; each line is a category list, a run of
WordPress post types, a tags line, a download line or prose. Download links travel inside
the text between two private-use characters (MARK_OPEN, MARK_CLOSE) so the HTML parser
can hand its links to the text parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.text import dedupe

from ..clean import fix_mojibake
from .vocabulary import (
    AMBIGUOUS_POST_TYPES,
    KNOWN_CATEGORIES,
    KNOWN_CATEGORIES_LOWER,
    LANGUAGE_CODES,
    POST_TYPE_RE,
    POST_TYPES,
    SAFE_CODES,
)

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"  # private-use chars carry an href inside text
_MARKER = f"{MARK_OPEN}[^{MARK_CLOSE}]*{MARK_CLOSE}"
TOKEN_RE = re.compile(
    rf"(?:\b(?:DOWNLOAD|Download)\b(?:\s+(?:PDF|pdf|HERE|here|file))?\s*(?:{_MARKER})?|{_MARKER})"
)
TAGS_RE = re.compile(r"^\s*tags?\s*:\s*(.*)$", re.I)
CATEGORIES_PREFIX_RE = re.compile(r"^\s*categor(?:y|ies)\s*:\s*(.*)$", re.I)
READ_MORE_LINE_RE = re.compile(r"^\s*(?:read\s+more|continue\s+reading)\s*[»›→>]*\s*$", re.I)
SENTENCE_END = (".", "!", "?", ";", ":", ",", "…")


def clean_text(text: str) -> str:
    """Normalise line ends, invisible chars, mojibake, PDF hyphenation and Markdown download links."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u00ad", "").replace("\u200b", "").replace("\ufeff", "")
    text = fix_mojibake(text)
    text = re.sub(r"([A-Za-z])-[ \t]*\n[ \t]*([a-z])", r"\1\2", text)  # traf-\nficking
    text = re.sub(
        r"\[\s*(DOWNLOAD|Download)[^\]]*\]\(\s*([^)\s]+)\s*\)", rf"DOWNLOAD{MARK_OPEN}\2{MARK_CLOSE}", text
    )
    text = re.sub(
        r"\b(DOWNLOAD)\s*[:(<]?\s*(https?://[^\s)>]+)[)>]?", rf"DOWNLOAD{MARK_OPEN}\2{MARK_CLOSE}", text
    )
    return text


def parse_language(value: str) -> str | None:
    """ISO code for '(French)', 'Français', '(FR)', 'English version'; None if not a language."""
    v = value.strip().strip("()[]").strip().lower()
    v = re.sub(r"\b(?:version|edition|language|only|translation)\b", "", v).strip(" -:")
    v = re.split(r"\s*(?:/|,|\band\b|&)\s*", v)[0].strip() if v else v
    if v in LANGUAGE_CODES:
        return LANGUAGE_CODES[v]
    if v in SAFE_CODES:
        return v
    return None


def dedupe_stripped(items: Iterable[str]) -> list[str]:
    """Items stripped, blanks dropped, then order-preserving case-insensitive de-duplication."""
    return dedupe(s for s in (item.strip() for item in items) if s)


def _split_run(part: str) -> list[str]:
    """Split run-together category words: known names first, then CamelCase boundaries."""
    out: list[str] = []
    i, n = 0, len(part)
    while i < n:
        if part[i].isspace():
            i += 1
            continue
        low = part[i:].lower()
        for cat in KNOWN_CATEGORIES:
            end = i + len(cat)
            if low.startswith(cat.lower()) and (end >= n or not part[end].islower()):
                out.append(part[i:end])
                i = end
                break
        else:
            j = i + 1
            while j < n and not (part[j - 1].islower() and part[j].isupper()):
                j += 1
            out.append(part[i:j].strip())
            i = j
    return [p for p in out if p]


def split_categories(value: str) -> list[str]:
    """'COVID-19 resourcesGuidance' → ['COVID-19 resources', 'Guidance']; also splits on , | ; •."""
    parts: list[str] = []
    for chunk in re.split(r"\s*[,|;•·]\s*", value.strip()):
        parts.extend(_split_run(chunk))
    return dedupe_stripped(parts)


def is_category_line(line: str) -> list[str] | None:
    """Categories if the line is made only of category names (possibly run together)."""
    m = CATEGORIES_PREFIX_RE.match(line)
    if m:
        return split_categories(m.group(1))
    s = line.strip()
    if not s or len(s) > 100 or s.endswith(SENTENCE_END) or TOKEN_RE.search(s):
        return None
    parts = split_categories(s)
    known = [p for p in parts if p.lower() in KNOWN_CATEGORIES_LOWER]
    if parts and len(known) == len(parts):
        return [KNOWN_CATEGORIES_LOWER[p.lower()] for p in parts]
    camel = re.search(r"[a-z][A-Z]", s)
    if camel and known and len(parts) >= 2 and all(len(p.split()) <= 4 for p in parts):
        return parts
    return None


def is_boilerplate_line(line: str) -> bool:
    """True for a line made only of WordPress post-type names."""
    tokens = line.split()
    return bool(tokens) and all(t in POST_TYPES or POST_TYPE_RE.match(t) for t in tokens)


def boilerplate_start(lines: list[str]) -> int | None:
    """Index of the first run of post-type lines (blank lines allowed in between)."""
    i = 0
    while i < len(lines):
        if not is_boilerplate_line(lines[i]):
            i += 1
            continue
        start, tokens, j = i, [], i
        while j < len(lines) and (not lines[j].strip() or is_boilerplate_line(lines[j])):
            tokens.extend(lines[j].split())
            j += 1
        if len(tokens) >= 2 or (tokens and tokens[0] not in AMBIGUOUS_POST_TYPES):
            return start
        i = j
    return None


def split_tags(value: str) -> list[str]:
    """'Tags: a, b | c' values, split on , | ; •."""
    return [t.strip() for t in re.split(r"\s*[,|;•]\s*", value) if t.strip()]


def line_at(lines: list[str], i: int) -> str:
    """lines[i], or "" outside the list (look-ahead without bounds checks)."""
    return lines[i] if 0 <= i < len(lines) else ""


def looks_like_title(line: str) -> bool:
    """Short and not ending like a sentence."""
    s = line.strip()
    return bool(s) and len(s) <= 200 and len(s.split()) <= 25 and not s.endswith(SENTENCE_END)
