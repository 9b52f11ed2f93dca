"""OCR for PDF pages that have no text layer (scans), offline, with Debian's tesseract.

Only pages whose text layer is (nearly) empty and that carry an image are read, so a
mixed PDF keeps its real text everywhere else. Pages are rendered with pypdfium2 and read
by the `tesseract` command, one single-threaded process per page (its OpenMP threads
thrash on small shared machines; see STACK_NOTES), a few pages at a time. Without the
`tesseract` command nothing is read and the page stays empty (`make setup` installs it).

Tesseract is asked for TSV (each word with its block, paragraph and line numbers, its box and
its confidence), not plain text, and the text is rebuilt from it the way tesseract lays out its
own plain text (lines, then a blank line between paragraphs and blocks). The boxes let one
misreading be undone: tesseract has no class for a list bullet and reads a "•" as "e", "©",
"¢", "°", "*" and the like. A one-character word that opens a line before other words, is much
smaller than they are and floats above their baseline is a bullet's dot, not a letter (a real
"a" or "e" stands on the baseline at x-height), and is restored as "•". Some bullets tesseract
drops altogether (a page of three lists, 61 bullets, read with none); those are looked
for in the image: a lone solid round or square dot of bullet size just left of a line's first
word becomes a "•" word of its own (`with_dropped_bullets`).

The boxes also mend the reading order. Tesseract finds columns and reads them in order, but
its order of lines can jump back up a page: beside a boxed figure it put a line from below
the box in the middle of the paragraph above (a guide's page with a boxed list). So a line never comes
before a line above it that shares some of its horizontal extent (the first rule of Breuel's
"High performance document layout analysis", 2003; no tuned constant); all else keeps
tesseract's order. Breuel's second rule (a line wholly left of another comes first unless a
line between them spans both) was measured too and left out: it moved centred one-line
headings, dates and page numbers after the next line to their left, and lost on the bench.

Each page is read twice. Tesseract binarizes a page with one global (Otsu) threshold, which
falls between black ink and white paper, so text set in light grey (chapter and section
headings, captions, footnotes, page numbers in many reports) is taken for paper and never read.
The second pass reads the same image with every word of the first pass painted white: what is
left is mostly that grey text, and Otsu's threshold now falls between it and the paper. Its
words of confidence SECOND_PASS_MIN_CONF or more (the rest are specks of pictures and rules)
join the first pass's as lines of their own, in reading order. It costs about 30% more CPU.
Tesseract's other binarizations (adaptive Otsu, Sauvola), darkening the whole page (a gamma
curve: it also darkened grey boxes and lost their white text) and dropping low-confidence
words of the first pass all measured worse on bench/ocr.py.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCR_MAX_CHARS = 20  # a page whose text layer has fewer non-space characters is a scan candidate
DPI = 300  # tesseract reads best with capital letters 20-30 px high; a scan is rendered at this
PSM = 3  # tesseract's automatic page segmentation: columns and blocks found on the page
TIMEOUT_S = 120
_LANGS = {"en": "eng", "fr": "fra", "nl": "nld"}
BULLET = "\u2022"
# glyphs that are list markers as read (• » › - – — ▪ ■ □ ● ○ ◦ ► ▶ ➢ ✓ ✔): kept, so a "»" list stays "»"
_MARKERS = frozenset("\u2022\u00bb\u203a-\u2013\u2014\u25aa\u25a0\u25a1\u25cf\u25cb\u25e6\u25ba\u25b6\u27a2\u2713\u2714")
# Set from typography, not fitted: a dot is about half the x-height, a lone letter the whole
# x-height (~0.7 of a word's height). On bench/ocr.py's 33 pages the misread dots measured
# 0.35-0.60 of the line's word height and were lifted 0.19-0.37 of it; lone letters 0.68-0.69, lifted 0.
BULLET_MAX_HEIGHT = 0.6  # a bullet's dot is at most this share of the height of its line's words
BULLET_MIN_LIFT = 0.1  # ... and its bottom is at least this share of that height above their baseline
_DESCENDERS = frozenset("gjpqy,;()[]{}|/@$Q")  # glyphs that reach below the baseline in Latin type
DESCENT = 0.2  # a descender's share of the height of a word that has one (typographic, not fitted)
SECOND_PASS_BLOCK = 100_000  # added to the block numbers of the second pass's words (tesseract's count from 1)
SECOND_PASS_MIN_CONF = 70.0  # the second pass's words of lower confidence are dropped (leave-one-document-out CV, bench/ocr.py)
INK = 128  # a pixel darker than mid-grey is ink, when looking for a bullet tesseract dropped
# A bullet is a round or square dot of 0.3-0.6 of the height of its line's words (typographic;
# on bench/ocr.py's pages the dropped ones measured 0.38-0.62 and filled 0.73-0.86 of their box,
# the check boxes of a form 0.27-0.30)
BULLET_MIN_SIZE = 0.25
BULLET_MAX_SIZE = 0.7
BULLET_MIN_FILL = 0.6  # between a ring or a box (< 0.35) and a filled disc (pi/4 = 0.79)
DROPPED_BULLET_CONF = -1  # the confidence given to a bullet found in the image (tesseract's are 0-100)
PAINT_MARGIN = 2  # px at 300 dpi painted white around a read word: its anti-aliased edge and JPEG ringing


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
    return text_from_tsv(two_pass_tsv(png, languages))


def two_pass_tsv(png: bytes, languages: str = "eng") -> str:
    """Tesseract's TSV of a page, read twice: as it is, then with the words read painted out,
    so that light-grey text the first pass took for paper is read too (module doc). The second
    pass's words, those of confidence SECOND_PASS_MIN_CONF or more, follow the first's, their
    block numbers raised by SECOND_PASS_BLOCK."""
    first = tesseract_tsv(png, languages)
    words = parse_tsv(first)
    if not words:
        return first
    first = with_dropped_bullets(first, png)
    second = tesseract_tsv(paint_out(png, words), languages)
    rows = [first.rstrip("\n")]
    for row in second.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) >= 12 and cells[0] == "5" and cells[11].strip() and _number(cells[10]) >= SECOND_PASS_MIN_CONF:
            cells[2] = str(int(cells[2]) + SECOND_PASS_BLOCK)
            rows.append("\t".join(cells))
    return "\n".join(rows) + "\n"


def with_dropped_bullets(tsv: str, png: bytes) -> str:
    """The TSV with a "•" word (confidence DROPPED_BULLET_CONF) put before each line that opens,
    in the image, with a bullet tesseract did not read at all: left of the line's first word,
    within three times the height of its words, the nearest ink is a lone solid blob, round or
    square, BULLET_MIN_SIZE to BULLET_MAX_SIZE of that height and filling at least BULLET_MIN_FILL
    of its box (a filled disc fills pi/4 of it; a ring, a check box or a letter far less), with
    nothing else in that stretch (the end of a line in the column to the left would be)."""
    import numpy as np
    from PIL import Image

    page = np.asarray(Image.open(io.BytesIO(png)).convert("L")) < INK
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for word in parse_tsv(tsv):
        lines.setdefault((word.block, word.paragraph, word.line), []).append(word)
    found: dict[tuple[int, int, int], tuple[int, int, int, int]] = {}
    for key, words in lines.items():
        if words[0].text not in _MARKERS and not is_misread_bullet(words):
            blob = _bullet_blob(page, words)
            if blob is not None:
                found[key] = blob
    if not found:
        return tsv
    rows = []
    for row in tsv.rstrip("\n").split("\n"):
        cells = row.split("\t")
        if len(cells) >= 12 and cells[0] == "5" and all(c.isdigit() for c in cells[2:5]):
            key = (int(cells[2]), int(cells[3]), int(cells[4]))
            if key in found:  # before the line's first word
                left, top, width, height = found.pop(key)
                rows.append("\t".join([*cells[:5], "0", str(left), str(top), str(width), str(height),
                                       str(DROPPED_BULLET_CONF), BULLET]))
        rows.append(row)
    return "\n".join(rows) + "\n"


def _bullet_blob(page: Any, words: Sequence[Word]) -> tuple[int, int, int, int] | None:
    """The box (left, top, width, height) of a dropped bullet before this line, or None."""
    import numpy as np

    height = statistics.median(w.height for w in words)
    tall = [w for w in words if w.height >= 0.5 * height]
    height = statistics.median(w.height for w in tall)
    top = statistics.median(w.top for w in tall)
    x1, x0 = words[0].left, max(0, int(words[0].left - 3 * height))
    y0, y1 = max(0, int(top - 0.2 * height)), int(top + 1.2 * height)
    if x1 - x0 < height:
        return None
    ink = page[y0:y1, x0:x1]
    columns = np.flatnonzero(ink.any(axis=0))
    if not columns.size:
        return None
    right = left = int(columns[-1])
    while left > 0 and ink[:, left - 1].any():
        left -= 1
    if (columns < left).any():  # more ink further left: text, not a lone bullet
        return None
    rows = np.flatnonzero(ink[:, left:right + 1].any(axis=1))
    first, last = int(rows[0]), int(rows[-1])
    width, tall_px = right - left + 1, last - first + 1
    fill = float(ink[first:last + 1, left:right + 1].mean())
    if not (BULLET_MIN_SIZE * height <= min(width, tall_px) and max(width, tall_px) <= BULLET_MAX_SIZE * height
            and max(width, tall_px) <= 1.4 * min(width, tall_px) and fill >= BULLET_MIN_FILL):
        return None
    return x0 + left, y0 + first, width, tall_px


def _number(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return -1.0


def paint_out(png: bytes, words: Sequence[Word]) -> bytes:
    """The PNG with each word's box (and PAINT_MARGIN around it) painted white."""
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(png)).convert("L")
    draw = ImageDraw.Draw(image)
    for w in words:
        draw.rectangle((w.left - PAINT_MARGIN, w.top - PAINT_MARGIN,
                        w.left + w.width + PAINT_MARGIN, w.bottom + PAINT_MARGIN), fill=255)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def tesseract_tsv(png: bytes, languages: str = "eng") -> str:
    """Tesseract's TSV of one PNG image: one row per page, block, paragraph, line and word ("" when it fails)."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", languages, "--psm", str(PSM), "tsv"],
            input=png, capture_output=True, timeout=TIMEOUT_S, env=env, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


@dataclass(frozen=True)
class Word:
    """One word of tesseract's TSV: where it sits in the layout, its box in pixels, what it reads."""

    block: int
    paragraph: int
    line: int
    left: int
    top: int
    width: int
    height: int
    conf: float
    text: str

    @property
    def bottom(self) -> int:
        return self.top + self.height


def parse_tsv(tsv: str) -> list[Word]:
    """The words of a TSV in tesseract's reading order (rows of other levels and empty words dropped)."""
    words = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        try:
            block, paragraph, line, left, top, width, height = (int(c) for c in cells[2:5] + cells[6:10])
            conf = float(cells[10])
        except ValueError:
            continue
        words.append(Word(block, paragraph, line, left, top, width, height, conf, cells[11].strip()))
    return words


def text_from_tsv(tsv: str, bullets: bool = True, ordered: bool = True, second: bool = True) -> str:
    """The page's text: words of a line joined by spaces, lines by newlines, paragraphs and
    blocks by a blank line; lines in reading order (tesseract's own order if `ordered` is False,
    the second pass's lines then last), a misread bullet restored unless `bullets` is False, the
    second pass's words left out if `second` is False (see module doc)."""
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for word in parse_tsv(tsv):
        if second or word.block < SECOND_PASS_BLOCK:
            lines.setdefault((word.block, word.paragraph, word.line), []).append(word)
    keys = sorted(lines, key=lambda k: k[0] >= SECOND_PASS_BLOCK)  # stable: the first pass's lines first
    if ordered:
        added = [k[0] >= SECOND_PASS_BLOCK for k in keys]
        keys = [keys[i] for i in reading_order([_box(lines[k]) for k in keys], added)]
    out: list[str] = []
    previous: tuple[int, int] | None = None
    for block, paragraph, line in keys:
        words = lines[block, paragraph, line]
        if previous is not None:
            out.append("\n\n" if (block, paragraph) != previous else "\n")
        previous = (block, paragraph)
        if not bullets:
            words = [w for w in words if w.conf != DROPPED_BULLET_CONF]
        texts = [w.text for w in words]
        if bullets and is_misread_bullet(words):
            texts[0] = BULLET
        out.append(" ".join(texts))
    return "".join(out) + ("\n" if out else "")


Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels


def _box(words: Sequence[Word]) -> Box:
    return (min(w.left for w in words), min(w.top for w in words),
            max(w.left + w.width for w in words), max(w.bottom for w in words))


def reading_order(boxes: Sequence[Box], added: Sequence[bool] = ()) -> list[int]:
    """Indices of text lines (boxes in tesseract's order) in reading order: tesseract's order,
    except that a line never comes before a line above it that shares some of its horizontal
    extent (module doc). A topological sort; among lines free to come next, tesseract's first.
    A line marked in `added` (read by the second pass, after all the first pass's lines) takes
    its place in tesseract's order just before the first line of the first pass it must
    precede, or else just after the last one it must follow."""
    import heapq

    import numpy as np

    n = len(boxes)
    if n < 2:
        return list(range(n))
    b = np.array(boxes, dtype=np.int64)
    left, right, middle = b[:, 0], b[:, 2], b[:, 1] + b[:, 3]  # middle doubled: integers stay exact
    overlap = np.minimum.outer(right, right) > np.maximum.outer(left, left)
    index = np.arange(n)
    above = (middle[:, None] < middle[None, :]) | ((middle[:, None] == middle[None, :]) & (index[:, None] < index[None, :]))
    before = overlap & above  # a strict order (by height, then index): no cycle
    mine = ~np.array(list(added) + [False] * (n - len(added)), dtype=bool)  # the first pass's lines
    rank = index.astype(float)
    for k in np.flatnonzero(~mine):
        follows, precedes = np.flatnonzero(before[:, k] & mine), np.flatnonzero(before[k] & mine)
        rank[k] = precedes.min() - 0.5 if precedes.size else follows.max() + 0.5 if follows.size else n
    waiting = before.sum(axis=0)
    ready = [(float(rank[i]), i) for i in range(n) if waiting[i] == 0]
    heapq.heapify(ready)
    out: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        out.append(i)
        for j in (int(j) for j in np.flatnonzero(before[i])):
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (float(rank[j]), j))
    return out


def is_misread_bullet(line: Sequence[Word]) -> bool:
    """Whether a line's first word is a bullet's dot that tesseract read as some character:
    one character, not a digit (a small raised digit is a footnote mark) nor itself a list
    marker, left of the rest of the line, at most BULLET_MAX_HEIGHT of the height of the line's
    other words, lifted off their baseline (a letter of that size would stand on it) and below
    their tops (a quotation mark sits above). Geometry only: no word list."""
    first, rest = line[0], line[1:]
    if not rest or len(first.text) != 1 or first.text.isdigit() or first.text in _MARKERS:
        return False
    if first.left + first.width > rest[0].left:
        return False
    height = statistics.median(w.height for w in rest)
    tall = [w for w in rest if w.height >= 0.5 * height]  # words, not commas or dashes
    standing = [w for w in tall if not _DESCENDERS & set(w.text)]  # they end on the baseline
    baseline = min(w.bottom for w in standing) if standing else min(w.bottom for w in tall) - DESCENT * height
    top = statistics.median(w.top for w in tall)
    return (first.height <= BULLET_MAX_HEIGHT * height and first.top >= top
            and first.bottom <= baseline - BULLET_MIN_LIFT * height)


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
    texts = {i: text_from_tsv(tsv) for i, tsv in ocr_pages_tsv(path, indices, languages, workers).items()}
    return {i: text for i, text in texts.items() if text.strip()}


def ocr_pages_tsv(path: Path, indices: Sequence[int], languages: str = "eng", workers: int = 2) -> dict[int, str]:
    """{0-based page index: tesseract's TSV} for the given pages of a PDF (pages pdfium cannot render left out)."""
    if not indices or not available():
        return {}
    images = render_pngs(path, indices)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(images) or 1))) as pool:
        return dict(zip(images, pool.map(lambda png: two_pass_tsv(png, languages), images.values()), strict=True))


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
