"""Tables as rows: each row of a table becomes one self-contained line with its column headers.

A PDF's text layer gives a table as a run of cells that a question cannot match ("Texas 35 12");
"State: Texas; Incidents: 35; Cleared: 12" can be found, quoted and understood on its own.
pdfplumber finds the tables; it is run only on pages whose pypdf text looks tabular (many
short, number-bearing lines), since opening every page with pdfplumber costs several times
what pypdf's extraction does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

ROWS_HEADING = "Table rows:"
_NUMBER = re.compile(r"(?<![\w.])\d[\d,.]*%?(?!\w)")
_WORD = re.compile(r"[^\W\d_]{2,}")  # two letters in a row: a label or a header, not a figure
_MEASURE = re.compile(r"%|\d[,.]\d")  # a percentage or a formatted number: a data cell, not a header
MIN_SHORT_LINES = 5  # a page needs at least this many short lines holding two numbers or more to be tried
MIN_ROWS = 2  # a table with fewer data rows is layout, not data

logging.getLogger("pdfminer").setLevel(logging.ERROR)


def _cell(value: object) -> str:
    return " ".join(str(value or "").split())


def _has_words(cell: str) -> bool:
    return bool(_WORD.search(cell))


def _is_header(row: Sequence[str]) -> bool:
    """Whether a table's first row names its columns: some cell has words, and no cell without
    words is a measurement ("73%", "2,754"); years and symbols may head columns."""
    named = [c for c in row if c]
    return any(map(_has_words, named)) and not any(_MEASURE.search(c) for c in named if not _has_words(c))


def row_lines(table: Sequence[Sequence[object]], need_label: bool = False) -> list[str]:
    """Rows of a table (first row = headers) as "Header: value; Header: value" lines.

    Empty cells are left out; a header cell that is empty keeps the value alone. Rows
    that repeat the header (a table continued over a page) are dropped. A table whose first row
    is not a header (no cell with words, or a cell that is a measurement) gives no rows at all.
    With `need_label` (PDF rows, added beside the page's own text), so is a row with no word in
    it ("2754; 73%; 372"): without its label it cannot be understood alone (pdfplumber missed
    the label column, or it is a second header row of "#" and "%").
    """
    rows = [[_cell(c) for c in row] for row in table if any(_cell(c) for c in row)]
    if len(rows) < MIN_ROWS + 1:
        return []
    header, lines = rows[0], []
    if not _is_header(header):
        return []
    for row in rows[1:]:
        if row == header or (need_label and not any(map(_has_words, row))):
            continue
        parts = []
        for i, value in enumerate(row):
            if not value:
                continue
            name = header[i] if i < len(header) else ""
            parts.append(f"{name}: {value}" if name and name != value else value)
        if len(parts) >= 2:
            lines.append("; ".join(parts) + ".")
    return lines if len(lines) >= MIN_ROWS else []


def looks_tabular(text: str) -> bool:
    """Whether pypdf's text of a page looks like it holds a table: short lines with two numbers or more.

    On the shared corpus this keeps pdfplumber off prose pages with footnotes and dates, where
    it finds nothing at several times pypdf's cost per page.
    """
    short = [ln for ln in text.splitlines() if len(ln.strip()) <= 80 and len(_NUMBER.findall(ln)) >= 2]
    return len(short) >= MIN_SHORT_LINES


def pdf_table_rows(path: Path, page_texts: Sequence[str]) -> dict[int, list[str]]:
    """{0-based page index: row lines} for the tables pdfplumber finds on tabular-looking pages.

    A failure inside pdfplumber on one page costs that page its rows, never the document.
    """
    candidates = [i for i, text in enumerate(page_texts) if looks_tabular(text)]
    if not candidates:
        return {}
    import pdfplumber

    found: dict[int, list[str]] = {}
    try:
        with pdfplumber.open(str(path)) as pdf:
            for i in candidates:
                if i >= len(pdf.pages):
                    continue
                page = pdf.pages[i]
                try:
                    tables = page.extract_tables()
                except Exception:  # pdfminer raises many kinds on odd pages: lose the rows only
                    continue
                finally:
                    page.close()
                lines = [line for table in tables for line in row_lines(table, need_label=True)]
                if lines:
                    found[i] = lines
    except Exception:  # the file opened with pypdf; pdfplumber refusing it only costs the rows
        return found
    return found


def with_rows(text: str, rows: list[str]) -> str:
    """Page text followed by its table rows, one paragraph under a marker line."""
    if not rows:
        return text
    return f"{text.rstrip()}\n\n{ROWS_HEADING}\n" + "\n".join(rows)
