"""bench/ocr.py's reading-order reference: the X-Y cut that puts a text layer's pieces in the
order a reader reads them, whatever order the PDF draws them in."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("bench_ocr", Path(__file__).resolve().parents[1] / "bench" / "ocr.py")
assert spec is not None and spec.loader is not None
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_ocr"] = bench  # its dataclasses look their module up
spec.loader.exec_module(bench)


def piece(text: str, left: float, base: float, index: int, size: float = 10.0) -> object:
    """A piece whose width is 0.5 em a character (what `placed_pieces` measures from the font)."""
    return bench.Piece(text, left, left + 0.5 * size * len(text), base, size, index)


def read(pieces: list[object]) -> list[str]:
    return [" ".join(p.text for p in line) for line in bench.xy_cut(pieces)]


def test_columns_are_read_one_after_the_other_even_when_drawn_across() -> None:
    """Two columns on the same baselines, drawn line by line across the page, under a title a
    blank line above them: the title, then the left column, then the right one."""
    lines = ["first line of the left column", "second line of the left column", "third line here"]
    right = ["first line of the right column", "second line of the right one", "and its third line"]
    drawn = [piece("A title across both columns of the page", 50, 700, 0, size=14)]
    for k, (a, b) in enumerate(zip(lines, right, strict=True)):
        drawn += [piece(b, 260, 660 - 12 * k, 2 * k + 1), piece(a, 50, 660 - 12 * k, 2 * k + 2)]
    assert read(drawn) == ["A title across both columns of the page", *lines, *right]


def test_a_list_marker_stays_with_its_item() -> None:
    """A hanging bullet more than an em left of its item is no column gutter: each bullet before
    its item."""
    drawn = []
    for k, item in enumerate(["the first item of a list", "the second item", "the third item, longer"]):
        drawn += [piece("•", 50, 600 - 12 * k, 2 * k), piece(item, 68, 600 - 12 * k, 2 * k + 1)]
    assert read(drawn) == ["• the first item of a list", "• the second item", "• the third item, longer"]


def test_pieces_in_the_same_place_keep_drawing_order() -> None:
    """pypdf places a piece that starts mid-line after a font change at its line's start: it
    follows the piece drawn before it, not precedes it."""
    drawn = [piece("said they would pay", 50, 500, 0), piece("up to 10%", 50, 500, 1)]
    assert read(drawn) == ["said they would pay up to 10%"]
