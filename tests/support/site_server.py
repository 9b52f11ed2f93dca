"""A small RESPECT-like resource library on 127.0.0.1, for the web-ingest tests.

Why: the crawler's hard parts (robots.txt, pacing, retries, redirects, size caps,
conditional re-fetches, WordPress sitemaps) only show against a real HTTP server. This
one serves WordPress-shaped resource pages (h1.entry-title, div.entry-content, download
lines "Title - Publisher, Year (Language)" with DOWNLOAD links, rel="category tag"
links, "TAGS: Europe", a related block of "...Read More" teasers), a wp-sitemap.xml index,
robots.txt, real PDFs from the shared corpus (read at start-up, never committed), and
hostile cases: 404, 500, a response slower than the client's timeout, a redirect loop,
an HTML page served as application/pdf, an oversize PDF, a PDF under /private/, and
slow-loris pages that send their headers or their body one byte every 0.1 s.

Every request is recorded (method, path, headers, arrival time, status) so tests can
assert politeness. Responses carry ETag and/or Last-Modified and answer 304 to
matching conditional requests. Usage::

    with ResourceSite() as site:
        ingest_urls([site.url("/")], settings, options=...)
        assert not site.requests_to("/private/")
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PDF_DIR = SHARED / "corpus" / "pdf"
INDICATORS_PDF = "unodc-human-trafficking-indicators.pdf"  # 2 pages, 83 kB
RETAIL_PDF = "dhs-blue-campaign-human-trafficking-awareness-guide-convenience-retail-employees.pdf"  # 6 pages, 1.0 MB
FAQ_PDF = "usdol-ilab-faq-executive-order-13126-forced-or-indentured-child-labor-2017.pdf"  # 8 pages, 243 kB
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"

# Paths of the site, for tests to build URLs and expectations from.
INDICATORS_PAGE = "/resources/human-trafficking-indicators/"
RETAIL_PAGE = "/resources/awareness-guide-convenience-retail/"
FAQ_PAGE = "/resources/forced-child-labour-faq/"
ABOUT_PAGE = "/about/"
BROKEN_PAGE = "/resources/annual-monitoring-report/"
MISSING_PAGE = "/resources/withdrawn-handbook/"
ERROR_PAGE = "/resources/database-error/"
SLOW_PAGE = "/resources/slow-archive/"
LOOP_PAGE = "/resources/moved-resource/"
LOOP_OTHER = "/resources/moved-resource-again/"
INDICATORS_EN = "/wp-content/uploads/2019/05/human-trafficking-indicators-en.pdf"
INDICATORS_FR = "/wp-content/uploads/2019/05/indicateurs-de-la-traite-fr.pdf"
RETAIL_URL = "/wp-content/uploads/2020/08/dhs-convenience-retail-guide.pdf"
RETAIL_MIRROR = "/wp-content/uploads/2021/03/retail-guide-copy.pdf"  # same bytes as RETAIL_URL
FAQ_URL = "/wp-content/uploads/2017/11/eo-13126-faq.pdf"
FAKE_PDF = "/wp-content/uploads/2022/01/monitoring-report.pdf"  # an HTML page served as application/pdf
OVERSIZE_PDF = "/wp-content/uploads/2022/01/monitoring-report-annex.pdf"  # streamed, no Content-Length
PRIVATE_PDF = "/private/internal-briefing.pdf"  # disallowed by robots.txt
DECLARED_BIG_PDF = "/wp-content/uploads/2022/01/declared-big.pdf"  # Content-Length over the cap
DRIBBLED_HEADERS = "/resources/dribbled-headers/"  # headers one byte every 0.1 s (slow-loris)
DRIBBLED_BODY = "/resources/dribbled-body/"  # prompt headers, then the body one byte every 0.1 s
HOPS = "/hop/"  # /hop/N/ redirects to /hop/N+1/ up to /hop/10/: a chain longer than 5 redirects

GOOD_PAGES = (INDICATORS_PAGE, RETAIL_PAGE, FAQ_PAGE)
HOSTILE_PAGES = (BROKEN_PAGE, MISSING_PAGE, ERROR_PAGE, SLOW_PAGE, LOOP_PAGE)


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    time: float  # time.monotonic() on arrival
    status: int | None = None


@dataclass
class Route:
    body: bytes
    content_type: str
    etag: bool = True
    last_modified: bool = True


@dataclass
class _Resource:
    title: str
    categories: list[str]
    tags: list[str]
    paragraphs: list[str]
    downloads: list[tuple[str, str]]  # (download line, href)
    related: list[tuple[str, str, str]] = field(default_factory=list)  # (title, href, teaser)


# --------------------------------------------------------------------------- HTML


def _header(title: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\n"
        f"<title>{escape(title)} &#8211; RESPECT</title>\n"
        "<script>var respect_menu = {\"home\": \"Home\"};</script>\n"
        "</head><body class=\"post-template-default single single-post\">\n"
        "<header class=\"site-header\"><nav class=\"main-menu\"><ul>"
        "<li><a href=\"/\">Home</a></li><li><a href=\"/about/\">About RESPECT</a></li>"
        "<li><a href=\"/category/guidance/\">Guidance</a></li></ul></nav></header>\n"
    )


_FOOTER = (
    "<footer class=\"site-footer\"><p>&copy; RESPECT network. post page attachment revision</p>"
    "<a href=\"/feed/\">RSS</a></footer>\n</body></html>\n"
)


def resource_html(res: _Resource) -> str:
    """One resource page in the shape of a RESPECT WordPress post."""
    cats = "".join(
        f'<a href="/category/{c.lower().replace(" ", "-")}/" rel="category tag">{escape(c)}</a>' for c in res.categories
    )
    tags = ", ".join(f'<a href="/tag/{t.lower()}/" rel="tag">{escape(t)}</a>' for t in res.tags)
    paras = "\n".join(f"<p>{escape(p)}</p>" for p in res.paragraphs)
    downloads = "\n".join(
        f'<p>{escape(line)}<br>\n<a class="download-button" href="{href}">DOWNLOAD</a></p>'
        for line, href in res.downloads
    )
    related = "\n".join(
        f'<article class="related-post"><h2><a href="{href}">{escape(title)}</a></h2>\n'
        f'<a href="/category/research/" rel="category tag">Research</a>\n'
        f'<p>{escape(teaser)}...<a href="{href}">Read More</a></p>\n<p>TAGS: Global</p></article>'
        for title, href, teaser in res.related
    )
    return (
        _header(res.title)
        + '<main id="main"><article class="post type-post status-publish">\n'
        + f'<header class="entry-header"><h1 class="entry-title">{escape(res.title)}</h1>\n'
        + f'<div class="entry-meta"><span class="cat-links">{cats}</span></div></header>\n'
        + f'<div class="entry-content">\n{paras}\n{downloads}\n</div>\n'
        + f'<footer class="entry-footer"><span class="tags-links">TAGS: {tags}</span></footer>\n'
        + "</article>\n"
        + f'<section class="related-posts"><h3>Related resources</h3>\n{related}\n</section></main>\n'
        + _FOOTER
    )


def listing_html(items: list[tuple[str, str, str]], extra_links: list[tuple[str, str]]) -> str:
    """The home page: an archive of resource teasers, as WordPress renders a blog index."""
    posts = "\n".join(
        f'<article class="post type-post"><h2 class="entry-title"><a href="{href}">{escape(title)}</a></h2>\n'
        f'<div class="entry-summary"><p>{escape(teaser)}...<a href="{href}" class="more-link">Read More</a></p></div>'
        "</article>"
        for title, href, teaser in items
    )
    extra = "".join(f'<li><a href="{href}">{escape(text)}</a></li>' for text, href in extra_links)
    return (
        _header("Resource library")
        + '<main id="main" class="site-main"><h1 class="page-title">Resource library</h1>\n'
        + posts
        + f'\n<aside class="widget"><ul>{extra}</ul></aside>\n'
        + '<nav class="pagination"><a href="/tag/europe/">Europe</a></nav></main>\n'
        + _FOOTER
    )


def about_html() -> str:
    return (
        _header("About RESPECT")
        + '<main id="main"><article class="page type-page"><h1 class="entry-title">About RESPECT</h1>'
        + '<div class="entry-content"><p>RESPECT is a network of organisations working against trafficking.</p>'
        + "</div></article></main>"
        + _FOOTER
    )


RESOURCES: dict[str, _Resource] = {
    INDICATORS_PAGE: _Resource(
        title="Human Trafficking Indicators",
        categories=["Guidance", "Toolkit"],
        tags=["Europe"],
        paragraphs=[
            "This leaflet lists general indicators that a person may be a victim of trafficking, and "
            "specific indicators for domestic servitude, sexual exploitation and labour exploitation.",
            "It is meant for anyone who may come into contact with victims: police, labour inspectors, "
            "health workers and members of the public.",
        ],
        downloads=[
            ("Human Trafficking Indicators - UNODC, 2008 (English)", INDICATORS_EN),
            ("Indicateurs de la traite des personnes - UNODC, 2008 (French)", INDICATORS_FR),
        ],
        related=[("Awareness Guide for Convenience Retail Employees", RETAIL_PAGE,
                  "A short guide that helps store staff notice signs of trafficking")],
    ),
    RETAIL_PAGE: _Resource(
        title="Awareness Guide for Convenience Retail Employees",
        categories=["Guidance", "Training"],
        tags=["North America"],
        paragraphs=[
            "A short guide that helps convenience store employees recognise signs of human trafficking "
            "among customers and co-workers, and explains how to report a suspicion safely.",
        ],
        downloads=[
            ("Human Trafficking Awareness Guide for Convenience Retail Employees - DHS Blue Campaign, 2020",
             RETAIL_URL),
        ],
        related=[("Human Trafficking Indicators", INDICATORS_PAGE, "General and specific indicators of trafficking")],
    ),
    FAQ_PAGE: _Resource(
        title="Forced or Indentured Child Labor: Executive Order 13126 FAQ",
        categories=["Policy", "Guidance"],
        tags=["Global"],
        paragraphs=[
            "Frequently asked questions on the list of products that may be produced by forced or "
            "indentured child labor under Executive Order 13126, and what it means for federal contractors.",
            "The retail awareness guide is attached as well, for businesses that sell such products.",
        ],
        downloads=[
            ("Frequently Asked Questions: Executive Order 13126 - US Department of Labor, 2017", FAQ_URL),
            ("Human Trafficking Awareness Guide for Convenience Retail Employees - DHS Blue Campaign, 2020",
             RETAIL_MIRROR),
        ],
    ),
    BROKEN_PAGE: _Resource(
        title="Annual Monitoring Report",
        categories=["Report"],
        tags=["Europe"],
        paragraphs=["The network's annual monitoring report on identification and referral of victims."],
        downloads=[
            ("Annual Monitoring Report - RESPECT, 2022 (English)", FAKE_PDF),
            ("Annual Monitoring Report: Statistical Annex - RESPECT, 2022", OVERSIZE_PDF),
            ("Internal Briefing - RESPECT, 2022", PRIVATE_PDF),
        ],
    ),
}


def _sitemap_index(base: str) -> str:
    names = ["wp-sitemap-posts-post-1.xml", "wp-sitemap-taxonomies-category-1.xml", "wp-sitemap-users-1.xml"]
    items = "".join(f"<sitemap><loc>{base}/{n}</loc></sitemap>" for n in names)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet type="text/xsl" href="/wp-sitemap-index.xsl" ?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>\n'
    )


def _urlset(base: str, paths: list[str]) -> str:
    items = "".join(f"<url><loc>{base}{p}</loc><lastmod>2025-01-01T00:00:00+00:00</lastmod></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>\n'
    )


# --------------------------------------------------------------------------- server


class ResourceSite:
    """The test site; `hostile=False, sitemap=False` gives a clean site reached through its home page."""

    def __init__(
        self,
        hostile: bool = True,
        sitemap: bool = True,
        slow_seconds: float = 3.0,
        dribble_seconds: float = 15.0,
        oversize_bytes: int = 3_000_000,
        pdf_dir: Path = PDF_DIR,
    ):
        self.hostile = hostile
        self.sitemap = sitemap
        self.slow_seconds = slow_seconds
        self.dribble_seconds = dribble_seconds  # then the rest at once, so a client without a deadline ends late
        self.oversize_bytes = oversize_bytes
        self.pdf_dir = pdf_dir
        self.requests: list[Request] = []
        self.routes: dict[str, Route] = {}
        self.overrides: dict[str, int] = {}  # path → status to answer instead (e.g. a page gone: 404)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- lifecycle --------------------------------------------------------------------
    def __enter__(self) -> ResourceSite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        site = self

        class Handler(_Handler):
            owner = site

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._build_routes()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # --- helpers for tests -------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base_url + path

    def mark(self) -> int:
        """Index of the next request: `requests_after(mark)` gives one run's requests."""
        with self._lock:
            return len(self.requests)

    def requests_after(self, index: int = 0) -> list[Request]:
        with self._lock:
            return list(self.requests[index:])

    def requests_to(self, prefix: str, since: int = 0) -> list[Request]:
        return [r for r in self.requests_after(since) if r.path.startswith(prefix)]

    def pdf_bytes(self, name: str) -> bytes:
        return (self.pdf_dir / name).read_bytes()

    # --- content -----------------------------------------------------------------------
    def _build_routes(self) -> None:
        base = self.base_url
        html = "text/html; charset=UTF-8"
        robots = "User-agent: *\nDisallow: /private/\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n"
        if self.sitemap:
            robots += f"\nSitemap: {base}/wp-sitemap.xml\n"
        self.routes["/robots.txt"] = Route(robots.encode(), "text/plain; charset=utf-8", etag=False, last_modified=False)
        posts = list(GOOD_PAGES) + (list(HOSTILE_PAGES) if self.hostile else [])
        if self.sitemap:
            xml = "application/xml; charset=UTF-8"
            self.routes["/wp-sitemap.xml"] = Route(_sitemap_index(base).encode(), xml)
            self.routes["/wp-sitemap-posts-post-1.xml"] = Route(_urlset(base, posts).encode(), xml)
            self.routes["/wp-sitemap-taxonomies-category-1.xml"] = Route(
                _urlset(base, ["/category/guidance/", "/category/toolkit/"]).encode(), xml)
            self.routes["/wp-sitemap-users-1.xml"] = Route(_urlset(base, ["/author/admin/"]).encode(), xml)
        teasers = [(RESOURCES[p].title, p, RESOURCES[p].paragraphs[0][:90]) for p in posts if p in RESOURCES]
        extra = [("Staff area", "/private/staff-notes/")] if self.hostile else []
        self.routes["/"] = Route(listing_html(teasers, extra).encode(), html)
        self.routes[ABOUT_PAGE] = Route(about_html().encode(), html)
        guidance = [t for t in teasers if "Guidance" in RESOURCES[t[1]].categories]
        self.routes["/category/guidance/"] = Route(listing_html(guidance, []).encode(), html)
        for path, res in RESOURCES.items():
            if path in GOOD_PAGES or self.hostile:
                # one page offers only Last-Modified, so If-Modified-Since is exercised too
                self.routes[path] = Route(resource_html(res).encode(), html, etag=path != RETAIL_PAGE)
        pdf = "application/pdf"
        indicators = self.pdf_bytes(INDICATORS_PDF)
        retail = self.pdf_bytes(RETAIL_PDF)
        self.routes[INDICATORS_EN] = Route(indicators, pdf)
        # A distinct file for the French version (the corpus holds English only): same text, other bytes.
        self.routes[INDICATORS_FR] = Route(indicators + b"\n% French edition (test fixture)\n", pdf)
        self.routes[RETAIL_URL] = Route(retail, pdf, etag=False)
        self.routes[RETAIL_MIRROR] = Route(retail, pdf)
        self.routes[FAQ_URL] = Route(self.pdf_bytes(FAQ_PDF), pdf)
        self.routes[FAKE_PDF] = Route(
            b"<!DOCTYPE html><html><head><title>Log in</title></head><body>Please log in.</body></html>", pdf)
        self.routes[PRIVATE_PDF] = Route(indicators, pdf)
        self.routes[DECLARED_BIG_PDF] = Route(b"%PDF-1.4\n" + b"0" * self.oversize_bytes, pdf)
        self.routes[f"{HOPS}10/"] = Route(about_html().encode(), html)
        self.routes[SLOW_PAGE] = Route(resource_html(RESOURCES[INDICATORS_PAGE]).encode(), html)

    def etag(self, route: Route) -> str:
        return '"' + hashlib.sha256(route.body).hexdigest()[:20] + '"'


class _Handler(BaseHTTPRequestHandler):
    owner: ResourceSite
    protocol_version = "HTTP/1.0"
    server_version = "TestWordPress/6.4"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self._record.status = code
        super().send_response(code, message)

    def do_GET(self) -> None:
        site = self.owner
        path = self.path.split("?", 1)[0]
        self._record = Request("GET", path, {k: v for k, v in self.headers.items()}, time.monotonic())
        with site._lock:
            site.requests.append(self._record)
        # the client may give up (timeout, size cap): expected in the hostile cases
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(site, path)

    def _answer(self, site: ResourceSite, path: str) -> None:
        if path in site.overrides:
            return self._plain(site.overrides[path], "gone for this test")
        hop = re.fullmatch(rf"{HOPS}(\d+)/", path)
        if hop and int(hop.group(1)) < 10:
            return self._redirect(f"{HOPS}{int(hop.group(1)) + 1}/")
        if site.hostile:
            if path == ERROR_PAGE:
                return self._plain(500, "Error establishing a database connection")
            if path == LOOP_PAGE:
                return self._redirect(LOOP_OTHER)
            if path == LOOP_OTHER:
                return self._redirect(LOOP_PAGE)
            if path == SLOW_PAGE and site._stop.wait(site.slow_seconds):
                return None
            if path == OVERSIZE_PDF:
                return self._oversize(site.oversize_bytes)
            if path in (DRIBBLED_HEADERS, DRIBBLED_BODY):
                return self._dribble(slow_headers=path == DRIBBLED_HEADERS)
        route = site.routes.get(path)
        if route is None or (path == SLOW_PAGE and not site.hostile):
            return self._plain(404, "Page not found")
        etag = site.etag(route) if route.etag else None
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if (etag and inm and etag in [t.strip() for t in inm.split(",")]) or (
            not inm and ims and route.last_modified and _not_after(LAST_MODIFIED, ims)
        ):
            self.send_response(304)
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(route.body)))
        if etag:
            self.send_header("ETag", etag)
        if route.last_modified:
            self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(route.body)
        return None

    def _plain(self, status: int, text: str) -> None:
        body = f"<html><body><h1>{status}</h1><p>{escape(text)}</p></body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _oversize(self, size: int) -> None:
        """A 'PDF' streamed without Content-Length, bigger than the cap the test sets."""
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.end_headers()
        self.wfile.write(b"%PDF-1.4\n")
        block = b"0" * 65536
        sent = 0
        while sent < size and not self.owner._stop.is_set():
            self.wfile.write(block)
            sent += len(block)


    def _dribble(self, slow_headers: bool) -> None:
        """A slow-loris: each byte well inside a read timeout, the whole far beyond any sane deadline."""
        self._record.status = 200
        body = resource_html(RESOURCES[INDICATORS_PAGE]).encode()
        head = (f"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
                f"X-Padding: {'.' * 400}\r\n\r\n").encode()
        data, i = head + body, 0 if slow_headers else len(head)
        self.wfile.write(data[:i])
        end = time.monotonic() + self.owner.dribble_seconds
        while i < len(data) and time.monotonic() < end and not self.owner._stop.wait(0.1):
            self.wfile.write(data[i : i + 1])
            i += 1
        self.wfile.write(data[i:])


def _not_after(last_modified: str, since: str) -> bool:
    """True when the resource's Last-Modified is not later than If-Modified-Since."""
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
