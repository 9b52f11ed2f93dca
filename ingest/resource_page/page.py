"""The two entry points: parse a captured resource page (text or HTML), or tell whether text is one."""

from __future__ import annotations

import re

from .html_parser import PageHTML, looks_like_html, parse_html, render
from .lines import MARK_CLOSE, boilerplate_start, clean_text, is_boilerplate_line
from .record import ResourceRecord
from .sections import teaser_starts
from .text_parser import parse_text

__all__ = ["looks_like_resource_page", "parse_resource_page"]


def parse_resource_page(content: str, url: str | None = None) -> ResourceRecord:
    """Parse a captured resource page (text or WordPress HTML) into its own resource record."""
    if looks_like_html(content):
        return parse_html(content, url)
    record = parse_text(content)
    record.url = url
    return record


def looks_like_resource_page(text: str) -> bool:
    """True for captured resource-library pages (text or HTML); False for briefs and treaty texts."""
    if looks_like_html(text):
        if re.search(r"""rel=["'][^"']*category tag""", text) and re.search(
            r"""class=["'][^"']*entry-(?:title|content)""", text
        ):
            return True
        if re.search(r""">\s*DOWNLOAD\s*</a>""", text):
            return True
        page = PageHTML()
        page.feed(text)
        page.close()
        text = render(page.body)
    lines = [line.strip() for line in clean_text(text).split("\n")]
    if any(re.search(r"\bDOWNLOAD\s*$", line) or MARK_CLOSE in line for line in lines):
        return True
    bp = boilerplate_start(lines)
    if bp is not None:
        run = [t for line in lines[bp : bp + 80] if is_boilerplate_line(line) for t in line.split()]
        if len(run) >= 3 and any(("_" in t or "-" in t) for t in run):
            return True
    teasers = teaser_starts(lines, None)
    return any(strong for _, strong in teasers) or len(teasers) >= 2
