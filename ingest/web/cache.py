"""The HTTP cache under `<store>/web/`: validators and cached bodies of earlier runs.

Why: a re-run sends conditional requests (ETag / Last-Modified) and a 304 reuses the body
on disk, so keeping a corpus in sync costs the site almost nothing. A damaged cache only
costs full downloads; nothing a stored document still needs is ever pruned.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["HttpCache"]


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
