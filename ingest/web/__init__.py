"""Ingest resource-library websites: crawl politely, download the PDFs, keep them in sync.

Why: practitioners keep their corpus in step with RESPECT-style WordPress libraries (one
page per resource: a description, categories, region tags, DOWNLOAD links to PDFs, often
one per language). Pointing Lantern at the site (or at a list of its pages) must give the
same metadata a hand-made MANIFEST would, without hammering the site and without losing
what is already stored when the site misbehaves.

    robots.txt respected (fetched once per host; an unreachable one blocks the host);
        a disallowed URL is reported as skipped, not failed
    one request at a time, at least `min_interval` seconds apart per host (or Crawl-delay)
    bounded retries with back-off on 5xx / 429 / timeouts; bounded redirects, loops named
    a size cap per response, enforced while streaming; PDFs checked by type and `%PDF-` magic
    a wall-clock `deadline` per response, headers and body (a server trickling bytes is cut off)
    conditional re-fetches (ETag / Last-Modified) from `<store>/web/cache.json`

Layout under the store: `web/cache.json` (validators and cached body per URL),
`web/pages/<sha256>.html|.xml` (page and sitemap bodies), `web/files/<sha256>.pdf`
(downloads, by content hash). A failed page or download is reported and retried next
run; nothing stored is ever removed here.

Modules: `options` (knobs), `urls` (URL helpers), `cache` (HTTP cache), `deadline` (per-response
wall clock), `fetch` (polite fetcher), `parse` (links and sitemaps), `crawl` (the crawl), `sources` (crawl → SourceFiles),
`sync` (the `ingest_urls` entry point).
"""

from __future__ import annotations

from .crawl import crawl
from .fetch import Fetched, Fetcher
from .options import USER_AGENT, CrawlOptions
from .sync import ingest_urls

__all__ = ["USER_AGENT", "CrawlOptions", "Fetched", "Fetcher", "crawl", "ingest_urls"]
