"""The crawler: from start URLs through sitemaps and listing pages to resource pages and PDFs.

Why: pointing Lantern at a resource library (or a list of its pages) must find each
resource page once and each linked download once, stay on the site unless told otherwise,
and stop at --max-pages. A failed page or download is recorded with its reason and the
crawl carries on; the next run retries it.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import IngestError

from ..load import PDF_SUFFIXES
from ..pipeline import ProgressCallback
from ..resource_page import ResourceRecord, looks_like_resource_page, parse_resource_page
from .fetch import Disallowed, Fetched, Fetcher
from .options import CrawlOptions
from .parse import page_links, parse_sitemap
from .urls import media_type, normal_url, origin_of, site_of

__all__ = ["CrawlResult", "FetchedDownload", "ResourcePage", "crawl", "nothing_kept"]

_NOT_PAGE_EXT = re.compile(
    r"\.(?:pdf|docx?|xlsx?|pptx?|odt|ods|odp|rtf|zip|rar|7z|gz|jpe?g|png|gif|svg|webp|ico|bmp|tiff?|mp[34]|"
    r"m4a|mov|avi|wav|css|js|json|xml|txt|csv|epub)$", re.I)
_UNSUPPORTED_DOWNLOAD = re.compile(
    r"\.(docx?|xlsx?|pptx?|odt|ods|odp|rtf|zip|rar|7z|jpe?g|png|gif|mp[34]|m4a|mov|avi|wav|epub)$", re.I)
_SKIP_LINK = re.compile(
    r"/(?:wp-admin|wp-login\.php|wp-json|xmlrpc\.php|feed|comments/feed|tag|author|cart|checkout|my-account)(?:/|$)"
    r"|[?&](?:replytocom|share|s|add-to-cart|action|login|logout)=", re.I)
_SKIP_SITEMAP = re.compile(r"(?:taxonom|categor|[-_/]tags?[-_.]|users?[-_.]|authors?[-_.])", re.I)
_FOLLOW_DEPTH = 2  # links are followed from the start page and from listings it links to (pagination)
_SITEMAP_DEPTH = 3
_PDF_ENDINGS = tuple(PDF_SUFFIXES)  # a start URL ending so is downloaded, not parsed as a page


@dataclass
class ResourcePage:
    """A crawled resource page: its record and the cached HTML it came from."""

    url: str
    record: ResourceRecord
    path: Path


@dataclass
class FetchedDownload:
    """A fetched download and every (page, download line) that links to it (page None: a direct URL)."""

    url: str
    fetched: Fetched
    links: list[tuple[ResourcePage | None, Any]]


@dataclass
class CrawlResult:
    """What a crawl found: resource pages, fetched downloads, failures and skips (URL → reason)."""

    pages: list[ResourcePage] = field(default_factory=list)
    downloads: list[FetchedDownload] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # disallowed by robots.txt: correct to leave out
    pages_fetched: int = 0
    pages_read: int = 0  # HTML pages fetched and parsed (kept or not)
    skipped_pages: int = 0
    requests: int = 0
    downloaded_bytes: int = 0
    not_modified: int = 0
    seconds: float = 0.0


class _Crawler:
    """Breadth-first crawl from start URLs through sitemaps and listing pages."""

    def __init__(self, fetcher: Fetcher, max_pages: int, same_site: bool, notify: ProgressCallback):
        self.f = fetcher
        self.max_pages = max(0, max_pages)
        self.same_site = same_site
        self.notify = notify
        self.result = CrawlResult()
        self.sites: set[str] = set()
        self.queue: deque[tuple[str, int]] = deque()
        self.seen: set[str] = set()
        self.sitemaps_seen: set[str] = set()

    def fail(self, url: str, reason: str) -> None:
        self.result.failed.setdefault(url, reason)

    def refused(self, url: str, exc: IngestError) -> None:
        """Record a fetch refusal: a robots.txt disallow is a skip, anything else a failure."""
        if isinstance(exc, Disallowed):
            self.result.skipped.setdefault(url, exc.reason)
        else:
            self.fail(url, exc.reason)

    def allowed_site(self, url: str) -> bool:
        return not self.same_site or site_of(url) in self.sites

    def enqueue(self, url: str, depth: int) -> None:
        if url not in self.seen:
            self.seen.add(url)
            self.queue.append((url, depth))

    def run(self, urls: list[str]) -> CrawlResult:
        started = time.perf_counter()
        starts = [normal_url(u) for u in urls]
        self.sites = {site_of(u) for u in starts}
        direct_pdfs: list[str] = []
        for url in starts:
            path = urlsplit(url).path
            if path.lower().endswith(_PDF_ENDINGS):
                direct_pdfs.append(url)
            elif re.search(r"\.xml(?:\.gz)?$", path, re.I):
                self.sitemap(url, 0, required=True)
            elif path in ("", "/") and not urlsplit(url).query and self.discover_sitemap(url):
                continue
            else:
                self.enqueue(url, 0)
        while self.queue:
            url, depth = self.queue.popleft()
            if self.result.pages_fetched >= self.max_pages:
                self.result.skipped_pages += 1
                self.notify(f"--max-pages {self.max_pages} reached: not fetching {url}", self.max_pages, 0)
                continue
            self.page(url, depth)
        self.downloads(direct_pdfs)
        self.result.requests = self.f.requests
        self.result.downloaded_bytes = self.f.downloaded_bytes
        self.result.seconds = time.perf_counter() - started
        return self.result

    def discover_sitemap(self, url: str) -> bool:
        """Queue the pages of the site's sitemap (robots.txt's, wp-sitemap.xml, sitemap.xml)."""
        origin = origin_of(url)
        try:
            listed = self.f.sitemaps_in_robots(url)
        except IngestError:
            listed = []
        listed = [s for s in listed if site_of(s) == site_of(url)]
        for candidate in listed or [origin + "/wp-sitemap.xml", origin + "/sitemap.xml"]:
            if self.sitemap(normal_url(candidate), 0, required=bool(listed)):
                return True
        return False

    def sitemap(self, url: str, depth: int, required: bool = False, fetched: Fetched | None = None) -> bool:
        """Queue a sitemap's pages (recursing into indexes); False if it could not be read."""
        if url in self.sitemaps_seen or len(self.sitemaps_seen) >= self.f.options.max_sitemaps:
            return url in self.sitemaps_seen
        self.sitemaps_seen.add(url)
        self.notify(f"reading sitemap {url}", len(self.sitemaps_seen), 0)
        try:
            fetched = fetched or self.f.fetch(url)
            children, pages = parse_sitemap(fetched.path.read_bytes(), url, self.f.options.max_bytes)
        except IngestError as exc:
            if required:
                self.refused(url, exc)
            return False
        for child in children:
            if depth < _SITEMAP_DEPTH and self.allowed_site(child) and not _SKIP_SITEMAP.search(urlsplit(child).path):
                self.sitemap(child, depth + 1, required=True)
        for page in pages:
            if self.allowed_site(page) and not _NOT_PAGE_EXT.search(urlsplit(page).path):
                self.enqueue(page, _FOLLOW_DEPTH)  # sitemap entries are leaves: their links are not followed
        return True

    def page(self, url: str, depth: int) -> None:
        """Fetch one page: a resource page is kept; a listing's links are queued."""
        self.result.pages_fetched += 1
        self.notify(f"fetching {url}", self.result.pages_fetched, 0)
        try:
            fetched = self.f.fetch(url)
        except IngestError as exc:
            self.refused(url, exc)
            return
        self.result.not_modified += fetched.not_modified
        media = media_type(fetched.content_type)
        if "xml" in media and "html" not in media:  # a sitemap given as a page URL
            self.result.pages_fetched -= 1
            self.sitemap(url, 0, required=True, fetched=fetched)
            return
        if media and "html" not in media:
            self.fail(url, f"not an HTML page (the server sent {media})")
            return
        html = fetched.text()
        self.result.pages_read += 1
        record = parse_resource_page(html, url=fetched.final_url)
        links, entry_titles = page_links(html, fetched.final_url)
        is_resource = bool(record.downloads) or (
            bool(record.title and record.description.strip()) and entry_titles <= 1 and looks_like_resource_page(html)
        )
        if is_resource:
            self.result.pages.append(ResourcePage(fetched.final_url, record, fetched.path))
            return
        if depth >= _FOLLOW_DEPTH:
            return
        for link in links:
            path = urlsplit(link).path
            if link == fetched.final_url or not self.allowed_site(link):
                continue
            if _NOT_PAGE_EXT.search(path) or _SKIP_LINK.search(link):
                continue
            self.enqueue(link, depth + 1)

    def downloads(self, direct_pdfs: list[str]) -> None:
        """Fetch every linked download once, in order of first appearance."""
        linked: dict[str, list[tuple[ResourcePage | None, Any]]] = {}
        for page in self.result.pages:
            for d in page.record.downloads:
                if d.url:
                    linked.setdefault(normal_url(d.url), []).append((page, d))
        for url in direct_pdfs:
            linked.setdefault(url, []).append((None, None))
        for n, (url, links) in enumerate(linked.items(), 1):
            self.notify(f"downloading {url} ({n}/{len(linked)})", n, 0)
            bad = _UNSUPPORTED_DOWNLOAD.search(urlsplit(url).path)
            if bad:
                self.fail(url, f"unsupported download type .{bad.group(1).lower()} (Lantern reads PDFs); not fetched")
                continue
            try:
                fetched = self.f.fetch(url, pdf=True)
            except IngestError as exc:
                self.refused(url, exc)
                continue
            self.result.not_modified += fetched.not_modified
            self.result.downloads.append(FetchedDownload(url, fetched, links))


def nothing_kept(result: CrawlResult, max_pages: int) -> str | None:
    """Why a crawl that read pages kept none of them (None when it kept something or read nothing:
    then its failures already say why)."""
    if result.pages or result.downloads or not result.pages_read:
        return None
    reason = (f"read {result.pages_read} page(s) and kept none: no page was a resource page (a description "
              "with download links) and no PDF was linked from one")
    if result.skipped_pages:
        reason += f"; stopped at --max-pages {max_pages} with {result.skipped_pages} more page(s) queued"
    return reason


def crawl(
    urls: list[str],
    web_dir: Path,
    max_pages: int = 50,
    same_site: bool = True,
    options: CrawlOptions | None = None,
    progress: ProgressCallback | None = None,
) -> CrawlResult:
    """Crawl `urls` (sites, sitemaps, listings, resource pages or PDFs) into the web cache."""
    notify: ProgressCallback = progress or (lambda *_: None)
    with Fetcher(options or CrawlOptions(), web_dir) as fetcher:
        return _Crawler(fetcher, max_pages, same_site, notify).run(urls)
