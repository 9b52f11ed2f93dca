"""The e5 -> MiniLM bridge (assistant/bridge.py): Dutch and French questions over real English PDFs of
the shared corpus, through the real MiniLM store, Chroma, OnnxE5 and the shipped bridge matrix.

Without the bridge, a question not in English reaches the e5 re-scoring stage only through what
MiniLM's reading of it and BM25 find; these questions share no name, number or keyword with their
page, so the right page is not among the candidates. With it, the question's e5 vector, bridged into
MiniLM's space, finds it. Four PDFs make 125 chunks; the stage re-scores 10 of them here, the share
its default 40 are of a library of a few hundred pages (on the full shared corpus, 6,126 chunks:
bench/crosslingual.py --bridge).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ingested_pdfs

pytestmark = pytest.mark.integration

PDFS = (
    "walk-free-slavery-alert-consumer-poll-united-states-2015.pdf",
    "dhs-blue-campaign-human-trafficking-awareness-guide-convenience-retail-employees.pdf",
    "usdol-ilab-2021-findings-worst-forms-of-child-labor-uzbekistan.pdf",
    "dhs-blue-campaign-human-trafficking-response-guide-school-resource-officers.pdf",
)
POLL, RETAIL, UZBEKISTAN = PDFS[:3]
QUESTIONS = {  # question -> (file, page) that answers it
    "Welke gegevens over een voertuig moet een winkelmedewerker noteren wanneer hij mensenhandel meldt?": (RETAIL, 5),
    "Hoeveel cadetten van de politieacademie kregen een opleiding over mensenhandel?": (UZBEKISTAN, 6),
    "Hoeveel rechercheurs kregen les over de nieuwe wetten?": (UZBEKISTAN, 6),
    "Waarom zijn kopers bereid meer te betalen, ook als de prijs voor hen belangrijk is?": (POLL, 6),
    "Hoeveel arbeidsinspecteurs zou het land nodig hebben?": (UZBEKISTAN, 5),
    "Combien de personnes ont répondu au sondage en ligne ?": (POLL, 4),
}
STAGE_CANDIDATES = 10


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """Four English PDFs of the shared corpus, ingested with the default dense model (MiniLM)."""
    return ingested_pdfs(tmp_path_factory, PDFS, "bridge", crosslingual="auto")


@pytest.fixture(scope="module")
def lantern(store):
    from assistant.api import Lantern
    from assistant.bridge import load

    if load() is None:
        pytest.fail("assistant/bridge.npz is missing: run bench/fit_bridge.py --write")
    with Lantern.open(settings=store) as opened:
        opened.retriever.crosslingual.candidates = STAGE_CANDIDATES
        yield opened


def _pages(lantern, question: str, bridge: bool) -> list[tuple[str, int | None]]:
    lantern.retriever.crosslingual.bridge = bridge
    try:
        return [(Path(h.chunk.source).name, h.chunk.page) for h in lantern.retrieve(question, top_k=5)]
    finally:
        lantern.retriever.crosslingual.bridge = True


@pytest.mark.parametrize(("question", "page"), list(QUESTIONS.items()))
def test_a_foreign_question_finds_its_english_page_through_the_bridge(lantern, question: str, page) -> None:
    assert page in _pages(lantern, question, bridge=True)


def test_without_the_bridge_the_same_questions_mostly_miss(lantern) -> None:
    found = sum(page in _pages(lantern, q, bridge=False) for q, page in QUESTIONS.items())
    assert found <= 1, found


def test_an_english_question_never_takes_the_bridge(lantern, monkeypatch: pytest.MonkeyPatch) -> None:
    """English questions keep MiniLM's own vector: the bridge is not even consulted."""
    stage = lantern.retriever.crosslingual
    monkeypatch.setattr(stage, "bridged_query", lambda *a: pytest.fail("bridge used for an English question"))
    assert lantern.retrieve("What vehicle details should a store clerk note when reporting trafficking?", top_k=5)


def test_the_bridge_is_only_used_for_the_space_it_maps_into() -> None:
    from assistant.bridge import load

    bridge = load()
    assert bridge is not None
    assert bridge.fits("all-MiniLM-L6-v2-onnx-int8") and bridge.fits("all-MiniLM-L6-v2")
    assert not bridge.fits("hash-bow-384") and not bridge.fits("openai:text-embedding-3-small")


def test_a_name_only_the_keyword_half_matches_stays_among_the_rescored_candidates() -> None:
    """A foreign question's pool is the bridged list, but BM25's best chunks (a name or code that
    only it matches) take the last places e5 re-scores; the pool keeps the size and score scale."""
    from assistant.crosslingual import KEYWORD_KEEP, CrossLingualStage

    stage = CrossLingualStage("auto", candidates=4, embedder=object(), bridge=True)
    bridged = [(f"b{i}", 0.9 - i / 100) for i in range(8)]
    keyword = [("k0", 12.0), ("b1", 9.0), ("k2", 8.0), ("k3", 7.0)]
    pool = stage.bridged_pool(bridged, keyword)
    head = [cid for cid, _ in pool[: stage.candidates]]
    assert head[:2] == ["b0", "b1"] and set(head[2:]) == {"k0", "k2"} and KEYWORD_KEEP == 3
    assert len(pool) == len(bridged) + 2 and len({cid for cid, _ in pool}) == len(pool)
    assert [s for _, s in pool] == sorted((s for _, s in pool), reverse=True)
