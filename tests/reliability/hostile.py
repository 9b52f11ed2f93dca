"""Hostile files, generated: what a real shared drive holds on a bad day.

`make_hostile(root, reps)` writes one folder per kind under `root` and returns a `Case` per file
(or folder) with what must happen to it: `in` (ingested), `out` (left out, in exactly one line)
or `either` (a damaged file a parser may still read: in the store or one line, never both or
neither). `reps` scales the generated kinds (truncations, bit flips); every fixed kind is
written once whatever `reps` is.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .harness import CORPUS, SAMPLE_CORPUS

BASE_PDFS = (  # small, quick to parse whole or damaged
    SAMPLE_CORPUS / "first-responder-checklist.pdf",
    SAMPLE_CORPUS / "supply-chain-due-diligence.pdf",
    CORPUS / "pdf" / "unodc-human-trafficking-indicators.pdf",
)
TEXT = (
    "Referral of potential victims\n\n"
    "A first responder who meets a potential victim of trafficking explains the support that is offered, "
    "records what the person says in their own words, and refers them with their consent. "
    "Indicators include withheld identity documents, debts owed to an employer and restricted movement.\n"
)


@dataclass(frozen=True)
class Case:
    path: Path  # the file (or folder) on disk
    kind: str
    expect: str  # in | out | either


def _docx(path: Path, text: str = TEXT) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Referral handbook", 1)
    for para in text.split("\n\n"):
        document.add_paragraph(para)
    document.save(str(path))


def _encrypted_pdf(source: Path, dest: Path, algorithm: str, password: str) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(str(source)))
    writer.encrypt(user_password=password, owner_password="owner-secret", algorithm=algorithm)
    writer.write(str(dest))


def _image_only_pdf(dest: Path) -> None:
    from fpdf import FPDF
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (400, 560), 255).save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(buffer, x=10, y=10, w=150)
    pdf.output(str(dest))


def _flip(data: bytes, rng: random.Random, flips: int) -> bytes:
    out = bytearray(data)
    for _ in range(flips):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def make_hostile(root: Path, reps: int, seed: int = 12, quick: bool = False) -> list[Case]:
    """Write the hostile tree under `root`; return its cases. `quick`: two of each fixed kind."""
    rng = random.Random(seed)
    cases: list[Case] = []

    def few(items: tuple | list) -> tuple | list:
        return items[:2] if quick else items

    def add(rel: str, data: bytes | str, expect: str, kind: str) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        cases.append(Case(path, kind, expect))
        return path

    # good files: always in
    for src in sorted(SAMPLE_CORPUS.iterdir()):
        if src.name != "MANIFEST.csv":
            add(f"good/{src.name}", src.read_bytes(), "in", "good")
    add("good/unodc-indicators.pdf", BASE_PDFS[2].read_bytes(), "in", "good")
    _docx(root / "good" / "handbook.docx")
    cases.append(Case(root / "good" / "handbook.docx", "good", "in"))

    # truncated and bit-flipped: a parser may still read some of them
    docx_bytes = (root / "good" / "handbook.docx").read_bytes()
    for base in BASE_PDFS:
        data = base.read_bytes()
        for i in range(reps * 4):
            cut = rng.randrange(1, len(data))
            add(f"truncated/{base.stem}-{i}-{cut}.pdf", data[:cut], "either", "truncated")
        for i in range(reps * 6):
            add(f"bitflip/{base.stem}-{i}.pdf", _flip(data, rng, rng.choice((1, 4, 32, 256))), "either", "bit-flipped")
    for i in range(reps * 2):
        add(f"truncated/handbook-{i}.docx", docx_bytes[: rng.randrange(1, len(docx_bytes))], "either", "truncated")
        add(f"bitflip/handbook-{i}.docx", _flip(docx_bytes, rng, rng.choice((1, 8, 64))), "either", "bit-flipped")
        add(f"bitflip/notes-{i}.md", _flip(TEXT.encode(), rng, rng.choice((1, 8))), "either", "bit-flipped")

    # encrypted PDFs: an empty user password opens, as in any viewer; a real one is one line
    (root / "encrypted").mkdir()
    for algorithm in few(("AES-256", "RC4-40", "AES-256-R5", "AES-128", "RC4-128")):
        for password, expect in (("", "in"), ("s3cret", "out")):
            dest = root / "encrypted" / f"{algorithm.lower()}-{'empty' if not password else 'password'}.pdf"
            _encrypted_pdf(BASE_PDFS[2], dest, algorithm, password)
            cases.append(Case(dest, "encrypted", expect))
    add("encrypted/ooxml-encrypted.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088), "out", "encrypted")

    # empty and blank
    for name in few(("empty.pdf", "empty.txt", "empty.md", "empty.html", "empty.docx", "empty.odt")):
        add(f"empty/{name}", b"", "out", "empty")
    add("empty/blank.txt", " \n\t\n  \n", "out", "empty")
    add("empty/comment-only.md", "<!-- nothing here -->\n", "out", "empty")
    add("empty/script-only.html", "<html><head><script>var x = 1;</script></head><body></body></html>", "out", "empty")

    # an image-only PDF: no text layer (OCR, where installed, finds none either)
    (root / "image-only").mkdir()
    _image_only_pdf(root / "image-only" / "blank-scan.pdf")
    cases.append(Case(root / "image-only" / "blank-scan.pdf", "image-only", "out"))

    # huge: refused before they are read
    add("huge/one-line-50mb.txt", ("forced labour indicator " * (50 * 1024 * 1024 // 24 + 1))[: 50 * 1024 * 1024], "out", "huge")
    if not quick:
        add("huge/long-11mb.md", ("Debt bondage is an indicator.\n" * (11 * 1024 * 1024 // 30 + 1)), "out", "huge")
        sparse = root / "huge" / "sparse-300mb.pdf"
        with open(sparse, "wb") as fh:
            fh.write(b"%PDF-1.4\n")
            fh.truncate(300 * 1024 * 1024)
        cases.append(Case(sparse, "huge", "out"))
    bomb = root / "huge" / "zip-bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        with package.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(300):
                member.write(block)
    cases.append(Case(bomb, "huge", "out"))

    # encodings: UTF-16/32 with and without a byte-order mark are text; the rest one line
    for enc in few(("utf-16-le", "utf-32-be", "utf-16-be", "utf-32-le")):
        add(f"encodings/{enc}-no-bom.txt", TEXT.encode(enc), "in", "encodings")
        add(f"encodings/{enc}-no-bom.md", ("# Handbook\n\n" + TEXT).encode(enc), "in", "encodings")
    for enc in few(("utf-16", "utf-32", "utf-8-sig")):
        add(f"encodings/{enc}-bom.txt", TEXT.encode(enc), "in", "encodings")
    add("encodings/latin-1.txt", "Aide aux victimes à Liège, référence ½.\n".encode("latin-1") * 20, "out", "encodings")
    add("encodings/cp1252.md", "Victims’ “rights” — a guide.\n".encode("cp1252") * 20, "out", "encodings")
    add("encodings/random-binary.txt", rng.randbytes(4096), "out", "encodings")
    add("encodings/nul-laden.txt", TEXT.encode() + b"\0" * 64 + TEXT.encode(), "out", "encodings")
    add("encodings/odd-utf-16.txt", TEXT.encode("utf-16-le")[:-1], "out", "encodings")

    # mislabelled
    add("mislabelled/pdf-named.txt", BASE_PDFS[0].read_bytes(), "out", "mislabelled")
    add("mislabelled/text-named.pdf", TEXT, "out", "mislabelled")
    add("mislabelled/html-named.pdf", "<!DOCTYPE html><html><body>Log in</body></html>", "out", "mislabelled")
    add("mislabelled/zip-named.docx", _zip_with("readme.txt", TEXT), "out", "mislabelled")
    add("mislabelled/text-named.docx", TEXT, "out", "mislabelled")
    add("mislabelled/text-named.odt", TEXT, "out", "mislabelled")
    add("mislabelled/pdf-named.html", BASE_PDFS[0].read_bytes(), "out", "mislabelled")

    # hostile names: ingested like any file, printed escaped
    for name in few(("carriage\rreturn.txt", "escape-\x1b[31mred\x1b[0m.txt", "title-\x1b]0;pwned\x07.md", "new\nline.txt",
                 "rtl-\u202etxt.exe.md", "-rf.txt", "--store=elsewhere.txt", " spaced name .txt", "tab\tname.md",
                 "bell\x07.txt", "x" * 240 + ".txt", "ünïcødé-名前.md")):
        add(f"names/{name}", TEXT, "in", "hostile names")
    add("names/escape-\x1b[2J-empty.txt", b"", "out", "hostile names")

    # symbolic links: followed only to files inside the folder being ingested
    links = root / "links"
    links.mkdir()
    (links / "real-notes.md").write_text(TEXT, encoding="utf-8")
    cases.append(Case(links / "real-notes.md", "symlinks", "in"))
    for name, target in (("passwd.txt", "/etc/passwd"), ("hosts.md", "/etc/hosts"), ("dangling.txt", "/nonexistent/file.txt"),
                         ("loop-a.txt", "loop-b.txt"), ("loop-b.txt", "loop-a.txt"), ("same.md", "real-notes.md")):
        os.symlink(target, links / name)
        cases.append(Case(links / name, "symlinks", "out"))
    os.symlink("/etc", links / "etc-folder")
    os.symlink("..", links / "parent-folder")
    cases += [Case(links / "etc-folder", "symlinks", "out"), Case(links / "parent-folder", "symlinks", "out")]

    # permissions (the test drops root's right to ignore them)
    perms = root / "permissions"
    perms.mkdir()
    for name in ("unreadable.txt", "unreadable.pdf"):
        path = perms / name
        shutil.copyfile(BASE_PDFS[0] if name.endswith(".pdf") else SAMPLE_CORPUS / "victim-support.md", path)
        path.chmod(0)
        cases.append(Case(path, "permissions", "out"))
    locked = perms / "locked-folder"
    locked.mkdir()
    (locked / "inside.md").write_text(TEXT, encoding="utf-8")
    locked.chmod(0)
    cases.append(Case(locked, "permissions", "out"))
    return cases


def _zip_with(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(name, text)
    return buffer.getvalue()


def restore_permissions(root: Path) -> None:
    """Make the tree removable again."""
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o755)
    for folder, dirs, _ in os.walk(root):
        for name in dirs:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o755)
