"""The GPU embedding path, checked on any machine: which hardware `embed_backend = auto` picks
given what is present (scripted: the providers onnxruntime lists, the GPUs the driver shows,
whether torch is a CUDA build), and the GPU code itself run with its device forced to the CPU,
whose vectors must match the CPU path's on real passages. On a GPU machine the same code runs
with CUDA (bench/gpu.py measures it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, SMALL_PDFS, TOOLKIT, copy_with_manifest, settings_for, unavailable

from ingest.embed import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    EmbedPlan,
    choose_embedding,
    detect_embedding,
    embedder_for_plan,
    embedder_name,
    make_embedder,
    resolved_backend,
    visible_gpus,
)

ONNX_GPU = ["TensorrtExecutionProvider", CUDA_PROVIDER, CPU_PROVIDER]  # what onnxruntime-gpu lists


# --------------------------------------------------------------------------- the choice


@pytest.mark.parametrize(("providers", "gpus", "torch_cuda", "backend"), [
    ([CPU_PROVIDER], 0, False, "onnx-int8"),           # a laptop or CI: today's CPU path
    (ONNX_GPU, 0, True, "onnx-int8"),                  # GPU libraries installed, no GPU in the machine
    (ONNX_GPU, 1, False, "onnx-cuda"),                 # onnxruntime-gpu and a GPU
    (ONNX_GPU, 2, True, "onnx-cuda"),                  # both libraries: onnxruntime first (no torch import)
    ([CPU_PROVIDER], 1, True, "torch-cuda"),           # only a CUDA build of torch
    (["AzureExecutionProvider", CPU_PROVIDER], 1, False, "onnx-int8"),  # a GPU nothing here can drive
])
def test_auto_picks_the_gpu_only_when_something_can_drive_it(providers, gpus, torch_cuda, backend) -> None:
    plan = choose_embedding(providers, gpus, torch_cuda)
    assert plan.backend == backend
    assert plan.gpu == (backend != "onnx-int8")
    assert plan.reason
    if backend == "onnx-cuda":
        assert plan.providers == (CUDA_PROVIDER, CPU_PROVIDER)  # the CPU covers any op CUDA lacks
    if backend == "torch-cuda":
        assert (plan.device, plan.half) == ("cuda", True)
    if backend == "onnx-int8":
        assert plan.providers == (CPU_PROVIDER,) and plan.device == "cpu"
    if gpus and backend == "onnx-int8":
        assert "neither onnxruntime-gpu nor a CUDA build of torch" in plan.reason


def test_gpus_are_counted_from_the_driver_files_and_can_be_hidden(tmp_path: Path) -> None:
    assert visible_gpus({}, root=tmp_path) == 0  # no NVIDIA driver
    gpus = tmp_path / "proc" / "driver" / "nvidia" / "gpus"
    for bus in ("0000:17:00.0", "0000:65:00.0"):
        (gpus / bus).mkdir(parents=True)
    assert visible_gpus({}, root=tmp_path) == 2
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1"}, root=tmp_path) == 1
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, root=tmp_path) == 0
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}, root=tmp_path) == 0
    devices = tmp_path / "containers" / "dev"  # a container may show device nodes only
    devices.mkdir(parents=True)
    for name in ("nvidia0", "nvidiactl", "nvidia-uvm"):
        (devices / name).touch()
    assert visible_gpus({}, root=devices.parent) == 1


def test_auto_on_this_machine_agrees_with_what_is_installed() -> None:
    import onnxruntime

    plan = detect_embedding()
    settings = settings_for(Path("/nonexistent"))
    assert settings.embed_backend == "auto"
    assert resolved_backend(settings) == plan.backend
    if visible_gpus() == 0:
        assert plan == choose_embedding([CPU_PROVIDER], 0, False)
        assert embedder_name(settings) == "all-MiniLM-L6-v2-onnx-int8"  # stores built before `auto` still open
    elif CUDA_PROVIDER in onnxruntime.get_available_providers():
        assert plan.backend == "onnx-cuda"


# --------------------------------------------------------------------------- the GPU code, on the CPU


@pytest.fixture(scope="module")
def passages() -> list[str]:
    """Real chunks of a shared-corpus PDF, as the embedder sees them."""
    from ingest.chunk import chunk_pages, embedding_text
    from ingest.load import SourceFile, load

    if not CORPUS.is_dir():
        unavailable("shared corpus not beside the checkout")
    doc = load(SourceFile(CORPUS / "pdf" / TOOLKIT, TOOLKIT))
    chunks = chunk_pages(doc.pages, doc.metadata, 200, 0)
    return [embedding_text(c) for c in chunks][:48]


@pytest.fixture(scope="module")
def cpu_vectors(passages: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The passages through the CPU path `auto` takes here, and through fp32 ONNX (the reference)."""
    settings = settings_for(Path("/nonexistent"))
    default = make_embedder(settings).embed(passages)
    reference = make_embedder(settings.with_overrides(embed_backend="onnx")).embed(passages)
    return default, reference


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape
    return (a * b).sum(axis=1)


@pytest.mark.integration
@pytest.mark.parametrize("gpu_backend", ["onnx-cuda", "torch-cuda"])
def test_gpu_code_path_gives_the_cpu_paths_vectors(gpu_backend: str, passages: list[str], cpu_vectors) -> None:
    """The embedder a GPU machine would build, with its device forced to the CPU: the same
    batching, parallel tokenisation, model call and pooling as on CUDA."""
    default, reference = cpu_vectors
    providers = ONNX_GPU if gpu_backend == "onnx-cuda" else [CPU_PROVIDER]
    plan = choose_embedding(providers, 1, torch_cuda=True)
    assert plan.backend == gpu_backend
    on_cpu = replace(plan, providers=(CPU_PROVIDER,), device="cpu")  # fp16 stays on for torch
    texts = passages if gpu_backend == "onnx-cuda" else passages[:8]  # fp16 on a CPU is slow
    embedder = embedder_for_plan(on_cpu)
    vectors = embedder.embed(texts)
    assert vectors.shape == (len(texts), 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert _cosines(vectors, default[: len(texts)]).min() >= 0.99
    assert _cosines(vectors, reference[: len(texts)]).min() >= 0.999
    # one passage alone, or inside a batch of others, gets the same vector (padding is masked)
    alone = embedder.embed([texts[3]])[0]
    assert float(alone @ vectors[3]) >= 0.999


@pytest.mark.integration
def test_an_ingest_on_the_gpu_plan_matches_the_cpu_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a GPU plan the worker processes only parse and chunk and the ingest's own process
    embeds (one model on the GPU); forced to the CPU, that flow must store what the CPU flow does."""
    from core.store import Store
    from ingest import embed, pipeline
    from ingest.pipeline import ingest

    monkeypatch.setattr(pipeline, "_EMBEDDER", None)  # this process's embedder is made here, and forgotten after
    if not CORPUS.is_dir():
        unavailable("shared corpus not beside the checkout")
    folder = tmp_path / "pdf"
    copy_with_manifest(CORPUS / "pdf", SMALL_PDFS[1:3], folder)
    cpu = settings_for(tmp_path / "cpu")
    assert not ingest([folder], cpu, workers=2).failed

    gpu_plan = choose_embedding(ONNX_GPU, 1, False)
    monkeypatch.setattr(embed, "detect_embedding", lambda: replace(gpu_plan, providers=(CPU_PROVIDER,)))
    gpu = settings_for(tmp_path / "gpu")
    assert resolved_backend(gpu) == "onnx-cuda"
    report = ingest([folder], gpu, workers=2)
    assert not report.failed and report.added == 2 and report.timings["embed"] > 0

    def stored(settings) -> dict[str, np.ndarray]:
        store = Store.open(settings)
        try:
            got = store.collection.get(include=["embeddings"])
            return {i: np.asarray(v) for i, v in zip(got["ids"], got["embeddings"], strict=True)}
        finally:
            store.close()

    a, b = stored(cpu), stored(gpu)
    assert sorted(a) == sorted(b) and a
    assert min(float(a[i] @ b[i]) for i in a) >= 0.99
    store = Store.open(gpu)
    try:
        assert store.get_meta("embedder") == "all-MiniLM-L6-v2-onnx-cuda"
        store.check_embedder("all-MiniLM-L6-v2-onnx-int8", record=False)  # a CPU machine may query it
    finally:
        store.close()


def test_a_plan_names_its_hardware() -> None:
    assert not EmbedPlan("onnx-int8").gpu and EmbedPlan("torch-cuda", device="cuda", half=True).gpu
