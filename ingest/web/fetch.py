"""The polite fetcher: robots.txt, per-host pacing, retries, bounded redirects, size caps.

Why: a resource library is somebody else's small server. One request at a time per host,
at least `min_interval` seconds apart (or the robots.txt Crawl-delay), bounded retries
with back-off on 5xx / 429 / timeouts, a size cap enforced while streaming, and PDFs
checked by type and `%PDF-` magic before they reach the pipeline. Every refusal is an
IngestError that names the reason, so the crawl can report it and carry on.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO
from urllib.parse import urljoin
from urllib.robotparser import RobotFileParser

import httpx

from core.errors import IngestError

from .cache import HttpCache
from .deadline import Deadline
from .options import CrawlOptions
from .urls import charset_of, host_of, media_type, normal_url, origin_of, size_text

__all__ = ["Disallowed", "Fetched", "Fetcher"]

_REDIRECTS = {301, 302, 303, 307, 308}
_RETRYABLE = {429, 500, 502, 503, 504}
_PDF_TYPES = {"application/pdf", "application/x-pdf", "application/octet-stream", "binary/octet-stream",
              "application/download", "application/force-download", "application/x-download", ""}
_ROBOTS_MAX_BYTES = 512 * 1024


def _snippet(head: bytes) -> str:
    text = head[:40].decode("latin-1", errors="replace")
    return re.sub(r"\s+", " ", "".join(c if c.isprintable() else "?" for c in text)).strip()


class Disallowed(IngestError):
    """robots.txt forbids the URL: leaving it out is correct, so the crawl reports a skip, not a failure."""


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
        return self.path.read_bytes().decode(charset_of(self.content_type), errors="replace")


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
            limits=httpx.Limits(max_keepalive_connections=0),  # a fresh socket per request, for the Deadline
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
        host = host_of(url)
        interval = max(self.options.min_interval, self._delay.get(host, 0.0))
        last = self._last.get(host)
        if last is not None:
            pause = last + interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self._last[host] = time.monotonic()

    def robots(self, url: str) -> RobotFileParser | None:
        """The host's robots.txt rules (None: no robots.txt, everything allowed)."""
        origin = origin_of(url)
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
                self._delay[host_of(url)] = min(float(delay), self.options.max_wait)
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
        problem = self._robots_problem.get(origin_of(url))
        if problem:
            raise IngestError(url, f"not fetched: {problem}, so the site is treated as disallowed")
        if rules is not None and not rules.can_fetch(self.options.user_agent, url):
            raise Disallowed(url, "blocked by robots.txt (disallowed for Lantern's user agent); not fetched")

    def sitemaps_in_robots(self, url: str) -> list[str]:
        rules = self.robots(url)
        return list(rules.site_maps() or []) if rules is not None else []

    # --- fetching -------------------------------------------------------------------
    def fetch(self, url: str, pdf: bool = False) -> Fetched:
        """GET `url` into the cache (conditionally when cached); IngestError names the reason."""
        url = normal_url(url)
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
            ext = ".pdf" if pdf else ".xml" if "xml" in media_type(content_type) else ".html"
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
            nxt = normal_url(urljoin(current, resp.location))
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
            deadline = Deadline(self.options.deadline)
            try:
                with deadline, self.client.stream("GET", url, headers=headers,
                                                  extensions={"trace": deadline.trace}) as r:
                    if deadline.passed:  # headers dribbled in just under the cut
                        raise self._too_slow(origin)
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
                        sha = self._read_body(r, sink, pdf, cap, origin, deadline)
                        return _Response("ok", r.status_code, dict(r.headers), sha256=sha)
                time.sleep(wait)  # a retryable status; the response is closed while we wait
                continue
            except (httpx.TransportError, httpx.DecodingError) as exc:
                if deadline.expired:  # the Deadline cut the socket: a trickling server is not retried
                    raise self._too_slow(origin) from None
                if attempt < attempts:
                    time.sleep(wait)
                    continue
                if isinstance(exc, httpx.TimeoutException):
                    raise IngestError(origin, f"timed out after {self.options.timeout:g} s ({attempts} attempts)") from None
                why = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
                raise IngestError(origin, f"connection failed ({why}; {attempts} attempts)") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _too_slow(self, url: str) -> IngestError:
        return IngestError(url, f"sent too slowly: over {self.options.deadline:g} s for one response; abandoned")

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

    def _read_body(self, r: httpx.Response, sink: IO[bytes], pdf: bool, cap: int, url: str, deadline: Deadline) -> str:
        """Stream the body into `sink`, stopping at the size cap or the deadline; PDFs checked by type and magic."""
        content_type = r.headers.get("content-type", "")
        media = media_type(content_type)
        if pdf and media not in _PDF_TYPES:
            raise IngestError(url, f"not a PDF: the server sent {media} (often a login or error page)")
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:  # decoded bodies are larger still
            raise IngestError(url, f"larger than the size cap ({size_text(int(declared))} > {size_text(cap)}); not downloaded")
        digest = hashlib.sha256()
        total = 0
        head = b""
        for chunk in r.iter_bytes():  # each piece as it arrives, so the deadline is checked on every read
            if deadline.passed:
                raise self._too_slow(url)
            total += len(chunk)
            if total > cap:
                raise IngestError(url, f"larger than the size cap of {size_text(cap)}; download stopped")
            if pdf and len(head) < 1024:
                head += chunk[: 1024 - len(head)]
                if len(head) >= 1024 and b"%PDF-" not in head:
                    raise IngestError(url, f"not a PDF: served as {media or 'no type'} but starts {_snippet(head)!r}")
            digest.update(chunk)
            sink.write(chunk)
        if deadline.expired:  # the cut socket can look like the end of a body without Content-Length
            raise self._too_slow(url)
        if pdf and b"%PDF-" not in head:
            raise IngestError(url, f"not a PDF: served as {media or 'no type'} but starts {_snippet(head)!r}")
        self.downloaded_bytes += total
        return digest.hexdigest()
