"""Loaders: turn files into cleaned `Page`s with document metadata.

One loader per kind: PDF (pypdf, one page each, 1-based page numbers and page labels; table
rows appended as "Header: value" lines, scanned pages read by OCR), Markdown/plain text,
Word and OpenDocument files (headings kept as Markdown heading lines), resource-library pages
(captured text or HTML: only the resource's own description and download lines), and HTML
saved from a browser (boilerplate dropped, headings kept). Metadata comes from a
`MANIFEST.csv` beside the file, else the PDF's own metadata, else the file name.
Every failure is an `IngestError` naming the file and the reason.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.errors import IngestError
from core.text import guess_language, html_to_text
from core.types import Page

from . import ocr
from .clean import clean_pages
from .tables import pdf_table_rows, with_rows

PDF_SUFFIXES = {".pdf"}
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
OFFICE_SUFFIXES = {".docx", ".odt"}
# The one list of file types Lantern ingests (CLI, pipeline and UI uploads alike).
SUPPORTED_SUFFIXES = frozenset(PDF_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | OFFICE_SUFFIXES)
SKIPPED_NAMES = {"manifest.csv", "readme.md", "license", "license.md", "license.txt"}
MIN_PDF_CHARS = 40  # below this over a whole PDF, it is image-only (scanned) as far as we can tell

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest, the `source` key its chunks will carry, and metadata overrides.

    `text`, when given, is ingested instead of the file's content (the web crawler uses it
    for a resource page's own description).
    """

    path: Path
    source: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    text: str | None = field(default=None, hash=False, compare=False)

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        if self.text is not None:
            digest.update(self.text.encode("utf-8"))
        else:
            with open(self.path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        overrides = sorted((k, str(v)) for k, v in self.metadata.items())
        digest.update(repr(overrides).encode())
        digest.update(repr(manifest_entry(self.path)).encode())
        return digest.hexdigest()


@dataclass
class LoadedDocument:
    """A loaded file: its cleaned pages and document-level metadata."""

    source: str
    pages: list[Page]
    metadata: dict[str, Any]


def discover(paths: list[Path]) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """Files to ingest under `paths`, and (path, reason) for arguments that give nothing.

    A file argument's source is its own name; files under a folder argument get their
    path relative to that folder (`pdf/x.pdf` when ingesting the corpus folder).
    """
    found: dict[str, SourceFile] = {}
    problems: list[tuple[str, str]] = []
    for arg in paths:
        if arg.is_file():
            if arg.suffix.lower() not in SUPPORTED_SUFFIXES:
                problems.append((str(arg), f"unsupported file type {arg.suffix or '(none)'}; Lantern reads PDF, Word (.docx), OpenDocument (.odt), Markdown, text and HTML"))
                continue
            found.setdefault(arg.name, SourceFile(arg, arg.name))
        elif arg.is_dir():
            files = sorted(
                p for p in arg.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and p.name.lower() not in SKIPPED_NAMES
                and not any(part.startswith(".") for part in p.relative_to(arg).parts)
            )
            if not files:
                problems.append((str(arg), "nothing ingestible in this folder (no .pdf, .docx, .odt, .md, .txt or .html files)"))
            for p in files:
                source = p.relative_to(arg).as_posix()
                found.setdefault(source, SourceFile(p, source))
        else:
            problems.append((str(arg), "no such file or folder"))
    return list(found.values()), problems


@lru_cache(maxsize=64)
def _manifest(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / "MANIFEST.csv"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh) if row.get("file")}


def manifest_entry(path: Path) -> dict[str, Any]:
    """Title, publisher, year and language for `path` from a MANIFEST.csv beside it."""
    row = _manifest(path.resolve().parent).get(path.name)
    if not row:
        return {}
    meta: dict[str, Any] = {k: row[k].strip() for k in ("title", "publisher", "language") if row.get(k, "").strip()}
    if row.get("year", "").strip().isdigit():
        meta["year"] = int(row["year"])
    if row.get("license_note"):
        meta["license"] = row["license_note"].strip()
    return meta


def load(sf: SourceFile, tables: bool = False, scans: bool = True) -> LoadedDocument:
    """Load one file into cleaned pages; raises IngestError with the reason. `tables`: add the
    rows of tables found on tabular-looking PDF pages (the `pdf_tables` setting); `scans`: read
    PDF pages without a text layer by OCR (the `ocr` setting)."""
    suffix = sf.path.suffix.lower()
    extras: list[dict[str, Any]] = [{}]  # per page: metadata, and "rows" to append after cleaning
    if sf.text is not None:
        raw_pages, meta = [sf.text], {"doc_type": "text"}
        labels: list[str | None] = [None]
    elif suffix in PDF_SUFFIXES:
        raw_pages, labels, meta, extras = _read_pdf(sf.path, tables, scans)
    elif suffix in TEXT_SUFFIXES | HTML_SUFFIXES:
        raw_pages, meta = _read_text_like(sf.path)
        labels = [None]
    elif suffix in OFFICE_SUFFIXES:
        from .office import read_docx, read_odt

        text, meta = (read_docx if suffix == ".docx" else read_odt)(sf.path)
        raw_pages, labels = [text], [None]
    else:
        raise IngestError(str(sf.path), f"unsupported file type {suffix or '(none)'}")
    meta = {**meta, **manifest_entry(sf.path), **sf.metadata}
    cleaned = [with_rows(text, extra.get("rows", [])) for text, extra in zip(clean_pages(raw_pages), extras, strict=True)]
    if not any(len(t) for t in cleaned):
        raise IngestError(str(sf.path), "no text left after cleaning")
    meta.setdefault("title", _title_from_name(sf.path))
    declared = str(meta.get("language") or "")
    if not declared:
        meta["language"] = guess_language(" ".join(cleaned)[:20000])
    is_pdf = meta.get("doc_type") == "pdf"
    pages = [
        Page(
            source=sf.source,
            page=(i + 1) if is_pdf else None,
            text=text,
            metadata=({"page_label": labels[i]} if labels[i] else {}) | extras[i].get("metadata", {}),
        )
        for i, text in enumerate(cleaned)
    ]
    return LoadedDocument(sf.source, pages, meta)


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def _read_pdf(
    path: Path, tables: bool = False, scans: bool = True,
) -> tuple[list[str], list[str | None], dict[str, Any], list[dict[str, Any]]]:
    """Page texts, page labels, document metadata, and per page: table rows and OCR marks.

    Pages read by OCR carry `"ocr": True` in their metadata (so in their chunks' metadata and
    citations), and the document's metadata lists them as `ocr_pages` (1-based) in the ledger."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    name = str(path)
    if path.stat().st_size == 0:
        raise IngestError(name, "empty file (0 bytes)")
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(name, "encrypted PDF that needs a password; save an unprotected copy")
        n = len(reader.pages)
        texts = []
        scanned = []
        for i, page in enumerate(reader.pages):
            texts.append(page.extract_text() or "")
            if ocr.needs_ocr(texts[-1]) and _has_image(page):
                scanned.append(i)
        has_labels = "/PageLabels" in reader.root_object
        labels: list[str | None] = list(reader.page_labels) if has_labels else [None] * n
        info: Mapping[str, Any] = reader.metadata or {}
    except IngestError:
        raise
    except FileNotDecryptedError:
        raise IngestError(name, "encrypted PDF that needs a password; save an unprotected copy") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        raise IngestError(name, f"not a readable PDF (corrupt or truncated: {exc.__class__.__name__}: {exc})") from None
    if n == 0:
        raise IngestError(name, "PDF has no pages")
    extras: list[dict[str, Any]] = [{} for _ in texts]
    read = ocr.ocr_pages(path, scanned, ocr.tesseract_languages(manifest_entry(path).get("language"))) if scans else {}
    for i, text in read.items():
        texts[i] = text
        extras[i]["metadata"] = {"ocr": True}
    if sum(len(t.strip()) for t in texts) < MIN_PDF_CHARS:
        if not scanned:
            problem = "no text layer and no scanned image to read (blank or drawn-only pages)"
        elif not scans:
            problem = "image-only or scanned PDF, and OCR is switched off (ocr = false)"
        elif not ocr.available():
            problem = "image-only or scanned PDF; install tesseract-ocr (make ocr) to read it"
        else:
            problem = f"image-only or scanned PDF, and OCR found no text on its {len(scanned)} scanned page(s) either"
        raise IngestError(name, f"no extractable text on any of its {n} page(s): {problem}")
    for i, rows in (pdf_table_rows(path, texts) if tables else {}).items():
        if i not in read:
            extras[i]["rows"] = rows
    meta: dict[str, Any] = {"doc_type": "pdf"}
    if read:
        meta["ocr_pages"] = sorted(i + 1 for i in read)
    title = str(info.get("/Title") or "").strip()
    if title and not _PLACEHOLDER_TITLE.search(title):
        meta["title"] = title
    author = str(info.get("/Author") or "").strip()
    if author:
        meta["publisher"] = author
    year = re.match(r"D:(\d{4})", str(info.get("/CreationDate") or ""))
    if year:
        meta["year"] = int(year.group(1))
    return texts, labels, meta, extras


def _has_image(page: Any) -> bool:
    """Whether a pypdf page draws at least one image (a scanned page does)."""
    try:
        xobjects = page.get("/Resources", {}).get_object().get("/XObject", {}).get_object()
        return any(xobjects[k].get_object().get("/Subtype") == "/Image" for k in xobjects)
    except Exception:  # damaged resources: treat as no image rather than fail the page
        return False


_PLACEHOLDER_TITLE = re.compile(
    r"^(untitled|document\d*|title|slide \d+|presentation\d*)$|template|^microsoft (word|powerpoint)|"
    r"\.(docx?|pdf|indd|qxd|pptx?)$|^.{0,3}$",
    re.IGNORECASE,
)


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(str(path), "empty file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            str(path), f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from None


def _read_text_like(path: Path) -> tuple[list[str], dict[str, Any]]:
    from .resource_page import looks_like_resource_page, parse_resource_page

    text = _decode(path)
    is_html = path.suffix.lower() in HTML_SUFFIXES or text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    if looks_like_resource_page(text):
        record = parse_resource_page(text)
        meta: dict[str, Any] = {"doc_type": "resource-page"}
        if record.title:
            meta["title"] = record.title
        first = record.downloads[0] if record.downloads else None
        if first and first.publisher:
            meta["publisher"] = first.publisher
        if first and first.year:
            meta["year"] = first.year
        if record.url:
            meta["url"] = record.url
        if record.categories:
            meta["categories"] = ", ".join(record.categories)
        if record.tags:
            meta["tags"] = ", ".join(record.tags)
        return [record.text()], meta
    if is_html:
        return _read_html(text)
    is_markdown = path.suffix.lower() in {".md", ".markdown"}
    meta = {"doc_type": "markdown" if is_markdown else "text"}
    if is_markdown:
        text = strip_markdown_markup(text)
    heading = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    if heading:
        meta["title"] = heading.group(1).strip()
    return [text], meta


def _read_html(html: str) -> tuple[list[str], dict[str, Any]]:
    """A page saved from a browser: its <main> (or whole body) as text, headings kept, chrome dropped."""
    main = re.search(r"<main\b.*</main\s*>", html, flags=re.IGNORECASE | re.DOTALL)
    text = html_to_text(main.group(0) if main else html, headings=True, boilerplate=True)
    meta: dict[str, Any] = {"doc_type": "html"}
    title = re.search(r"<title[^>]*>(.*?)</title\s*>", html, flags=re.IGNORECASE | re.DOTALL)
    heading = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    if title and html_to_text(title.group(1)).strip():
        meta["title"] = " ".join(html_to_text(title.group(1)).split())
    elif heading:
        meta["title"] = heading.group(1).strip()
    return [text], meta


def strip_markdown_markup(text: str) -> str:
    """Markdown as readable text: no HTML tags, links reduced to their text, headings spaced.

    Quotes and chunks then hold what a reader sees, not link targets or <meta> tags;
    heading marks stay so sections can still be found.
    """
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    text = re.sub(r"</?[a-zA-Z][^>\n]*>", "", text)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)
    return re.sub(r"^(#{1,6})(?=[^#\s])", r"\1 ", text, flags=re.MULTILINE)
