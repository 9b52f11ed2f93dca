"""The chat UI's parts that need no server: filters, sign-in, where a quote sits, the viewer pages,
and changing a document's details in a store (hashing embedder: no model).

Why: a practitioner must see clean filter values and a reason when nothing matches, a treaty
citation must name its article, a users file that cannot work must say so in one line, and an
edited publisher must reach citations and filters alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLE_CORPUS, settings_for

from app.ui_filters import FilterChoice, choices, publisher_groups
from app.ui_view import cited_section, document_view_html, pdf_view_html
from core.errors import SettingsError
from core.store import DocumentRecord

TREATY_TEXT = """## Protocol (Dutch title)

#### Protocol to prevent trafficking

### Article  3

#### Use of terms

(a) "Trafficking in persons" shall mean the recruitment of persons.

### Article  4

#### Scope of application

This Protocol shall apply to the prevention of the offences established in accordance with article 5.

### Artikel  4

#### Toepassingsgebied

Dit Protocol is van toepassing op de voorkoming van de strafbare feiten.
"""


def _doc(source: str, publisher: str | None, year: int | None, language: str | None, doc_type: str = "pdf",
         title: str | None = None) -> DocumentRecord:
    return DocumentRecord(source, "0" * 64, "complete", title or source, publisher, year, language, doc_type, None,
                          1, 3, None, {}, None)


LIBRARY = [
    _doc("a.pdf", "Dutch National Rapporteur on Trafficking in Human Beings (BNRM)", 2010, "en"),
    _doc("b.pdf", "Dutch National Rapporteur on Trafficking in Human Beings and Sexual Violence against Children",
         2016, "en"),
    _doc("c.pdf", "UNODC", 2008, "en"),
    _doc("d.pdf", "US Department of Labor - Bureau of International Labor Affairs (ILAB)", 2022, "en"),
    _doc("e.md", "United Nations", 2000, "en;nl", "markdown", "Palermo Protocol"),
    _doc("f.pdf", "unknown (excerpt; publisher not named in file)", 2020, None),
]


# --- filters ---------------------------------------------------------------------------------

def test_publishers_are_merged_and_each_group_admits_its_members() -> None:
    groups = publisher_groups(d.publisher or "" for d in LIBRARY)
    assert list(groups) == ["Dutch National Rapporteur on Trafficking in Human Beings", "United Nations", "UNODC",
                            "US Department of Labor"]
    assert len(groups["Dutch National Rapporteur on Trafficking in Human Beings"]) == 2
    for shown in groups:
        choice = FilterChoice.of(publisher=shown)
        admitted = {d.publisher for d in LIBRARY if choice.admits(d)}
        assert admitted >= set(groups[shown]), shown


def test_languages_by_name_and_document_types_listed() -> None:
    c = choices(LIBRARY)
    assert c["language"] == [("Dutch", "nl"), ("English", "en")], "one code at a time, by name"
    assert ("PDF", "pdf") in c["doc_type"] and len(c["doc_type"]) == 2
    assert [d.source for d in LIBRARY if FilterChoice.of(language="Dutch").admits(d)] == ["e.md"]
    assert [d.source for d in LIBRARY if FilterChoice.of(doc_type="markdown").admits(d)] == ["e.md"]


def test_filters_that_admit_nothing_say_why() -> None:
    assert "From year (2020) is after To year (2010)" in FilterChoice.of(year_from=2020, year_to=2010).problem(LIBRARY)
    assert "“20x5” in To year is not a year" in FilterChoice.of(year_to="20x5").problem(LIBRARY)
    typo = FilterChoice.of(publisher="UNDOC").problem(LIBRARY) or ""
    assert "no publisher in this library is called “UNDOC”" in typo and "did you mean UNODC?" in typo, typo
    assert "the documents are from 2000–2022" in (FilterChoice.of(year_from=2030).problem(LIBRARY) or "")
    both = FilterChoice.of(publisher="UNODC", language="Dutch").problem(LIBRARY) or ""
    assert both.startswith("No document in this library matches all of these filters together"), both
    assert "publisher UNODC; in Dutch" in both
    assert FilterChoice.of(publisher="unodc", year_from=2005, year_to=2010).problem(LIBRARY) is None


def test_the_applied_filters_are_named() -> None:
    choice = FilterChoice.of(publisher="UNODC", year_from="2005", year_to="2010", language="en", doc_type="pdf")
    assert choice.describe(LIBRARY) == "publisher UNODC; 2005–2010; in English; PDF"
    assert FilterChoice.of(document="e.md").describe(LIBRARY) == "document “Palermo Protocol”"
    assert choice.filters() == {"publisher": "UNODC", "language": "en", "doc_type": "pdf", "year_min": 2005,
                                "year_max": 2010}


# --- where a quote sits; the viewer pages ----------------------------------------------------------

def test_a_treaty_quote_is_named_by_its_article() -> None:
    assert cited_section(TREATY_TEXT, "This Protocol shall apply to the prevention") == "Article 4"
    assert cited_section(TREATY_TEXT, "Dit Protocol is van toepassing") == "Artikel 4"
    assert cited_section(TREATY_TEXT, "not in the text", "Protocol > Article  3 > Use of terms") == "Article 3"
    assert cited_section("Plain text without headings.", "Plain text") is None
    assert cited_section("## Referral timelines\n\nA decision follows.", "A decision follows") == "Referral timelines"


def test_the_text_view_anchors_articles_and_names_the_cited_one() -> None:
    body = document_view_html("Palermo Protocol", [(None, TREATY_TEXT)], "This Protocol shall apply to the prevention")
    assert '<h4 id="article-4">' in body and '<h4 id="artikel-4">' in body
    assert 'In <a href="#article-4">Article 4</a>: <a href="#quote">the quoted passage</a>' in body
    assert '<mark id="quote">This Protocol shall apply to the prevention</mark>' in body


def test_the_pdf_viewer_page_escapes_what_it_carries() -> None:
    body = pdf_view_html('A "title" <b>', "/lantern/file/a.pdf", 4, 'He said "go" <now>', "/lantern/file/a.pdf")
    assert 'data-quote="He said &quot;go&quot; &lt;now&gt;"' in body and 'data-page="4"' in body
    assert "<b>" not in body and '<script type="module" src="/lantern/static/pdf-viewer.mjs">' in body
    assert "http" not in body, "the viewer loads nothing from elsewhere"


# --- sign-in ---------------------------------------------------------------------------------

def test_users_file_roles_and_passwords(tmp_path: Path) -> None:
    from app.ui_auth import Users, hash_password, is_loopback

    path = tmp_path / "users.toml"
    path.write_text(f'[users.amira]\nrole = "editor"\npassword = "{hash_password("correct horse", 1000)}"\n'
                    f'[users.jules]\nrole = "Reader"\npassword = "{hash_password("battery staple", 1000)}"\n')
    users = Users.load(path)
    assert users.check("amira", "correct horse") and not users.check("amira", "battery staple")
    assert not users.check("nobody", "correct horse")
    assert users.role("amira") == "editor" and users.role("jules") == "reader" and users.role("nobody") is None
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


@pytest.mark.parametrize(("content", "problem"), [
    (None, "does not exist"),
    ("[users.amira\n", "is not valid TOML"),
    ("title = 'no users'\n", "lists no users"),
    ('[users.amira]\nrole = "admin"\npassword = "pbkdf2_sha256$1$a$b"\n', "has role 'admin' (use reader or editor)"),
    ('[users.amira]\nrole = "editor"\npassword = "hunter22"\n', "needs a password hash"),
])
def test_a_bad_users_file_is_one_line_naming_it(tmp_path: Path, content: str | None, problem: str) -> None:
    from app.ui_auth import Users

    path = tmp_path / "users.toml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError) as err:
        Users.load(path)
    message = str(err.value)
    assert str(path) in message and problem in message and "\n" not in message, message


def test_serving_beyond_loopback_needs_a_users_file(tmp_path: Path) -> None:
    from app.ui import launch

    with pytest.raises(SettingsError, match="refusing to serve the UI on 0.0.0.0 without sign-in"):
        launch(settings_for(tmp_path), host="0.0.0.0", port=1)


# --- changing a document's details ------------------------------------------------------------------

def test_edited_details_reach_chunks_filters_and_chroma(tmp_path: Path) -> None:
    from core.keyword import KeywordIndex
    from core.store import Store
    from ingest.pipeline import ingest

    settings = settings_for(tmp_path, embed_backend="hash")
    ingest([SAMPLE_CORPUS / "victim-support.md"], settings)
    store = Store.open(settings)
    try:
        source = store.documents()[0].source
        with store.write_lock():
            store.update_document(source, {"title": "Support for survivors", "publisher": "Helpdesk Foundation",
                                           "year": 2019, "language": "nl"})
            KeywordIndex.rebuild(store)
        doc = store.document(source)
        assert doc and (doc.title, doc.publisher, doc.year, doc.language) == (
            "Support for survivors", "Helpdesk Foundation", 2019, "nl")
        chunks = [c for c in store.chunks() if c.source == source]
        assert chunks and all(c.metadata["publisher"] == "Helpdesk Foundation" and c.metadata["year"] == 2019
                              and c.metadata["language"] == "nl" for c in chunks)
        assert store.find_sources(contains={"publisher": "helpdesk"}, year_min=2019) == [source]
        stored = store.collection.get(where={"source": source}, include=["metadatas"])["metadatas"]
        assert stored and all(m["language"] == "nl" and m["publisher"] == "Helpdesk Foundation" for m in stored)
        with store.write_lock():
            store.update_document(source, {"publisher": None})
        assert store.document(source).publisher is None  # type: ignore[union-attr]
        assert all("publisher" not in c.metadata for c in store.chunks() if c.source == source)
        with pytest.raises(ValueError, match="not an editable document field: sha256"):
            store.update_document(source, {"sha256": "x"})
    finally:
        store.close()
