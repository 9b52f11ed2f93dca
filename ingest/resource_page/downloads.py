"""Download lines: 'Title - Publisher, Year (Language) DOWNLOAD (Language) DOWNLOAD ...'.

Why: a resource page lists one download per language version, in several copy-paste
shapes (language before or after each DOWNLOAD token, a bare 'Title, Publisher, Year'
line waiting for its token on the next line). These parsers turn each shape into title,
publisher, year, and (language, url) per file, or say it is not a download line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lines import MARK_CLOSE, MARK_OPEN, TOKEN_RE, parse_language

_MARKER_URL_RE = re.compile(f"{MARK_OPEN}([^{MARK_CLOSE}]*){MARK_CLOSE}")
_PAREN_LANG_RE = re.compile(r"\s*[(\[]([^()\[\]]{2,40})[)\]]\s*$")
_YEAR_END_RE = re.compile(r"(?:^|[,\s])\s*\(?((?:19|20)\d{2})(?:\s*[-–/]\s*(?:19|20)?\d{2})?\)?\s*$")
_DASH_SEP_RE = re.compile(r"\s+[-–—]+\s*|\s*[-–—]+\s+")


@dataclass
class Body:
    """The 'Title - Publisher, Year (Language)' part of a download line."""

    title: str
    publisher: str | None
    year: int | None
    language: str | None


def _strip_trailing_language(text: str) -> tuple[str, str | None]:
    m = _PAREN_LANG_RE.search(text)
    if m and (lang := parse_language(m.group(1))):
        return text[: m.start()].rstrip(), lang
    return text, None


def parse_body(body: str, need_year: bool = False) -> Body | None:
    """Split a download line body into title/publisher/year/language; None if not that shape."""
    s = body.strip().strip("|").strip()
    if not s:
        return None
    s, lang = _strip_trailing_language(s)
    year = None
    m = _YEAR_END_RE.search(s)
    if m and m.start() > 0:
        year = int(m.group(1))
        s = s[: m.start()].rstrip(" ,;:-–—")
    if need_year and year is None:
        return None
    seps = list(_DASH_SEP_RE.finditer(s))
    title, publisher = s, None
    if seps:
        last = seps[-1]
        if last.start() > 0 and s[last.end() :].strip():
            title, publisher = s[: last.start()], s[last.end() :]
    elif year is not None and "," in s:
        title, publisher = s.rsplit(",", 1)
    elif need_year:
        return None
    title, publisher = title.strip(" ,;:"), (publisher.strip(" ,;:") if publisher else None)
    if publisher and len(publisher.split()) > 10:
        if need_year:
            return None
        title, publisher = s.strip(), None
    title, title_lang = _strip_trailing_language(title)
    if not title:
        return None
    return Body(title, publisher or None, year, lang or title_lang)


def _line_language(segment: str) -> str | None:
    s = segment.strip().strip("|,;:-–—").strip()
    return parse_language(s) if s else None


@dataclass
class DownloadLine:
    """A line ending in DOWNLOAD tokens: its body (may be empty) and (language, url) per token."""

    body: Body | None
    files: list[tuple[str | None, str | None]]


def parse_download_line(line: str) -> DownloadLine | None:
    """Recognise 'Body (Lang) DOWNLOAD (Lang) DOWNLOAD...'; None when text follows the token."""
    tokens = list(TOKEN_RE.finditer(line))
    if not tokens:
        return None
    segments = [line[: tokens[0].start()]]
    segments += [line[a.end() : b.start()] for a, b in zip(tokens, tokens[1:], strict=False)]
    segments.append(line[tokens[-1].end() :])
    for seg in segments[1:]:
        if seg.strip(" |,;:-–—") and _line_language(seg) is None:
            return None
    head = segments[0].strip()
    body: Body | None = None
    head_lang = _line_language(head)
    if head and head_lang is None:
        body = parse_body(head)
        if body is None:
            return None
        head_lang = body.language
    urls = []
    for tok in tokens:
        m = _MARKER_URL_RE.search(tok.group(0))
        urls.append(m.group(1).strip() or None if m else None)
    pre = [head_lang] + [_line_language(seg) for seg in segments[1:-1]]
    post = [_line_language(seg) for seg in segments[1:]]
    # "(English) DOWNLOAD (French) DOWNLOAD" names the language before each token;
    # "DOWNLOAD (English) DOWNLOAD (French)" (no language before the first) names it after.
    langs = post if post[-1] and not pre[0] else pre
    return DownloadLine(body, list(zip(langs, urls, strict=True)))


def yearful_body(line: str, next_line: str = "") -> Body | None:
    """'Title, Publisher, Year' without a DOWNLOAD token, unless it is a wrapped prose line."""
    s = line.strip()
    if not s or s.endswith(".") or s[0].islower() or next_line.strip()[:1].islower():
        return None
    return parse_body(s, need_year=True)


def is_download_line(line: str, next_line: str = "") -> bool:
    """A DOWNLOAD line or a bare 'Title, Publisher, Year' line."""
    return parse_download_line(line) is not None or yearful_body(line, next_line) is not None
