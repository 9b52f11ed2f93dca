"""The crawler against misbehaving local servers: slow-loris headers and bodies, an endless body, a
redirect loop and an over-long redirect chain, 500s, a page that never answers, an HTML page
posing as a PDF, a robots.txt disallow, and a link flood of pages that are not resources. Every
bad URL is one reason, the crawl always ends, what is good is ingested, and a crawl that keeps
nothing says why and fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import STRICT, settings_for

from core.store import Store
from ingest.web import CrawlOptions, ingest_urls
from tests.support import site_server as ws
from tests.support.site_server import ResourceSite

from .harness import record, run_lantern, scale

pytestmark = [
    pytest.mark.integration,
    pytest.mark.promise("crawler"),
    pytest.mark.skipif(not (ws.PDF_DIR / ws.INDICATORS_PDF).exists() and not STRICT, reason="shared corpus absent"),
]

OPTIONS = CrawlOptions(min_interval=0.02, timeout=1.0, retries=1, backoff=0.05, max_bytes=1_500_000, deadline=2.0)
BAD = {  # path → the start of its one reason
    ws.MISSING_PAGE: "HTTP 404",
    ws.ERROR_PAGE: "HTTP 500",
    ws.SLOW_PAGE: "timed out",
    ws.LOOP_PAGE: "redirect loop",
    ws.FAKE_PDF: "not a PDF",
    ws.OVERSIZE_PDF: "larger than the size cap",
    ws.DRIBBLED_HEADERS: "sent too slowly",
    ws.DRIBBLED_BODY: "sent too slowly",
    f"{ws.HOPS}1/": "too many redirects",
}


def test_hostile_servers_are_one_reason_each_and_the_crawl_ends(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, embed_backend="hash")
    with ResourceSite(dribble_seconds=20) as site:
        starts = [site.url("/"), site.url(ws.DRIBBLED_HEADERS), site.url(ws.DRIBBLED_BODY), site.url(f"{ws.HOPS}1/")]
        started = time.monotonic()
        report = ingest_urls(starts, settings, options=OPTIONS)
        seconds = time.monotonic() - started
        private = site.requests_to("/private/")
    failed = {f["path"].removeprefix(site.base_url): f["error"] for f in report.failed}
    assert sorted(failed) == sorted(BAD), failed
    for path, reason in failed.items():
        assert reason.startswith(BAD[path]) or BAD[path] in reason, (path, reason)
        assert "\n" not in reason
    assert report.skipped and all("robots.txt" in s["reason"] for s in report.skipped) and private == []
    store = Store.open(settings)
    try:
        sources = {d.source for d in store.documents()}
    finally:
        store.close()
    assert {site.url(p) for p in ws.GOOD_PAGES} <= sources
    assert site.url(ws.INDICATORS_EN) in sources
    record("crawler", hostile_urls=len(BAD), one_reason_each=len(failed), robots_skips=len(report.skipped),
           hangs=0, crawl_seconds=round(seconds, 1), kept=len(sources))


class _Flood(BaseHTTPRequestHandler):
    """A site of listing pages, each linking to thousands more, none of them a resource."""

    links = 2000
    hits: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path == "/robots.txt":
            body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
        elif self.path.endswith(".xml"):
            body, kind = b"not found", "text/plain"
            self.send_response(404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        else:
            items = "".join(f'<li><a href="/list/{i}/">Listing {i}</a></li>' for i in range(self.links))
            body = f"<html><head><title>Listing</title></head><body><ul>{items}</ul></body></html>".encode()
            kind = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def flood() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Flood", (_Flood,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_a_link_flood_stops_at_max_pages_and_a_crawl_that_keeps_nothing_says_why(flood, tmp_path: Path) -> None:
    base, hits = flood
    max_pages = scale(10, 30)
    proc = run_lantern("ingest", f"{base}/start/", "--store", tmp_path / "store", "--embed-backend", "hash",
                       "--max-pages", str(max_pages), "--crawl-interval", "0", cwd=tmp_path, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    pages = [h for h in hits if not h.endswith((".txt", ".xml"))]
    assert len(pages) == max_pages
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"failed: {base}/start/: read {max_pages} page(s) and kept none"), lines
    assert f"stopped at --max-pages {max_pages}" in lines[0]
    record("crawler", flood_links=_Flood.links, flood_pages_fetched=len(pages), kept_none_explained=1)
