"""URL and header helpers shared by the fetcher, the page parser and the crawler.

Why: one definition of "the same document" (a URL without its #fragment) and of "the same
site" (host without www.) keeps caching, de-duplication and --same-site in agreement.
"""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urlsplit


def size_text(n: float) -> str:
    """A byte count as kB or MB for messages."""
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n / 1000:.0f} kB"


def normal_url(url: str) -> str:
    """Absolute URL without its #fragment (the same document for caching and de-duplication)."""
    return urldefrag(url.strip())[0]


def host_of(url: str) -> str:
    """Lower-cased host (and port): the unit of per-host pacing."""
    return urlsplit(url).netloc.lower()


def site_of(url: str) -> str:
    """Host (and port) without a leading www.: the unit of --same-site."""
    host = host_of(url)
    return host[4:] if host.startswith("www.") else host


def origin_of(url: str) -> str:
    """scheme://host, where robots.txt and the default sitemaps live."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def media_type(content_type: str) -> str:
    """'text/html; charset=utf-8' → 'text/html'."""
    return content_type.split(";")[0].strip().lower()


def charset_of(content_type: str) -> str:
    """The charset a Content-Type names, else utf-8."""
    m = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
    return m.group(1) if m else "utf-8"
