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

import codecs
import csv
import hashlib
import logging
import os
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
from .layout import Bookmark, section_marks
from .tables import pdf_table_rows, with_rows

PDF_SUFFIXES = {".pdf"}
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
OFFICE_SUFFIXES = {".docx", ".odt"}
# The one list of file types Lantern ingests (CLI, pipeline and UI uploads alike).
SUPPORTED_SUFFIXES = frozenset(PDF_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | OFFICE_SUFFIXES)
SKIPPED_NAMES = {"manifest.csv", "readme.md", "license", "license.md", "license.txt"}
MIN_PDF_CHARS = 40  # below this over a whole PDF, it is image-only (scanned) as far as we can tell
# Size caps, checked before a file is read: a text file is split into sentences and tokens in
# memory (a 5 MB one-line file took ~20 s and 0.8 GB on one core, and time grows with size), so
# an oversized file is refused in one line instead of taking minutes and gigabytes.
MAX_BYTES = {"text": 10 * 1024 * 1024, "office": 50 * 1024 * 1024, "pdf": 250 * 1024 * 1024}

# pypdf logs what it recovers from (a broken font encoding, a damaged xref) as errors; the file is
# read anyway or fails as one IngestError line, so none of it may reach the terminal.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


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


def discover(paths: list[Path]) -> tuple[list[SourceFile], list[tuple[str, str]], list[tuple[str, str]]]:
    """Files to ingest under `paths`, (path, reason) for what could not be read, and (path,
    reason) for what was left out on purpose.

    A file argument's source is its own name; files under a folder argument get their
    path relative to that folder (`pdf/x.pdf` when ingesting the corpus folder). The same
    file reached twice (two arguments, a link) is listed once.

    Symbolic links: a file named on the command line is read wherever it points (you named
    it). Inside a folder, a link is followed only to a file inside that same folder; a link
    that leads out of it (`notes.txt -> /etc/passwd`), a link to a folder (never descended:
    no loops) and a broken link are each reported in one line, never read.
    """
    found: dict[Path, SourceFile] = {}
    problems: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for arg in paths:
        if arg.is_symlink() and _link_target(arg)[0] is None:
            problems.append((str(arg), _link_target(arg)[1]))
        elif arg.is_file():
            if arg.suffix.lower() not in SUPPORTED_SUFFIXES:
                problems.append((str(arg), f"unsupported file type {arg.suffix or '(none)'}; Lantern reads PDF, Word (.docx), OpenDocument (.odt), Markdown, text and HTML"))
                continue
            found.setdefault(arg.resolve(), SourceFile(arg, arg.name))
        elif arg.is_dir():
            files = _walk(arg, problems, skipped)
            if not files and not any(p.startswith(str(arg)) for p, _ in problems + skipped):
                problems.append((str(arg), "nothing ingestible in this folder (no .pdf, .docx, .odt, .md, .txt or .html files)"))
            for p in files:
                real = p.resolve()
                if real in found:
                    if p.is_symlink():
                        skipped.append((str(p), f"a link to {found[real].path}, which is ingested under its own name"))
                    continue
                found[real] = SourceFile(p, p.relative_to(arg).as_posix())
        elif arg.exists():
            problems.append((str(arg), "not a regular file or folder"))
        else:
            problems.append((str(arg), "no such file or folder"))
    return list(found.values()), problems, skipped


def _walk(root: Path, problems: list[tuple[str, str]], skipped: list[tuple[str, str]]) -> list[Path]:
    """Ingestible files under `root`, sorted, real files before links (see `discover`); hidden
    files and folders are left out silently, unreadable folders and bad links reported."""
    inside = root.resolve()
    regular: list[Path] = []
    links: list[Path] = []

    def unreadable(exc: OSError) -> None:
        problems.append((str(exc.filename or root), f"cannot read this folder ({exc.strerror or exc}); its files were not ingested"))

    for folder, dirs, names in os.walk(root, onerror=unreadable):
        here = Path(folder)
        dirs.sort()
        for d in list(dirs):
            if d.startswith("."):
                dirs.remove(d)
            elif (here / d).is_symlink():  # os.walk does not descend into it; say so
                skipped.append((str(here / d), "a symbolic link to a folder; not followed (Lantern follows links only to files inside the folder it ingests)"))
        for name in sorted(names):
            path = here / name
            if name.startswith(".") or path.suffix.lower() not in SUPPORTED_SUFFIXES or name.lower() in SKIPPED_NAMES:
                continue
            if not path.is_symlink():
                if path.is_file():
                    regular.append(path)
                elif path.exists():
                    problems.append((str(path), "not a regular file (a device, socket or pipe); not read"))
                continue
            target, reason = _link_target(path)
            if target is None:
                problems.append((str(path), reason))
            elif not target.is_relative_to(inside):
                skipped.append((str(path), f"a symbolic link to {target}, outside {root}; not followed (Lantern follows links only to files inside the folder it ingests)"))
            elif target.is_file():
                links.append(path)
            else:
                skipped.append((str(path), "a symbolic link to something that is not a regular file; not followed"))
    return regular + links


def _link_target(link: Path) -> tuple[Path | None, str]:
    """Where a symbolic link leads, or None and why it leads nowhere."""
    try:
        return link.resolve(strict=True), ""
    except FileNotFoundError:
        return None, f"broken symbolic link (its target {os.readlink(link)} does not exist)"
    except RuntimeError:  # Python 3.11's word for a loop
        return None, "symbolic link loop; not followed"
    except OSError as exc:
        return None, f"symbolic link that cannot be followed ({exc.strerror or exc})"


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
    if sf.text is None:
        _check_size(sf.path, suffix)
    extras: list[dict[str, Any]] = [{}]  # per page: metadata, and "rows" to append after cleaning
    bookmarks: list[Bookmark] | None = None  # a PDF's outline; its sections are found after cleaning
    if sf.text is not None:
        raw_pages, meta = [sf.text], {"doc_type": "text"}
        labels: list[str | None] = [None]
    elif suffix in PDF_SUFFIXES:
        raw_pages, labels, meta, extras, bookmarks = _read_pdf(sf.path, tables, scans)
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
    marks = section_marks(cleaned, bookmarks) if bookmarks is not None else [() for _ in cleaned]
    pages = [
        Page(
            source=sf.source,
            page=(i + 1) if is_pdf else None,
            text=text,
            metadata=({"page_label": labels[i]} if labels[i] else {}) | extras[i].get("metadata", {}),
            sections=marks[i],
        )
        for i, text in enumerate(cleaned)
    ]
    return LoadedDocument(sf.source, pages, meta)


def _check_size(path: Path, suffix: str) -> None:
    """Refuse a file over its kind's cap (`MAX_BYTES`) before reading it."""
    kind = "pdf" if suffix in PDF_SUFFIXES else "office" if suffix in OFFICE_SUFFIXES else "text"
    size = path.stat().st_size
    if size > MAX_BYTES[kind]:
        raise IngestError(str(path), f"too large to ingest ({size / 2**20:.1f} MB; the cap for {kind} files is "
                                     f"{MAX_BYTES[kind] // 2**20} MB): split it into smaller files")


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def _read_pdf(
    path: Path, tables: bool = False, scans: bool = True,
) -> tuple[list[str], list[str | None], dict[str, Any], list[dict[str, Any]], list[Bookmark]]:
    """Page texts, page labels, document metadata, per page: table rows and OCR marks; and the
    outline's bookmarks (the section paths come from them, else from heading lines).

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
        bookmarks = _bookmarks(reader)
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
    return texts, labels, meta, extras, bookmarks


def _bookmarks(reader: Any) -> list[Bookmark]:
    """The PDF's outline as (title, 0-based page, depth), in document order; [] when it has none
    or it cannot be read (a damaged outline costs the sections, never the document)."""
    out: list[Bookmark] = []

    def walk(items: list[Any], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # one broken destination costs that bookmark only
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if page is not None and page >= 0 and title:
                out.append(Bookmark(title, page, depth))

    try:
        walk(reader.outline, 0)
    except Exception:  # pypdf raises many kinds on a damaged outline
        return []
    return out


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


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _decode(path: Path) -> str:
    """The text of a file: UTF-8, or UTF-16/32 with or without a byte-order mark (Windows tools
    save those; read as UTF-8 they would be text full of NULs). Anything else is one clear line."""
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(str(path), "empty file")
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    if encoding:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise IngestError(str(path), f"damaged {encoding.upper()} text ({exc.reason} at byte {exc.start})") from None
    if b"\x00" in data:
        text = _wide_text(data)
        if text is None:
            raise IngestError(str(path), "binary data, not text (it holds NUL bytes and is not UTF-16 or UTF-32)")
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(
            str(path), f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from None


def _wide_text(data: bytes) -> str | None:
    """`data` as UTF-32 or UTF-16 without a byte-order mark, when one of them gives clean text
    (no NULs, almost all printable); None for binary data."""
    for encoding in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:20000]
        printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in sample)
        if "\x00" not in text and printable >= 0.98 * len(sample):
            return text
    return None


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
