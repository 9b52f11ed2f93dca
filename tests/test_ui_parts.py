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
from core.types import Answer

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


def test_a_new_title_is_embedded_and_found(tmp_path: Path) -> None:
    """Each passage's vector embeds its title line: a changed title is embedded again, and a
    question naming the new title finds the document (dense and keyword search alike)."""
    import numpy as np

    from app.ui_logic import LanternUI
    from core.keyword import KeywordIndex
    from ingest.chunk import embedding_text
    from ingest.pipeline import ingest

    settings = settings_for(tmp_path, embed_backend="hash")
    ingest([SAMPLE_CORPUS / "victim-support.md", SAMPLE_CORPUS / "referral-mechanisms.md"], settings, workers=1)
    ui = LanternUI(settings)
    try:
        store = ui.lantern.store
        source = next(d.source for d in store.documents() if d.source.startswith("victim"))
        ids = [c.id for c in store.chunks() if c.source == source]
        before = np.array(store.collection.get(ids=ids, include=["embeddings"])["embeddings"])
        saved = ui.edit_document(source, "Harbourlight casebook", "", "", "", username=None)
        assert saved.startswith("Saved the details of **Harbourlight casebook**"), saved
        chunks = store.chunks(ids)
        assert all(embedding_text(c).startswith("Harbourlight casebook\n") for c in chunks)
        after = np.array(store.collection.get(ids=ids, include=["embeddings"])["embeddings"])
        expected = ui.lantern.embedder.embed([embedding_text(c) for c in chunks])
        assert np.allclose(after, expected, atol=1e-5) and not np.allclose(after, before, atol=1e-5)
        hits = ui.lantern.retrieve("What does the Harbourlight casebook say?", top_k=3)  # English: no e5 re-scoring
        assert {h.chunk.source for h in hits} == {source}
        found = [cid for cid, _ in KeywordIndex.load(store).search("Harbourlight casebook", 3)]
        assert found and set(found) <= set(ids), "the keyword index reads the new title line"
    finally:
        ui.close()


# --- example questions in the UI's language ------------------------------------------------------

def test_example_questions_leave_out_other_languages() -> None:
    """A bilingual treaty's Dutch headings and a Dutch-only document's title give no example."""
    from app.ui_examples import candidates, foreign_words, sections_by_source
    from core.types import Chunk

    def chunk(n: int, section: str, language: str) -> Chunk:
        return Chunk(f"t{n}", "treaty.md", None, 0, 10, "text", {"section": section, "language": language})

    chunks = [chunk(1, "Border measures", "en"), chunk(2, "Border measures", "en"), chunk(3, "Werkingssfeer", "nl"),
              chunk(4, "Verdrag betreffende de afschaffing van gedwongen arbeid", "en"),
              chunk(5, "Part 2 > Debt bondage", "en"), chunk(6, "Grensmaatregelen", "nl"), chunk(7, "Grensmaatregelen", "en")]
    sections = sections_by_source(chunks)
    assert sections["treaty.md"] == ["Border measures", "Verdrag betreffende de afschaffing van gedwongen arbeid",
                                     "Debt bondage"], "headings over passages read as Dutch are left out; a path gives its innermost heading"
    assert foreign_words("Verdrag betreffende de afschaffing van gedwongen arbeid")
    assert not foreign_words("Debt bondage") and not foreign_words("Prevention of trafficking in persons")
    docs = [_doc("treaty.md", "ILO", 1957, "en;nl", "markdown", "Forced Labour Convention"),
            _doc("rapport.pdf", "BNRM", 2016, "nl", title="Mensenhandel in Nederland"),
            _doc("verdrag.md", None, None, None, "markdown", "Verdrag van de Verenigde Naties")]
    questions = candidates(docs, {**sections, "rapport.pdf": ["Slachtoffers"]})
    assert questions == ["What is the Forced Labour Convention?", "What are border measures?",
                         "What is debt bondage?"], questions


# --- conversations kept per user ----------------------------------------------------------------

def _chat(question: str) -> dict:
    cite = {"n": 1, "source": "pdf/toolkit.pdf", "title": "First Responder Toolkit", "page": 22,
            "quote": "Refer the case  to the NRM.", "url": None, "page_label": "20", "publisher": "Home Office",
            "year": 2026, "chunk_id": "c1"}
    return {
        "history": [{"role": "user", "content": question},
                    {"role": "assistant", "content": '<p>Refer it [1].</p><div class="lantern-sources">…</div>'}],
        "turns": [], "copy_text": "",
        "answers": {"1": {"question": question, "answer": "Refer the case to the NRM. [1]", "abstained": False,
                          "citations": [cite], "sections": {"1": "Section 4"}, "searched_for": None,
                          "filters_note": "PDF"}},
    }


def test_conversations_are_kept_per_user_and_exported(tmp_path: Path) -> None:
    import json

    from app.ui_conversations import Conversations, export_json, export_markdown, user_folder

    conversations = Conversations(tmp_path)
    first = conversations.save("amira", None, _chat("Who makes a referral?"))
    assert first["name"] == "Who makes a referral?"
    again = conversations.save("amira", first["id"], _chat("Who makes a referral?"))
    assert again["id"] == first["id"] and len(conversations.listing("amira")) == 1
    # another user sees nothing of it, even with its id
    assert conversations.listing("jules") == [] and conversations.get("jules", first["id"]) is None
    assert conversations.rename("jules", first["id"], "mine now") is None
    assert not conversations.delete("jules", first["id"]) and conversations.get("amira", first["id"])
    assert conversations.listing(None) == [], "the open local UI's user is a user of its own"
    assert user_folder("a b") != user_folder("a_b") and "/" not in user_folder("../x")
    assert conversations.get("amira", "../../ledger") is None

    renamed = conversations.rename("amira", first["id"], "  Referral   duties ")
    assert renamed and renamed["name"] == "Referral duties"
    with pytest.raises(ValueError):
        conversations.rename("amira", first["id"], "  ")
    record = conversations.get("amira", first["id"])
    assert record is not None
    markdown = export_markdown(record, {"pdf/toolkit.pdf"}, "http://lantern.example")
    assert markdown.startswith("# Referral duties\n") and "## 1. Who makes a referral?" in markdown
    assert "_Searched only: PDF_" in markdown and "Refer the case to the NRM. [1]" in markdown
    assert ("1. First Responder Toolkit, Home Office, 2026, Section 4, p. 22 (printed 20). [Open the source]"
            "(http://lantern.example/lantern/pdf/pdf/toolkit.pdf?page=22&q=Refer+the+case+to+the+NRM.)") in markdown
    assert "   > Refer the case to the NRM." in markdown
    exported = json.loads(export_json(record, {"pdf/toolkit.pdf"}))
    source = exported["exchanges"][0]["sources"][0]
    assert exported["name"] == "Referral duties" and exported["exchanges"][0]["question"] == "Who makes a referral?"
    assert (source["n"], source["document"], source["page"], source["section"], source["quote"]) == (
        1, "pdf/toolkit.pdf", 22, "Section 4", "Refer the case to the NRM.")
    assert source["link"].startswith("/lantern/pdf/pdf/toolkit.pdf?page=22")
    assert conversations.delete("amira", first["id"]) and conversations.listing("amira") == []
    # the browser's copy stays readable after a restart: the same store gives the same key
    assert conversations.browser_key() == Conversations(tmp_path).browser_key()
    assert len(conversations.browser_key()) >= 32 and conversations.listing(".browser-key") == []


def test_an_exported_declined_answer_keeps_its_reason(tmp_path: Path) -> None:
    import json

    from app.ui_conversations import Conversations, export_json, export_markdown

    chat = _chat("How many referrals were made in 2031?")
    chat["answers"]["1"].update(abstained=True, answer="The documents do not answer this.", citations=[],
                                abstain_reason="nothing retrieved mentions 2031")
    record = Conversations(tmp_path).save("amira", None, chat)
    markdown = export_markdown(record, set())
    assert "No answer in these documents. The documents do not answer this.\n\n_Why: nothing retrieved mentions 2031._" in markdown
    assert json.loads(export_json(record, set()))["exchanges"][0]["why"] == "nothing retrieved mentions 2031"
    # an answered exchange carries no reason
    answered = Conversations(tmp_path).save("amira", None, _chat("Who makes a referral?"))
    assert "_Why" not in export_markdown(answered, set())
    assert json.loads(export_json(answered, set()))["exchanges"][0]["why"] is None


def _declined(reason: str | None) -> Answer:
    from core.types import Chunk, Hit

    report = Chunk("c1", "fbi.pdf", 2, 0, 40, "In 2014, 927 offenses were reported.", {"title": "FBI report"})
    return Answer(question="How many offenses were reported in 2031?", text="The documents do not answer this.",
                  citations=[], abstained=True, retrieved=[Hit(report, 0.5, 1)], abstain_reason=reason)


def test_a_declined_answer_says_why_escaped_and_in_the_copied_text() -> None:
    from app.ui_render import answer_html, answer_plain_text

    html = answer_html(_declined("nothing retrieved mentions 2031"), served=set())
    assert '<div class="lantern-why">Why: nothing retrieved mentions 2031.</div>' in html
    assert html.index("No answer in these documents") < html.index("lantern-why")
    # a reason quotes the question's terms: markup in them is shown, never run
    hostile = answer_html(_declined("nothing retrieved mentions <img src=x onerror=alert(1)>"), served=set())
    assert "<img" not in hostile and "&lt;img src=x onerror=alert(1)&gt;" in hostile
    copied = answer_plain_text(_declined("the closest passages do not mention Nigeria"), served=set())
    assert copied.splitlines()[:2] == ["No answer in these documents. The documents do not answer this.",
                                       "Why: the closest passages do not mention Nigeria."]
    # no reason (an older saved answer): no empty "Why:" line
    assert "Why" not in answer_html(_declined(None), served=set())
    assert "Why" not in answer_plain_text(_declined(None), served=set())


def test_the_terminal_shows_why_after_the_abstention() -> None:
    from app.render import render_answer_text

    text = render_answer_text(_declined("nothing retrieved mentions 2031"))
    lines = text.splitlines()
    assert lines[0] == "The documents do not answer this."
    assert lines[1] == "Why: nothing retrieved mentions 2031."
    assert "Nearest sources:" in text and "FBI report, p. 2" in text
    assert "Why" not in render_answer_text(_declined(None))
