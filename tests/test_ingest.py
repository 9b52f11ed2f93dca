"""Ingestion, end to end on real files: pages, metadata, cleaning, chunk limits, idempotent
and incremental runs, bad input, crash recovery, a Chroma server, settings and status.

Stores are written by the real `lantern` command in subprocesses and read back here.
Vector *queries* are only made in this process on stores it has not queried before a
subprocess wrote to them (Chroma's in-process index cache does not see other writers).
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CORPUS,
    RESOURCE_PAGE,
    SAMPLE_CORPUS,
    SMALL_PDFS,
    TOOLKIT,
    TREATY,
    copy_with_manifest,
    lantern_command,
    ledger_states,
    needs_shared,
    run_lantern,
    settings_for,
)

from core.errors import SettingsError
from core.settings import Settings
from core.store import Store
from core.text import guess_language, normalise_whitespace
from ingest.clean import (
    clean_pages,
    fix_mojibake,
    join_hyphenation,
    repeated_edge_lines,
    strip_edge_lines,
)

pytestmark = pytest.mark.integration  # the real MiniLM and stores built from real files

TOOLKIT_SRC = f"pdf/{TOOLKIT}"
UNODC = "unodc-human-trafficking-indicators.pdf"
FBI = "fbi-ucr-human-trafficking-2014.pdf"
TREATY_SRC = f"other/{TREATY}"
PAGE_SRC = f"pages/{RESOURCE_PAGE}"
GOLD_QUOTE = "(although children may be living with their parents or guardians and still be exploited)"


# --------------------------------------------------------------------------- helpers


def collapse(text: str) -> str:
    """Whitespace collapsed to single spaces."""
    return " ".join(text.split())


@contextmanager
def opened(settings: Settings) -> Iterator[Store]:
    """The store, closed afterwards."""
    store = Store.open(settings)
    try:
        yield store
    finally:
        store.close()


def ingest_json(*args: str | Path, expect_rc: int | None = 0, **kwargs: Any) -> dict[str, Any]:
    """Run `lantern ingest ARGS --json`, check the exit code and return the parsed report."""
    proc = run_lantern("ingest", *args, "--json", **kwargs)
    if expect_rc is not None:
        assert proc.returncode == expect_rc, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def ledger_ids(store: Store) -> list[str]:
    return [c.id for c in store.chunks()]


def chroma_ids(store: Store) -> list[str]:
    return store.collection.get(include=[])["ids"]


def assert_consistent(store: Store) -> None:
    """Chroma holds exactly the ledger's chunks of complete documents, each once."""
    ids = ledger_ids(store)
    in_chroma = chroma_ids(store)
    assert len(ids) == len(set(ids)), "duplicate chunk ids in the ledger"
    assert store.collection.count() == store.count_chunks() == len(ids)
    assert sorted(in_chroma) == sorted(ids)
    assert sum(d.chunks for d in store.documents()) == len(ids)


def manifest_row(folder: Path, name: str) -> dict[str, str]:
    with open(folder / "MANIFEST.csv", encoding="utf-8-sig", newline="") as fh:
        return next(row for row in csv.DictReader(fh) if row["file"] == name)


def make_pdf(path: Path, pages: list[list[str]], *, title: str | None = None, author: str | None = None,
             year: int | None = None, header: str | None = None, footer: str | None = None) -> Path:
    """A real text PDF (fpdf2), one line per cell, optional running header and footer."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if year:
        pdf.set_creation_date(datetime(year, 3, 1, tzinfo=UTC))
    pdf.set_font("Helvetica", size=11)
    for n, lines in enumerate(pages, 1):
        pdf.add_page()
        if header:
            pdf.cell(0, 8, header, new_x="LMARGIN", new_y="NEXT")
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        if footer:
            pdf.set_y(-20)
            pdf.cell(0, 6, footer.format(n=n, total=len(pages)))
    pdf.output(str(path))
    return path


BODY = [
    [
        "Labour inspectors met workers at the packing site on the first visit.",
        "Several workers said the agency kept their passports and charged a fee for the recruit-",
        "ment process before they travelled, which they were still repaying.",
        "Inspectors recorded each account in the workers' own words.",
    ],
    [
        "On the second visit, inspectors found that wages were paid to a supervisor.",
        "The workers described threats against their families at home.",
        "Indicators of forced-",
        "labour were recorded: withheld documents, debts and threats. Forced labour was referred.",
    ],
    [
        "The case was referred to the police and to a support organisation the same week.",
        "Interpreters were used for every interview and no promises were made.",
        "The supervisor was questioned about the deductions from wages.",
    ],
    [
        "Follow-up visits found that the agency had stopped sending workers to the site.",
        "The report recommends unannounced inspections during the harvest season.",
        "Grievance channels should be run by someone the workers trust.",
    ],
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def generated_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made-up files without a manifest: labelled, running-header, metadata-less and mojibake ones."""
    from pypdf import PdfWriter

    root = tmp_path_factory.mktemp("generated")
    make_pdf(root / "annual-review.pdf", BODY, title="Acme Annual Review", author="Acme Research", year=2025,
             header="Acme Annual Review 2025 | Field inspections", footer="Page {n} of {total}")
    make_pdf(root / "field_notes_2019.pdf", BODY[:2], year=2019)
    plain = make_pdf(root / "plain.tmp", BODY)
    writer = PdfWriter(clone_from=str(plain))
    writer.set_page_label(0, 1, style="/r")
    writer.set_page_label(2, 3, style="/D", start=1)
    with open(root / "labelled.pdf", "wb") as fh:
        writer.write(fh)
    plain.unlink()
    (root / "mojibake-notes.md").write_text(
        "# Field notes\n\nThe victimâ€™s statement was taken at the cafÃ© near the shelter, with an "
        "interpreter present, and the caseworker wrote it down in her own words.\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="module")
def generated_store(generated_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_for(tmp_path_factory.mktemp("generated_store"))
    report = ingest_json(generated_corpus, "--store", settings.store)
    assert report["added"] == 4 and not report["failed"]
    return settings


@pytest.fixture(scope="module")
def file_args_store(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The toolkit ingested as a file argument, plus two real PDFs with no MANIFEST.csv beside them."""
    loose = tmp_path_factory.mktemp("no_manifest")
    for name in (UNODC, FBI):
        (loose / name).write_bytes((CORPUS / "pdf" / name).read_bytes())
    settings = settings_for(tmp_path_factory.mktemp("file_args_store"))
    report = ingest_json(small_corpus / "pdf" / TOOLKIT, loose / UNODC, loose / FBI, "--store", settings.store)
    assert report["added"] == 3 and not report["failed"]
    return settings


# --------------------------------------------------------------------------- pages and metadata


@needs_shared
def test_gold_quote_is_on_toolkit_page_22_with_folder_source(small_store: Settings, small_corpus: Path) -> None:
    with opened(small_store) as store:
        hits = [c for c in store.chunks() if collapse(GOLD_QUOTE) in collapse(c.text)]
        assert [(c.source, c.page) for c in hits] == [(TOOLKIT_SRC, 22)]
        doc = store.document(TOOLKIT_SRC)
        meta = store.collection.get(ids=[hits[0].id], include=["metadatas"])["metadatas"][0]
    row = manifest_row(small_corpus / "pdf", TOOLKIT)
    assert (doc.title, doc.publisher, doc.year, doc.language, doc.pages) == (
        row["title"], row["publisher"], int(row["year"]), row["language"], int(row["pages"])
    )
    assert hits[0].metadata["title"] == row["title"] and hits[0].metadata["publisher"] == "UK Home Office"
    assert meta["source"] == TOOLKIT_SRC and meta["page"] == 22 and meta["year"] == 2026
    assert meta["language"] == "en"


@needs_shared
def test_every_small_corpus_document_has_its_manifest_metadata(small_store: Settings, small_corpus: Path) -> None:
    with opened(small_store) as store:
        docs = {d.source: d for d in store.documents()}
    assert set(docs) == {f"pdf/{n}" for n in SMALL_PDFS} | {TREATY_SRC, PAGE_SRC}
    for name in SMALL_PDFS:
        row, doc = manifest_row(small_corpus / "pdf", name), docs[f"pdf/{name}"]
        assert (doc.title, doc.publisher, doc.year, doc.pages) == (
            row["title"], row["publisher"], int(row["year"]), int(row["pages"])
        )
    row = manifest_row(small_corpus / "other", TREATY)
    assert (docs[TREATY_SRC].title, docs[TREATY_SRC].year, docs[TREATY_SRC].language) == (
        row["title"], int(row["year"]), "en;nl"
    )


@needs_shared
def test_file_argument_source_is_the_file_name(file_args_store: Settings, small_corpus: Path) -> None:
    with opened(file_args_store) as store:
        assert {d.source for d in store.documents()} == {TOOLKIT, UNODC, FBI}
        hits = [c for c in store.chunks() if collapse(GOLD_QUOTE) in collapse(c.text)]
        doc = store.document(TOOLKIT)
    assert [(c.source, c.page) for c in hits] == [(TOOLKIT, 22)]
    assert doc.title == manifest_row(small_corpus / "pdf", TOOLKIT)["title"]  # manifest beside the file


@needs_shared
def test_pdf_without_manifest_takes_metadata_from_pdf_info_or_file_name(file_args_store: Settings) -> None:
    with opened(file_args_store) as store:
        fbi, unodc = store.document(FBI), store.document(UNODC)
    # FBI: no /Title or /Author; /CreationDate D:2015...
    assert (fbi.title, fbi.publisher, fbi.year, fbi.language) == ("Fbi ucr human trafficking 2014", None, 2015, "en")
    # UNODC: /CreationDate D:2008...; its /Title is the placeholder "untitled"
    assert unodc.year == 2008
    assert unodc.title and unodc.title.lower() != "untitled", "a placeholder /Title must not become the citation title"


def test_generated_pdf_metadata_from_info_and_file_name(generated_store: Settings) -> None:
    with opened(generated_store) as store:
        review, notes = store.document("annual-review.pdf"), store.document("field_notes_2019.pdf")
    assert (review.title, review.publisher, review.year) == ("Acme Annual Review", "Acme Research", 2025)
    assert (notes.title, notes.publisher, notes.year, notes.doc_type) == ("Field notes 2019", None, 2019, "pdf")


@needs_shared
def test_page_labels_follow_the_pdf(small_store: Settings, generated_store: Settings, small_corpus: Path) -> None:
    from pypdf import PdfReader

    labels = list(PdfReader(str(small_corpus / "pdf" / UNODC)).page_labels)
    with opened(small_store) as store:
        chunks = store.chunks()
        unodc = [c for c in chunks if c.source == f"pdf/{UNODC}"]
        assert unodc and all(c.metadata["page_label"] == labels[c.page - 1] for c in unodc)
        assert store.page_label(f"pdf/{UNODC}", 2) == labels[1]
        # the toolkit defines no /PageLabels: no label invented
        assert all("page_label" not in c.metadata for c in chunks if c.source == TOOLKIT_SRC)
        assert store.page_label(TOOLKIT_SRC, 22) is None
    with opened(generated_store) as store:
        got = {c.page: c.metadata.get("page_label") for c in store.chunks() if c.source == "labelled.pdf"}
        metas = store.collection.get(where={"source": "labelled.pdf"}, include=["metadatas"])["metadatas"]
    assert got == {1: "i", 2: "ii", 3: "1", 4: "2"}
    assert {(m["page"], m["page_label"]) for m in metas} == {(1, "i"), (2, "ii"), (3, "1"), (4, "2")}


@needs_shared
def test_chunk_offsets_point_into_the_stored_page_text(small_store: Settings, sample_store: Settings) -> None:
    for settings in (small_store, sample_store):
        with opened(settings) as store:
            chunks = store.chunks()
            assert len(chunks) > 30
            for c in chunks:
                page = store.page_text(c.source, c.page)
                assert page is not None and page[c.start : c.end] == c.text, (c.source, c.page, c.start)


@needs_shared
def test_every_embedded_text_fits_minilm_window(small_store: Settings, sample_store: Settings) -> None:
    from ingest.chunk import embedding_text
    from ingest.embed import MAX_TOKENS, load_tokenizer

    tok = load_tokenizer()
    tok.no_truncation()
    for settings in (small_store, sample_store):
        with opened(settings) as store:
            for c in store.chunks():
                text = embedding_text(c)
                assert c.text in text
                n = len(tok.encode(text).ids)  # [CLS] and [SEP] included
                assert n <= MAX_TOKENS, (c.source, c.page, n)


@needs_shared
def test_treaty_chunks_have_no_page_and_dutch_chunks_are_nl(small_store: Settings) -> None:
    with opened(small_store) as store:
        chunks = [c for c in store.chunks() if c.source == TREATY_SRC]
        nl_in_chroma = store.collection.get(where={"$and": [{"source": TREATY_SRC}, {"language": "nl"}]},
                                            include=[])["ids"]
    assert chunks and all(c.page is None for c in chunks)
    langs = {c.metadata["language"] for c in chunks}
    assert langs == {"en", "nl"}
    by_text = {c.metadata["language"] for c in chunks if "Elk Lid van de Internationale Arbeidsorganisatie" in c.text}
    assert by_text == {"nl"}
    by_text = {c.metadata["language"] for c in chunks if "This Convention shall be binding only upon" in c.text}
    assert by_text == {"en"}
    assert sorted(nl_in_chroma) == sorted(c.id for c in chunks if c.metadata["language"] == "nl")


@needs_shared
def test_markdown_markup_does_not_reach_chunk_text(small_store: Settings) -> None:
    """Quotes shown to users must not carry raw HTML tags or Markdown link targets."""
    with opened(small_store) as store:
        text = store.page_text(TREATY_SRC, None)
    assert "<meta" not in text
    assert "README.md)" not in text and "](../" not in text
    assert "Protection of Wages Convention" in text  # the link text itself stays


@needs_shared
def test_resource_page_keeps_only_its_own_resource(small_store: Settings) -> None:
    with opened(small_store) as store:
        doc = store.document(PAGE_SRC)
        text = collapse(" ".join(c.text for c in store.chunks() if c.source == PAGE_SRC))
    assert (doc.title, doc.publisher, doc.year, doc.doc_type) == (
        "National Referral Mechanisms (First edition)", "OSCE & ODIHR", 2004, "resource-page"
    )
    assert "sustainable mechanisms and structures to combat human trafficking" in text
    assert "National Referral Mechanisms (First edition) - OSCE & ODIHR, 2004" in text
    for unwanted in ("exactmetrics_note", "nav_menu_item", "wp_template", "Read More", "TAGS",
                     "Paying for a Bus Ticket", "Building Slavery-free Communities",
                     "Trafficking in Human Beings and Terrorism", "Crisis Upon Crisis"):
        assert unwanted not in text, unwanted


# --------------------------------------------------------------------------- cleaning on real files


def test_sample_pdfs_lose_running_header_and_footer(sample_store: Settings) -> None:
    with opened(sample_store) as store:
        for name, n_pages, body in (("first-responder-checklist.pdf", 2, "4. Record what you observe"),
                                    ("supply-chain-due-diligence.pdf", 3, "Step 4: remediation")):
            pages = [store.page_text(name, p) for p in range(1, n_pages + 1)]
            assert all(pages) and body in "\n".join(pages)
            for text in pages:
                assert "Lantern sample corpus - page" not in text, name
                assert "| Lantern practitioner brief" not in text, name


@needs_shared
def test_real_pdf_page_numbers_are_stripped(small_store: Settings, small_corpus: Path) -> None:
    from pypdf import PdfReader

    raw = PdfReader(str(small_corpus / "pdf" / TOOLKIT)).pages[4].extract_text()
    assert raw.strip().splitlines()[0].strip() == "2"  # printed page 2 is PDF page 5
    with opened(small_store) as store:
        page = store.page_text(TOOLKIT_SRC, 5)
    assert page.splitlines()[0] == "1. What is the NRM?"


@needs_shared
def test_real_two_page_pdf_loses_its_print_slug(small_store: Settings) -> None:
    """The UNODC leaflet ends both pages with "HT_indicators_E.qxd 29/01/2008 14:09 Page N"."""
    with opened(small_store) as store:
        pages = [store.page_text(f"pdf/{UNODC}", p) for p in (1, 2)]
    assert "their presence should lead to investigation" in collapse(pages[0])
    for text in pages:
        assert "HT_indicators_E.qxd" not in text


@needs_shared
def test_real_pdf_hyphenation(small_store: Settings) -> None:
    with opened(small_store) as store:
        unodc = collapse(store.page_text(f"pdf/{UNODC}", 1))
        toolkit = collapse(store.page_text(TOOLKIT_SRC, 4))
    assert "non-statutory" in toolkit  # a real compound keeps its hyphen
    assert "worn for doing manual or sex work" in unodc  # "man-\nual" in the PDF


def _review_pages(settings: Settings) -> list[str]:
    with opened(settings) as store:
        return [store.page_text("annual-review.pdf", p) for p in range(1, 5)]


def test_generated_pdf_loses_running_header_and_footer(generated_store: Settings) -> None:
    pages = _review_pages(generated_store)
    for text in pages:
        assert "Acme Annual Review 2025" not in text and not re.search(r"Page \d of 4", text)
    joined = collapse(" ".join(pages))
    assert "Labour inspectors met workers" in joined and "Grievance channels" in joined


def test_generated_pdf_hyphenation(generated_store: Settings) -> None:
    joined = collapse(" ".join(_review_pages(generated_store)))
    assert "Indicators of forced-labour were recorded" in joined
    assert "charged a fee for the recruitment process" in joined


def test_mojibake_file_is_repaired(generated_store: Settings) -> None:
    with opened(generated_store) as store:
        notes = store.page_text("mojibake-notes.md", None)
        chunk_text = " ".join(c.text for c in store.chunks() if c.source == "mojibake-notes.md")
    assert "The victim’s statement was taken at the café near the shelter" in notes
    assert "â€" not in chunk_text and "Ã" not in chunk_text


# --------------------------------------------------------------------------- clean.py units


def test_fix_mojibake() -> None:
    assert fix_mojibake("the victimâ€™s cafÃ© â€“ â€œhelpâ€") == "the victim’s café – “help”"
    # not round-trippable through cp1252 (the check mark): the map still repairs it
    assert fix_mojibake("â€œHelp lineâ€\x9d ✓ victimâ€™s") == "“Help line” ✓ victim’s"
    for clean in ("Déjà vu: the “same” text — unchanged.", "Workers recruited in SÃO PAULO"):
        assert fix_mojibake(clean) == clean


def test_join_hyphenation_joins_words_split_at_line_end() -> None:
    assert join_hyphenation("Victims of traf-\nficking need help.") == "Victims of trafficking need help."
    assert join_hyphenation("the recruit-\nment fee") == "the recruitment fee"


def test_join_hyphenation_keeps_compounds() -> None:
    assert join_hyphenation("forced-\nlabour and forced labour") == "forced-labour and forced labour"
    assert join_hyphenation("traf-\nficking and trafficking") == "trafficking and trafficking"
    assert join_hyphenation("anti-\ntrafficking", vocabulary={"anti", "trafficking"}) == "anti-trafficking"
    assert join_hyphenation("recruit-\nment", vocabulary={"recruitment", "ment"}) == "recruitment"
    assert join_hyphenation("a - \nb stays a list") == "a - \nb stays a list"


def test_normalise_whitespace() -> None:
    raw = "  \ufb01nd the o\ufb03ce\r\n\r\n\r\n\r\nnext\tpara\xa0here  \n  co\u00adoperation  "
    assert normalise_whitespace(raw) == "find the office\n\nnext para here\ncooperation"
    assert normalise_whitespace("Contents . . . . . . . 4") == "Contents ... 4"


def test_running_headers_and_footers() -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
    pages = []
    for i in range(4):
        top = [f"{w.title()} notes on the inspection." for w in words[i * 4 : i * 4 + 2]]
        bottom = [f"{w.title()} findings were recorded." for w in words[i * 4 + 2 : i * 4 + 4]]
        pages.append("\n".join([f"Annual Review 2025 | page {i + 1}", *top, *top, "repeated body line",
                                 *bottom, *bottom, f"Page {i + 1} of 4"]))
    keys = repeated_edge_lines(pages)
    assert keys == {"annual review # | page #", "page # of #"}  # "repeated body line" is mid-page
    stripped = strip_edge_lines(pages[0], keys)
    assert stripped.splitlines()[0] == "Alpha notes on the inspection."
    assert stripped.splitlines()[-1] == "Delta findings were recorded."
    assert clean_pages(pages)[2].count("repeated body line") == 1
    assert "Annual Review" not in "".join(clean_pages(pages))


def test_running_footer_on_a_two_page_document() -> None:
    bodies = ("Ask open questions.\nListen without judging.\nKeep the person safe.\nWrite down their own words.",
              "Call the duty manager.\nMake the referral today.\nDo not promise a visa.\nStore the notes securely.")
    pages = [f"Checklist | Practitioner brief\n{body}\nLantern sample corpus - page {i}"
             for i, body in enumerate(bodies, 1)]
    assert clean_pages(pages) == list(bodies)


def test_clean_pages_keeps_single_page_text() -> None:
    assert clean_pages(["Only page\nwith two lines"]) == ["Only page\nwith two lines"]


def test_guess_language() -> None:
    assert guess_language("Elk Lid van de Internationale Arbeidsorganisatie dat dit Verdrag bekrachtigt, "
                          "verbindt zich om het gebruik van gedwongen arbeid af te schaffen en er geen gebruik van te maken.") == "nl"
    assert guess_language("Each Member of the International Labour Organisation which ratifies this "
                          "Convention undertakes to suppress and not to make use of any form of forced labour.") == "en"
    assert guess_language("Verdrag 105", default="en") == "en"


# --------------------------------------------------------------------------- idempotent and incremental runs


@needs_shared
def test_second_run_changes_nothing(small_store: Settings, small_corpus: Path) -> None:
    with opened(small_store) as store:
        before_count, before_gen = store.collection.count(), store.generation
        before_times = {d.source: d.ingested_at for d in store.documents()}
    report = ingest_json(small_corpus, "--store", small_store.store)
    assert (report["added"], report["updated"], report["removed"], report["failed"]) == (0, 0, 0, [])
    assert report["unchanged"] == report["documents"] == 6
    assert report["timings"]["embed"] == 0 and report["timings"]["parse"] == 0
    with opened(small_store) as store:
        assert store.collection.count() == before_count == store.count_chunks() == report["chunks"]
        assert store.generation == before_gen
        assert {d.source: d.ingested_at for d in store.documents()} == before_times
        assert_consistent(store)


@pytest.fixture
def md_corpus(tmp_path: Path) -> Path:
    """Three sample Markdown files and one sample PDF, with the sample manifest rows."""
    names = ("trafficking-definition.md", "victim-support.md", "referral-mechanisms.md", "first-responder-checklist.pdf")
    copy_with_manifest(SAMPLE_CORPUS, names, tmp_path / "corpus")
    return tmp_path / "corpus"


NEW_SENTENCE = ("Caseworkers in the pilot region now meet every referred person within forty-eight hours "
                "and record the meeting in a shared log reviewed by the regional coordinator.")


def test_modified_file_is_updated_and_its_old_chunks_are_gone(md_corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = ingest_json(md_corpus, "--store", settings.store)
    assert first["added"] == 4
    source = "victim-support.md"
    with opened(settings) as store:
        old_ids = [c.id for c in store.chunks() if c.source == source]
        old_texts = {c.text for c in store.chunks() if c.source == source}
    assert old_ids
    path = md_corpus / source
    original = path.read_text(encoding="utf-8")
    first_para = max(original.split("\n\n"), key=len)  # the longest body paragraph
    path.write_text(original.replace(first_para, NEW_SENTENCE), encoding="utf-8")

    report = ingest_json(md_corpus, "--store", settings.store)
    assert (report["added"], report["updated"], report["unchanged"], report["documents"]) == (0, 1, 3, 4)

    from core.keyword import KeywordIndex
    from ingest.embed import make_embedder

    with opened(settings) as store:
        new = [c for c in store.chunks() if c.source == source]
        gone = set(old_ids) - {c.id for c in new}
        assert gone, "the edited paragraph should change at least one chunk"
        assert store.collection.get(ids=sorted(gone), include=[])["ids"] == []
        assert not store.chunks(gone)
        assert not any(collapse(first_para) in collapse(c.text) for c in new)
        assert any(NEW_SENTENCE in collapse(c.text) for c in new)
        assert {c.text for c in new} != old_texts
        assert_consistent(store)
        target = next(c.id for c in new if NEW_SENTENCE in collapse(c.text))
        vector = make_embedder(settings).embed([NEW_SENTENCE])
        top = store.collection.query(query_embeddings=vector, n_results=3, include=[])["ids"][0]
        assert target in top
        keyword = KeywordIndex.load(store)
        assert keyword.search("caseworkers forty-eight hours shared log regional coordinator", 1)[0][0] == target


def test_deleted_file_is_kept_without_prune_and_removed_with_it(md_corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert ingest_json(md_corpus, "--store", settings.store)["documents"] == 4
    gone = "first-responder-checklist.pdf"
    with opened(settings) as store:
        ids = [c.id for c in store.chunks() if c.source == gone]
        copy = store.file_path(gone)
    assert ids and copy is not None
    (md_corpus / gone).unlink()

    kept = ingest_json(md_corpus, "--store", settings.store)
    assert (kept["documents"], kept["removed"], kept["unchanged"]) == (4, 0, 3)
    with opened(settings) as store:
        assert store.document(gone) is not None
        assert len(store.collection.get(ids=ids, include=[])["ids"]) == len(ids)

    pruned = ingest_json(md_corpus, "--store", settings.store, "--prune")
    assert (pruned["documents"], pruned["removed"], pruned["added"], pruned["updated"]) == (3, 1, 0, 0)
    with opened(settings) as store:
        assert store.document(gone) is None
        assert store.collection.get(where={"source": gone}, include=[])["ids"] == []
        assert store.collection.get(ids=ids, include=[])["ids"] == []
        assert store.page_text(gone, 1) is None
        assert not copy.exists()
        assert_consistent(store)


# --------------------------------------------------------------------------- bad input, via the CLI


BAD_REASONS = {
    "corrupt.pdf": r"not a readable PDF|corrupt",
    "truncated.pdf": r"not a readable PDF|corrupt|truncated",
    "encrypted.pdf": r"encrypted.*password",
    "empty.pdf": r"empty",
    "image-only.pdf": r"image-only|scanned|no extractable text",
    "latin1.txt": r"not UTF-8",
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file of each broken kind, and two good Markdown files, in one folder."""
    from pypdf import PdfReader, PdfWriter

    root = tmp_path_factory.mktemp("bad")
    good_pdf = SAMPLE_CORPUS / "supply-chain-due-diligence.pdf"
    data = good_pdf.read_bytes()
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(6000))
    (root / "truncated.pdf").write_bytes(data[: len(data) // 2])
    writer = PdfWriter()
    writer.append(PdfReader(str(good_pdf)))
    writer.encrypt("secret")
    with open(root / "encrypted.pdf", "wb") as fh:
        writer.write(fh)
    (root / "empty.pdf").write_bytes(b"")
    blank = PdfWriter()
    blank.add_blank_page(612, 792)
    with open(root / "image-only.pdf", "wb") as fh:
        blank.write(fh)
    (root / "latin1.txt").write_bytes("Le café des réfugiés: aide aux victimes de la traite à Liège.".encode("latin-1"))
    for name in ("victim-support.md", "trafficking-definition.md"):
        (root / name).write_bytes((SAMPLE_CORPUS / name).read_bytes())
    return root


def _check_failure(entry: dict[str, str], name: str) -> None:
    assert Path(entry["path"]).name == name
    assert re.search(BAD_REASONS.get(name, "nothing ingestible"), entry["error"]), entry


@pytest.mark.parametrize("name", sorted(BAD_REASONS))
def test_each_broken_file_is_reported_clearly(bad_files: Path, tmp_path: Path, name: str) -> None:
    report = ingest_json(bad_files / name, "--store", tmp_path / "store", expect_rc=1)
    assert len(report["failed"]) == 1 and report["documents"] == 0
    _check_failure(report["failed"][0], name)


def test_folder_with_nothing_ingestible(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    report = ingest_json(folder, "--store", tmp_path / "store", expect_rc=1)
    assert len(report["failed"]) == 1 and report["failed"][0]["path"] == str(folder)
    assert "nothing ingestible" in report["failed"][0]["error"]


def test_broken_files_do_not_stop_good_ones(bad_files: Path, tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    report = ingest_json(bad_files, empty, "--store", tmp_path / "store", expect_rc=1)
    assert (report["added"], report["documents"]) == (2, 2), report
    by_name = {Path(f["path"]).name: f for f in report["failed"]}
    assert len(report["failed"]) == len(by_name) == len(BAD_REASONS) + 1
    for name in [*BAD_REASONS, "nothing-here"]:
        _check_failure(by_name[name], name)


@pytest.mark.parametrize(("args", "message"), [
    (["--no-such-flag"], "unrecognized arguments"),
    (["--chunk-size", "abc"], "chunk_size"),
    (["--chunk-size", "5"], "outside 32..8192"),
    (["--embed-backend", "word2vec"], "invalid choice"),
])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_lantern("ingest", SAMPLE_CORPUS, "--json", "--store", tmp_path / "store", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "store").exists()


def test_broken_new_version_keeps_the_stored_one(md_corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ingest_json(md_corpus, "--store", settings.store)
    broken = {"victim-support.md": "Aide aux victimes à Liège".encode("latin-1"),
              "first-responder-checklist.pdf": (md_corpus / "first-responder-checklist.pdf").read_bytes()[:3000]}
    with opened(settings) as store:
        before = {name: ([c.id for c in store.chunks() if c.source == name], store.page_text(name, 1 if name.endswith("pdf") else None))
                  for name in broken}
    for name, data in broken.items():
        (md_corpus / name).write_bytes(data)
    report = ingest_json(md_corpus, "--store", settings.store, expect_rc=1)
    assert sorted(Path(f["path"]).name for f in report["failed"]) == sorted(broken)
    assert report["documents"] == 4 and report["updated"] == 0
    with opened(settings) as store:
        for name, (ids, page) in before.items():
            assert store.document(name).state == "complete"
            assert [c.id for c in store.chunks() if c.source == name] == ids
            assert store.page_text(name, 1 if name.endswith("pdf") else None) == page
            assert sorted(store.collection.get(where={"source": name}, include=[])["ids"]) == sorted(ids)
        assert_consistent(store)


# --------------------------------------------------------------------------- crash recovery


def _kill_when(store: Path, corpus: Path, ready, timeout: float = 120) -> list[str]:
    """Start `lantern ingest`, SIGKILL its whole process group once `ready(states)` holds."""
    proc = subprocess.Popen(
        [*lantern_command(), "ingest", str(corpus), "--json", "--store", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    ledger = store / "ledger.sqlite"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            states = ledger_states(ledger) if ledger.exists() else None
            if states is not None and ready(states):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    return ledger_states(ledger)


# name: (kill when the ledger's document states satisfy this, most documents complete at the kill)
KILL_POINTS = {
    "during-first-document": (lambda s: s == [] and time.sleep(0.4) is None, 0),
    "mid-commit": (lambda s: len(s) >= 1, 1),
    "late": (lambda s: s.count("complete") >= 3, 5),
}


@needs_shared
@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_killed_ingest_is_completed_by_the_next_run(small_corpus: Path, tmp_path: Path, point: str) -> None:
    settings = settings_for(tmp_path)
    ready, most_complete = KILL_POINTS[point]
    states = _kill_when(settings.store, small_corpus, ready)
    assert states.count("complete") <= most_complete, states
    if "pending" in states:
        status = json.loads(run_lantern("status", "--json", "--store", settings.store).stdout)
        assert status["pending"] and status["documents"] == states.count("complete")

    report = ingest_json(small_corpus, "--store", settings.store)
    assert report["documents"] == 6 and report["added"] + report["updated"] + report["unchanged"] == 6
    assert report["unchanged"] == states.count("complete")
    status = json.loads(run_lantern("status", "--json", "--store", settings.store).stdout)
    assert status["pending"] == [] and status["documents"] == 6
    with opened(settings) as store:
        assert all(d.state == "complete" for d in store.documents(include_pending=True))
        assert store.get_meta("keyword_generation") == str(store.generation)
        assert_consistent(store)
    again = ingest_json(small_corpus, "--store", settings.store)
    assert again["unchanged"] == 6 and again["added"] == again["updated"] == 0


# --------------------------------------------------------------------------- Chroma server


# the `chroma_server` fixture (a real `chroma run`) lives in conftest.py


def test_ingest_into_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = settings_for(tmp_path, chroma=chroma_server)
    first = ingest_json(SAMPLE_CORPUS, "--store", settings.store, "--chroma", chroma_server)
    assert first["added"] == 6 and not first["failed"]
    assert not (settings.store / "chroma").exists(), "vectors belong on the server"
    host, _, port = chroma_server.rpartition(":")
    client = chromadb.HttpClient(host=host, port=int(port), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_collection(settings.collection)
    with opened(settings) as store:
        ids = ledger_ids(store)
        assert collection.count() == store.count_chunks() == first["chunks"] == len(ids)
        assert sorted(collection.get(include=[])["ids"]) == sorted(ids)
    second = ingest_json(SAMPLE_CORPUS, "--store", settings.store, "--chroma", chroma_server)
    assert (second["unchanged"], second["added"], second["updated"]) == (6, 0, 0)
    assert collection.count() == first["chunks"]


# --------------------------------------------------------------------------- settings and status


def test_settings_layering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./lantern.toml from the working directory
    config = tmp_path / "team.toml"
    config.write_text('[lantern]\nchunk_size = 300\ntop_k = 7\ncollection = "from-file"\nstore = "file-store"\n')
    env = {"LANTERN_TOP_K": "9", "LANTERN_COLLECTION": "from-env"}
    s = Settings.load(config=config, environ=env, collection="from-flag")
    assert (s.chunk_size, s.top_k, s.collection, s.store, s.embed_batch) == (300, 9, "from-flag", Path("file-store"), 8)
    assert Settings.load(environ={"LANTERN_CONFIG": str(config)}).chunk_size == 300
    assert Settings.load(environ={}).chunk_size == 200
    (tmp_path / "lantern.toml").write_text("chunk_size = 250\n")  # picked up from the working directory
    assert Settings.load(environ={}).chunk_size == 250
    assert Settings.load(environ={"LANTERN_CHUNK_SIZE": "260"}).chunk_size == 260
    assert Settings.load(environ={"LANTERN_LLM_CHECK_CITATIONS": "yes"}).llm_check_citations is True


@pytest.mark.parametrize(("toml", "environ", "flags", "words"), [
    ("", {"LANTERN_TOP_K": "many"}, {}, ["top_k", "LANTERN_TOP_K", "'many'"]),
    ("colour = 'blue'\n", {}, {}, ["unknown setting", "colour", "lantern.toml"]),
    ("chunk_size = [\n", {}, {}, ["not valid TOML", "lantern.toml"]),
    ("", {}, {"chunk_size": "abc"}, ["chunk_size", "--chunk-size", "'abc'"]),
    ("", {}, {"chunk_size": 100, "chunk_overlap": 60}, ["chunk_overlap", "half"]),
    ("embed_backend = 'word2vec'\n", {}, {}, ["embed_backend", "word2vec", "onnx-int8"]),
    ("", {"LANTERN_CHROMA": "localhost"}, {}, ["chroma", "host:port"]),
    ("", {"LANTERN_LLM_CHECK_CITATIONS": "maybe"}, {}, ["llm_check_citations", "'maybe'"]),
])
def test_settings_errors_name_the_setting(tmp_path: Path, toml: str, environ: dict, flags: dict,
                                          words: list[str]) -> None:
    config = tmp_path / "lantern.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as err:
        Settings.load(config=config, environ=environ, **flags)
    for word in words:
        assert word in str(err.value)


def test_missing_config_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        Settings.load(config=tmp_path / "nope.toml", environ={})


def test_cli_settings_layering(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("top_k = 7\nchunk_size = 300\nanswer_sentences = 2\n")
    proc = run_lantern("settings", "--json", "--config-file", config, "--answer-sentences", "3",
                       env={"LANTERN_TOP_K": "9"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    values = {row["name"]: row["value"] for row in json.loads(proc.stdout)}
    assert (values["chunk_size"], values["top_k"], values["answer_sentences"]) == (300, 9, 3)
    bad = run_lantern("settings", "--json", env={"LANTERN_TOP_K": "many"}, cwd=tmp_path)
    assert bad.returncode == 2 and "LANTERN_TOP_K" in bad.stderr and "Traceback" not in bad.stderr


@needs_shared
def test_status_json_shape(small_store: Settings) -> None:
    proc = run_lantern("status", "--json", "--store", small_store.store)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["documents"] == 6 and status["pending"] == []
    with opened(small_store) as store:
        assert status["chunks"] == store.count_chunks()
    sources = {s["source"]: s for s in status["sources"]}
    assert list(sources) == sorted(sources) and len(sources) == 6
    assert sum(s["chunks"] for s in status["sources"]) == status["chunks"]
    for s in status["sources"]:
        assert {"source", "title", "pages", "chunks", "ingested_at"} <= set(s)
        assert s["title"] and s["chunks"] > 0
        datetime.strptime(s["ingested_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert sources[TOOLKIT_SRC]["pages"] == 23 and sources[TREATY_SRC]["pages"] == 1
    assert sources[TOOLKIT_SRC]["title"].startswith("First Responder Toolkit for England and Wales")


def test_status_of_a_missing_store(tmp_path: Path) -> None:
    proc = run_lantern("status", "--json", "--store", tmp_path / "none")
    assert proc.returncode == 1 and "no Lantern store" in proc.stderr and "Traceback" not in proc.stderr


def test_each_command_lists_only_the_settings_it_uses() -> None:
    ingest_help = run_lantern("ingest", "--help").stdout
    ask_help = run_lantern("ask", "--help").stdout
    assert "--chunk-size" in ingest_help and "--embed-backend" in ingest_help
    assert "--llm-model" not in ingest_help and "--answer-sentences" not in ingest_help
    assert "--llm-model" in ask_help and "--top-k" in ask_help and "--chunk-size" not in ask_help
    status_help = run_lantern("status", "--help").stdout
    assert "--store" in status_help and "--embed-backend" not in status_help


def test_a_malformed_filter_is_a_usage_error(tmp_path: Path) -> None:
    ingest_json(SAMPLE_CORPUS, "--store", tmp_path / "store", "--embed-backend", "hash")
    proc = run_lantern("ask", "What is a reasonable grounds decision?", "--store", tmp_path / "store",
                       "--embed-backend", "hash", "--where", "colour=blue")
    assert proc.returncode == 2, proc.stderr
    assert "colour" in proc.stderr and "Traceback" not in proc.stderr
