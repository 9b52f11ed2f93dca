"""Typed gold-set questions, loaded from and saved to JSON Lines.

Every evaluation number rests on this file, so the loader is strict: a bad line
stops the run with a `DatasetError` naming the file, the line number and the
field, rather than quietly skewing a metric.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import DatasetError

CATEGORIES: frozenset[str] = frozenset(
    {"fact", "definition", "list", "multi_hop", "cross_lingual", "unanswerable", "synthetic"}
)
DIFFICULTIES: frozenset[str] = frozenset({"easy", "medium", "hard"})

# The order fields are written in, matching the hand-written set so diffs stay small.
_FIELDS: tuple[str, ...] = (
    "id",
    "question",
    "language",
    "answerable",
    "reference_answer",
    "required_facts",
    "gold",
    "category",
    "difficulty",
)
_OPTIONAL_FIELDS: tuple[str, ...] = ("synthetic",)
_GOLD_FIELDS: tuple[str, ...] = ("file", "page", "quote")
_LANGUAGE = re.compile(r"[a-z]{2}")


@dataclass(frozen=True)
class GoldRef:
    """One piece of evidence: a corpus file, its 1-based page (None for a whole text file) and a verbatim quote."""

    file: str
    page: int | None
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "page": self.page, "quote": self.quote}


@dataclass
class Question:
    """A gold question with what a correct answer must say and where the evidence is."""

    id: str
    question: str
    language: str
    answerable: bool
    reference_answer: str
    required_facts: list[str]
    gold: list[GoldRef]
    category: str
    difficulty: str
    synthetic: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one line; `synthetic` only appears when true, like the hand-written set."""
        out: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "language": self.language,
            "answerable": self.answerable,
            "reference_answer": self.reference_answer,
            "required_facts": list(self.required_facts),
            "gold": [g.to_dict() for g in self.gold],
            "category": self.category,
            "difficulty": self.difficulty,
        }
        if self.synthetic:
            out["synthetic"] = True
        return out


@dataclass
class Dataset:
    """The questions of one file, with the line each came from so later checks can point at it."""

    questions: list[Question]
    path: Path
    lines: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def get(self, qid: str) -> Question | None:
        """The question with this id, or None."""
        return next((q for q in self.questions if q.id == qid), None)

    def answerable(self) -> list[Question]:
        """Questions the corpus answers: the ones retrieval and answer metrics are scored on."""
        return [q for q in self.questions if q.answerable]

    def unanswerable(self) -> list[Question]:
        """Questions the assistant should decline: the positives of the abstention metrics."""
        return [q for q in self.questions if not q.answerable]

    def by_category(self) -> dict[str, list[Question]]:
        """Questions grouped by category, in first-seen order, for per-category reports."""
        groups: dict[str, list[Question]] = {}
        for q in self.questions:
            groups.setdefault(q.category, []).append(q)
        return groups

    def of_category(self, category: str) -> list[Question]:
        """Questions of one category (unknown names give an empty list)."""
        return [q for q in self.questions if q.category == category]


class _LineError(Exception):
    """A validation failure inside one line; the loader adds the path and line number."""


def _require_str(obj: dict[str, Any], key: str, *, empty_ok: bool = False, where: str = "") -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise _LineError(f"field {where}{key!r} must be a string, got {type(value).__name__}")
    if not empty_ok and not value.strip():
        raise _LineError(f"field {where}{key!r} must not be empty")
    return value


def _check_fields(
    obj: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...], where: str
) -> None:
    missing = [k for k in required if k not in obj]
    if missing:
        raise _LineError(f"missing required field {where}{missing[0]!r}")
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        raise _LineError(f"unknown field {where}{unknown[0]!r} (allowed: {', '.join(required + optional)})")


def _parse_gold(value: Any, index: int) -> GoldRef:
    where = f"gold[{index}]."
    if not isinstance(value, dict):
        raise _LineError(f"field 'gold[{index}]' must be an object, got {type(value).__name__}")
    _check_fields(value, _GOLD_FIELDS, (), where)
    file = _require_str(value, "file", where=where)
    page = value["page"]
    # bool is an int subclass: reject it explicitly so `true` is not read as page 1.
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        raise _LineError(f"field {where}'page' must be a positive integer or null, got {page!r}")
    quote = _require_str(value, "quote", where=where)
    return GoldRef(file=file, page=page, quote=quote)


def _parse_question(obj: Any) -> Question:
    """Validate one decoded line; raises _LineError naming the field."""
    if not isinstance(obj, dict):
        raise _LineError(f"expected a JSON object, got {type(obj).__name__}")
    _check_fields(obj, _FIELDS, _OPTIONAL_FIELDS, "")
    qid = _require_str(obj, "id")
    question = _require_str(obj, "question")
    language = _require_str(obj, "language")
    if not _LANGUAGE.fullmatch(language):
        raise _LineError(f"field 'language' must be a 2-letter lowercase code like 'en', got {language!r}")
    answerable = obj["answerable"]
    if not isinstance(answerable, bool):
        raise _LineError(f"field 'answerable' must be true or false, got {answerable!r}")
    reference_answer = _require_str(obj, "reference_answer", empty_ok=True)
    facts = obj["required_facts"]
    if not isinstance(facts, list):
        raise _LineError(f"field 'required_facts' must be a list, got {type(facts).__name__}")
    for i, fact in enumerate(facts):
        if not isinstance(fact, str) or not fact.strip():
            raise _LineError(f"field 'required_facts[{i}]' must be a non-empty string, got {fact!r}")
    gold_raw = obj["gold"]
    if not isinstance(gold_raw, list):
        raise _LineError(f"field 'gold' must be a list, got {type(gold_raw).__name__}")
    gold = [_parse_gold(g, i) for i, g in enumerate(gold_raw)]
    if answerable and not gold:
        raise _LineError(
            "field 'gold' is empty but 'answerable' is true: an answerable question needs evidence"
        )
    category = _require_str(obj, "category")
    if category not in CATEGORIES:
        raise _LineError(f"field 'category' is {category!r}; expected one of {', '.join(sorted(CATEGORIES))}")
    if category == "unanswerable" and answerable:
        raise _LineError("field 'answerable' is true but 'category' is 'unanswerable'")
    difficulty = _require_str(obj, "difficulty")
    if difficulty not in DIFFICULTIES:
        raise _LineError(
            f"field 'difficulty' is {difficulty!r}; expected one of {', '.join(sorted(DIFFICULTIES))}"
        )
    synthetic = obj.get("synthetic", False)
    if not isinstance(synthetic, bool):
        raise _LineError(f"field 'synthetic' must be true or false, got {synthetic!r}")
    return Question(
        id=qid,
        question=question,
        language=language,
        answerable=answerable,
        reference_answer=reference_answer,
        required_facts=list(facts),
        gold=gold,
        category=category,
        difficulty=difficulty,
        synthetic=synthetic,
    )


def _parse_lines(lines: Iterable[tuple[int, str]], path: Path) -> Dataset:
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for lineno, raw in lines:
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DatasetError(str(path), lineno, f"malformed JSON: {exc.msg} (column {exc.colno})") from None
        try:
            q = _parse_question(obj)
        except _LineError as exc:
            raise DatasetError(str(path), lineno, str(exc)) from None
        if q.id in seen:
            raise DatasetError(str(path), lineno, f"duplicate id {q.id!r} (first on line {seen[q.id]})")
        seen[q.id] = lineno
        questions.append(q)
    if not questions:
        raise DatasetError(str(path), None, "no questions in file")
    return Dataset(questions=questions, path=path, lines=seen)


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a gold set (one JSON object a line, blank lines allowed), validating every line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(str(p), None, "no such file") from None
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise DatasetError(str(p), line, "not valid UTF-8") from None
    except OSError as exc:
        raise DatasetError(str(p), None, f"cannot read: {exc.strerror or exc}") from None
    return _parse_lines(enumerate(text.splitlines(), start=1), p)


def stratified_folds(questions: Sequence[Question], k: int, seed: int = 0) -> list[int]:
    """A cross-validation fold index per question, each category spread evenly over the k folds,
    so every fitting script (bench/fit.py, bench/fit_answers.py) holds out the same questions."""
    import numpy as np

    rng = np.random.default_rng(seed)
    fold = [0] * len(questions)
    by_cat: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_cat.setdefault(q.category, []).append(i)
    offset = 0
    for cat in sorted(by_cat):
        idx = by_cat[cat]
        for j, i in enumerate(rng.permutation(idx)):
            fold[int(i)] = (j + offset) % k
        offset += len(idx)
    return fold


def validate_against(dataset: Dataset, known_sources: set[str]) -> None:
    """Fail on gold files the store does not hold: their questions could never score a hit."""
    unknown: list[tuple[int | None, str, int]] = []
    for q in dataset.questions:
        for i, g in enumerate(q.gold):
            if g.file not in known_sources:
                unknown.append((dataset.lines.get(q.id), g.file, i))
    if unknown:
        line, file, i = unknown[0]
        more = f" (and {len(unknown) - 1} more unknown gold file(s))" if len(unknown) > 1 else ""
        raise DatasetError(
            str(dataset.path), line, f"field 'gold[{i}].file' {file!r} is not in the store{more}"
        )


def save_dataset(questions: Iterable[Question] | Dataset, path: str | os.PathLike[str]) -> Path:
    """Write questions in the loader's format, validating first so a saved file always loads back."""
    p = Path(path)
    items = list(questions)
    if not items:
        raise DatasetError(str(p), None, "no questions to save")
    out_lines: list[str] = []
    seen: dict[str, int] = {}
    for lineno, q in enumerate(items, start=1):
        obj = q.to_dict()
        try:
            _parse_question(obj)
        except _LineError as exc:
            raise DatasetError(str(p), lineno, f"question {q.id!r} would not load back: {exc}") from None
        if q.id in seen:
            raise DatasetError(str(p), lineno, f"duplicate id {q.id!r} (first on line {seen[q.id]})")
        seen[q.id] = lineno
        out_lines.append(json.dumps(obj, ensure_ascii=False))
    p.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(p, "".join(line + "\n" for line in out_lines))  # never half a gold set
    return p


def write_text_atomic(path: Path, text: str) -> None:
    """Write beside the target and rename, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these files are for reading
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
