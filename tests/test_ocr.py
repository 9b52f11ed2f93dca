"""Scanned pages, read by OCR: real shared-corpus pages rendered to images and saved as a PDF
with no text layer beside a page that keeps its text (a mixed PDF), ingested as a user would.

What a user notices: the scan's words are read (character error rate ≤ 3% against the original
text layer), a question finds the scanned page, only the scanned pages are OCR'd and they are
marked as such in the ledger, in the answer's citations (`lantern ask` prints "text read from a
scan"), in the UI and the API; quotes from them are verified against the OCR text. A scan whose
OCR finds nothing fails with one line. The hashing embedder stands in for MiniLM. A page's
list bullets, which tesseract misreads as "*", "¢", "©" or "e" or drops altogether, are read as
"•"; a page with a sidebar reads each sentence whole; light-grey headings are read, in their
place (the rebuild of the text from tesseract's TSV, its line order and the dropped-bullet
check are also tested on hand-made TSVs and images, in the unit tier).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import CORPUS, TOOLKIT, needs_shared, run_lantern, settings_for, unavailable

from assistant.api import Lantern
from core.settings import Settings
from core.types import SCANNED_NOTE
from eval.metrics import quote_verified
from ingest import ocr
from ingest.pipeline import ingest

# tesseract over rendered pages, the CLI in a subprocess; the TSV rebuild tests below are unit tests
integration = pytest.mark.integration

TEXT_PAGE = 19  # 1-based toolkit page kept with its text layer
SCANNED = (20, 22)  # 1-based toolkit pages made into images: scan pages 2 and 3
SOURCE = "toolkit-mixed.pdf"
DPI = 200  # what an office scanner produces


def _require_tesseract() -> None:
    if not ocr.available():
        unavailable("tesseract is not installed (make ocr)")


def _mixed_pdf(dest: Path) -> list[str]:
    """A PDF of one real text page followed by real pages as images only; pypdf's text of each."""
    import pypdfium2 as pdfium
    from pypdf import PdfReader, PdfWriter

    original = CORPUS / "pdf" / TOOLKIT
    reader = PdfReader(original)
    pdf = pdfium.PdfDocument(str(original))
    try:
        images = [pdf[p - 1].render(scale=DPI / 72).to_pil().convert("RGB") for p in SCANNED]
    finally:
        pdf.close()
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=float(DPI))
    writer = PdfWriter()
    writer.add_page(reader.pages[TEXT_PAGE - 1])
    for page in PdfReader(io.BytesIO(buffer.getvalue())).pages:
        writer.add_page(page)
    with open(dest, "wb") as fh:
        writer.write(fh)
    return [reader.pages[p - 1].extract_text() for p in (TEXT_PAGE, *SCANNED)]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[str]]:
    """A store holding the mixed PDF, and the original text of its three pages."""
    _require_tesseract()
    tmp = tmp_path_factory.mktemp("ocr")
    folder = tmp / "docs"
    folder.mkdir()
    truths = _mixed_pdf(folder / SOURCE)
    settings = settings_for(tmp, embed_backend="hash")
    report = ingest([folder], settings)
    assert not report.failed and report.added == 1, report.failed
    return settings, truths


@integration
@needs_shared
def test_scanned_pages_are_read_within_three_percent_and_only_they_are_ocrd(scanned: tuple[Settings, list[str]]) -> None:
    settings, truths = scanned
    with Lantern.open(settings=settings) as lantern:
        pages = dict(lantern.store.pages(SOURCE))
        document = lantern.store.document(SOURCE)
        chunks = [c for c in lantern.store.chunks() if c.source == SOURCE]
    rates = [ocr.character_error_rate(pages[k], truths[k - 1]) for k in (2, 3)]
    print(f"OCR character error rate of the scanned pages: {', '.join(f'{r:.4f}' for r in rates)}")
    assert max(rates) <= 0.03, rates
    assert document is not None and document.metadata.get("ocr_pages") == [2, 3]  # the ledger says which
    assert {c.page for c in chunks if c.metadata.get("ocr")} == {2, 3}
    assert not any(c.metadata.get("ocr") for c in chunks if c.page == 1)  # the text page keeps its own text
    assert " ".join(pages[1].split())[:300] in " ".join(truths[0].split())  # the text page's own text, cleaned


QUESTION = "Can children living with their parents or guardians still be exploited?"  # on scan page 3


@integration
@needs_shared
@pytest.mark.parametrize(
    ("question", "page", "fact"),
    [(QUESTION, 3, "still be exploited"), ("What is the phone number of the ICTG Service phoneline?", 2, "0800 043 4303")],
)
def test_a_question_finds_the_scanned_page(scanned: tuple[Settings, list[str]], question: str, page: int, fact: str) -> None:
    settings, _ = scanned
    with Lantern.open(settings=settings) as lantern:
        hits = lantern.retrieve(question, top_k=5)
        page_text = lantern.store.page_text(SOURCE, page) or ""
    assert (hits[0].chunk.source, hits[0].chunk.page) == (SOURCE, page)
    assert fact in " ".join(page_text.split())  # read right by OCR
    assert hits[0].to_dict()["ocr"] is True


@integration
@needs_shared
def test_an_answer_cites_the_scan_with_a_quote_verified_against_the_ocr_text(scanned: tuple[Settings, list[str]]) -> None:
    settings, _ = scanned
    with Lantern.open(settings=settings) as lantern:
        answer = lantern.ask(QUESTION)
        assert not answer.abstained, answer.text
        cited = [c for c in answer.citations if c.page == 3]
        assert cited and all(c.ocr for c in cited), answer.citations
        assert any("still be exploited" in c.quote for c in cited)
        for c in cited:  # the quote is checked against the text OCR read, and passes
            page_text = lantern.store.page_text(c.source, c.page)
            assert page_text is not None and quote_verified(c.quote, page_text), c.quote


@integration
@needs_shared
def test_cli_ui_and_api_show_text_read_from_a_scan(scanned: tuple[Settings, list[str]]) -> None:
    from app.service import sources_markdown
    from app.ui_render import cite_title, render_sources

    settings, _ = scanned
    question = QUESTION
    shown = run_lantern("ask", question, "--store", settings.store, "--embed-backend", "hash", timeout=180)
    assert shown.returncode == 0, shown.stderr[-2000:]
    sources = shown.stdout.split("Sources:", 1)[1]
    assert f"p. 3 ({SCANNED_NOTE})" in sources, shown.stdout
    with Lantern.open(settings=settings) as lantern:
        answer = lantern.ask(question)
    scan = next(c for c in answer.citations if c.ocr)
    assert SCANNED_NOTE in render_sources(answer, served=set())
    assert SCANNED_NOTE in cite_title(scan)
    assert SCANNED_NOTE in sources_markdown(answer)
    assert answer.to_dict()["citations"][0]["ocr"] is True


@integration
@needs_shared
def test_a_scan_ocr_cannot_read_fails_with_one_line(tmp_path: Path) -> None:
    """A blank scanned sheet: OCR runs and finds nothing, so the file fails, saying so in one line.
    With OCR switched off, a real scan fails saying OCR is off."""
    from PIL import Image

    _require_tesseract()
    folder = tmp_path / "docs"
    folder.mkdir()
    Image.new("RGB", (1654, 2339), "white").save(folder / "blank-scan.pdf", resolution=200.0)
    report = ingest([folder], settings_for(tmp_path, embed_backend="hash"))
    assert [Path(f["path"]).name for f in report.failed] == ["blank-scan.pdf"]
    error = report.failed[0]["error"]
    assert "\n" not in error and "OCR found no text" in error, error

    off = tmp_path / "off"
    off.mkdir()
    _mixed_pdf(tmp_path / "mixed.pdf")
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for p in PdfReader(tmp_path / "mixed.pdf").pages[1:]:  # the two image pages alone
        writer.add_page(p)
    with open(off / "scan-only.pdf", "wb") as fh:
        writer.write(fh)
    report = ingest([off], settings_for(tmp_path / "o", embed_backend="hash", ocr=False))
    assert len(report.failed) == 1 and "OCR is switched off" in report.failed[0]["error"], report.failed


BULLETED = 21  # 1-based toolkit page: a list of 36 bullets ("•" in its text layer)


def _scan_page(original: Path, page: int, dest: Path) -> tuple[str, Path]:
    """One real page (1-based) as a scanner gives it: its text layer, and an image-only PDF of it."""
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    _require_tesseract()
    truth = PdfReader(original).pages[page - 1].extract_text()
    pdf = pdfium.PdfDocument(str(original))
    try:
        image = pdf[page - 1].render(scale=DPI / 72).to_pil().convert("RGB")
    finally:
        pdf.close()
    image.save(dest, resolution=float(DPI))
    return truth, dest


@integration
@needs_shared
def test_a_scanned_bulleted_list_is_read_with_its_bullets(tmp_path: Path) -> None:
    """A real page of bullets, scanned: each bullet reads as "•" where tesseract alone printed
    "*", "¢" or "e", and nothing else does."""
    truth, scan = _scan_page(CORPUS / "pdf" / TOOLKIT, BULLETED, tmp_path / "bullets.pdf")
    read = ocr.ocr_pages(scan, [0])[0]
    items = [line.split()[1].casefold() for line in truth.splitlines() if line.startswith(ocr.BULLET)]
    read_items = [line.split()[1].casefold() for line in read.splitlines() if line.startswith(ocr.BULLET)]
    assert len(items) >= 30 and read.count(ocr.BULLET) == truth.count(ocr.BULLET)
    assert read_items == items  # every item, in order, behind its bullet
    assert ocr.character_error_rate(read, truth) <= 0.01


def _tsv(*words: tuple[int, int, int, int, int, int, int, str]) -> str:
    """Tesseract's TSV with a header, one page row and one row per word: (block, paragraph, line,
    left, top, width, height, text), confidence 90."""
    rows = ["level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
            "1\t1\t0\t0\t0\t0\t0\t0\t2480\t3508\t-1\t"]
    for n, (block, par, line, left, top, width, height, text) in enumerate(words, 1):
        rows.append(f"5\t1\t{block}\t{par}\t{line}\t{n}\t{left}\t{top}\t{width}\t{height}\t90.0\t{text}")
    return "\n".join(rows) + "\n"


def test_text_is_rebuilt_from_tsv_with_lines_paragraphs_and_misread_bullets_restored() -> None:
    # words 36 px high with their tops at y=100 and their baseline at y=136 (a descender reaches 146)
    tsv = _tsv(
        (1, 1, 1, 200, 100, 150, 36, "Victims"), (1, 1, 1, 370, 100, 80, 36, "may:"),
        (1, 2, 1, 200, 212, 12, 12, "e"), (1, 2, 1, 230, 200, 140, 36, "Believe"),  # a floating dot: a bullet
        (1, 2, 1, 390, 200, 90, 46, "they"),
        (1, 2, 2, 200, 312, 13, 13, "¢"), (1, 2, 2, 230, 300, 90, 36, "Show"),  # another one
        (1, 2, 2, 340, 300, 60, 36, "fear"),
        (1, 3, 1, 200, 410, 24, 26, "a"), (1, 3, 1, 240, 400, 100, 46, "party"),  # a letter on the baseline
        (2, 1, 1, 200, 600, 12, 14, "7"), (2, 1, 1, 230, 600, 60, 36, "See"),  # a raised footnote mark
        (2, 1, 1, 300, 600, 60, 36, "p."),
        (2, 1, 2, 200, 688, 12, 12, "»"), (2, 1, 2, 230, 676, 60, 36, "Ask"),  # a list marker read as such
        (2, 1, 3, 200, 760, 12, 12, '"'), (2, 1, 3, 230, 776, 60, 36, "Yes"),  # a quotation mark, above
        (3, 1, 1, 200, 900, 12, 12, "*"),  # a dot alone on its line: no line to be a bullet of
    )
    assert ocr.text_from_tsv(tsv) == (
        "Victims may:\n\n• Believe they\n• Show fear\n\na party\n\n7 See p.\n» Ask\n\" Yes\n\n*\n"
    )


def test_a_tsv_without_words_reads_as_nothing() -> None:
    assert ocr.text_from_tsv("") == ""
    assert ocr.text_from_tsv(_tsv()) == ""


SIDEBAR_GUIDE = "dhs-blue-campaign-how-to-talk-to-youth-about-human-trafficking.pdf"
SIDEBAR_PAGE = 12  # 1-based: a paragraph and a bulleted list beside a tall decorative bar, then full-width text


@integration
@needs_shared
def test_a_scanned_page_with_a_sidebar_reads_each_paragraph_in_one_piece(tmp_path: Path) -> None:
    """A real page, scanned: tesseract's own line order put a line from below the sidebar's
    list into the paragraph above it and the paragraph's last line after the list; read in
    reading order, each sentence is whole and the page is within 1% of its text layer."""
    truth, scan = _scan_page(CORPUS / "pdf" / SIDEBAR_GUIDE, SIDEBAR_PAGE, tmp_path / "sidebar.pdf")
    read = ocr.ocr_pages(scan, [0])[0]
    # the text layer's sentences of a dozen words or more, less the first (it opens with the page number)
    sentences = [s for s in " ".join(truth.split()).split(". ") if len(s.split()) >= 12][1:]
    assert len(sentences) >= 4
    joined = "".join(read.split())  # "Itis" for "It is" is a misreading, not a broken sentence
    assert all("".join(s.split()) in joined for s in sentences), [s for s in sentences if "".join(s.split()) not in joined]
    assert ocr.character_error_rate(read, truth) <= 0.01


def test_a_line_tesseract_puts_above_the_lines_over_it_is_read_after_them() -> None:
    # a block whose paragraph holds a line from the foot of the page (as tesseract grouped it),
    # a second column beside it, and a date to the right of, and above, the next heading
    tsv = _tsv(
        (1, 1, 1, 200, 100, 400, 36, "Intro"), (1, 1, 2, 200, 150, 400, 36, "continues"),
        (1, 1, 3, 200, 900, 1600, 36, "Footline"),  # full width, far below: after everything above it
        (2, 1, 1, 1000, 100, 400, 36, "Right"), (2, 1, 2, 1000, 150, 400, 36, "column"),
        (3, 1, 1, 900, 300, 300, 36, "Date"),  # right of and above the heading: keeps its place
        (4, 1, 1, 200, 340, 300, 36, "Heading"),
    )
    assert ocr.text_from_tsv(tsv) == "Intro\ncontinues\n\nRight\ncolumn\n\nDate\n\nHeading\n\nFootline\n"
    assert ocr.text_from_tsv(tsv, ordered=False).split() == ["Intro", "continues", "Footline", "Right", "column", "Date", "Heading"]


GREY_REPORT = "dutch-national-rapporteur-trafficking-for-organ-removal-and-forced-commercial-surrogacy-2012.pdf"
GREY_PAGE = 18  # 1-based: a chapter and a section heading set in light grey above black body text


@integration
@needs_shared
def test_light_grey_headings_of_a_scanned_page_are_read_in_their_place(tmp_path: Path) -> None:
    """A real page whose headings are light grey, scanned: tesseract takes them for paper, and
    the second pass (the words read painted out) reads them, each before the text it heads."""
    text_layer, scan = _scan_page(CORPUS / "pdf" / GREY_REPORT, GREY_PAGE, tmp_path / "grey.pdf")
    truth = " ".join(text_layer.split())
    tsv = ocr.ocr_pages_tsv(scan, [0])[0]
    read, first = " ".join(ocr.text_from_tsv(tsv).split()), " ".join(ocr.text_from_tsv(tsv, second=False).split())
    chapter, section = "Does forced surrogacy constitute human trafficking?", "3.1 Legal framework"
    assert chapter in truth and section in truth
    assert chapter not in first and section not in first  # the first pass alone misses them
    assert read.index(chapter) < read.index("The previous sections") < read.index(section)
    assert ocr.character_error_rate(read, truth) < ocr.character_error_rate(first, truth)


INDICATORS = "unodc-human-trafficking-indicators.pdf"  # p. 1: three lists of indicators, 61 bullets


@integration
@needs_shared
def test_bullets_tesseract_drops_are_found_in_the_image(tmp_path: Path) -> None:
    """A real page of lists, scanned: tesseract reads none of its 61 bullets (not even as a wrong
    letter); each is found as a solid dot left of its line and read as "•", and nothing else is."""
    text_layer, scan = _scan_page(CORPUS / "pdf" / INDICATORS, 1, tmp_path / "lists.pdf")
    truth = text_layer.replace("\x7f", ocr.BULLET)  # its bullets map to U+007F
    tsv = ocr.ocr_pages_tsv(scan, [0])[0]
    read, as_printed = ocr.text_from_tsv(tsv), ocr.text_from_tsv(tsv, bullets=False)

    def items(text: str) -> list[str]:
        return sorted(line.split()[1].casefold() for line in text.splitlines() if line.startswith(ocr.BULLET))

    assert truth.count(ocr.BULLET) == 61 and as_printed.count(ocr.BULLET) == 0
    assert read.count(ocr.BULLET) == 61
    assert items(read) == items(truth)  # each bullet before its own item


def test_a_solid_dot_left_of_a_line_is_a_dropped_bullet_and_a_check_box_is_not() -> None:
    from PIL import Image, ImageDraw

    image = Image.new("L", (1200, 600), 255)
    draw = ImageDraw.Draw(image)
    tsv_words = []
    for n, (top, mark) in enumerate(((100, "dot"), (200, "box"), (300, "none"), (400, "text")), 1):
        draw.rectangle((300, top, 500, top + 36), fill=0)  # the line's word, 36 px high
        tsv_words.append((n, 1, 1, 300, top, 200, 36, "Word"))
        if mark == "dot":
            draw.ellipse((240, top + 10, 256, top + 26), fill=0)  # 16 px: 0.44 of the height
        elif mark == "box":
            draw.rectangle((236, top + 8, 256, top + 28), outline=0, width=3)  # a check box
        elif mark == "text":
            draw.rectangle((200, top + 10, 225, top + 36), fill=0)  # the end of a line to the left
            draw.ellipse((240, top + 10, 256, top + 26), fill=0)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    tsv = ocr.with_dropped_bullets(_tsv(*tsv_words), buf.getvalue())
    assert ocr.text_from_tsv(tsv, ordered=False) == "• Word\n\nWord\n\nWord\n\nWord\n"
    assert ocr.text_from_tsv(tsv, ordered=False, bullets=False) == "Word\n\nWord\n\nWord\n\nWord\n"
