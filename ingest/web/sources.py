"""Turn a crawl into SourceFiles for the pipeline, with the metadata a hand-made MANIFEST would give.

Why: each resource page becomes a text document of its own description and download
lines; each distinct PDF (by content hash, however many URLs serve it) becomes one
document carrying its page's title, publisher, year, language, categories and the other
language versions. What is already stored keeps its source and links stable across runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.errors import StoreNotFound
from core.settings import Settings

from ..load import SourceFile
from ..resource_page import LANGUAGE_NAMES, ResourceRecord
from .crawl import CrawlResult, FetchedDownload, ResourcePage
from .urls import normal_url

__all__ = ["source_files", "stored_documents"]


def _join(values: Iterable[str]) -> str:
    return ", ".join(v for v in values if v)


def _split(value: Any) -> list[str]:
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def stored_documents(settings: Settings) -> dict[str, Any]:
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
    downloads = [canonical.get(normal_url(d.url), normal_url(d.url)) for d in record.downloads if d.url]
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
            others = [(canonical.get(normal_url(d.url), normal_url(d.url)), d.language) for d in record.downloads if d.url]
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
