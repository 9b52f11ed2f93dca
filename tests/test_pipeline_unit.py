"""The whole path, ingest → store → retrieve → answer → cite, in seconds: the hashing embedder
stands in for MiniLM (as simonw/llm's and pydantic-ai's test models do), Chroma and the
ledger are real. What the real model adds (ranking quality, calibrated abstention) is tested
in the integration tier."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_CORPUS, settings_for

from assistant.api import Lantern
from core.settings import Settings
from ingest.embed import HashEmbedder, make_embedder
from ingest.pipeline import _pool_context, ingest


@pytest.fixture(scope="module")
def hash_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("hash_store")
    corpus = tmp / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    settings = settings_for(tmp, embed_backend="hash")
    report = ingest([corpus], settings)
    assert not report.failed and report.added == 6
    return settings


def test_hash_embedder_is_deterministic_and_lexical() -> None:
    embedder = make_embedder(settings_for(Path("/nonexistent"), embed_backend="hash"))
    assert isinstance(embedder, HashEmbedder)
    a, b, c, again = embedder.embed([
        "Safe accommodation for victims of trafficking",
        "victims need safe accommodation",
        "Supply chain audits of cotton suppliers",
        "Safe accommodation for victims of trafficking",
    ])
    assert np.allclose(a, again) and abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert float(a @ b) > 0.5 > float(a @ c)
    assert embedder.embed([]).shape == (0, 384)


def test_ask_cites_a_page_that_holds_the_quote(hash_settings: Settings) -> None:
    with Lantern.open(settings=hash_settings) as lantern:
        answer = lantern.ask("What should a first night placement for a victim offer?")
        assert not answer.abstained and answer.citations
        for citation in answer.citations:
            page = lantern.store.page_text(citation.source, citation.page)
            assert page is not None and citation.quote[:40] in page
            assert f"[{citation.n}]" in answer.text
        assert "victim-support.md" in {c.source for c in answer.citations}


def test_reingest_skips_unchanged_files_and_picks_up_an_edit(hash_settings: Settings, tmp_path: Path) -> None:
    settings = hash_settings.with_overrides(store=tmp_path / "store")
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    first = ingest([corpus], settings)
    again = ingest([corpus], settings)
    assert (again.added, again.updated, again.unchanged) == (0, 0, first.added)
    note = corpus / "victim-support.md"
    note.write_text(note.read_text() + "\n\nA helpline answers in Tigrinya every evening.\n")
    edited = ingest([corpus], settings)
    assert (edited.added, edited.updated, edited.unchanged) == (0, 1, first.added - 1)
    with Lantern.open(settings=settings) as lantern:
        hits = lantern.retrieve("helpline in Tigrinya")
        assert hits and "Tigrinya" in hits[0].chunk.text


def test_workers_are_not_forked_beside_running_threads(hash_settings: Settings, tmp_path: Path) -> None:
    """A process with live threads (the UI, a web server) ingests through a fork server: a fork
    would copy locks those threads hold and leave workers waiting forever."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert _pool_context().get_start_method() == "forkserver"
        corpus = tmp_path / "corpus"
        shutil.copytree(SAMPLE_CORPUS, corpus)
        report = ingest([corpus], hash_settings.with_overrides(store=tmp_path / "store"), workers=2)
        assert report.added == 6 and not report.failed
    finally:
        stop.set()
        thread.join()
