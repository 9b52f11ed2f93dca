"""HTML for the chat UI: answers with [n] markers, their sources, highlighted quotes, the banner.

Pure functions of their arguments (no Gradio, no store), so they are cheap to test and the
UI's logic and wiring stay free of markup. Every piece of document or user text is escaped
here: the chat renders Markdown with HTML allowed.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlencode

from core.types import SCANNED_NOTE, Answer, Citation, Hit

FILE_ROUTE = "/lantern/file"  # the app's route serving the store's copy of a cited file
VIEW_ROUTE = "/lantern/view"  # the app's route showing a text source at a highlighted quote
PDF_ROUTE = "/lantern/pdf"  # the app's PDF viewer (PDF.js) at a page, the quote highlighted
CONTEXT_CHARS = 260  # chunk text shown on each side of a highlighted quote


def esc(text: str) -> str:
    """Text as HTML with its whitespace collapsed (quotes escaped: safe in attributes too)."""
    return html.escape(" ".join(text.split()), quote=True)


def md_escape(text: str) -> str:
    """Text shown literally in Markdown (a file name with `_` or `*` stays as it is)."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def _plain(text: str) -> str:
    """Passage text without Markdown heading marks and emphasis (they are noise when quoted)."""
    text = re.sub(r"(^|\s)#{1,6}\s+", r"\1", text)
    return esc(text.replace("**", "").replace("__", ""))


def file_url(source: str, page: int | None = None) -> str:
    """The app's link to the store's copy of `source`, at `page` for a PDF."""
    url = f"{FILE_ROUTE}/{quote(source, safe='/')}"
    return url + (f"#page={page}" if page and source.lower().endswith(".pdf") else "")


def is_pdf(source: str) -> bool:
    return source.lower().endswith(".pdf")


def view_url(source: str, quote_text: str = "", page: int | None = None) -> str:
    """The app's readable view of a text source, scrolled to `quote_text` (highlighted)."""
    query = urlencode({k: v for k, v in (("q", " ".join(quote_text.split())), ("page", page or "")) if v})
    return f"{VIEW_ROUTE}/{quote(source, safe='/')}" + (f"?{query}" if query else "") + "#quote"


def pdf_view_url(source: str, page: int | None, quote_text: str = "") -> str:
    """The app's PDF viewer at `page` of `source`, `quote_text` highlighted in the page's text."""
    query = urlencode({k: v for k, v in (("page", page or ""), ("q", " ".join(quote_text.split()))) if v})
    return f"{PDF_ROUTE}/{quote(source, safe='/')}" + (f"?{query}" if query else "")


def cite_url(source: str, page: int | None, quote_text: str, served: set[str]) -> str:
    """Where a citation opens: a served PDF in the viewer at its page, any other source at its quote."""
    if is_pdf(source) and source in served:
        return pdf_view_url(source, page, quote_text)
    return view_url(source, quote_text, page)


def where_label(page: int | None, label: str | None) -> str:
    """'p. 12 (printed 10)': the PDF page, and the printed label when it differs."""
    if not page:
        return ""
    return f"p. {page}" + (f" (printed {label})" if label and label != str(page) else "")


def highlight(text: str, quote_text: str, context: int = CONTEXT_CHARS) -> str:
    """HTML of `text` around `quote_text` with the quote in <mark> (whitespace-insensitive)."""
    words = quote_text.split()
    match = None
    if words:
        pattern = r"\s+".join(re.escape(w) for w in words)
        match = re.search(pattern, text) or re.search(pattern, text, re.IGNORECASE)
    if match is None:
        shown = text[: 2 * context]
        marked = f"<mark>{_plain(quote_text)}</mark>" if words else ""
        rest = _plain(shown) + ("…" if len(text) > len(shown) else "")
        return f"{marked} <span>{rest}</span>" if marked else rest
    start, end = match.span()
    a, b = max(0, start - context), min(len(text), end + context)
    if a > 0:  # start and end on word boundaries
        a = text.find(" ", a, start) + 1 or a
    if b < len(text):
        cut = text.rfind(" ", end, b)
        b = cut if cut > end else b
    return (
        ("…" if a > 0 else "") + _plain(text[a:start]) + " <mark>" + _plain(text[start:end]) + "</mark> "
        + _plain(text[end:b]) + ("…" if b < len(text) else "")
    ).replace("  ", " ").strip()


def cite_title(cite: Citation, section: str | None = None) -> str:
    """A marker's tooltip: the quote, then where it is from (title, article or section, page, scan)."""
    where = ", ".join(p for p in (cite.title or cite.source, section, where_label(cite.page, cite.page_label),
                                   SCANNED_NOTE if cite.ocr else "") if p)
    return f"“{' '.join(cite.quote.split())}” — {where}"


def _cite_links(numbers: str, by_n: dict[int, Citation], served: set[str], sections: dict[int, str]) -> str:
    out = []
    for n in (int(x) for x in re.findall(r"\d+", numbers)):
        cite = by_n.get(n)
        if cite is None:
            out.append(f'<span class="lantern-cite">[{n}]</span>')
            continue
        href = cite_url(cite.source, cite.page, cite.quote, served)
        out.append(f'<a class="lantern-cite" href="{html.escape(href)}" target="_blank" rel="noopener" '
                   f'title="{esc(cite_title(cite, sections.get(n)))}">[{n}]</a>')
    return "".join(out)


def answer_markdown(text: str, citations: list[Citation] | None = None, served: set[str] | None = None,
                    sections: dict[int, str] | None = None) -> str:
    """Answer text safe for the chat's Markdown: HTML escaped, no accidental headings, [n] styled.

    With `citations`, each [n] is a link to its source at the cited page or quote, with the
    quote, title, article or section (`sections`, by n) and page as its tooltip.
    """
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"(?m)^(\s*)#", r"\1\\#", escaped)
    marker = r"\[(\d+(?:\s*[,;]\s*\d+)*)\]"
    if citations:
        by_n = {c.n: c for c in citations}
        return re.sub(marker, lambda m: _cite_links(m.group(1), by_n, served or set(), sections or {}), escaped)
    return re.sub(marker, r'<span class="lantern-cite">[\1]</span>', escaped)


def _hit_for(citation: Citation, hits: list[Hit]) -> Hit | None:
    by_id = next((h for h in hits if h.chunk.id == citation.chunk_id), None)
    if by_id:
        return by_id
    words = citation.quote.split()[:6]
    for h in hits:
        if h.chunk.source == citation.source and h.chunk.page == citation.page and words and \
                " ".join(words) in " ".join(h.chunk.text.split()):
            return h
    return None


def _source_links(source: str, page: int | None, served: set[str], url: str | None, quote_text: str = "") -> str:
    links = []
    if is_pdf(source) and source in served:
        at = f" at p. {page}" if page else ""
        links.append(f'<a href="{html.escape(pdf_view_url(source, page, quote_text))}" target="_blank" '
                     f'rel="noopener">Open PDF{at}</a>')
    elif not is_pdf(source):
        target = "Open at the passage" if quote_text else "Open document"
        links.append(f'<a href="{html.escape(view_url(source, quote_text, page))}" target="_blank" '
                     f'rel="noopener">{target}</a>')
    if url:
        links.append(f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">original</a>')
    return " · ".join(links)


def _scanned(ocr: bool) -> str | None:
    """The mark of a page read by OCR: its words (and the quote) may hold reading errors."""
    return f'<span class="lantern-scanned" title="This page is an image; its text was read by OCR">{SCANNED_NOTE}</span>' \
        if ocr else None


def _meta_line(parts: list[str | None]) -> str:
    return " · ".join(p for p in parts if p)


def _nearest_sources(answer: Answer, served: set[str]) -> str:
    """An abstention's nearest passages: where to look further."""
    nearest = answer.retrieved[:3]
    if not nearest:
        return ""
    out = ['<div class="lantern-sources"><div class="lantern-sources-title">Nearest sources</div>']
    for hit in nearest:
        chunk = hit.chunk
        meta = _meta_line([
            chunk.metadata.get("publisher"), str(chunk.metadata.get("year") or "") or None,
            where_label(chunk.page, chunk.metadata.get("page_label")),
            _scanned(bool(chunk.metadata.get("ocr"))),
            _source_links(chunk.source, chunk.page, served, chunk.metadata.get("url"),
                          " ".join(chunk.text.split()[:40])),
        ])
        snippet = " ".join(chunk.text.split())
        snippet = snippet[:220] + ("…" if len(snippet) > 220 else "")
        out.append(
            f'<div class="lantern-source"><strong>{esc(chunk.title)}</strong>'
            f'<div class="lantern-meta">{meta}</div>'
            f'<blockquote class="lantern-passage" tabindex="0">{_plain(snippet)}</blockquote></div>'
        )
    out.append("</div>")
    return "".join(out)


def _also_searched(answer: Answer, served: set[str]) -> str:
    """The passages searched but not quoted, folded under the quoted ones.

    With them the sources list holds every passage the answer could draw on (the "Number of
    sources" setting), so choosing more sources shows more, even when the answer quotes few.
    """
    quoted = {hit.chunk.id for c in answer.citations if (hit := _hit_for(c, answer.retrieved))}
    rest = [h for h in answer.retrieved if h.chunk.id not in quoted]
    if not rest:
        return ""
    items = []
    for hit in rest:
        chunk = hit.chunk
        meta = _meta_line([
            chunk.metadata.get("publisher"), str(chunk.metadata.get("year") or "") or None,
            where_label(chunk.page, chunk.metadata.get("page_label")),
            _source_links(chunk.source, chunk.page, served, chunk.metadata.get("url"), " ".join(chunk.text.split()[:40])),
        ])
        snippet = " ".join(chunk.text.split())
        snippet = snippet[:220] + ("…" if len(snippet) > 220 else "")
        items.append(f'<div class="lantern-source lantern-searched-source"><strong>{esc(chunk.title)}</strong>'
                     f'<div class="lantern-meta">{meta}</div>'
                     f'<blockquote class="lantern-passage" tabindex="0">{_plain(snippet)}</blockquote></div>')
    n = len(rest)
    return (f'<details class="lantern-also"><summary>{n} more passage{"s" if n != 1 else ""} searched, '
            f'not quoted</summary>{"".join(items)}</details>')


def render_sources(answer: Answer, served: set[str], sections: dict[int, str] | None = None) -> str:
    """HTML for the sources of one answer (one line: Markdown ends an HTML block at a blank line).

    `served` names the sources whose file copy the app can serve: only those get an Open link;
    `sections` names the article or section each citation quotes (by n).
    """
    if answer.abstained:
        return _nearest_sources(answer, served)
    out: list[str] = []
    if answer.citations:
        out.append('<div class="lantern-sources"><div class="lantern-sources-title">Sources</div>')
        for cite in answer.citations:
            hit = _hit_for(cite, answer.retrieved)
            passage = highlight(hit.chunk.text, cite.quote) if hit else f"<mark>{_plain(cite.quote)}</mark>"
            meta = _meta_line([
                cite.publisher, str(cite.year) if cite.year else None, (sections or {}).get(cite.n),
                where_label(cite.page, cite.page_label), _scanned(cite.ocr),
                _source_links(cite.source, cite.page, served, cite.url, cite.quote),
            ])
            out.append(
                f'<div class="lantern-source" id="source-{cite.n}"><span class="lantern-cite">[{cite.n}]</span> '
                f'<strong>{esc(cite.title)}</strong><div class="lantern-meta">{meta}</div>'
                f'<blockquote class="lantern-passage" tabindex="0">{passage}</blockquote></div>'
            )
        out.append(_also_searched(answer, served))
        out.append("</div>")
    if answer.removed_citations:
        n = len(answer.removed_citations)
        reasons = "; ".join(f"[{r.n}] {esc(r.reason)}" for r in answer.removed_citations[:4])
        out.append(f'<div class="lantern-note">{n} citation{"s" if n > 1 else ""} removed by the checker: {reasons}</div>')
    return "".join(out)


def answer_html(answer: Answer, served: set[str], sections: dict[int, str] | None = None,
                filters_note: str | None = None) -> str:
    """The chat message for a finished answer: text with [n] markers, then its sources.

    `filters_note` names the filters the search was limited to ("publisher UNODC; 2015–2024").
    (The terminal's plain-text rendering is `app.render.render_answer_text`.)
    """
    body = answer_markdown(answer.text, answer.citations, served, sections)
    if answer.abstained:
        body = f"**No answer in these documents.** {body}"
        if answer.abstain_reason:
            body += f'\n\n<div class="lantern-why">Why: {esc(answer.abstain_reason)}.</div>'
    searched = searched_for(answer)
    if searched:
        body = f'<div class="lantern-searched">Searched for: <em>{esc(searched)}</em></div>\n\n{body}'
    if filters_note:
        body = f'<div class="lantern-filtered">Searched only: {esc(filters_note)}</div>\n\n{body}'
    sources = render_sources(answer, served, sections)
    return f"{body}\n\n{sources}" if sources else body


def searched_for(answer: Answer) -> str | None:
    """The question actually searched for a follow-up, when it differs from the one asked."""
    standalone = (answer.standalone_question or "").strip()
    return standalone if standalone and standalone != answer.question.strip() else None


def answer_plain_text(answer: Answer, served: set[str], origin: str = "", sections: dict[int, str] | None = None,
                      filters_note: str | None = None) -> str:
    """What 'Copy answer' gives: the answer as plain text, its numbered sources listed under it.

    Links are the app's own (`origin` + path; the browser adds its origin when left empty) or
    the document's original address.
    """
    lines = [("No answer in these documents. " if answer.abstained else "") + " ".join(answer.text.split())]
    if answer.abstained and answer.abstain_reason:
        lines.append(f"Why: {' '.join(answer.abstain_reason.split())}.")
    searched = searched_for(answer)
    if searched:
        lines.insert(0, f"(Searched for: {searched})")
    if filters_note:
        lines.insert(0, f"(Searched only: {filters_note})")
    if answer.citations:
        lines += ["", "Sources:"]
        for cite in answer.citations:
            where = ", ".join(p for p in (cite.title or cite.source, cite.publisher, str(cite.year or "") or None,
                                          (sections or {}).get(cite.n), where_label(cite.page, cite.page_label)) if p)
            link = origin + cite_url(cite.source, cite.page, cite.quote, served)
            lines.append(f"[{cite.n}] {where}. {link}" + (f" (original: {cite.url})" if cite.url else ""))
            lines.append(f"    “{' '.join(cite.quote.split())}”")
    return "\n".join(lines)


def banner_html(documents: int, chunks: int, total: int | None = None, filters_note: str | None = None) -> str:
    """One line on what is being searched, or what to do when the library is empty.

    With filters, `documents` and `chunks` are what they admit, out of `total` documents.
    """
    if total is not None and filters_note:
        if not documents:
            return (
                f'<div class="lantern-banner lantern-empty" role="status"><strong>No document matches these filters</strong> '
                f"({esc(filters_note)}): none of the {total} documents would be searched. Change or clear a filter.</div>"
            )
        return (
            f'<div class="lantern-banner lantern-filtered-banner" role="status">Searching <strong>{documents} of {total} '
            f'document{"s" if total != 1 else ""}</strong> ({chunks} passages; {esc(filters_note)}). Each sentence of an '
            "answer cites its source [n]: hover over it (or tap it) to see the quote, click it to open the source.</div>"
        )
    if not documents:
        return (
            '<div class="lantern-banner lantern-empty"><strong>This library holds no documents yet.</strong> '
            "Add documents in the <em>Documents</em> tab.</div>"
        )
    return (
        f'<div class="lantern-banner">Searching <strong>{documents} '
        f'document{"s" if documents != 1 else ""}</strong> ({chunks} passages). Each sentence of an '
        "answer cites its source [n]: hover over it (or tap it) to see the quote, click it to open the source.</div>"
    )
