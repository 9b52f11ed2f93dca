"""No answer sentence is page furniture: over the gold questions whose evidence is in the small
store, every sentence Lantern answers with is checked against the span labels of the page it
was cut from (assistant/spans.py): never a heading, a reference entry, a contents line or a
download/boilerplate line, and never prose with a heading glued in front of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import SHARED, SMALL_PDFS, TREATY

from assistant.api import Lantern
from assistant.spans import clean, is_boilerplate, is_contents, is_reference, line_labels
from core.settings import Settings
from core.text import claims, strip_markers

pytestmark = pytest.mark.integration

FURNITURE = {"heading", "reference", "contents", "boilerplate"}


def gold_questions_in_small_store() -> list[dict]:
    """Answerable English gold questions whose first gold file is one the small store holds."""
    held = set(SMALL_PDFS) | {TREATY}
    out = []
    for name in ("dev_questions.jsonl", "tune_questions.jsonl"):
        path = SHARED / "eval" / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            if q["answerable"] and q["language"] == "en" and Path(q["gold"][0]["file"]).name in held:
                out.append(q)
    return out


def _plain(text: str) -> str:
    return re.sub(r"\W+", " ", clean(text)).strip().lower()


def test_no_answer_sentence_is_a_heading_reference_contents_or_download_line(small_store: Settings) -> None:
    questions = gold_questions_in_small_store()
    assert len(questions) >= 10, "the gold sets should hold at least 10 questions over the small store's files"
    lantern = Lantern(small_store)
    checked = furniture_seen = 0
    try:
        for q in questions:
            answer = lantern.ask(q["question"])
            if answer.abstained:
                continue
            furniture: set[str] = set()
            lines: set[str] = set()  # the furniture lines as printed, to tell a glued heading from prose
            for hit in answer.retrieved:
                page = lantern.store.page_text(hit.chunk.source, hit.chunk.page) or ""
                furniture |= {_plain(page[s:e]) for s, e, label in line_labels(page) if label in FURNITURE}
                lines |= {clean(page[s:e]) for s, e, label in line_labels(page) if label in FURNITURE}
            furniture.discard("")
            furniture_seen += len(furniture)
            for sentence in claims(strip_markers(answer.text)):
                shown = _plain(sentence)
                assert not is_reference(sentence), (q["id"], sentence)
                assert not is_contents(sentence) and not is_boilerplate(sentence), (q["id"], sentence)
                assert shown not in furniture, (q["id"], "a furniture line given as an answer", sentence)
                inside = [f for f in furniture if len(shown.split()) >= 3 and f" {shown} " in f" {f} "]
                assert not inside, (q["id"], "part of a furniture line (a title in a bibliography)", sentence)
                # "The economics of slavery These forms…"; not "Human Trafficking, 2014, marks the second
                # report…", prose that opens with its report's title under that title
                glued = [f for f in lines if len(f.split()) >= 2 and clean(sentence).startswith(f + " ")]
                assert not glued, (q["id"], "a heading glued to a sentence", sentence, glued)
                checked += 1
    finally:
        lantern.close()
    assert checked >= 20 and furniture_seen > 0  # the check had lines to compare against
