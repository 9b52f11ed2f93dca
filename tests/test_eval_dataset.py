"""eval.dataset: bad gold lines fail with the file, line and field; good files round-trip."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import DatasetError
from eval.dataset import Dataset, GoldRef, Question, load_dataset, save_dataset, validate_against

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEV_SET = SHARED / "eval" / "dev_questions.jsonl"
TUNE_SET = SHARED / "eval" / "tune_questions.jsonl"
CORPUS = SHARED / "corpus"
needs_shared = pytest.mark.skipif(not (DEV_SET.exists() and CORPUS.is_dir()), reason="shared data not present")


def _corpus_files() -> set[str]:
    """The real corpus as gold refs name it: `<folder>/<file>` for each MANIFEST.csv row, plus
    folders without a manifest listed from disk. Built from the corpus, never from a gold set."""
    files: set[str] = set()
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        manifest = folder / "MANIFEST.csv"
        if manifest.exists():
            with manifest.open(encoding="utf-8", newline="") as fh:
                names = [row["file"] for row in csv.DictReader(fh)]
            assert all((folder / n).is_file() for n in names), f"{manifest} lists a file that is not there"
        else:
            names = [p.name for p in folder.iterdir() if p.is_file()]
        files.update(f"{folder.name}/{n}" for n in names)
    return files


def _row(qid: str = "q1", **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": qid,
        "question": "What does Article 4 define?",
        "language": "en",
        "answerable": True,
        "reference_answer": "Trafficking in human beings.",
        "required_facts": ["trafficking"],
        "gold": [{"file": "other/treaty.md", "page": None, "quote": "trafficking in human beings"}],
        "category": "definition",
        "difficulty": "easy",
    }
    row.update(changes)
    return row


def _write(tmp_path: Path, lines: list[str | dict[str, Any]]) -> Path:
    path = tmp_path / "gold.jsonl"
    text = "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines)
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    return info.value


def test_loads_valid_file_with_blank_lines(tmp_path: Path) -> None:
    unanswerable = _row("q3", answerable=False, gold=[], required_facts=[], category="unanswerable")
    path = _write(tmp_path, [_row("q1"), "", "   ", _row("q2", category="fact"), unanswerable])
    ds = load_dataset(path)
    assert len(ds) == 3
    assert ds.path == path
    assert ds.lines == {"q1": 1, "q2": 4, "q3": 5}
    assert [q.id for q in ds.answerable()] == ["q1", "q2"]
    assert [q.id for q in ds.unanswerable()] == ["q3"]
    assert list(ds.by_category()) == ["definition", "fact", "unanswerable"]
    assert [q.id for q in ds.of_category("fact")] == ["q2"]
    q1 = ds.get("q1")
    assert q1 is not None
    assert q1.gold == [GoldRef("other/treaty.md", None, "trafficking in human beings")]
    assert q1.synthetic is False
    assert ds.get("nope") is None


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ('{"id": "q2", "question": ', ["malformed JSON"]),
        ('["not", "an", "object"]', ["JSON object"]),
        (_row("q2", answerable="yes"), ["'answerable'", "true or false"]),
        (_row("q2", language="eng"), ["'language'", "2-letter"]),
        (_row("q2", language="EN"), ["'language'"]),
        (_row("q2", gold=[]), ["'gold'", "answerable"]),
        (_row("q2", gold=[{"file": "a.pdf", "page": 0, "quote": "x"}]), ["gold[0].", "'page'", "positive"]),
        (_row("q2", gold=[{"file": "a.pdf", "page": "3", "quote": "x"}]), ["'page'"]),
        (_row("q2", gold=[{"file": "a.pdf", "page": True, "quote": "x"}]), ["'page'"]),
        (_row("q2", gold=[{"file": "a.pdf", "page": 2}]), ["missing", "gold[0].'quote'"]),
        (_row("q2", gold=[{"file": "", "page": 2, "quote": "x"}]), ["gold[0].'file'", "empty"]),
        (_row("q2", category="trivia"), ["'category'", "trivia"]),
        (_row("q2", category="unanswerable"), ["'answerable'", "unanswerable"]),
        (_row("q2", difficulty="extreme"), ["'difficulty'"]),
        (_row("q2", required_facts="trafficking"), ["'required_facts'", "list"]),
        (_row("q2", required_facts=[""]), ["required_facts[0]"]),
        (_row("q2", question=42), ["'question'", "string"]),
        (_row("q2", synthetic="no"), ["'synthetic'"]),
        (_row("q2", notes="x"), ["unknown field", "'notes'"]),
        ({k: v for k, v in _row("q2").items() if k != "reference_answer"}, ["missing", "'reference_answer'"]),
    ],
)
def test_bad_line_names_file_line_and_field(
    tmp_path: Path, bad: str | dict[str, Any], words: list[str]
) -> None:
    path = _write(tmp_path, [_row("q1"), bad])
    err = _error(path)
    assert err.path == str(path)
    assert err.line == 2
    assert str(err).startswith(f"{path}:2: ")
    for word in words:
        assert word in err.reason


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row("q1"), "", "", _row("q2", language="english")])
    assert _error(path).line == 4


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row("q1"), _row("q2"), _row("q1")])
    err = _error(path)
    assert err.line == 3
    assert "duplicate id 'q1'" in err.reason
    assert "line 1" in err.reason


def test_missing_empty_and_undecodable_files(tmp_path: Path) -> None:
    err = _error(tmp_path / "absent.jsonl")
    assert err.line is None and "no such file" in err.reason
    assert "no questions" in _error(_write(tmp_path, ["", ""])).reason
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(json.dumps(_row("q1")).encode() + b"\n" + b'{"id": "caf\xe9"}\n')
    err = _error(bad)
    assert err.line == 2 and "UTF-8" in err.reason


def test_synthetic_category_and_flag(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row("s1", category="synthetic", synthetic=True)])
    q = load_dataset(path).questions[0]
    assert q.synthetic is True and q.category == "synthetic"


def test_save_round_trip_keeps_synthetic_flag(tmp_path: Path) -> None:
    questions = [
        Question(
            id="s1",
            question="Quelle est la définition ?",
            language="fr",
            answerable=True,
            reference_answer="",
            required_facts=["7,905"],
            gold=[GoldRef("pdf/a.pdf", 3, "a quote")],
            category="synthetic",
            difficulty="medium",
            synthetic=True,
        ),
        Question(
            id="h1",
            question="Is it there?",
            language="en",
            answerable=False,
            reference_answer="Not answerable.",
            required_facts=[],
            gold=[],
            category="unanswerable",
            difficulty="hard",
        ),
    ]
    path = save_dataset(questions, tmp_path / "out" / "drafts.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["synthetic"] is True
    assert "synthetic" not in rows[1]
    assert list(rows[1]) == [
        "id", "question", "language", "answerable", "reference_answer",
        "required_facts", "gold", "category", "difficulty",
    ]  # fmt: skip
    assert "définition" in path.read_text(encoding="utf-8")  # written as UTF-8, not \u escapes
    ds = load_dataset(path)
    assert ds.questions == questions
    # a Dataset saves too
    again = save_dataset(ds, tmp_path / "again.jsonl")
    assert again.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_save_refuses_what_would_not_load(tmp_path: Path) -> None:
    good = load_dataset(_write(tmp_path, [_row("q1")])).questions[0]
    bad = Question(**{**good.__dict__, "id": "q2", "gold": []})
    target = tmp_path / "out.jsonl"
    with pytest.raises(DatasetError) as info:
        save_dataset([good, bad], target)
    assert info.value.line == 2 and "'gold'" in info.value.reason
    with pytest.raises(DatasetError, match="duplicate id"):
        save_dataset([good, good], target)
    with pytest.raises(DatasetError, match="no questions"):
        save_dataset([], target)
    assert not target.exists()


def test_validate_against_names_line_of_unknown_file(tmp_path: Path) -> None:
    other = _row("q2", gold=[{"file": "pdf/missing.pdf", "page": 4, "quote": "x"}])
    ds = load_dataset(_write(tmp_path, [_row("q1"), "", other]))
    validate_against(ds, {"other/treaty.md", "pdf/missing.pdf"})
    with pytest.raises(DatasetError) as info:
        validate_against(ds, {"other/treaty.md"})
    assert info.value.line == 3
    assert "pdf/missing.pdf" in info.value.reason and "gold[0].file" in info.value.reason


@needs_shared
def test_real_dev_set_loads() -> None:
    ds = load_dataset(DEV_SET)
    assert isinstance(ds, Dataset)
    assert len(ds) == 50
    assert len(ds.answerable()) == 40
    assert len(ds.unanswerable()) == 10
    assert len(ds.of_category("cross_lingual")) == 3
    assert len(ds.of_category("multi_hop")) == 7
    assert all(q.gold for q in ds.answerable())
    assert any(g.page is None for q in ds for g in q.gold)  # the treaties


@needs_shared
@pytest.mark.parametrize("path", [DEV_SET, TUNE_SET], ids=["dev", "tune"])
def test_real_sets_name_only_files_of_the_real_corpus(path: Path) -> None:
    corpus = _corpus_files()
    assert len(corpus) > 40 and "pages/resource-page-national-referral-mechanisms.txt" in corpus
    validate_against(load_dataset(path), corpus)


@needs_shared
def test_question_naming_a_file_outside_the_corpus_is_rejected(tmp_path: Path) -> None:
    lines = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()[:3]]
    lines[2]["gold"][0]["file"] = "pdf/not-in-the-corpus-2099.pdf"
    path = _write(tmp_path, [lines[0], lines[1], "", lines[2]])
    with pytest.raises(DatasetError) as info:
        validate_against(load_dataset(path), _corpus_files())
    err = info.value
    assert err.line == 4  # the blank line counts
    assert str(err).startswith(f"{path}:4: ")
    assert "gold[0].file" in err.reason and "'pdf/not-in-the-corpus-2099.pdf'" in err.reason
