"""What a retrieved chunk is made of: answer sentences, list blocks, and the layout around them.

An extractive answer may only quote prose, so every line of a chunk is labelled first (by
`ingest.layout`, which ingest also reads section headings from; its names are re-exported here)
and only sentences and lists become answer units. Headings and
source questions ("5. What criteria does the agency use…?") are kept as the *context* of the units
under them: they say what a passage is about without being an answer themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.text import sentence_spans
from ingest.layout import (
    BULLET,
    is_boilerplate,
    is_contents,
    is_fragment,
    is_heading,
    is_reference,
    is_reference_list,
    is_title_run,
    line_labels,
    strip_footnote_digits,
)

__all__ = ["BULLET", "Unit", "clean", "is_boilerplate", "is_contents", "is_fragment", "is_heading", "is_reference",
           "is_reference_list", "is_title_run", "line_labels", "strip_footnote_digits", "units"]

_CAPS_RUN = re.compile(r"^(?:[A-Z][A-Z’'&,-]+\s+){2,}(?=[A-Z][a-z])")

@dataclass(frozen=True)
class Unit:
    """Something an answer may quote: a sentence, one list item, or a whole list with its lead-in.

    `start`/`end` are offsets into the chunk text; `parts` are the cleaned pieces to show (one
    for a sentence, the lead-in and each item for a list), each of which gets its own [n];
    `context` is the heading or source question the unit sits under (for scoring only).
    """

    start: int
    end: int
    parts: tuple[str, ...]
    kind: str  # "sentence" | "item" | "list"
    context: str = ""

    @property
    def text(self) -> str:
        return " ".join(self.parts)


# --------------------------------------------------------------------------- units


# Markdown emphasis around words ("(*c*)", "*inter alia*", "**Article 2**"): a treaty text's
# letters and Latin, shown as the reader sees them rendered. An asterisk that opens or closes nothing
# (a footnote mark, "2022*") stays, and so does a run-in heading's ("**Referral.** The form…"): without
# it the checker would read "Referral." as a sentence of its own.
_EMPHASIS = re.compile(r"(?<![\w*])(\*{1,3})(?=[^\s*])([^*\n]*?[^\s*.:!?])\1(?![a-z\d*])")


def clean(text: str) -> str:
    """A span as shown: one space between words, footnote digits gone, a leading caps heading cut,
    Markdown emphasis marks dropped."""
    t = strip_footnote_digits(" ".join(text.split()))
    return _EMPHASIS.sub(r"\2", _CAPS_RUN.sub("", t))


_MAX_ITEMS = 15


def units(text: str, section: str | None = None) -> list[Unit]:
    """The answer units of a chunk, in reading order: prose sentences, list items and whole lists.

    Headings, contents lines, boilerplate, reference entries and questions never become units;
    a heading or question is the context of what follows it. A chunk under a reference list's
    heading (`section`, its path from ingest) has none: a title in a bibliography reads like a sentence.
    """
    if is_reference_list(section):
        return []
    labels = line_labels(text)
    masked = list(text)
    for s, e, label in labels:
        if label != "text":
            masked[s:e] = " " * (e - s)
    prose: list[tuple[int, int, str]] = []  # (start, end, label) of sentences and skipped lines
    for span in sentence_spans("".join(masked)):
        shown = clean(text[span.start:span.end])
        if shown.endswith("?"):
            kind = "question"
        elif is_reference(shown) or is_boilerplate(shown) or is_title_run(shown):
            kind = "skip"
        else:
            kind = "sentence"
        prose.append((span.start, span.end, kind))
    events = sorted(prose + [(s, e, lab) for s, e, lab in labels if lab != "text"])
    out: list[Unit] = []
    context = ""
    run: list[tuple[int, int]] = []
    last_sentence: Unit | None = None
    previous = ""
    for start, end, kind in [*events, (len(text) + 1, len(text) + 1, "end")]:
        if kind == "item":
            run.append((start, end))
            previous = kind
            continue
        if run:
            out.extend(_list_units(text, run, last_sentence, context))
            run = []
        if kind in ("heading", "question"):
            line = clean(text[start:end])
            context = f"{context} {line}" if previous in ("heading", "question") else line
            last_sentence = None
        elif kind == "sentence":
            unit = Unit(start, end, (clean(text[start:end]),), "sentence", context)
            out.append(unit)
            last_sentence = unit
        previous = kind
    return out


def _list_units(text: str, run: list[tuple[int, int]], lead: Unit | None, context: str) -> list[Unit]:
    items = [Unit(s, e, (clean(text[s:e]),), "item", (lead.text if lead else context)) for s, e in run]
    items = [i for i in items if not i.text.endswith("?")]  # a list of questions asks, it does not answer
    if len(items) < 2:
        return items
    kept = items[:_MAX_ITEMS]
    parts = tuple(i.parts[0] for i in kept)
    start = kept[0].start
    if lead is not None:
        parts = (lead.parts[0], *parts)
        start = lead.start
    return [*items, Unit(start, kept[-1].end, parts, "list", context)]
