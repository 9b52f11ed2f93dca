"""The crawl's politeness and safety knobs and the user agent it announces."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["USER_AGENT", "CrawlOptions"]

USER_AGENT = "Lantern/0.1 (+resource-library ingest)"


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
    deadline: float = 60.0  # wall-clock seconds for one response, headers and body (a server trickling bytes)
    max_wait: float = 60.0  # most seconds honoured from Retry-After or Crawl-delay
    max_sitemaps: int = 50
