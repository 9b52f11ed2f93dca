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


def test_keyword_index_built_a_batch_at_a_time_ranks_as_bm25s_does(hash_settings: Settings, monkeypatch) -> None:
    """The index is built from the ledger in batches (so a million-chunk library need not be
    held in memory); its ranking and scores must be bm25s's own over the same texts, and the
    saved, memory-mapped copy must answer the same."""
    import bm25s

    import core.keyword as keyword
    from core.store import Store

    monkeypatch.setattr(keyword, "BATCH", 7)  # many batches, a short last one
    store = Store.open(hash_settings)
    try:
        built = keyword.KeywordIndex.build(store)
        chunks = store.chunks()
        saved = keyword.KeywordIndex.load_saved(store)
    finally:
        store.close()
    assert list(built.ids) == [c.id for c in chunks] == list(saved.ids)
    tokenizer = keyword._tokenizer()
    plain = bm25s.BM25()
    plain.index(tokenizer.tokenize([keyword.keyword_text(c) for c in chunks], return_as="tuple", show_progress=False),
                show_progress=False)
    for query in ("safe accommodation for victims", "referral to the national mechanism", "supply chain audits"):
        expected = plain.retrieve(tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False),
                                  k=8, show_progress=False)
        want = [(chunks[d].id, float(s)) for d, s in zip(expected.documents[0], expected.scores[0], strict=True) if s > 0]
        clear = {cid for cid, s in want if s > want[-1][1] + 1e-4}  # ranks not tied at the cut
        for index in (built, saved):
            got = index.search(query, 8)
            assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-5), query
            assert clear <= {cid for cid, _ in got}, query
            assert all(abs(dict(want)[cid] - s) < 1e-4 for cid, s in got if cid in dict(want)), query


def test_keyword_filters_keep_only_the_documents_and_language_asked_for(hash_settings: Settings) -> None:
    from core.keyword import KeywordIndex
    from core.store import Store

    store = Store.open(hash_settings)
    try:
        index = KeywordIndex.load(store)
        by_id = {c.id: c for c in store.chunks()}
    finally:
        store.close()
    everywhere = index.search("victims", 50)
    sources = sorted({by_id[cid].source for cid, _ in everywhere})
    assert len(sources) > 1
    only = index.search("victims", 50, index.doc_mask([sources[0], "no-such-document.pdf"]))
    assert only and {by_id[cid].source for cid, _ in only} == {sources[0]}
    assert index.search("victims", 50, index.doc_mask(language="xx")) == []
    english = index.search("victims", 50, index.doc_mask(language="en"))
    assert english and all(by_id[cid].metadata.get("language") == "en" for cid, _ in english)


def test_dense_search_inside_a_filter_agrees_with_chromas_own(hash_settings: Settings) -> None:
    """Inside a filter, dense search scores the admitted chunks from the vectors the ledger keeps
    (Chroma's filtered search costs seconds in a large library): same chunks, same order, same
    cosines (to half precision) as Chroma's `where` search."""
    from assistant.retrieve import Filters

    with Lantern.open(settings=hash_settings) as lantern:
        retriever = lantern.retriever
        retriever.search("warm up", Filters(), 5)
        vector = retriever.embed_query("safe accommodation and support for victims")
        for filters in (Filters(source="victim-support.md"), Filters(language="en"), Filters(year_min=1900)):
            sources = retriever.matching_sources(filters)
            ours = retriever._dense_within(vector, filters, sources, 8)
            assert ours, filters
            where = {"source": {"$in": sources}} if sources is not None else {"language": {"$eq": "en"}}
            chroma = lantern.store.collection.query(query_embeddings=[vector.tolist()], n_results=8, where=where,
                                                    include=["distances"])
            assert [cid for cid, _ in ours] == chroma["ids"][0], filters
            assert np.allclose([s for _, s in ours], [1 - d for d in chroma["distances"][0]], atol=2e-3)


def test_a_small_library_is_searched_exactly_not_through_chromas_approximate_graph(hash_settings: Settings,
                                                                                   monkeypatch) -> None:
    """Up to EXACT_LIBRARY_ROWS chunks, dense search scores every chunk's vector from the ledger:
    the true nearest chunks by cosine, the same on every build of the store (HNSW's are not)."""
    from assistant.retrieve import Filters

    with Lantern.open(settings=hash_settings) as lantern:
        retriever = lantern.retriever
        retriever.search("warm up", Filters(), 5)
        vector = retriever.embed_query("safe accommodation and support for victims")
        index = retriever._keyword
        assert index is not None and index.vectors is not None
        cosines = index.vectors @ vector
        truth = [str(index.ids[i]) for i in np.argsort(-cosines, kind="stable")[:8]]

        def no_chroma(*args, **kwargs):
            raise AssertionError("a small library should not need Chroma's index to be searched")

        monkeypatch.setattr(type(lantern.store.collection), "query", no_chroma)
        found = retriever.dense(vector, Filters(), None, 8)
        assert [cid for cid, _ in found] == truth
        assert np.allclose([s for _, s in found], np.sort(cosines)[::-1][:8], atol=1e-5)


def test_the_chunks_beside_a_hit_are_its_page_neighbours_and_answers_may_quote_them(hash_settings: Settings) -> None:
    """Store.neighbours gives the chunks just before and after one on the same page, never one
    from another page; an answer quoting from them cites the hit's page, and the quote is there."""
    with Lantern.open(settings=hash_settings) as lantern:
        chunks = lantern.store.chunks()  # in ingest order: by source, then position
        by_page: dict[tuple[str, int | None], list] = {}
        for c in chunks:
            by_page.setdefault((c.source, c.page), []).append(c)
        runs = [run for run in by_page.values() if len(run) >= 3]
        assert runs, "the sample corpus should have a page of three chunks or more"
        for run in runs:
            assert [n.id for n in lantern.store.neighbours(run[1])] == [run[0].id, run[2].id]
            assert [n.id for n in lantern.store.neighbours(run[0])] == [run[1].id]  # nothing from the page before
        answer = lantern.ask("What should a first night placement for a victim offer?")
        assert not answer.abstained and answer.citations
        shown = {h.chunk.id: " ".join(h.chunk.text.split()) for h in answer.retrieved}
        for citation in answer.citations:
            page = lantern.store.page_text(citation.source, citation.page)
            assert page is not None and citation.quote in " ".join(page.split())
            assert citation.quote in shown[citation.chunk_id]  # the source shown beside the answer holds it


def test_document_filters_resolve_alike_in_the_index_and_the_ledger(hash_settings: Settings) -> None:
    """A question's filter is resolved to documents from the keyword index's copy of their
    fields (no SQL scan per question): the same documents as the ledger's own query."""
    from core.keyword import KeywordIndex
    from core.store import Store

    store = Store.open(hash_settings)
    try:
        index = KeywordIndex.load(store)
        docs = store.documents()
        publisher = next(d.publisher for d in docs if d.publisher)
        year = next(d.year for d in docs if d.year)
        cases = [
            {"contains": {"publisher": publisher[1:5].upper()}}, {"contains": {"title": "a"}},
            {"contains": {"doc_type": "pdf"}, "year_min": year}, {"year": year}, {"year_max": year - 1},
            {"source": docs[0].source}, {"source": "no-such-document.pdf"}, {"contains": {"publisher": "zzz"}},
        ]
        for case in cases:
            assert sorted(index.find_sources(**case) or []) == sorted(store.find_sources(**case)), case
    finally:
        store.close()


def test_best_keyword_rows_are_the_true_top_k_whatever_the_scores() -> None:
    """The keyword half's top-k shortcut (a cut-off read from a sample) must never change the
    result: checked against a full sort on libraries with few, many and tied positive scores."""
    from core.keyword import _best

    rng = np.random.default_rng(7)
    for n, share, k in ((200_000, 0.8, 60), (200_000, 0.001, 60), (50, 0.5, 60), (10_000, 0.02, 5), (3000, 1.0, 1)):
        scores = np.where(rng.random(n) < share, rng.gamma(2.0, 1.0, n), 0.0).astype(np.float32)
        scores[rng.integers(0, n, 20)] = 3.0  # ties
        got = _best(scores, k)
        positive = np.flatnonzero(scores > 0)
        want = np.sort(scores[positive])[::-1][:k]
        assert np.array_equal(np.sort(scores[got])[::-1], want), (n, share, k)
        assert len(set(got.tolist())) == len(got)


def test_embedding_batches_group_texts_of_like_length_and_lose_none() -> None:
    """An answer embeds units of 5 to 120 tokens: each batch pads its rows to its longest, so
    short and long ones go in separate batches; every text is embedded once, with its own tokens."""
    from ingest.embed import MAX_PADDING, load_tokenizer, padded_batches

    tokenizer = load_tokenizer()
    texts = [("forced labour " * n).strip() for n in (1, 40, 2, 60, 3, 1, 55, 8)]
    own = {i: tokenizer.encode(t).ids for i, t in enumerate(texts)}
    seen: list[int] = []
    batches = list(padded_batches(tokenizer, texts, batch_size=32))
    for idx, ids, mask in batches:
        seen += idx
        for row, i in enumerate(idx):
            assert ids[row][mask[row] == 1].tolist() == own[i]
        assert len(idx) == 1 or ids.size <= MAX_PADDING * mask.sum()
    assert sorted(seen) == list(range(len(texts)))
    assert len(batches) > 1  # one batch would have padded the one-word texts to 120 tokens
    whole = list(padded_batches(tokenizer, texts, batch_size=32, max_padding=None))
    assert len(whole) == 1  # a GPU is fed one batch


def test_an_answer_whose_every_sentence_fails_its_check_abstains_instead_of_showing_nothing(
        hash_settings: Settings, monkeypatch) -> None:
    """When the citation checker drops every sentence of the extractive draft, the reader gets the
    abstention and why, with the nearest passages, not an empty answer presented as one."""
    from assistant.answer import Draft

    with Lantern.open(settings=hash_settings) as lantern:
        real = lantern.extractive_draft

        def contradicting(question, hits, query_vector=None):
            draft, around = real(question, hits, query_vector)
            return Draft("Traffickers are never prosecuted in any country of the world [1].", []), around

        monkeypatch.setattr(lantern, "extractive_draft", contradicting)
        answer = lantern.ask("What should a first night placement for a victim offer?")
        assert answer.abstained and answer.text.strip()
        assert answer.abstain_reason and "source" in answer.abstain_reason
        assert answer.removed_citations and answer.retrieved
