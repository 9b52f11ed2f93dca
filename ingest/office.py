"""Word (.docx) and OpenDocument (.odt) files as text with their headings kept.

Headings come out as Markdown heading lines ("## Eligibility"), the form the chunker reads
section paths from, so a chunk's `section` says where in the document it sits. Tables come
out as one "Header: value; …" line per row (see `ingest.tables.row_lines`). An encrypted,
legacy or damaged file is one `IngestError` naming the file, never a traceback.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from core.errors import IngestError

from .tables import row_lines

MAX_UNPACKED = 200 * 1024 * 1024  # what a package may unpack to: python-docx reads it all into memory
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: encrypted OOXML, or a legacy .doc
_HEADING_STYLE = re.compile(r"^heading\s*([1-6])$", re.IGNORECASE)


def _check_container(path: Path, kind: str) -> None:
    """Raise a clear IngestError for files that are not a readable zip package."""
    name = str(path)
    head = path.read_bytes()[:8] if path.stat().st_size else b""
    if not head:
        raise IngestError(name, "empty file (0 bytes)")
    if head == OLE_MAGIC:
        raise IngestError(
            name, f"password-protected (encrypted) or old binary-format {kind} file; "
            f"save an unprotected copy in the current format"
        )
    if not zipfile.is_zipfile(path):
        raise IngestError(name, f"not a readable {kind} file (corrupt or truncated)")
    try:
        with zipfile.ZipFile(path) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(name, f"not a readable {kind} file (corrupt: {exc})") from None
    if unpacked > MAX_UNPACKED:  # a zip bomb would be unpacked into memory
        raise IngestError(name, f"too large to ingest: it unpacks to {unpacked / 2**20:.0f} MB "
                                f"(the cap is {MAX_UNPACKED // 2**20} MB)")


def read_docx(path: Path) -> tuple[str, dict[str, Any]]:
    """Text of a .docx in reading order (paragraphs and tables), headings as Markdown lines."""
    _check_container(path, "Word")
    try:
        import docx

        document = docx.Document(str(path))
        blocks = list(_docx_blocks(document))
        title = (document.core_properties.title or "").strip()
        author = (document.core_properties.author or "").strip()
    except IngestError:
        raise
    except Exception as exc:  # python-docx/lxml raise many kinds on damaged packages
        raise IngestError(str(path), f"not a readable Word file (corrupt: {exc.__class__.__name__}: {exc})") from None
    meta: dict[str, Any] = {"doc_type": "docx"}
    if title:
        meta["title"] = title
    elif first := next((b.lstrip("# ") for b in blocks if b.startswith("# ")), None):
        meta["title"] = first
    if author:
        meta["publisher"] = author
    return "\n\n".join(blocks), meta


def _docx_blocks(document: Any) -> Iterator[str]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = " ".join(item.text.split())
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            level = 1 if style.lower() == "title" else _heading_level(style)
            yield f"{'#' * level} {text}" if level else text
        elif isinstance(item, Table):
            rows = [[cell.text for cell in row.cells] for row in item.rows]
            lines = row_lines(rows) or [" | ".join(" ".join(c.split()) for c in r) for r in rows if any(r)]
            if lines:
                yield "\n".join(lines)


def _heading_level(style: str) -> int:
    m = _HEADING_STYLE.match(style.strip())
    return int(m.group(1)) if m else 0


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"


def read_odt(path: Path) -> tuple[str, dict[str, Any]]:
    """Text of an .odt (headings as Markdown lines, tables as row lines), from its content.xml."""
    _check_container(path, "OpenDocument")
    try:
        with zipfile.ZipFile(path) as zf:
            root = ElementTree.fromstring(zf.read("content.xml"))
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError) as exc:
        raise IngestError(str(path), f"not a readable OpenDocument file (corrupt: {exc.__class__.__name__})") from None
    blocks = list(_odt_blocks(root))
    meta: dict[str, Any] = {"doc_type": "odt"}
    if first := next((b.lstrip("# ") for b in blocks if b.startswith("# ")), None):
        meta["title"] = first
    return "\n\n".join(blocks), meta


def _odt_blocks(element: ElementTree.Element) -> Iterator[str]:
    for child in element:
        tag = child.tag
        if tag == f"{{{_ODF_TEXT}}}h":
            text = " ".join("".join(child.itertext()).split())
            level = int(child.get(f"{{{_ODF_TEXT}}}outline-level", "1") or 1)
            if text:
                yield f"{'#' * min(max(level, 1), 6)} {text}"
        elif tag == f"{{{_ODF_TEXT}}}p":
            text = " ".join("".join(child.itertext()).split())
            if text:
                yield text
        elif tag == f"{{{_ODF_TABLE}}}table":
            rows = [
                ["".join(cell.itertext()) for cell in row.iter(f"{{{_ODF_TABLE}}}table-cell")]
                for row in child.iter(f"{{{_ODF_TABLE}}}table-row")
            ]
            lines = row_lines(rows)
            if lines:
                yield "\n".join(lines)
        else:
            yield from _odt_blocks(child)
