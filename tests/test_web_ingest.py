"""Web ingest against a local RESPECT-like site: metadata, politeness, hostile cases, re-runs.

One module-scoped crawl (plus a re-run and a "page gone" run) feeds most tests, so the
embedding work is done once; the CLI test crawls a second, clean site through its home page.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import STRICT, run_lantern, settings_for

from core.errors import IngestError
from core.settings import Settings
from core.store import Store
from ingest.pipeline import IngestReport
from ingest.web import USER_AGENT, CrawlOptions, Fetcher, ingest_urls
from ingest.web import crawl as crawl_site
from tests.support import site_server as ws
from tests.support.site_server import Request, ResourceSite

pytestmark = [
    pytest.mark.integration,  # local HTTP servers and real ingests
    pytest.mark.skipif(
        not (ws.PDF_DIR / ws.INDICATORS_PDF).exists() and not STRICT, reason="shared corpus not beside the checkout"
    ),
]

INTERVAL = 0.2
OPTIONS = CrawlOptions(min_interval=INTERVAL, timeout=1.0, retries=1, backoff=0.05, max_bytes=1_500_000)
PDF_PATHS = (ws.INDICATORS_EN, ws.INDICATORS_FR, ws.RETAIL_URL, ws.FAQ_URL, ws.RETAIL_MIRROR)


@dataclass
class Crawl:
    site: ResourceSite
    settings: Settings
    first: IngestReport
    second: IngestReport
    gone: IngestReport
    first_requests: list[Request]
    second_requests: list[Request]
    gone_requests: list[Request]
    seconds: dict[str, float]

    def url(self, path: str) -> str:
        return self.site.url(path)

    def documents(self) -> dict[str, Any]:
        store = Store.open(self.settings)
        try:
            return {d.source: d for d in store.documents()}
        finally:
            store.close()

    def chunks(self, source: str) -> list[Any]:
        store = Store.open(self.settings)
        try:
            return [c for c in store.chunks() if c.source == source]
        finally:
            store.close()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = settings_for(tmp_path_factory.mktemp("web"))
    with ResourceSite() as site:
        seconds = {}
        t = time.perf_counter()
        first = ingest_urls([site.url("/")], settings, options=OPTIONS)
        seconds["first"] = time.perf_counter() - t
        mark = site.mark()
        t = time.perf_counter()
        second = ingest_urls([site.url("/")], settings, options=OPTIONS)
        seconds["second"] = time.perf_counter() - t
        mark2 = site.mark()
        site.overrides[ws.RETAIL_PAGE] = 404  # the page disappears from the site
        gone = ingest_urls([site.url(ws.RETAIL_PAGE)], settings, options=OPTIONS)
        yield Crawl(
            site, settings, first, second, gone,
            site.requests_after(0)[:mark], site.requests_after(mark)[: mark2 - mark], site.requests_after(mark2),
            seconds,
        )  # fmt: skip


# --------------------------------------------------------------------------- records and metadata


def test_resource_pages_and_pdfs_become_documents_with_metadata(crawl: Crawl) -> None:
    docs = crawl.documents()
    pages = {s for s, d in docs.items() if d.doc_type == "resource-page"}
    pdfs = {s for s, d in docs.items() if d.doc_type == "pdf"}
    assert pages == {crawl.url(p) for p in (*ws.GOOD_PAGES, ws.BROKEN_PAGE)}
    assert pdfs == {crawl.url(p) for p in (ws.INDICATORS_EN, ws.INDICATORS_FR, ws.RETAIL_URL, ws.FAQ_URL)}
    assert crawl.first.added == 8 and crawl.first.documents == 8

    page = docs[crawl.url(ws.INDICATORS_PAGE)]
    assert page.title == "Human Trafficking Indicators"
    assert page.url == crawl.url(ws.INDICATORS_PAGE)
    assert page.metadata["categories"] == "Guidance, Toolkit"
    assert page.metadata["tags"] == "Europe"
    assert page.metadata["downloads"] == f"{crawl.url(ws.INDICATORS_EN)}, {crawl.url(ws.INDICATORS_FR)}"
    [chunk] = crawl.chunks(page.source)
    assert "general indicators that a person may be a victim" in chunk.text
    assert "Download: Human Trafficking Indicators - UNODC, 2008 (English)" in chunk.text
    for unwanted in ("Read More", "Awareness Guide for Convenience", "About RESPECT", "respect_menu", "TAGS"):
        assert unwanted not in chunk.text
    assert chunk.metadata["doc_type"] == "resource-page"
    assert chunk.metadata["url"] == page.source

    faq = docs[crawl.url(ws.FAQ_URL)]
    assert (faq.title, faq.publisher, faq.year) == (
        "Frequently Asked Questions: Executive Order 13126", "US Department of Labor", 2017
    )
    assert faq.url == crawl.url(ws.FAQ_URL)
    assert faq.metadata["resource_url"] == crawl.url(ws.FAQ_PAGE)
    assert faq.metadata["resource_title"] == "Forced or Indentured Child Labor: Executive Order 13126 FAQ"
    assert faq.metadata["categories"] == "Policy, Guidance"
    assert faq.metadata["tags"] == "Global"
    assert faq.pages == 8 and faq.file_copy
    chunks = crawl.chunks(faq.source)
    assert len(chunks) > 5
    assert {c.page for c in chunks} >= {1, 8}
    assert all(c.metadata["url"] == faq.source and c.metadata["publisher"] == "US Department of Labor" for c in chunks)
    assert any("Executive Order" in c.text for c in chunks)


def test_downloads_are_cached_by_content_hash_under_the_store(crawl: Crawl) -> None:
    web = Path(crawl.settings.store) / "web"
    files = sorted(p.name for p in (web / "files").iterdir())
    assert len(files) == 4  # the mirror of the retail guide is the same file
    assert all(len(name) == 64 + 4 and name.endswith(".pdf") for name in files)
    for source, doc in crawl.documents().items():
        if doc.doc_type == "pdf":
            assert Path(doc.metadata["path"]).parent == (web / "files").resolve()
            assert Path(doc.metadata["path"]).name in files, source
    cache = json.loads((web / "cache.json").read_text())["entries"]
    assert cache[crawl.url(ws.FAQ_URL)]["etag"]
    assert cache[crawl.url(ws.RETAIL_URL)]["last_modified"] == ws.LAST_MODIFIED


def test_language_versions_are_separate_documents_linked_to_each_other(crawl: Crawl) -> None:
    docs = crawl.documents()
    en, fr = docs[crawl.url(ws.INDICATORS_EN)], docs[crawl.url(ws.INDICATORS_FR)]
    assert (en.language, fr.language) == ("en", "fr")
    assert (en.title, fr.title) == ("Human Trafficking Indicators", "Indicateurs de la traite des personnes")
    assert en.metadata["related"] == fr.source and fr.metadata["related"] == en.source
    assert en.metadata["related_languages"] == "French" and fr.metadata["related_languages"] == "English"
    assert en.metadata["resource_url"] == fr.metadata["resource_url"] == crawl.url(ws.INDICATORS_PAGE)
    assert {c.metadata["language"] for c in crawl.chunks(fr.source)} == {"fr"}


def test_same_pdf_linked_from_two_pages_is_stored_once(crawl: Crawl) -> None:
    docs = crawl.documents()
    assert crawl.url(ws.RETAIL_MIRROR) not in docs
    retail = docs[crawl.url(ws.RETAIL_URL)]
    assert retail.metadata["resource_url"] == crawl.url(ws.RETAIL_PAGE)  # the first page that links it
    assert retail.metadata["also_linked_from"] == crawl.url(ws.FAQ_PAGE)
    assert retail.metadata["also_at"] == crawl.url(ws.RETAIL_MIRROR)
    assert retail.publisher == "DHS Blue Campaign" and retail.year == 2020
    # the FAQ page's other download points at the stored document, not at the mirror URL
    assert docs[crawl.url(ws.FAQ_URL)].metadata["related"] == retail.source
    assert crawl.url(ws.RETAIL_URL) in docs[crawl.url(ws.FAQ_PAGE)].metadata["downloads"]


# --------------------------------------------------------------------------- hostile cases


EXPECTED_FAILURES = {
    ws.MISSING_PAGE: "HTTP 404 Not Found",
    ws.ERROR_PAGE: "HTTP 500 Internal Server Error (after 2 attempts)",
    ws.SLOW_PAGE: "timed out after 1 s (2 attempts)",
    ws.LOOP_PAGE: "redirect loop: ",
    ws.FAKE_PDF: "not a PDF: served as application/pdf but starts '<!DOCTYPE html>",
    ws.OVERSIZE_PDF: "larger than the size cap of 1.5 MB; download stopped",
}
ROBOTS_SKIP = "blocked by robots.txt (disallowed for Lantern's user agent); not fetched"


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_hostile_case_is_one_clear_failure(crawl: Crawl, run: str) -> None:
    report: IngestReport = getattr(crawl, run)
    failed = report.failed
    assert sorted(f["path"] for f in failed) == sorted(crawl.url(p) for p in EXPECTED_FAILURES)
    for f in failed:
        path = f["path"].removeprefix(crawl.site.base_url)
        assert f["error"].startswith(EXPECTED_FAILURES[path]), f
    loop = next(f["error"] for f in failed if f["path"] == crawl.url(ws.LOOP_PAGE))
    assert crawl.url(ws.LOOP_OTHER) in loop
    # a download robots.txt disallows is left out on purpose: a skip with its reason, not a failure
    assert report.skipped == [{"path": crawl.url(ws.PRIVATE_PDF), "reason": ROBOTS_SKIP}]


def test_a_page_disallowed_by_robots_is_skipped_and_the_command_succeeds(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with ResourceSite(hostile=False, sitemap=False) as site:
        proc = run_lantern(
            "ingest", site.url(ws.PRIVATE_PDF), "--json", "--store", settings.store,
            env={"HF_HUB_OFFLINE": "1"}, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        plain = run_lantern(
            "ingest", site.url(ws.PRIVATE_PDF), "--store", settings.store,
            env={"HF_HUB_OFFLINE": "1"}, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        assert not site.requests_to("/private/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["failed"] == []
    assert report["skipped"] == [{"path": site.url(ws.PRIVATE_PDF), "reason": ROBOTS_SKIP}]
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert f"skipped: {site.url(ws.PRIVATE_PDF)}: {ROBOTS_SKIP}" in plain.stderr.splitlines()
    assert "0 failed" in plain.stdout


def test_failures_are_bounded_and_nothing_disallowed_is_fetched(crawl: Crawl) -> None:
    reqs = crawl.first_requests
    assert not [r for r in crawl.site.requests_after(0) if r.path.startswith("/private/")]
    assert sum(r.path == ws.ERROR_PAGE for r in reqs) == 2  # one retry
    assert sum(r.path == ws.SLOW_PAGE for r in reqs) == 2
    assert sum(r.path in (ws.LOOP_PAGE, ws.LOOP_OTHER) for r in reqs) == 2
    assert sum(r.path == ws.OVERSIZE_PDF for r in reqs) == 1  # a cap is not retried
    # taxonomy and user sitemaps list archives, not resources: never read
    assert not [r for r in reqs if "taxonomies" in r.path or "users" in r.path]


def test_fetcher_bounds_redirect_chains_and_declared_sizes(tmp_path: Path) -> None:
    fast = CrawlOptions(min_interval=0.01, timeout=2.0, retries=0, max_bytes=1_500_000)
    with ResourceSite() as site, Fetcher(fast, tmp_path / "web") as fetcher:
        with pytest.raises(IngestError, match=r"too many redirects \(more than 5\)"):
            fetcher.fetch(site.url(f"{ws.HOPS}1/"))
        assert len(site.requests_to(ws.HOPS)) == 6
        assert fetcher.fetch(site.url(f"{ws.HOPS}6/")).final_url == site.url(f"{ws.HOPS}10/")  # 4 hops are fine
        with pytest.raises(IngestError, match=r"larger than the size cap \(3.0 MB > 1.5 MB\); not downloaded"):
            fetcher.fetch(site.url(ws.DECLARED_BIG_PDF), pdf=True)
        with pytest.raises(IngestError, match="not a PDF: the server sent text/html"):
            fetcher.fetch(site.url(ws.ABOUT_PAGE), pdf=True)
    assert not list((tmp_path / "web" / "files").iterdir())  # nothing half-written is left


def test_a_server_trickling_bytes_is_abandoned_at_the_deadline(tmp_path: Path) -> None:
    """One byte every 0.1 s never trips the 0.5 s read timeout; the 1 s deadline ends each response."""
    short = CrawlOptions(min_interval=0.01, timeout=0.5, retries=1, backoff=0.05, deadline=1.0)
    with ResourceSite() as site:
        t = time.perf_counter()
        urls = [site.url(p) for p in (ws.DRIBBLED_HEADERS, ws.DRIBBLED_BODY, ws.INDICATORS_PAGE)]
        result = crawl_site(urls, tmp_path / "web", options=short)
        seconds = time.perf_counter() - t
        tries = [len(site.requests_to(p)) for p in (ws.DRIBBLED_HEADERS, ws.DRIBBLED_BODY)]
    too_slow = "sent too slowly: over 1 s for one response; abandoned"
    assert result.failed == {site.url(ws.DRIBBLED_HEADERS): too_slow, site.url(ws.DRIBBLED_BODY): too_slow}
    assert seconds < 6, seconds
    assert tries == [1, 1]  # a trickling server is not asked again
    # the crawl carried on: the good page and its downloads were fetched after the slow ones
    assert [p.url for p in result.pages] == [site.url(ws.INDICATORS_PAGE)]
    assert len(result.downloads) == 2
    assert not list((tmp_path / "web" / "pages").glob("*.part"))


# --------------------------------------------------------------------------- politeness


def _assert_polite(reqs: list[Request], interval: float, user_agent: str = USER_AGENT) -> None:
    assert reqs and reqs[0].path == "/robots.txt"
    assert all(r.headers.get("User-Agent") == user_agent for r in reqs)
    assert all(r.method == "GET" for r in reqs)
    gaps = [b.time - a.time for a, b in zip(reqs, reqs[1:], strict=False)]
    # The server stamps a request when its handler thread runs, which can lag the client's
    # send by tens of ms on a busy machine: a late stamp lengthens the gap before it by as much
    # as it shortens the one after. So the sum of any two neighbouring gaps must hold the pace
    # (a crawler sending two requests back to back fails that), and so must the whole run.
    pairs = [a + b for a, b in zip(gaps, gaps[1:], strict=False)]
    assert min(gaps) > 0 and (not pairs or min(pairs) >= 1.5 * interval), sorted(gaps)[:3]
    assert (reqs[-1].time - reqs[0].time) / len(gaps) >= interval - max(0.05, 0.1 * interval), sorted(gaps)[:3]


def test_one_host_is_paced_and_named(crawl: Crawl) -> None:
    assert "Lantern" in USER_AGENT
    for reqs in (crawl.first_requests, crawl.second_requests, crawl.gone_requests):
        _assert_polite(reqs, INTERVAL)
    assert sum(r.path == "/robots.txt" for r in crawl.first_requests) == 1


# --------------------------------------------------------------------------- re-runs


def test_second_run_downloads_nothing(crawl: Crawl) -> None:
    second = crawl.second
    assert (second.added, second.updated, second.removed) == (0, 0, 0)
    assert second.unchanged == 8 and second.documents == 8
    reqs = crawl.second_requests
    pdf_gets = [r for r in reqs if r.path in PDF_PATHS]
    assert len(pdf_gets) == len(PDF_PATHS)  # each asked once, conditionally
    assert all(r.status == 304 for r in pdf_gets), [(r.path, r.status) for r in pdf_gets]
    for r in pdf_gets:
        assert "If-None-Match" in r.headers if r.path != ws.RETAIL_URL else "If-Modified-Since" in r.headers
    page_gets = [r for r in reqs if r.path in (*ws.GOOD_PAGES, ws.BROKEN_PAGE)]
    assert page_gets and all(r.status == 304 for r in page_gets)
    retail_page = next(r for r in page_gets if r.path == ws.RETAIL_PAGE)
    assert "If-None-Match" not in retail_page.headers and retail_page.headers["If-Modified-Since"] == ws.LAST_MODIFIED
    # the failures are asked again (retried), not remembered as done
    assert any(r.path == ws.MISSING_PAGE for r in reqs)
    assert any(r.path == ws.FAKE_PDF and r.status == 200 for r in reqs)


def test_page_gone_on_rerun_keeps_what_is_stored(crawl: Crawl) -> None:
    gone = crawl.gone
    assert gone.failed == [{"path": crawl.url(ws.RETAIL_PAGE), "error": "HTTP 404 Not Found"}]
    assert (gone.added, gone.updated, gone.removed) == (0, 0, 0)
    assert gone.documents == 8
    docs = crawl.documents()
    assert crawl.url(ws.RETAIL_PAGE) in docs and crawl.url(ws.RETAIL_URL) in docs
    assert Path(docs[crawl.url(ws.RETAIL_URL)].metadata["path"]).exists()
    assert [r.path for r in crawl.gone_requests] == ["/robots.txt", ws.RETAIL_PAGE]


# --------------------------------------------------------------------------- the CLI


def test_cli_ingests_a_site_from_its_home_page(tmp_path: Path) -> None:
    """The real command, default politeness (1 s per host), on a clean site without a sitemap."""
    settings = settings_for(tmp_path)
    with ResourceSite(hostile=False, sitemap=False) as site:
        t = time.perf_counter()
        proc = run_lantern(
            "ingest", site.url("/"), "--json", "--store", settings.store, "--max-pages", "10",
            env={"HF_HUB_OFFLINE": "1"}, timeout=240, cwd=tmp_path,
        )  # fmt: skip
        print(f"CLI ingest: {time.perf_counter() - t:.1f} s, {len(site.requests)} requests")
        reqs = site.requests_after(0)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["failed"] == []
    assert (report["added"], report["documents"]) == (7, 7)  # 3 resource pages + 4 distinct PDFs
    paths = [r.path for r in reqs]
    assert paths[:4] == ["/robots.txt", "/wp-sitemap.xml", "/sitemap.xml", "/"]  # no sitemap: the listing
    assert set(ws.GOOD_PAGES) <= set(paths) and set(PDF_PATHS) <= set(paths)
    assert "/tag/europe/" not in paths and "/feed/" not in paths
    assert len(paths) == len(set(paths))  # nothing fetched twice
    _assert_polite(reqs, 1.0)
    store_docs = Store.open(settings)
    try:
        sources = {d.source for d in store_docs.documents()}
    finally:
        store_docs.close()
    assert site.url(ws.INDICATORS_FR) in sources and site.url(ws.ABOUT_PAGE) not in sources
