"""A Markdown, text or HTML source as a readable page, scrolled to a quoted passage.

A PDF opens at the cited page (`#page=N`); other files had only their raw text, where a reader
had to hunt for the quote. This page shows the store's cleaned text of the document (what the
quotes were taken from: no `<meta>` lines or markup), every character escaped, headings as
headings, and the quote in `<mark id="quote">`: the link's `#quote` fragment scrolls to it.
Pure functions: `app.ui_logic` serves the result.
"""

from __future__ import annotations

import re

from .ui_render import esc

START, END = "\x02", "\x03"  # the quote's bounds while the text is split into blocks
_HEADING = re.compile(r"^(#{1,6})\s*(.+)$")


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` sits in `text`, ignoring whitespace, case and Markdown marks between words."""
    words = [w for w in re.sub(r"[*_#]", " ", quote).split() if w]
    if not words:
        return None
    pattern = r"[\s#*_>]+".join(re.escape(w) for w in words)
    match = re.search(pattern, text) or re.search(pattern, text, re.IGNORECASE)
    return match.span() if match else None


def _block_html(block: str, marking: bool, first: bool) -> tuple[str, bool, bool]:
    """One paragraph or heading as HTML; the mark is closed at its end and reopened in the next."""
    heading = _HEADING.match(block.strip())
    body = heading.group(2) if heading else block
    out = "<mark>" if marking else ""
    for part in re.split(f"([{START}{END}])", body):
        if part == START:
            out += '<mark id="quote">' if first else "<mark>"
            marking, first = True, False
        elif part == END:
            out += "</mark>"
            marking = False
        else:
            out += esc(part)
    out += "</mark>" if marking else ""
    if heading:
        level = min(len(heading.group(1)) + 1, 6)  # the page title is the <h1>
        return f"<h{level}>{out}</h{level}>", marking, first
    return f"<p>{out}</p>", marking, first


def document_view_html(title: str, pages: list[tuple[int | None, str]], quote: str = "",
                       page: int | None = None) -> str:
    """A whole page of HTML: the document's text with `quote` highlighted (on `page` first)."""
    found = None
    order = sorted(range(len(pages)), key=lambda i: pages[i][0] != page)  # the cited page first
    for i in order:
        span = find_quote(pages[i][1], quote) if quote else None
        if span:
            found = (i, span)
            break
    parts: list[str] = []
    marking, first = False, True
    for i, (number, text) in enumerate(pages):
        if found and found[0] == i:
            a, b = found[1]
            text = text[:a] + START + text[a:b] + END + text[b:]
        if number and len(pages) > 1:
            parts.append(f'<div class="page" id="page-{number}">page {number}</div>')
        for block in re.split(r"\n\s*\n", text):
            if block.strip():
                rendered, marking, first = _block_html(block, marking, first)
                parts.append(rendered)
    note = ""
    if quote and not found:
        note = (f'<p class="note">The quoted passage was not found word for word in this text. It reads: '
                f'<mark id="quote">{esc(quote)}</mark></p>')
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{VIEW_CSS}</style></head><body><main>"
        f"<h1>{esc(title)}</h1>{note}{''.join(parts)}</main></body></html>"
    )


VIEW_CSS = (
    "body{font:16px/1.55 system-ui,sans-serif;margin:0;color:#1f2937;background:#fff}"
    "main{max-width:46em;margin:0 auto;padding:1em 1.2em 40vh}"
    "h1{font-size:1.5em}h2,h3,h4,h5,h6{font-size:1.15em;margin-top:1.6em}"
    "mark{background:#fde68a;color:#111;padding:0 .1em}"
    "mark#quote{scroll-margin-top:30vh;outline:2px solid #d97706}"
    ".page{margin-top:2em;font-size:.8em;color:#6b7280;border-top:1px solid #e5e7eb}"
    ".note{font-size:.9em;color:#6b7280}"
    "@media (prefers-color-scheme: dark){body{background:#111827;color:#e5e7eb}}"
)
