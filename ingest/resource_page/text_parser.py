"""The text parser: captured page text (or text rendered from HTML) into the page's own record.

Why: keeps only the page's own resource (title, description paragraphs, categories, tags,
one download per language version) and repairs copy-paste damage (hyphenation, missing
spaces after full stops, repeated paragraphs). Standard library only.
"""

from __future__ import annotations

import re

from .downloads import Body, is_download_line, parse_body, parse_download_line, yearful_body
from .lines import (
    READ_MORE_LINE_RE,
    TAGS_RE,
    clean_text,
    dedupe_stripped,
    is_boilerplate_line,
    is_category_line,
    line_at,
    looks_like_title,
    split_tags,
)
from .record import Download, ResourceRecord
from .sections import own_section_end
from .vocabulary import LANGUAGE_PAIRS

__all__ = ["parse_text"]


_VERSIONS_NOTE_RE = re.compile(
    r"\b(?:(?:also\s+)?available\s+in\s+(?:\w+\s+){0,3}languages?"
    r"|other\s+language\s+(?:versions?|editions?)"
    r"|translations?\s+(?:are|is)\s+available"
    r"|(?:also\s+)?available\s+in\s+(?:" + "|".join(n for n, _ in LANGUAGE_PAIRS) + r"))\b",
    re.I,
)


def _fix_spacing(text: str) -> str:
    """Collapse whitespace and restore the space PDF copy-paste drops after a full stop."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"(?<=[a-z0-9)\]”’\"]{2})([.!?])(?=[A-Z][a-z])", r"\1 ", text)


def _dedupe_paragraphs(paragraphs: list[str]) -> list[str]:
    """Drop paragraphs wholly contained in another (keep the longer / first copy)."""
    norms = [re.sub(r"\W+", " ", p.lower()).strip() for p in paragraphs]
    keep = []
    for i, (p, ni) in enumerate(zip(paragraphs, norms, strict=True)):
        if not ni:
            continue
        contained = any(j != i and ni in nj and (len(nj) > len(ni) or j < i) for j, nj in enumerate(norms))
        if not contained:
            keep.append(p)
    return keep


def parse_text(content: str, known_title: str | None = None) -> ResourceRecord:
    """Parse captured page text (or text rendered from HTML) into the page's own record."""
    lines = [line.strip() for line in clean_text(content).split("\n")]
    own = lines[: own_section_end(lines)]

    title = known_title
    first = next((i for i, x in enumerate(own) if x), None)
    if title is None and first is not None:
        cand = own[first].lstrip("#").strip()
        rest = [x for x in own[first + 1 :] if x]
        if (
            rest
            and looks_like_title(cand)
            and not line_at(own, first + 1)[:1].islower()  # a wrapped first sentence is not a title
            and not is_download_line(cand)
            and not is_category_line(cand)
            and not TAGS_RE.match(cand)
            and not READ_MORE_LINE_RE.match(cand)
        ):
            title = cand
            own[first] = ""

    paragraphs: list[str] = []
    buf: list[str] = []
    categories: list[str] = []
    tags: list[str] = []
    downloads: list[Download] = []
    pending: Download | None = None  # a 'Title - Publisher, Year' line still waiting for its DOWNLOAD
    last_kind = ""

    def flush() -> None:
        if buf:
            paragraphs.append(" ".join(buf))
            buf.clear()

    for idx, line in enumerate(own):
        if not line:
            flush()
            continue
        if m := TAGS_RE.match(line):
            flush()
            tags.extend(split_tags(m.group(1)))
            last_kind = "tags"
            continue
        if READ_MORE_LINE_RE.match(line) or is_boilerplate_line(line):
            continue
        if (cats := is_category_line(line)) is not None:
            flush()
            categories.extend(cats)
            last_kind = "cat"
            continue
        dl = parse_download_line(line)
        if dl is not None:
            body = dl.body
            if body is None and pending is None and buf and looks_like_title(buf[-1]):
                body = parse_body(buf.pop())
            flush()
            for k, (lang, url) in enumerate(dl.files):
                if k == 0 and body is None and pending is not None and pending.url is None:
                    pending.url = url
                    pending.language = lang or pending.language
                    continue
                base = body or (
                    Body(downloads[-1].title, downloads[-1].publisher, downloads[-1].year, None)
                    if downloads
                    else Body("", None, None, None)
                )
                downloads.append(Download(base.title, base.publisher, base.year, lang or base.language, url))
            pending = None
            last_kind = "dl"
            continue
        yearful = yearful_body(line, line_at(own, idx + 1))
        if yearful is not None:
            flush()
            pending = Download(yearful.title, yearful.publisher, yearful.year, yearful.language, None)
            downloads.append(pending)
            last_kind = "dl"
            continue
        if last_kind == "dl":
            pending = None
        last_kind = "text"
        buf.append(line)
    flush()

    paragraphs = [_fix_spacing(p) for p in paragraphs]
    if title:
        paragraphs = [p for p in paragraphs if p.lower() != title.strip().lower()]
    paragraphs = _dedupe_paragraphs(paragraphs)
    description = "\n\n".join(paragraphs)

    unique: list[Download] = []
    for d in downloads:
        d.title = _fix_spacing(d.title)
        if d not in unique:
            unique.append(d)
    if title is None and unique and unique[0].title:
        title = unique[0].title
    for d in unique:
        if not d.title:
            d.title = title or "Untitled resource"

    return ResourceRecord(
        title=title,
        description=description,
        categories=dedupe_stripped(categories),
        tags=dedupe_stripped(tags),
        downloads=unique,
        url=None,
        language_versions_note=bool(_VERSIONS_NOTE_RE.search(description)),
    )
