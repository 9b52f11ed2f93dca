"""The input rules, one test each: document keys (one document per file), symbolic links,
UTF-16/32 without a byte-order mark, encrypted PDFs, size caps and escaped names. Stores use
the hashing embedder; `lantern` runs in this process.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE_CORPUS, settings_for

from app.cli import main
from core.store import Store
from ingest.pipeline import ingest

pytestmark = pytest.mark.promise("hostile")

TEXT = ("Referral of potential victims. A first responder explains the support that is offered and refers "
        "the person with their consent. Indicators include withheld identity documents and debts.\n")


def lantern(capsys: pytest.CaptureFixture[str], store: Path, *args: str) -> tuple[int, str, str]:
    command, *rest = args
    extra = ["--embed-backend", "hash"] if command in ("ingest", "ask", "doctor") else []
    code = main([command, *rest, "--store", str(store), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def documents(store: Path) -> dict[str, object]:
    s = Store.open(settings_for(store.parent, store=store))
    try:
        return {d.source: d for d in s.documents(include_pending=True)}
    finally:
        s.close()


def test_same_name_from_two_folders_is_two_documents(tmp_path: Path) -> None:
    pdfs = sorted(SAMPLE_CORPUS.glob("*.pdf"))
    for year, pdf in zip(("2023", "2024"), pdfs, strict=True):
        (tmp_path / "a" / year).mkdir(parents=True)
        shutil.copy2(pdf, tmp_path / "a" / year / "report.pdf")
    settings = settings_for(tmp_path, embed_backend="hash")
    first = ingest([tmp_path / "a" / "2023"], settings)
    second = ingest([tmp_path / "a" / "2024"], settings)
    assert (first.added, second.added, second.updated) == (1, 1, 0)
    docs = documents(tmp_path / "store")
    assert sorted(docs) == ["2024/report.pdf", "report.pdf"]
    assert docs["report.pdf"].metadata["path"] == str((tmp_path / "a" / "2023" / "report.pdf").resolve())
    # each keeps its key on later runs, in either order, and as a file argument too
    again = [ingest([tmp_path / "a" / y], settings) for y in ("2024", "2023")]
    again.append(ingest([tmp_path / "a" / "2024" / "report.pdf"], settings))
    assert [(r.added, r.updated, r.unchanged) for r in again] == [(0, 0, 1)] * 3
    # one run over both folders: still two documents
    both = ingest([tmp_path / "a" / "2023", tmp_path / "a" / "2024"], settings)
    assert (both.unchanged, both.documents) == (2, 2)

    # a new store, both folders in one run: the second file gets the longer key
    fresh = settings_for(tmp_path / "fresh", embed_backend="hash")
    report = ingest([tmp_path / "a" / "2023", tmp_path / "a" / "2024"], fresh)
    assert report.added == 2 and sorted(documents(tmp_path / "fresh" / "store")) == ["2024/report.pdf", "report.pdf"]


def test_a_moved_or_copied_folder_is_the_same_documents_and_an_edited_file_in_place_is_an_update(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    settings = settings_for(tmp_path, embed_backend="hash")
    assert ingest([tmp_path / "corpus"], settings).added == 6
    shutil.copytree(tmp_path / "corpus", tmp_path / "copy")  # the original stays: same content, same documents
    assert ingest([tmp_path / "copy"], settings).unchanged == 6
    (tmp_path / "corpus").rename(tmp_path / "moved")  # the original is gone: moved
    assert ingest([tmp_path / "moved"], settings).unchanged == 6
    note = tmp_path / "moved" / "victim-support.md"
    note.write_text(note.read_text(encoding="utf-8") + "\n\nShelters now open at weekends.\n", encoding="utf-8")
    report = ingest([tmp_path / "moved"], settings)
    assert (report.updated, report.added, report.documents) == (1, 0, 6)


def test_symlink_rule(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "drive"
    folder.mkdir()
    (folder / "real.md").write_text(TEXT, encoding="utf-8")
    os.symlink("/etc/passwd", folder / "passwd.txt")
    os.symlink("real.md", folder / "alias.md")
    os.symlink("/etc", folder / "etc")
    os.symlink("missing.txt", folder / "broken.txt")
    store = tmp_path / "store"
    code, out, err = lantern(capsys, store, "ingest", str(folder))
    lines = sorted(err.splitlines())
    assert code == 1 and len(lines) == 4, err
    assert f"skipped: {folder}/passwd.txt: a symbolic link to /etc/passwd, outside {folder}; not followed" in err
    assert f"skipped: {folder}/alias.md: a link to {folder}/real.md, which is ingested under its own name" in err
    assert f"skipped: {folder}/etc: a symbolic link to a folder; not followed" in err
    assert f"failed: {folder}/broken.txt: broken symbolic link" in err
    docs = documents(store)
    assert sorted(docs) == ["real.md"]
    s = Store.open(settings_for(tmp_path, store=store))
    try:
        assert s.file_path("passwd.txt") is None  # nothing for the UI's file route to serve
        assert all("root:" not in c.text for c in s.chunks())
    finally:
        s.close()
    # a link named on the command line is the user's choice: followed
    elsewhere = tmp_path / "elsewhere.md"
    elsewhere.write_text(TEXT, encoding="utf-8")
    os.symlink(elsewhere, tmp_path / "named.md")
    assert lantern(capsys, store, "ingest", str(tmp_path / "named.md"))[0] == 0
    assert "named.md" in documents(store)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-16", "utf-32"])
def test_utf16_and_utf32_text_is_read_as_text(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_bytes(("Café référence. " + TEXT).encode(encoding))
    settings = settings_for(tmp_path, embed_backend="hash")
    report = ingest([tmp_path / "in"], settings)
    assert report.added == 1 and not report.failed
    s = Store.open(settings)
    try:
        text = s.page_text("notes.txt", None) or ""
    finally:
        s.close()
    assert "\x00" not in text and text.startswith("Café référence. Referral of potential victims.")


def test_encrypted_pdfs_open_with_an_empty_password_and_others_are_one_line(tmp_path: Path, capsys) -> None:
    from pypdf import PdfReader, PdfWriter

    folder = tmp_path / "pdfs"
    folder.mkdir()
    source = sorted(SAMPLE_CORPUS.glob("*.pdf"))[0]
    for name, algorithm, password in (("aes256-open.pdf", "AES-256", ""), ("aes128-open.pdf", "AES-128", ""),
                                      ("aes256-locked.pdf", "AES-256", "s3cret")):
        writer = PdfWriter(clone_from=PdfReader(str(source)))
        writer.encrypt(user_password=password, owner_password="owner", algorithm=algorithm)
        writer.write(str(folder / name))
    code, _, err = lantern(capsys, tmp_path / "store", "ingest", str(folder))
    assert code == 1
    assert err.splitlines() == [f"failed: {folder}/aes256-locked.pdf: encrypted PDF that needs a password; "
                                "save an unprotected copy"]
    assert sorted(documents(tmp_path / "store")) == ["aes128-open.pdf", "aes256-open.pdf"]


def test_a_file_over_its_size_cap_is_one_line(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "one-line.txt").write_text("forced labour indicator " * (2_200_000), encoding="utf-8")  # ~50 MB
    (folder / "ok.md").write_text(TEXT, encoding="utf-8")
    code, _, err = lantern(capsys, tmp_path / "store", "ingest", str(folder))
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith(f"failed: {folder}/one-line.txt: too large to ingest (50.4 MB; the cap for text files is 10 MB)")
    assert sorted(documents(tmp_path / "store")) == ["ok.md"]


def test_names_with_control_characters_are_printed_escaped(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / "bad\rname\x1b[31m.txt").write_text(TEXT, encoding="utf-8")
    (folder / "empty\x1b]0;title\x07.txt").write_bytes(b"")
    code, _, err = lantern(capsys, tmp_path / "store", "ingest", str(folder))
    assert code == 1 and err == f"failed: {folder}/empty\\x1b]0;title\\x07.txt: empty file\n"
    code, out, _ = lantern(capsys, tmp_path / "store", "status")
    assert "bad\\rname\\x1b[31m.txt" in out and "\r" not in out and "\x1b" not in out
