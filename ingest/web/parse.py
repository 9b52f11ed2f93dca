"""What the crawler reads from a fetched page or sitemap: links, entry titles, sitemap entries.

Why: the crawler decides from these alone whether a page is a listing (several entry
titles, links to follow) and which URLs a sitemap offers. Sitemaps come from strangers,
so gzip bombs are capped and DTDs (XML entity tricks) refused. Standard library only.
"""

from __future__ import annotations

import gzip
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import urljoin

from core.errors import IngestError

from .urls import normal_url, size_text

__all__ = ["page_links", "parse_sitemap"]

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


def page_links(html: str, base: str) -> tuple[list[str], int]:
    """Absolute http(s) links of a page (fragments dropped, nofollow skipped) and its entry-title count."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    out = []
    for href in parser.links:
        url = normal_url(urljoin(base, href.strip()))
        if url.startswith(("http://", "https://")):
            out.append(url)
    return out, parser.entry_titles


def parse_sitemap(data: bytes, url: str, cap: int) -> tuple[list[str], list[str]]:
    """(child sitemaps, page URLs) of a sitemap or sitemap index; gzip accepted, DTDs refused."""
    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            data = gz.read(cap + 1)
        if len(data) > cap:
            raise IngestError(url, f"sitemap larger than the size cap of {size_text(cap)} when unpacked")
    if b"<!DOCTYPE" in data[:4096].upper():
        raise IngestError(url, "sitemap with a DOCTYPE declaration refused (XML entity risk)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise IngestError(url, f"not a sitemap (XML error: {exc})") from None
    kind = root.tag.rsplit("}", 1)[-1]
    locs = [(el.text or "").strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc"]
    locs = [normal_url(urljoin(url, loc)) for loc in locs if loc]
    if kind == "sitemapindex":
        return locs, []
    if kind == "urlset":
        return [], locs
    raise IngestError(url, f"not a sitemap (root element <{kind}>)")
