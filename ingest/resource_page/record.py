"""The record a resource page is parsed into: its own description, metadata and downloads."""

from __future__ import annotations

from dataclasses import dataclass, field

from .vocabulary import LANGUAGE_NAMES

__all__ = ["Download", "ResourceRecord"]


@dataclass
class Download:
    """One downloadable file of the resource; one per language version."""

    title: str
    publisher: str | None
    year: int | None
    language: str | None
    url: str | None

    def line(self) -> str:
        """Render as the ingest line 'Download: Title - Publisher, Year (Language)'."""
        out = f"Download: {self.title}"
        if self.publisher:
            out += f" - {self.publisher}"
        if self.year:
            out += f", {self.year}"
        if self.language:
            out += f" ({LANGUAGE_NAMES.get(self.language, self.language)})"
        return out


@dataclass
class ResourceRecord:
    """The page's own resource: what Lantern should ingest, plus metadata for filters."""

    title: str | None
    description: str
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)
    url: str | None = None
    language_versions_note: bool = False

    def text(self) -> str:
        """Description paragraphs then download lines; never boilerplate or other teasers."""
        parts = [self.description.strip()] if self.description.strip() else []
        lines = [d.line() for d in self.downloads]
        if lines:
            parts.append("\n".join(lines))
        return "\n\n".join(parts)
