"""OCR for PDF pages that have no text layer (scans), offline, with Debian's tesseract.

Only pages whose text layer is (nearly) empty and that carry an image are read, so a
mixed PDF keeps its real text everywhere else. Pages are rendered with pypdfium2 and read
by the `tesseract` command, one single-threaded process per page (its OpenMP threads
thrash on small shared machines; see STACK_NOTES), a few pages at a time. Without the
`tesseract` command nothing is read and the page stays empty (`make setup` installs it).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

OCR_MAX_CHARS = 20  # a page whose text layer has fewer non-space characters is a scan candidate
DPI = 300  # tesseract reads best with capital letters 20-30 px high; a scan is rendered at this
PSM = 3  # tesseract's automatic page segmentation: columns and blocks found on the page
TIMEOUT_S = 120
_LANGS = {"en": "eng", "fr": "fra", "nl": "nld"}


def available() -> bool:
    """Whether the tesseract command is installed."""
    return shutil.which("tesseract") is not None


def tesseract_languages(language: str | None) -> str:
    """Tesseract's language list for a document language such as "en" or "en; nl" (English by default)."""
    codes = [_LANGS[c.strip()[:2]] for c in (language or "").replace(",", ";").split(";") if c.strip()[:2] in _LANGS]
    return "+".join(dict.fromkeys(codes)) or "eng"


def needs_ocr(text: str) -> bool:
    """Whether a page's text layer is too thin to be the page's text."""
    return len("".join(text.split())) < OCR_MAX_CHARS


def ocr_image(png: bytes, languages: str = "eng") -> str:
    """Text tesseract reads in one PNG image ("" when it fails)."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", languages, "--psm", str(PSM)],
            input=png, capture_output=True, timeout=TIMEOUT_S, env=env, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def render_pngs(path: Path, indices: Sequence[int], dpi: int | None = None) -> dict[int, bytes]:
    """Pages of a PDF as grayscale PNGs at `dpi` (default DPI; pdfium is not thread-safe: one thread renders)."""
    import pypdfium2 as pdfium

    dpi = dpi or DPI

    out: dict[int, bytes] = {}
    pdf = pdfium.PdfDocument(str(path))
    try:
        for i in indices:
            try:
                image = pdf[i].render(scale=dpi / 72, grayscale=True).to_pil()
            except Exception:  # pdfium cannot render this page: it stays as it was
                continue
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            out[i] = buf.getvalue()
    finally:
        pdf.close()
    return out


def ocr_pages(path: Path, indices: Sequence[int], languages: str = "eng", workers: int = 2) -> dict[int, str]:
    """{0-based page index: OCR text} for the given pages of a PDF; pages that read as nothing are left out."""
    if not indices or not available():
        return {}
    images = render_pngs(path, indices)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(images) or 1))) as pool:
        texts = dict(zip(images, pool.map(lambda png: ocr_image(png, languages), images.values()), strict=True))
    return {i: text for i, text in texts.items() if text.strip()}


def character_error_rate(read: str, truth: str) -> float:
    """Edit distance between OCR text and the true text over the true text's length, whitespace
    collapsed to single spaces (line breaks differ between a text layer and OCR, words do not)."""
    a, b = " ".join(read.split()), " ".join(truth.split())
    if not b:
        return float(bool(a))
    return edit_distance(a, b) / len(b)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row per character of `a` (a page pair takes milliseconds,
    not the seconds of a pure-Python double loop)."""
    import numpy as np

    if not a or not b:
        return len(a) or len(b)
    codes = np.array([ord(c) for c in b], dtype=np.int64)
    offsets = np.arange(len(b) + 1, dtype=np.int64)
    previous = offsets.copy()
    current = np.empty_like(previous)
    for i, ca in enumerate(a, 1):
        current[0] = i
        np.minimum(previous[1:] + 1, previous[:-1] + (codes != ord(ca)), out=current[1:])
        # an insertion: current[j] = min(current[j], current[j-1] + 1), all at once
        previous = np.minimum.accumulate(current - offsets) + offsets
    return int(previous[-1])
