"""Shared fixtures for Lantern's tests.

Stores are built from real files, with the real embedder and the real Chroma:

* `small_corpus` (session): a folder laid out like the shared corpus (`pdf/`, `other/`,
  `pages/`, each with the MANIFEST.csv rows of its files) holding four small real PDFs, one
  English/Dutch treaty and the captured resource page. Skips when `../shared` is absent.
* `small_store` (session): `Settings` of a store built from `small_corpus` (its sources are
  `pdf/<file>.pdf`, `other/<file>.md`, `pages/<file>.txt`). Read-only: copy it to mutate.
* `sample_store` (session): `Settings` of a store built from the bundled
  `ingest/sample_corpus` (4 Markdown + 2 PDF files). Read-only as well.
* `settings_for(tmp_path, **overrides)`: Settings for a store at `tmp_path/"store"`, from
  defaults only (no environment, no config file), plus `overrides`.
* `lantern_cli(*args, ...)`: runs the installed `lantern` command in a subprocess and returns
  the `CompletedProcess` (text mode, output captured).
* `chroma_server` (module): a real `chroma run` on a free loopback port; yields "host:port".

The module constants `SHARED`, `SAMPLE_CORPUS`, `SMALL_PDFS`, `TOOLKIT`, `TREATY` and
`RESOURCE_PAGE` name the files these fixtures use.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.local_server import CHROMA, ServerDidNotStart, start_chroma, stop_process
from core.settings import Settings, offline_environment

offline_environment()  # before chromadb, tokenizers or onnxruntime are imported anywhere

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"
SAMPLE_CORPUS = REPO / "ingest" / "sample_corpus"
BIN = Path(sys.executable).parent

TOOLKIT = "uk-home-office-first-responder-toolkit-nrm-england-wales-2026.pdf"
SMALL_PDFS = (
    TOOLKIT,  # 23 pages; gold quote on page 22
    "unodc-human-trafficking-indicators.pdf",  # 2 pages; defines /PageLabels
    "fbi-ucr-human-trafficking-2014.pdf",  # 11 pages of tables
    "uk-home-office-nrm-first-responder-form-offline-prompt-sheet-2026.pdf",  # 36 short pages
)
TREATY = "ilo-c105-abolition-of-forced-labour-convention-1957.md"  # English, then Dutch
RESOURCE_PAGE = "resource-page-national-referral-mechanisms.txt"

STRICT = os.environ.get("LANTERN_TEST_STRICT") == "1"  # set by `make test`: CI must run every test


def ledger_states(ledger: Path) -> list[str]:
    """Each document's state in a store's ledger, read-only ([] while it cannot be read: a writer
    may be mid-way, or the file half-made by a killed run)."""
    try:
        db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=1)
        try:
            return [r[0] for r in db.execute("SELECT state FROM documents")]
        finally:
            db.close()
    except sqlite3.Error:
        return []


def unavailable(reason: str) -> None:
    """Skip a test whose prerequisite is missing; under `make test` (CI), fail instead."""
    if STRICT:
        pytest.fail(f"{reason} (make test runs every test: install it, or run pytest directly to skip)")
    pytest.skip(reason)


needs_shared = pytest.mark.skipif(
    not CORPUS.is_dir() and not STRICT, reason="shared corpus not beside the checkout"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests not marked `integration` form the unit tier (`make unit`, `pytest -m unit`)."""
    for item in items:
        if item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.unit)


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a store in `tmp_path/store`, from defaults and `overrides` only."""
    overrides.setdefault("store", tmp_path / "store")
    return Settings.load(environ={}, **overrides)


def lantern_command() -> list[str]:
    """The installed `lantern` entry point (or the module, if the script is missing)."""
    script = BIN / "lantern"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def run_lantern(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `lantern ARGS...` and wait; `env` entries are added to this process's environment."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*lantern_command(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
        env=full_env, cwd=cwd,
    )


def copy_with_manifest(src_dir: Path, names: list[str] | tuple[str, ...], dest: Path) -> None:
    """Copy `names` from `src_dir` into `dest`, with a MANIFEST.csv holding only their rows."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(src_dir / name, dest / name)
    manifest = src_dir / "MANIFEST.csv"
    if manifest.exists():
        with open(manifest, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [row for row in reader if row["file"] in names]
            header = reader.fieldnames or []
        with open(dest / "MANIFEST.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)


def _build(folder: Path, settings: Settings) -> Settings:
    from ingest.pipeline import ingest

    report = ingest([folder], settings)
    assert not report.failed, f"building the fixture store failed: {report.failed}"
    assert report.documents > 0
    return settings


def ingested_pdfs(tmp_path_factory: pytest.TempPathFactory, names: list[str] | tuple[str, ...], label: str,
                  **overrides: Any) -> Settings:
    """Settings of a store holding only these shared-corpus PDFs (copied without manifest rows),
    ingested under `settings_for(**overrides)`."""
    if not all((CORPUS / "pdf" / name).exists() for name in names):
        unavailable("shared corpus not beside the checkout")
    folder = tmp_path_factory.mktemp(f"{label}_corpus")
    for name in names:
        shutil.copy2(CORPUS / "pdf" / name, folder / name)
    return _build(folder, settings_for(tmp_path_factory.mktemp(label), **overrides))


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real corpus folder: pdf/ (4 PDFs), other/ (1 treaty), pages/ (1 resource page)."""
    if not CORPUS.is_dir():
        unavailable("shared corpus not beside the checkout")
    root = tmp_path_factory.mktemp("small_corpus")
    copy_with_manifest(CORPUS / "pdf", SMALL_PDFS, root / "pdf")
    copy_with_manifest(CORPUS / "other", (TREATY,), root / "other")
    (root / "pages").mkdir()
    shutil.copy2(CORPUS / "pages" / RESOURCE_PAGE, root / "pages" / RESOURCE_PAGE)
    return root


@pytest.fixture(scope="session")
def small_store(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a store built once from `small_corpus` (do not modify it)."""
    return _build(small_corpus, settings_for(tmp_path_factory.mktemp("small_store")))


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a store built once from the bundled sample corpus (do not modify it)."""
    return _build(SAMPLE_CORPUS, settings_for(tmp_path_factory.mktemp("sample_store")))


@pytest.fixture(name="settings_for")
def settings_for_fixture() -> Callable[..., Settings]:
    """The `settings_for(tmp_path, **overrides)` helper, as a fixture."""
    return settings_for


@pytest.fixture
def lantern_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The `run_lantern(*args, env=None, timeout=300, cwd=None)` helper, as a fixture."""
    return run_lantern


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` on a free local port; yields host:port."""
    if not CHROMA.exists():
        unavailable("chroma CLI not installed")
    data = tmp_path_factory.mktemp("chroma_server")
    try:
        proc, address = start_chroma(data / "db", data / "server.log", wait_s=60)
    except ServerDidNotStart as e:
        pytest.fail(f"chroma server did not start: {e}")
    try:
        yield address
    finally:
        stop_process(proc, 15)
