"""The second-stage ranker: its evidence, its order, and how fitted.json switches it on or off."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.fitted import PATH, Ranker, load
from assistant.rerank import FEATURES, Candidate, features, rerank
from core.types import Chunk

QUESTION = "How long is the recovery and reflection period for adult victims?"


def _candidate(i: int, text: str, fused: float, *, source: str = "a.pdf", page: int = 1,
               dense: float | None = 0.5, keyword: float | None = None, section: str = "") -> Candidate:
    meta = {"title": f"Report {source}", "section": section}
    return Candidate(Chunk(f"c{i}", source, page, 0, len(text), text, meta), fused, dense, keyword)


def _pool() -> list[Candidate]:
    return [
        _candidate(1, "Annual report of the agency, 2019. Contents 1 2 3 4 5 6.", 0.05, source="b.pdf", dense=0.6),
        _candidate(2, "Staff were trained in many regions during the year under review.", 0.04, source="c.pdf"),
        _candidate(3, "Adult victims are given a recovery and reflection period of at least 45 days. "
                      "During the period they receive support.", 0.03, keyword=9.0, section="Recovery period"),
    ]


def only(name: str, weight: float = 1.0) -> Ranker:
    """A scripted ranker that reads one feature."""
    return Ranker(FEATURES, tuple(0.0 for _ in FEATURES), tuple(1.0 for _ in FEATURES),
                  tuple(weight if n == name else 0.0 for n in FEATURES))


def test_evidence_says_which_candidate_covers_the_question() -> None:
    rows = features(QUESTION, _pool())
    assert set(rows[0]) == set(FEATURES)
    assert rows[2]["text_cover"] > rows[0]["text_cover"] and rows[2]["window_cover"] > rows[1]["window_cover"]
    assert rows[2]["title_cover"] > rows[1]["title_cover"]  # "recovery period" is its section
    assert rows[0]["fused_rank"] == 1.0 and rows[0]["fused"] == 1.0
    assert rows[0]["prose"] < rows[2]["prose"]  # a contents line is mostly numbers
    assert rows[2]["keyword"] == 1.0 and rows[0]["keyword"] == 0.0 and rows[2]["both"] == 1.0


def test_a_fitted_ranker_moves_the_covering_passage_first() -> None:
    pool = _pool()
    assert [c.chunk.id for c in rerank(QUESTION, pool, only("window_cover"))][0] == "c3"
    # a model that trusts fusion alone keeps the fused order
    assert [c.chunk.id for c in rerank(QUESTION, pool, only("fused"))] == ["c1", "c2", "c3"]


def test_fitted_json_switches_the_ranker_on_and_off(tmp_path: Path) -> None:
    data = json.loads(PATH.read_text())
    data["ranker"] = None
    path = tmp_path / "fitted.json"
    path.write_text(json.dumps(data))
    assert load(path).ranker is None
    data["ranker"] = only("text_cover").to_dict()
    path.write_text(json.dumps(data))
    assert load(path).ranker == only("text_cover")
