"""Ingest resource-library websites: crawl politely, download the PDFs, keep them in sync.

Why: practitioners keep their corpus in step with RESPECT-style WordPress libraries (one
page per resource: a description, categories, region tags, DOWNLOAD links to PDFs, often
one per language). Pointing Lantern at the site (or at a list of its pages) must give the
same metadata a hand-made MANIFEST would, without hammering the site and without losing
what is already stored when the site misbehaves.

    robots.txt respected (fetched once per host; an unreachable one blocks the host)
    one request at a time, at least `min_interval` seconds apart per host (or Crawl-delay)
    bounded retries with back-off on 5xx / 429 / timeouts; bounded redirects, loops named
    a size cap per response, enforced while streaming; PDFs checked by type and `%PDF-` magic
    conditional re-fetches (ETag / Last-Modified) from `<store>/web/cache.json`

Layout under the store: `web/cache.json` (validators and cached body per URL),
`web/pages/<sha256>.html|.xml` (page and sitemap bodies), `web/files/<sha256>.pdf`
(downloads, by content hash). A failed page or download is reported and retried next
run; nothing stored is ever removed here.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from core.errors import IngestError, StoreNotFound
from core.settings import Settings

from .load import SourceFile
from .pipeline import IngestReport, ProgressCallback, ingest_files
from .resource_page import LANGUAGE_NAMES, ResourceRecord, looks_like_resource_page, parse_resource_page

__all__ = ["USER_AGENT", "CrawlOptions", "Fetched", "Fetcher", "crawl", "ingest_urls"]

USER_AGENT = "Lantern/0.1 (+resource-library ingest)"

_REDIRECTS = {301, 302, 303, 307, 308}
_RETRYABLE = {429, 500, 502, 503, 504}
_PDF_TYPES = {"application/pdf", "application/x-pdf", "application/octet-stream", "binary/octet-stream",
              "application/download", "application/force-download", "application/x-download", ""}
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
_ROBOTS_MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class CrawlOptions:
    """Politeness and safety knobs for one crawl; the defaults suit a real site."""

    user_agent: str = USER_AGENT
    min_interval: float = 1.0  # seconds between the starts of two requests to one host
    timeout: float = 30.0  # seconds without progress before a request is abandoned
    retries: int = 2  # extra attempts after a 5xx, 429, timeout or dropped connection
    backoff: float = 1.0  # wait before the first retry, doubled for each further one
    max_bytes: int = 50 * 1024 * 1024  # per response; streaming stops beyond it
    max_redirects: int = 5
    max_seconds: float = 600.0  # whole-response deadline (a server trickling bytes)
    max_wait: float = 60.0  # most seconds honoured from Retry-After or Crawl-delay
    max_sitemaps: int = 50


# --------------------------------------------------------------------------- small helpers


def _mb(n: float) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n / 1000:.0f} kB"


def _normal(url: str) -> str:
    """Absolute URL without its #fragment (the same document for caching and de-duplication)."""
    return urldefrag(url.strip())[0]


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _site(url: str) -> str:
    """Host (and port) without a leading www.: the unit of --same-site."""
    host = _host(url)
    return host[4:] if host.startswith("www.") else host


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _charset(content_type: str) -> str:
    m = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
    return m.group(1) if m else "utf-8"


def _snippet(head: bytes) -> str:
    text = head[:40].decode("latin-1", errors="replace")
    return re.sub(r"\s+", " ", "".join(c if c.isprintable() else "?" for c in text)).strip()


def _join(values: Iterable[str]) -> str:
    return ", ".join(v for v in values if v)


def _split(value: Any) -> list[str]:
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


# --------------------------------------------------------------------------- HTTP cache


class HttpCache:
    """Validators and cached bodies of earlier runs, so a re-run sends conditional requests."""

    def __init__(self, root: Path):
        self.root = root
        self.path = root / "cache.json"
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                self.entries = json.loads(self.path.read_text(encoding="utf-8")).get("entries", {})
            except (ValueError, OSError, AttributeError):
                self.entries = {}  # a damaged cache only costs full downloads

    def body(self, url: str) -> Path | None:
        entry = self.entries.get(url)
        if not entry or not entry.get("file"):
            return None
        path = self.root / entry["file"]
        return path if path.is_file() else None

    def validators(self, url: str) -> dict[str, str]:
        """If-None-Match / If-Modified-Since headers, only when the cached body still exists."""
        entry = self.entries.get(url)
        if not entry or self.body(url) is None:
            return {}
        headers = {}
        if entry.get("etag"):
            headers["If-None-Match"] = entry["etag"]
        if entry.get("last_modified"):
            headers["If-Modified-Since"] = entry["last_modified"]
        return headers

    def remember(self, url: str, entry: dict[str, Any]) -> None:
        self.entries[url] = entry

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".cache.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "entries": self.entries}, indent=1, sort_keys=True), "utf-8")
        os.replace(tmp, self.path)

    def prune(self, keep: set[Path], min_age: float = 3600.0) -> None:
        """Delete old cached bodies that neither the cache nor a stored document refers to.

        Recent files are spared: another run on the same store may be about to ingest them.
        """
        used = {(self.root / e["file"]).resolve() for e in self.entries.values() if e.get("file")}
        used |= {p.resolve() for p in keep}
        cutoff = time.time() - min_age
        for folder in (self.root / "pages", self.root / "files"):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.name.startswith(".") or not path.is_file() or path.resolve() in used:
                    continue
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- fetcher


@dataclass
class Fetched:
    """A fetched (or unchanged, 304) response whose body is cached on disk."""

    url: str
    final_url: str
    content_type: str
    path: Path
    sha256: str
    not_modified: bool

    def text(self) -> str:
        return self.path.read_bytes().decode(_charset(self.content_type), errors="replace")


@dataclass
class _Response:
    kind: str  # "ok", "redirect", "not_modified"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    location: str = ""
    sha256: str = ""


class Fetcher:
    """One polite HTTP client: robots.txt, per-host pacing, retries, redirects, size caps."""

    def __init__(self, options: CrawlOptions, web_dir: Path, client: httpx.Client | None = None):
        self.options = options
        self.cache = HttpCache(web_dir)
        self.client = client or httpx.Client(
            headers={"User-Agent": options.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=False,
        )
        self._last: dict[str, float] = {}
        self._delay: dict[str, float] = {}
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_problem: dict[str, str] = {}
        self.requests = 0
        self.downloaded_bytes = 0

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()
        self.cache.save()

    # --- politeness -----------------------------------------------------------------
    def _wait_turn(self, url: str) -> None:
        """Sleep until this host's interval since our last request start has passed."""
        host = _host(url)
        interval = max(self.options.min_interval, self._delay.get(host, 0.0))
        last = self._last.get(host)
        if last is not None:
            pause = last + interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self._last[host] = time.monotonic()

    def robots(self, url: str) -> RobotFileParser | None:
        """The host's robots.txt rules (None: no robots.txt, everything allowed)."""
        origin = _origin(url)
        if origin in self._robots:
            return self._robots[origin]
        rules: RobotFileParser | None = None
        robots_url = origin + "/robots.txt"
        try:
            buf = io.BytesIO()
            self._follow(robots_url, {}, buf, check_robots=False, pdf=False, cap=_ROBOTS_MAX_BYTES)
            rules = RobotFileParser(robots_url)
            rules.parse(buf.getvalue().decode("utf-8", errors="replace").splitlines())
            delay = rules.crawl_delay(self.options.user_agent)
            if delay:
                self._delay[_host(url)] = min(float(delay), self.options.max_wait)
        except IngestError as exc:
            status = re.match(r"HTTP (\d{3})", exc.reason)
            if status and 400 <= int(status.group(1)) < 500:
                rules = None  # RFC 9309: a missing robots.txt (any 4xx) allows everything
            else:
                self._robots_problem[origin] = f"robots.txt could not be read ({exc.reason})"
        self._robots[origin] = rules
        return rules

    def check_allowed(self, url: str) -> None:
        """Raise IngestError if robots.txt (or an unreadable one) forbids fetching `url`."""
        rules = self.robots(url)
        problem = self._robots_problem.get(_origin(url))
        if problem:
            raise IngestError(url, f"not fetched: {problem}, so the site is treated as disallowed")
        if rules is not None and not rules.can_fetch(self.options.user_agent, url):
            raise IngestError(url, "blocked by robots.txt (disallowed for Lantern's user agent); not fetched")

    def sitemaps_in_robots(self, url: str) -> list[str]:
        rules = self.robots(url)
        return list(rules.site_maps() or []) if rules is not None else []

    # --- fetching -------------------------------------------------------------------
    def fetch(self, url: str, pdf: bool = False) -> Fetched:
        """GET `url` into the cache (conditionally when cached); IngestError names the reason."""
        url = _normal(url)
        folder = self.cache.root / ("files" if pdf else "pages")
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{os.getpid()}.{self.requests}.part"
        try:
            with open(tmp, "wb") as sink:
                resp = self._follow(url, self.cache.validators(url), sink, pdf=pdf, cap=self.options.max_bytes)
            entry = self.cache.entries.get(url, {})
            if resp.kind == "not_modified":
                cached = self.cache.body(url)
                if cached is None:
                    raise IngestError(url, "server answered 304 Not Modified but no cached copy exists")
                entry["checked_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                return Fetched(url, entry.get("final_url", url), entry.get("content_type", ""), cached,
                               entry.get("sha256", ""), True)
            content_type = resp.headers.get("content-type", "")
            ext = ".pdf" if pdf else ".xml" if "xml" in _media_type(content_type) else ".html"
            target = folder / f"{resp.sha256}{ext}"
            os.replace(tmp, target)
            final_url = resp.location or url
            self.cache.remember(url, {
                "etag": resp.headers.get("etag", ""),
                "last_modified": resp.headers.get("last-modified", ""),
                "sha256": resp.sha256,
                "file": target.relative_to(self.cache.root).as_posix(),
                "content_type": content_type,
                "final_url": final_url,
                "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            })
            return Fetched(url, final_url, content_type, target, resp.sha256, False)
        finally:
            tmp.unlink(missing_ok=True)

    def _follow(
        self, url: str, headers: dict[str, str], sink: IO[bytes], pdf: bool, cap: int, check_robots: bool = True
    ) -> _Response:
        """Follow redirects (bounded, loops named); `location` of the result is the final URL."""
        chain = [url]
        current = url
        while True:
            if check_robots:
                self.check_allowed(current)
            resp = self._get(current, headers, sink, pdf, cap, origin=url)
            if resp.kind != "redirect":
                resp.location = current
                return resp
            nxt = _normal(urljoin(current, resp.location))
            if not nxt.startswith(("http://", "https://")):
                raise IngestError(url, f"redirected to an unsupported address {nxt!r}")
            if nxt in chain:
                raise IngestError(url, "redirect loop: " + " → ".join([*chain, nxt]))
            if len(chain) > self.options.max_redirects:
                raise IngestError(url, f"too many redirects (more than {self.options.max_redirects})")
            chain.append(nxt)
            current = nxt

    def _get(self, url: str, headers: dict[str, str], sink: IO[bytes], pdf: bool, cap: int, origin: str) -> _Response:
        """One GET with bounded retries and back-off; the body is streamed into `sink`."""
        attempts = 1 + max(0, self.options.retries)
        for attempt in range(1, attempts + 1):
            after = f" (after {attempt} attempts)" if attempt > 1 else ""
            wait = self.options.backoff * 2 ** (attempt - 1)
            self._wait_turn(url)
            self.requests += 1
            sink.seek(0)
            sink.truncate()  # a retried attempt starts the body afresh
            try:
                with self.client.stream("GET", url, headers=headers) as r:
                    if r.status_code in _REDIRECTS:
                        location = r.headers.get("location")
                        if not location:
                            raise IngestError(origin, f"HTTP {r.status_code} redirect without a Location header")
                        return _Response("redirect", r.status_code, dict(r.headers), location)
                    if r.status_code == 304:
                        return _Response("not_modified", 304, dict(r.headers))
                    retry = r.status_code in _RETRYABLE and attempt < attempts
                    if retry:
                        wait = max(wait, self._retry_after(r.headers.get("retry-after")))
                    elif r.status_code >= 400:
                        raise IngestError(origin, f"HTTP {r.status_code} {r.reason_phrase}{after}".strip())
                    elif not 200 <= r.status_code < 300:
                        raise IngestError(origin, f"unexpected HTTP {r.status_code} {r.reason_phrase}".strip())
                    else:
                        sha = self._read_body(r, sink, pdf, cap, origin)
                        return _Response("ok", r.status_code, dict(r.headers), sha256=sha)
                time.sleep(wait)  # a retryable status; the response is closed while we wait
                continue
            except httpx.TimeoutException:
                if attempt < attempts:
                    time.sleep(wait)
                    continue
                raise IngestError(origin, f"timed out after {self.options.timeout:g} s ({attempts} attempts)") from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                if attempt < attempts:
                    time.sleep(wait)
                    continue
                why = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
                raise IngestError(origin, f"connection failed ({why}; {attempts} attempts)") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_after(self, value: str | None) -> float:
        if not value:
            return 0.0
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return 0.0
        return max(0.0, min(seconds, self.options.max_wait))

    def _read_body(self, r: httpx.Response, sink: IO[bytes], pdf: bool, cap: int, url: str) -> str:
        """Stream the body into `sink`, stopping at the size cap; PDFs checked by type and magic."""
        content_type = r.headers.get("content-type", "")
        media = _media_type(content_type)
        if pdf and media not in _PDF_TYPES:
            raise IngestError(url, f"not a PDF: the server sent {media} (often a login or error page)")
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:  # decoded bodies are larger still
            raise IngestError(url, f"larger than the size cap ({_mb(int(declared))} > {_mb(cap)}); not downloaded")
        digest = hashlib.sha256()
        total = 0
        head = b""
        deadline = time.monotonic() + self.options.max_seconds
        for chunk in r.iter_bytes(1 << 16):
            total += len(chunk)
            if total > cap:
                raise IngestError(url, f"larger than the size cap of {_mb(cap)}; download stopped")
            if pdf and len(head) < 1024:
                head += chunk[: 1024 - len(head)]
                if len(head) >= 1024 and b"%PDF-" not in head:
                    raise IngestError(url, f"not a PDF: served as {media or 'no type'} but starts {_snippet(head)!r}")
            if time.monotonic() > deadline:
                raise IngestError(url, f"took longer than {self.options.max_seconds:g} s; download stopped")
            digest.update(chunk)
            sink.write(chunk)
        if pdf and b"%PDF-" not in head:
            raise IngestError(url, f"not a PDF: served as {media or 'no type'} but starts {_snippet(head)!r}")
        self.downloaded_bytes += total
        return digest.hexdigest()


# --------------------------------------------------------------------------- page parsing


class _Links(HTMLParser):
    """Anchors of a page (href, text) and how many entry titles it has (a listing has several)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.entry_titles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if re.search(r"\b(?:entry|post)-title\b", a.get("class", "")):
            self.entry_titles += 1
        if tag == "a" and a.get("href") and "nofollow" not in a.get("rel", "").lower():
            self.links.append(a["href"])


def _links(html: str, base: str) -> tuple[list[str], int]:
    parser = _Links()
    parser.feed(html)
    parser.close()
    out = []
    for href in parser.links:
        url = _normal(urljoin(base, href.strip()))
        if url.startswith(("http://", "https://")):
            out.append(url)
    return out, parser.entry_titles


def _parse_sitemap(data: bytes, url: str, cap: int) -> tuple[list[str], list[str]]:
    """(child sitemaps, page URLs) of a sitemap or sitemap index; gzip accepted, DTDs refused."""
    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            data = gz.read(cap + 1)
        if len(data) > cap:
            raise IngestError(url, f"sitemap larger than the size cap of {_mb(cap)} when unpacked")
    if b"<!DOCTYPE" in data[:4096].upper():
        raise IngestError(url, "sitemap with a DOCTYPE declaration refused (XML entity risk)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise IngestError(url, f"not a sitemap (XML error: {exc})") from None
    kind = root.tag.rsplit("}", 1)[-1]
    locs = [(el.text or "").strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc"]
    locs = [_normal(urljoin(url, loc)) for loc in locs if loc]
    if kind == "sitemapindex":
        return locs, []
    if kind == "urlset":
        return [], locs
    raise IngestError(url, f"not a sitemap (root element <{kind}>)")


# --------------------------------------------------------------------------- crawl


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
    """What a crawl found: resource pages, fetched downloads and failures (URL → reason)."""

    pages: list[ResourcePage] = field(default_factory=list)
    downloads: list[FetchedDownload] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pages_fetched: int = 0
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

    def allowed_site(self, url: str) -> bool:
        return not self.same_site or _site(url) in self.sites

    def enqueue(self, url: str, depth: int) -> None:
        if url not in self.seen:
            self.seen.add(url)
            self.queue.append((url, depth))

    def run(self, urls: list[str]) -> CrawlResult:
        started = time.perf_counter()
        starts = [_normal(u) for u in urls]
        self.sites = {_site(u) for u in starts}
        direct_pdfs: list[str] = []
        for url in starts:
            path = urlsplit(url).path
            if path.lower().endswith(".pdf"):
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
        origin = _origin(url)
        try:
            listed = self.f.sitemaps_in_robots(url)
        except IngestError:
            listed = []
        listed = [s for s in listed if _site(s) == _site(url)]
        for candidate in listed or [origin + "/wp-sitemap.xml", origin + "/sitemap.xml"]:
            if self.sitemap(_normal(candidate), 0, required=bool(listed)):
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
            children, pages = _parse_sitemap(fetched.path.read_bytes(), url, self.f.options.max_bytes)
        except IngestError as exc:
            if required:
                self.fail(url, exc.reason)
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
            self.fail(url, exc.reason)
            return
        self.result.not_modified += fetched.not_modified
        media = _media_type(fetched.content_type)
        if "xml" in media and "html" not in media:  # a sitemap given as a page URL
            self.result.pages_fetched -= 1
            self.sitemap(url, 0, required=True, fetched=fetched)
            return
        if media and "html" not in media:
            self.fail(url, f"not an HTML page (the server sent {media})")
            return
        html = fetched.text()
        record = parse_resource_page(html, url=fetched.final_url)
        links, entry_titles = _links(html, fetched.final_url)
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
                    linked.setdefault(_normal(d.url), []).append((page, d))
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
                self.fail(url, exc.reason)
                continue
            self.result.not_modified += fetched.not_modified
            self.result.downloads.append(FetchedDownload(url, fetched, links))


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


# --------------------------------------------------------------------------- source files


def _stored_documents(settings: Settings) -> dict[str, Any]:
    """Documents already in the store (to keep a shared PDF's source and links stable)."""
    if not (Path(settings.store) / "ledger.sqlite").exists():
        return {}
    from core.store import Store

    try:
        store = Store.open(settings)
    except StoreNotFound:
        return {}
    try:
        return {d.source: d for d in store.documents(include_pending=True)}
    finally:
        store.close()


def _record_meta(record: ResourceRecord) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if record.categories:
        meta["categories"] = _join(record.categories)
    if record.tags:
        meta["tags"] = _join(record.tags)
    return meta


def _page_source(page: ResourcePage, canonical: dict[str, str]) -> SourceFile | None:
    """The page's own description and download lines as a text document."""
    text = page.record.text()
    if not text.strip():
        return None
    record = page.record
    meta: dict[str, Any] = {"doc_type": "resource-page", "url": page.url, "resource_url": page.url}
    if record.title:
        meta["title"] = meta["resource_title"] = record.title
    first = record.downloads[0] if record.downloads else None
    if first and first.publisher:
        meta["publisher"] = first.publisher
    if first and first.year:
        meta["year"] = first.year
    meta.update(_record_meta(record))
    downloads = [canonical.get(_normal(d.url), _normal(d.url)) for d in record.downloads if d.url]
    if downloads:
        meta["downloads"] = _join(dict.fromkeys(downloads))
    return SourceFile(path=page.path, source=page.url, metadata=meta, text=text)


def _groups(downloads: list[FetchedDownload], stored: dict[str, Any]) -> list[list[FetchedDownload]]:
    """Downloads grouped by content hash, primary first (the URL already stored, else the first seen)."""
    groups: dict[str, list[FetchedDownload]] = {}
    for dl in downloads:
        groups.setdefault(dl.fetched.sha256, []).append(dl)
    out = []
    for group in groups.values():
        primary = next((dl for dl in group if dl.url in stored), group[0])
        out.append([primary, *(dl for dl in group if dl is not primary)])
    return out


def _download_sources(
    groups: list[list[FetchedDownload]], canonical: dict[str, str], stored: dict[str, Any]
) -> list[SourceFile]:
    """One SourceFile per distinct file content: the same PDF at two URLs is one document."""
    out = []
    for group in groups:
        primary = group[0]
        # the primary URL's own links first; keep the page the stored document names, if still linked
        links = [(pg, line) for dl in group for pg, line in dl.links if pg is not None]
        pages = list(dict.fromkeys(pg.url for pg, _ in links))
        old = stored.get(primary.url)
        old_meta = old.metadata if old else {}
        chosen = next((link for link in links if link[0].url == old_meta.get("resource_url")), None)
        page, line = chosen or (links[0] if links else (None, None))
        meta: dict[str, Any] = {"url": primary.url}
        if page is not None and line is not None:
            record = page.record
            meta.update({k: v for k, v in {
                "title": line.title or record.title,
                "publisher": line.publisher,
                "year": line.year,
                "language": line.language,
                "resource_url": page.url,
                "resource_title": record.title,
            }.items() if v})
            meta.update(_record_meta(record))
            others = [(canonical.get(_normal(d.url), _normal(d.url)), d.language) for d in record.downloads if d.url]
            others = [(u, lang) for u, lang in others if u != primary.url]
            others = list(dict.fromkeys(others))
            if others:
                meta["related"] = _join(u for u, _ in others)
                langs = [LANGUAGE_NAMES.get(lang, lang) if lang else "" for _, lang in others]
                if any(langs):
                    meta["related_languages"] = _join(lang or "?" for lang in langs)
            also = sorted(({p for p in pages if p != page.url} | set(_split(old_meta.get("also_linked_from"))))
                          - {page.url})
            if also:
                meta["also_linked_from"] = _join(also)
        also_at = sorted({dl.url for dl in group if dl.url != primary.url} | set(_split(old_meta.get("also_at"))))
        if also_at:
            meta["also_at"] = _join(also_at)
        out.append(SourceFile(path=primary.fetched.path, source=primary.url, metadata=meta))
    return out


def source_files(result: CrawlResult, stored: dict[str, Any] | None = None) -> list[SourceFile]:
    """SourceFiles for the pipeline: every resource page's description and every distinct download."""
    groups = _groups(result.downloads, stored or {})
    canonical = {dl.url: group[0].url for group in groups for dl in group}
    files: dict[str, SourceFile] = {}
    for page in result.pages:
        sf = _page_source(page, canonical)
        if sf is not None:
            files.setdefault(sf.source, sf)
    for sf in _download_sources(groups, canonical, stored or {}):
        files.setdefault(sf.source, sf)
    return list(files.values())


# --------------------------------------------------------------------------- entry point


def ingest_urls(
    urls: list[str],
    settings: Settings,
    max_pages: int = 50,
    same_site: bool = True,
    progress: ProgressCallback | None = None,
    options: CrawlOptions | None = None,
) -> IngestReport:
    """Crawl resource-library URLs and ingest their pages and PDFs; failures are listed, not fatal."""
    web_dir = Path(settings.store) / "web"
    result = crawl(urls, web_dir, max_pages=max_pages, same_site=same_site, options=options, progress=progress)
    stored = _stored_documents(settings)
    files = source_files(result, stored)
    if files:
        report = ingest_files(files, settings, progress=progress)
    else:
        report = IngestReport(documents=len([d for d in stored.values() if d.state == "complete"]),
                              chunks=sum(d.chunks for d in stored.values() if d.state == "complete"))
        if progress:
            progress("done", 1, 1)
    by_path: dict[str, str] = {str(sf.path): sf.source for sf in files}
    pipeline_failed = [{"path": by_path.get(f["path"], f["path"]), "error": f["error"]} for f in report.failed]
    report.failed = [{"path": url, "error": reason} for url, reason in result.failed.items()] + pipeline_failed
    report.timings = {"fetch": result.seconds, **report.timings}
    report.seconds += result.seconds
    keep = {Path(str(d.metadata.get("path"))) for d in _stored_documents(settings).values() if d.metadata.get("path")}
    HttpCache(web_dir).prune(keep)
    return report

