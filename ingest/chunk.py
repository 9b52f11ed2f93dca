"""Chunking: sentence-respecting passages that fit what the embedding model reads.

llama-index's SentenceSplitter does the splitting, counting tokens with MiniLM's own
word-piece tokenizer, so a chunk of `chunk_size` tokens plus its title line stays under
the model's 256-token window: every word of every chunk is embedded. Each chunk keeps its
character offsets into the cleaned page text, so a quote can be located on the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from core.text import guess_language
from core.types import Chunk, Page, chunk_id

from .embed import MAX_TOKENS, load_tokenizer
from .layout import join_path, without_title

TITLE_TOKENS = 40  # budget for the title line prepended when embedding
# Whether a chunk's section path joins its title line in what is embedded (the keyword index
# reads title and text only). Off: measured once with bench/fit.py over the full corpus, page
# hit@5 went 0.830 -> 0.824 at the shipped constants and 0.810 -> 0.830 with them refitted
# out-of-fold: a few questions either way, and on it would need assistant/fitted.json refitted.
# So the path is display-only: shown with citations and given to an LLM with each source.
EMBED_SECTION = False
CHROMA_KEYS = ("title", "publisher", "year", "language", "doc_type", "url", "page_label", "section", "resource_url",
               "resource_title", "related")


@lru_cache(maxsize=1)
def _token_counter() -> Callable[[str], list[int]]:
    tok = load_tokenizer()
    tok.no_truncation()
    return lambda text: tok.encode(text, add_special_tokens=False).ids


def make_splitter(chunk_size: int, chunk_overlap: int):
    """A SentenceSplitter measuring length in MiniLM tokens."""
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=_token_counter(),
        paragraph_separator="\n\n",
    )


def _locate(page_text: str, piece: str, cursor: int) -> tuple[int, int, str]:
    """Offsets of `piece` in the page, searching from `cursor`; tolerant of whitespace changes."""
    at = page_text.find(piece, cursor)
    if at < 0:
        at = page_text.find(piece)
    if at >= 0:
        return at, at + len(piece), piece
    pattern = re.compile(r"\s+".join(re.escape(w) for w in piece.split()))
    m = pattern.search(page_text, cursor) or pattern.search(page_text)
    if m:
        return m.start(), m.end(), m.group(0)
    return cursor, cursor + len(piece), piece  # unreachable in practice: splitter keeps text


def _markdown_sections(text: str) -> list[tuple[int, str]]:
    """(offset, heading path) of each Markdown heading, for a chunk's `section` metadata.

    The path names the enclosing headings too ("Support > Accommodation"), as Word and
    HTML documents (written with Markdown heading lines by the loaders) nest them; like a PDF's
    it keeps the innermost headings only, each cut to a readable length (`layout.join_path`).
    """
    out: list[tuple[int, str]] = []
    open_headings: list[tuple[int, str]] = []  # (level, heading) from the outermost in
    for m in re.finditer(r"^(#{1,6})\s+(.+)$", text, flags=re.MULTILINE):
        level = len(m.group(1))
        open_headings = [h for h in open_headings if h[0] < level] + [(level, m.group(2).strip())]
        out.append((m.start(), join_path([h for _, h in open_headings])))
    return out


def chunk_pages(pages: list[Page], doc_meta: dict[str, Any], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Split every page of one document into chunks carrying page, offsets and metadata."""
    splitter = make_splitter(chunk_size, chunk_overlap)
    multilingual = ";" in str(doc_meta.get("language") or "") or "," in str(doc_meta.get("language") or "")
    doc_language = re.split(r"[;,]", str(doc_meta.get("language") or "en"))[0].strip() or "en"
    chunks: list[Chunk] = []
    for page in pages:
        if not page.text.strip():
            continue
        # Markdown heading lines only in files written as Markdown (Markdown, Word, HTML: no page
        # numbers); a PDF line that opens with "#" is a table's "# %" header, not a heading
        sections = list(page.sections) or (_markdown_sections(page.text) if page.page is None else [])
        cursor = 0
        for piece in splitter.split_text(page.text):
            start, end, text = _locate(page.text, piece, cursor)
            cursor = max(cursor, start + 1)
            meta = {k: doc_meta[k] for k in CHROMA_KEYS if doc_meta.get(k) not in (None, "")}
            meta.update(page.metadata)
            meta["language"] = guess_language(text, doc_language) if multilingual else doc_language
            heading = without_title(_section_over(sections, start, end) or "", doc_meta.get("title"))
            if heading:
                meta["section"] = heading
            chunks.append(Chunk(chunk_id(page.source, page.page, text), page.source, page.page, start, end, text, meta))
    return _dedupe(chunks)


def _section_over(sections: list[tuple[int, str]], start: int, end: int) -> str | None:
    """The section most of the span [start, end) sits under: a chunk that opens with the last
    lines of one section and goes on into the next is named after the next (its quotes are)."""
    share: dict[str, int] = {}
    if sections and sections[0][0] > 0:
        sections = [(0, ""), *sections]  # text before the first heading is under none
    for i, (off, heading) in enumerate(sections):
        until = sections[i + 1][0] if i + 1 < len(sections) else end
        covered = min(until, end) - max(off, start)
        if covered > 0:
            share[heading] = share.get(heading, 0) + covered
    return max(share, key=lambda h: share[h]) or None if share else None


def _dedupe(chunks: list[Chunk]) -> list[Chunk]:
    seen: set[str] = set()
    out = []
    for c in chunks:
        if c.id not in seen:
            seen.add(c.id)
            out.append(c)
    return out


def embedding_text(chunk: Chunk) -> str:
    """What is embedded and keyword-indexed: a short title line, then the chunk text.

    The title line lets a question that names a document ("the Home Office toolkit")
    reach its passages; it is capped so the chunk itself is never truncated.
    """
    title = str(chunk.metadata.get("title") or "")
    if EMBED_SECTION and chunk.metadata.get("section"):
        title = f"{title} — {chunk.metadata['section']}".strip(" —")
    counter = _token_counter()
    budget = MAX_TOKENS - 2 - len(counter(chunk.text))
    if budget < 8 or not title:
        return chunk.text
    words = title.split()
    while words and len(counter(" ".join(words))) > min(TITLE_TOKENS, budget - 1):
        words.pop()
    return f"{' '.join(words)}\n{chunk.text}" if words else chunk.text
