"""The entry point: crawl resource-library URLs, ingest what was found, prune the web cache.

Why: `lantern ingest --url` and the UI call one function that never loses what is already
stored when the site misbehaves: failures are listed in the report, not fatal.
"""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings

from ..pipeline import IngestReport, ProgressCallback, ingest_files
from .cache import HttpCache
from .crawl import crawl, nothing_kept
from .options import CrawlOptions
from .sources import source_files, stored_documents

__all__ = ["ingest_urls"]


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
    stored = stored_documents(settings)
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
    why = nothing_kept(result, max_pages)
    if why:  # a crawl that fetched pages and ingested nothing says so, and the command fails
        report.failed.append({"path": urls[0] if len(urls) == 1 else ", ".join(urls), "error": why})
    report.skipped = [{"path": url, "reason": reason} for url, reason in result.skipped.items()]
    report.timings = {"fetch": result.seconds, **report.timings}
    report.seconds += result.seconds
    keep = {Path(str(d.metadata.get("path"))) for d in stored_documents(settings).values() if d.metadata.get("path")}
    HttpCache(web_dir).prune(keep)
    return report
