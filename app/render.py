"""Plain-text rendering of an Answer for the terminal (`lantern ask`, `lantern chat`); the chat UI's
HTML rendering is `app.ui_render.answer_html`."""

from __future__ import annotations

import textwrap

from core.text import terminal_safe
from core.types import SCANNED_NOTE, Answer


def _where(title: str, page: int | None, label: str | None, scanned: bool = False, section: str | None = None) -> str:
    note = f" ({SCANNED_NOTE})" if scanned else ""
    note += f" · {section.replace(' > ', ' › ')}" if section else ""  # the headings the quote sits under
    if page is None:
        return title + note
    shown = f"p. {page}" + (f" (printed {label})" if label and label != str(page) else "")
    return f"{title}, {shown}{note}"


def render_answer_text(answer: Answer, width: int = 100) -> str:
    """The answer, its numbered sources with quotes, and any citations the checker removed."""
    lines = [textwrap.fill(answer.text, width)]
    if answer.abstained:
        if answer.abstain_reason:  # the gate's evidence, so the reader can check it against the sources
            lines.append(textwrap.fill(f"Why: {answer.abstain_reason}.", width))
        if answer.retrieved:
            lines.append("\nNearest sources:")
            for hit in answer.retrieved[:3]:
                meta = hit.chunk.metadata
                lines.append(f"  - {_where(hit.chunk.title, hit.chunk.page, meta.get('page_label'), bool(meta.get('ocr')))}")
        return terminal_safe("\n".join(lines), newlines=True)
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            lines.append(f"  [{c.n}] {_where(c.title, c.page, c.page_label, c.ocr, c.section)}" + (f"  {c.url}" if c.url else ""))
            if c.resource_url and c.resource_url != c.url:
                lines.append(f"      from the resource page {c.resource_title or ''} {c.resource_url}".rstrip())
            lines.append(textwrap.indent(textwrap.fill(f"“{c.quote}”", width - 6), "      "))
    if answer.removed_citations:
        lines.append(f"\n{len(answer.removed_citations)} citation(s) removed by the checker:")
        for r in answer.removed_citations:
            lines.append(f"  [{r.n}] {r.reason}")
    # titles and quotes come from the documents: no escape sequence reaches the terminal
    return terminal_safe("\n".join(lines), newlines=True)
