"""Documents as practitioners have them: Word and OpenDocument files, HTML saved from a browser,
and tables in PDFs as quotable rows (scanned pages read by OCR: test_ocr.py). Fixtures are
written by the tests themselves (python-docx, HTML text);
the hashing embedder stands in for MiniLM, since retrieval quality is not the point here."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from conftest import CORPUS, needs_shared, settings_for

from assistant.api import Lantern
from core.errors import IngestError
from core.settings import Settings
from ingest.chunk import chunk_pages
from ingest.load import SUPPORTED_SUFFIXES, SourceFile, load
from ingest.pipeline import ingest
from ingest.tables import looks_tabular, row_lines

HTML_PAGE = """<!DOCTYPE html>
<html><head><title>Shelter guidance | Safe Homes Network</title>
<script>window.analytics = {track: function() {}};</script><style>body {color: red}</style></head>
<body>
<header><a href="/">Home</a> <a href="/about">About us</a></header>
<nav><ul><li><a href="/news">Latest news</a></li><li><a href="/donate">Donate today</a></li></ul></nav>
<div role="navigation">Breadcrumbs: Home / Guidance</div>
<main>
<h1>Shelter guidance</h1>
<p>This guidance explains how shelters receive adults referred after trafficking.</p>
<h2>Intake</h2>
<p>Shelter staff complete the intake interview within 48 hours of arrival.</p>
<h3>Interpreters</h3>
<p>An interpreter of the survivor's choosing is booked before the intake interview starts.</p>
<h2>Leaving the shelter</h2>
<p>Residents may stay for up to 90 days while a move-on plan is agreed.</p>
<aside>Related: our annual report</aside>
<button>Share this page</button>
</main>
<footer>Copyright 2026 Safe Homes Network. Cookie settings. Privacy policy.</footer>
</body></html>
"""


def _write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Referral handbook"
    document.add_heading("Referral handbook", level=1)
    document.add_paragraph("This handbook sets out how local partners refer possible victims.")
    document.add_heading("Referral timelines", level=2)
    document.add_paragraph("A referral form must reach the coordinator within five working days.")
    document.add_heading("Emergency cases", level=3)
    document.add_paragraph("Children at immediate risk are referred by telephone the same day.")
    document.add_heading("Contacts", level=2)
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([("Region", "Coordinator", "Phone"), ("North", "Amira Haddad", "0161 555 0100"),
                             ("South", "Tom Briggs", "0117 555 0199")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.save(str(path))


def _write_odt(path: Path) -> None:
    content = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>
<text:h text:outline-level="1">Outreach plan</text:h>
<text:h text:outline-level="2">Night patrols</text:h>
<text:p>Outreach workers patrol the harbour district on Friday nights.</text:p>
</office:text></office:body></office:document-content>"""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", content)


@pytest.fixture(scope="module")
def office_store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("formats")
    corpus = tmp / "corpus"
    corpus.mkdir()
    _write_docx(corpus / "referral-handbook.docx")
    (corpus / "shelter-guidance.html").write_text(HTML_PAGE, encoding="utf-8")
    _write_odt(corpus / "outreach.odt")
    settings = settings_for(tmp, embed_backend="hash")
    report = ingest([corpus], settings)
    assert not report.failed and report.added == 3, report.failed
    return settings


def test_new_formats_are_listed() -> None:
    assert {".docx", ".odt", ".html", ".htm"} <= SUPPORTED_SUFFIXES


def test_docx_headings_become_section_paths(tmp_path: Path) -> None:
    path = tmp_path / "handbook.docx"
    _write_docx(path)
    doc = load(SourceFile(path, path.name))
    assert doc.metadata["title"] == "Referral handbook" and doc.metadata["doc_type"] == "docx"
    text = doc.pages[0].text
    assert "Region: North; Coordinator: Amira Haddad; Phone: 0161 555 0100." in text
    chunks = chunk_pages(doc.pages, doc.metadata, chunk_size=20, chunk_overlap=0)
    by_text = {c.text: c.metadata.get("section") for c in chunks}
    same_day = next(s for t, s in by_text.items() if "same day" in t)
    assert same_day == "Referral timelines > Emergency cases"  # the title heading is the citation's title
    phone = next(s for t, s in by_text.items() if "Amira Haddad" in t)
    assert phone == "Contacts"


def test_saved_html_keeps_content_and_drops_chrome(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_text(HTML_PAGE, encoding="utf-8")
    doc = load(SourceFile(path, path.name))
    text = doc.pages[0].text
    assert doc.metadata["title"] == "Shelter guidance | Safe Homes Network"
    assert "within 48 hours of arrival" in text and "up to 90 days" in text
    for chrome in ("Donate today", "About us", "Breadcrumbs", "Cookie settings", "analytics", "color: red",
                   "annual report", "Share this page"):
        assert chrome not in text
    chunks = chunk_pages(doc.pages, doc.metadata, chunk_size=20, chunk_overlap=0)
    booked = next(c for c in chunks if "interpreter of the survivor" in c.text)
    assert booked.metadata["section"] == "Intake > Interpreters"  # the <h1> repeats the title
    leaving = next(c for c in chunks if "90 days" in c.text)
    assert leaving.metadata["section"] == "Leaving the shelter"


@pytest.mark.parametrize(
    ("question", "source", "fact"),
    [
        ("How quickly must a referral form reach the coordinator?", "referral-handbook.docx", "five working days"),
        ("Who is the coordinator for the North region and what is the phone number?", "referral-handbook.docx",
         "0161 555 0100"),
        ("Within how many hours do shelter staff complete the intake interview?", "shelter-guidance.html",
         "48 hours"),
        ("When do outreach workers patrol the harbour district?", "outreach.odt", "Friday nights"),
    ],
)
def test_ask_answers_from_each_format_with_a_citation(
    office_store: Settings, question: str, source: str, fact: str
) -> None:
    with Lantern.open(settings=office_store) as lantern:
        answer = lantern.ask(question)
        assert not answer.abstained, answer.text
        cited = [c for c in answer.citations if c.source == source]
        assert cited, [c.source for c in answer.citations]
        assert any(fact in c.quote for c in cited)
        for c in cited:
            page = lantern.store.page_text(c.source, c.page)
            assert page is not None and c.quote[:40] in page


def test_protected_and_corrupt_word_files_fail_with_one_clear_line(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "protected.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096)
    good = tmp_path / "good.docx"
    _write_docx(good)
    (folder / "truncated.docx").write_bytes(good.read_bytes()[:700])
    (folder / "not-a-doc.docx").write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(IngestError, match="password-protected"):
        load(SourceFile(folder / "protected.docx", "protected.docx"))
    report = ingest([folder], settings_for(tmp_path, embed_backend="hash"))
    errors = {Path(f["path"]).name: f["error"] for f in report.failed}
    assert set(errors) == {"protected.docx", "truncated.docx", "not-a-doc.docx"}
    for error in errors.values():
        assert "\n" not in error and "Traceback" not in error, error
        assert "Word file" in error, error
    assert "password" in errors["protected.docx"]


def test_table_rows_carry_their_headers() -> None:
    table = [["State", "Incidents", "Cleared"], ["Texas", "35", "12"], ["Ohio", "", "4"], ["State", "Incidents", "Cleared"],
             ["Utah", "7", "1"]]
    assert row_lines(table) == ["State: Texas; Incidents: 35; Cleared: 12.", "State: Ohio; Cleared: 4.",
                                "State: Utah; Incidents: 7; Cleared: 1."]
    assert row_lines([["Only", "a header"], ["one", "row"]]) == []
    # a row with no label cannot be read alone; a first row of figures is not a header
    years = [["Form", "2020", "2021"], ["", "15", "25"], ["Labor", "49", "83"], ["Sex", "131", "130"]]
    assert row_lines(years, need_label=True) == ["Form: Labor; 2020: 49; 2021: 83.", "Form: Sex; 2020: 131; 2021: 130."]
    assert row_lines(years)[0] == "2020: 15; 2021: 25."  # a Word table's rows are all its text: all kept
    assert row_lines([["Labor", "2510", "71%"], ["Sex", "2754", "73%"], ["Other", "931", "25%"]]) == []
    assert looks_tabular("\n".join(f"Row {i} {i * 3}" for i in range(8)))
    assert not looks_tabular("A paragraph of prose.\nAnother line of prose without figures.")


@needs_shared
def test_pdf_table_rows_only_when_asked() -> None:
    """pdf_tables is off by default: on the shared corpus it slowed a cold ingest and did not help
    retrieval (see the README); on, a table page gains header-labelled row lines."""
    source = SourceFile(CORPUS / "pdf" / "fbi-ucr-human-trafficking-2014.pdf", "fbi.pdf")
    plain = load(source)
    with_rows = load(source, tables=True)
    added = [q.text[len(p.text):] for p, q in zip(plain.pages, with_rows.pages, strict=True) if q.text.startswith(p.text)
             and len(q.text) > len(p.text)]
    rows = [line for extra in added for line in extra.splitlines() if line.count("; ") >= 2]
    assert len(added) >= 2 and len(rows) >= 20
    assert any(line.startswith("Table 2: Texas; ") for line in rows)  # a row keeps its table's name
