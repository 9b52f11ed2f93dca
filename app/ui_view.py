"""Sources opened at the quote: text sources as readable pages, PDFs in a PDF.js viewer.

A Markdown, text or HTML source had only its raw text, where a reader had to hunt for the
quote. `document_view_html` shows the store's cleaned text of the document (what the quotes
were taken from: no `<meta>` lines or markup), every character escaped, headings as headings
with anchors (`#article-4`), and the quote in `<mark id="quote">`: the link's `#quote` fragment
scrolls to it, and a bar at the top names the article or section it sits in.

A PDF opens in `pdf_view_html`, a page of our own around the vendored PDF.js
(`app/static/pdfjs/`, `app/static/pdf-viewer.mjs`): the cited page drawn with its text layer,
the quote's words highlighted there.

`cited_section` names where a quote sits ("Article 4"): from the headings above it in the
page's text, else from the chunk's section path. Pure functions: `app.ui_logic` serves the
results.
"""

from __future__ import annotations

import re

from .ui_render import esc

START, END = "\x02", "\x03"  # the quote's bounds while the text is split into blocks
_HEADING = re.compile(r"^(#{1,6})\s*(.+)$")
_HEADINGS = re.compile(r"^(#{1,6})[ \t]*(\S.*)$", re.MULTILINE)
# a heading that names a numbered part of a legal or policy text
_NUMBERED_PART = re.compile(
    r"^(article|artikel|art\.|section|chapter|hoofdstuk|part|annex|bijlage|schedule|rule|regulation|paragraph)"
    r"\s+([0-9]+[a-z]?|[ivxlc]+)\b", re.IGNORECASE)


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` sits in `text`, ignoring whitespace, case and Markdown marks between words."""
    words = [w for w in re.sub(r"[*_#]", " ", quote).split() if w]
    if not words:
        return None
    pattern = r"[\s#*_>]+".join(re.escape(w) for w in words)
    match = re.search(pattern, text) or re.search(pattern, text, re.IGNORECASE)
    return match.span() if match else None


def slug(heading: str) -> str:
    """An anchor for a heading: 'Article  4' -> 'article-4'."""
    return re.sub(r"[^a-z0-9]+", "-", " ".join(heading.split()).lower()).strip("-") or "section"


def part_name(heading: str) -> str | None:
    """'Article 4' for a heading 'Article  4' or 'Article 4. Scope'; None if it numbers nothing."""
    match = _NUMBERED_PART.match(" ".join(heading.replace(START, "").replace(END, "").split()))
    if not match:
        return None
    word = match.group(1)
    return f"{word[:1].upper()}{word[1:].lower()} {match.group(2)}"


def _path_at(text: str, offset: int) -> list[str]:
    """The headings enclosing `offset` in Markdown-like text, outermost first."""
    open_headings: list[tuple[int, str]] = []
    for m in _HEADINGS.finditer(text):
        if m.start() > offset:
            break
        level = len(m.group(1))
        open_headings = [h for h in open_headings if h[0] < level] + [(level, " ".join(m.group(2).split()))]
    return [h for _, h in open_headings]


def section_label(path: list[str]) -> str | None:
    """The innermost numbered part of a heading path ('Article 4'), else its innermost heading."""
    for heading in reversed(path):
        name = part_name(heading)
        if name:
            return name
    return path[-1] if path else None


def cited_section(page_text: str | None, quote: str, chunk_section: str | None = None) -> str | None:
    """Where a quote sits: 'Article 4' (or the innermost heading), None for text without headings.

    The headings above the quote in its page decide (a chunk can start in one article and
    quote the next); when the quote is not found there, the chunk's section path does.
    """
    span = find_quote(page_text, quote) if page_text and quote else None
    if span:
        found = section_label(_path_at(page_text or "", span[0]))
        if found:
            return found
    if chunk_section:
        return section_label([p.strip() for p in chunk_section.split(" > ") if p.strip()])
    return None


def _block_html(block: str, marking: bool, first: bool, ids: dict[str, str] | None = None) -> tuple[str, bool, bool]:
    """One paragraph or heading as HTML; the mark is closed at its end and reopened in the next.

    A heading gets a unique anchor, recorded in `ids` (anchor -> heading) in document order.
    """
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
        anchor = ""
        if ids is not None:
            text = " ".join(heading.group(2).replace(START, "").replace(END, "").split())
            base = slug(part_name(text) or text)[:60].strip("-") or "section"
            name, n = base, 2
            while name in ids:
                name, n = f"{base}-{n}", n + 1
            ids[name] = text
            anchor = f' id="{name}"'
        return f"<h{level}{anchor}>{out}</h{level}>", marking, first
    return f"<p>{out}</p>", marking, first


def document_view_html(title: str, pages: list[tuple[int | None, str]], quote: str = "",
                       page: int | None = None) -> str:
    """A whole page of HTML: the document's text with `quote` highlighted (on `page` first),
    headings anchored, and a bar naming the article or section the quote sits in."""
    found = None
    order = sorted(range(len(pages)), key=lambda i: pages[i][0] != page)  # the cited page first
    for i in order:
        span = find_quote(pages[i][1], quote) if quote else None
        if span:
            found = (i, span)
            break
    parts: list[str] = []
    marking, first = False, True
    ids: dict[str, str] = {}
    label = section_label(_path_at(pages[found[0]][1], found[1][0])) if found else None
    label_anchor = None
    for i, (number, text) in enumerate(pages):
        if found and found[0] == i:
            a, b = found[1]
            text = text[:a] + START + text[a:b] + END + text[b:]
        if number and len(pages) > 1:
            parts.append(f'<div class="page" id="page-{number}">page {number}</div>')
        for block in re.split(r"\n\s*\n", text):
            if block.strip():
                before = first
                rendered, marking, first = _block_html(block, marking, first, ids)
                parts.append(rendered)
                if before and not first and label:  # the quote starts here: the last heading named `label`
                    label_anchor = next((a for a, h in reversed(ids.items()) if label in (h, part_name(h))), None)
    note = ""
    if quote and not found:
        note = (f'<p class="note">The quoted passage was not found word for word in this text. It reads: '
                f'<mark id="quote">{esc(quote)}</mark></p>')
    bar = ""
    if found:
        where = f'In <a href="#{label_anchor}">{esc(label)}</a>: ' if label and label_anchor else (
            f"In {esc(label)}: " if label else "")
        bar = (f'<nav class="cited" aria-label="Cited passage">{where}<a href="#quote">the quoted passage</a> '
               "is highlighted below.</nav>")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{VIEW_CSS}</style></head><body>{bar}<main>"
        f"<h1>{esc(title)}</h1>{note}{''.join(parts)}</main></body></html>"
    )


VIEW_CSS = (
    "body{font:16px/1.55 system-ui,sans-serif;margin:0;color:#1f2937;background:#fff}"
    "main{max-width:46em;margin:0 auto;padding:1em 1.2em 40vh}"
    "h1{font-size:1.5em}h2,h3,h4,h5,h6{font-size:1.15em;margin-top:1.6em}"
    "mark{background:#fde68a;color:#111;padding:0 .1em}"
    "mark#quote{scroll-margin-top:30vh;outline:2px solid #d97706}"
    ".cited{position:sticky;top:0;background:#fffbeb;border-bottom:1px solid #f59e0b;padding:.5em 1.2em;"
    "font-size:.95em;z-index:1}.cited a{color:#92400e;font-weight:600}"
    "h2[id],h3[id],h4[id],h5[id],h6[id]{scroll-margin-top:3em}"
    ".page{margin-top:2em;font-size:.8em;color:#6b7280;border-top:1px solid #e5e7eb}"
    ".note{font-size:.9em;color:#6b7280}"
    "@media (prefers-color-scheme: dark){body{background:#111827;color:#e5e7eb}"
    ".cited{background:#451a03;border-color:#b45309}.cited a{color:#fde68a}}"
)


STATIC_ROUTE = "/lantern/static"  # the app's own scripts and styles (app/static/)


def pdf_view_html(title: str, file_url: str, page: int | None, quote: str = "", download_url: str = "",
                  section: str | None = None) -> str:
    """The PDF viewer page: PDF.js draws `page` of the file at `file_url`, `quote` highlighted.

    Everything it loads comes from this app (`STATIC_ROUTE`); the data attributes carry the
    file, page and quote to `app/static/pdf-viewer.mjs`.
    """
    shown = " ".join(quote.split())
    where = f"p. {page}" if page else ""
    if section:
        where = f"{section}, {where}" if where else section
    quoted = (f'<p class="quoted">Quoted{f" ({esc(where)})" if where else ""}: <mark>{esc(shown)}</mark></p>'
              if shown else "")
    download = f'<a href="{esc(download_url)}" download>Download the PDF</a>' if download_url else ""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}{f' – p. {page}' if page else ''}</title>"
        f'<link rel="stylesheet" href="{STATIC_ROUTE}/pdf-viewer.css"></head><body>'
        f"<header><h1>{esc(title)}</h1>"
        '<nav aria-label="Pages"><button type="button" id="prev">Previous page</button>'
        '<span id="where" aria-live="polite"></span>'
        f'<button type="button" id="next">Next page</button>{download}</nav>'
        f'{quoted}<p id="status" role="status"></p></header>'
        f'<main id="viewer" data-file="{esc(file_url)}" data-page="{page or 1}" data-quote="{esc(shown)}"></main>'
        f'<script type="module" src="{STATIC_ROUTE}/pdf-viewer.mjs"></script></body></html>'
    )


# what the viewer page may load: only this app's own files, PDF.js's worker and its fonts
PDF_VIEW_CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; base-uri 'none'; form-action 'none'"
)
