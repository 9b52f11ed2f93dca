"""The HTML parser: a WordPress resource page's content region, title, categories and tags.

Why: the page's own resource lives in the entry content (else the article, else the
body); navigation, sidebars, related-posts widgets and comments are skipped. Links to
files (or anchors reading 'Download') are kept inline as MARK_OPEN href MARK_CLOSE so the
text parser can attach each URL to its download line. This is a structural reader, not
a plain HTML-to-text conversion (core.text.html_to_text): it must keep those markers,
the content region and the rel=category / rel=tag links.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urljoin

from ..clean import fix_mojibake
from .lines import (
    CATEGORIES_PREFIX_RE,
    MARK_CLOSE,
    MARK_OPEN,
    TAGS_RE,
    dedupe_stripped,
    split_categories,
    split_tags,
)
from .record import ResourceRecord
from .text_parser import parse_text
from .vocabulary import word_set

__all__ = ["PageHTML", "looks_like_html", "parse_html", "render"]


_BLOCK_TAGS = word_set(
    "address article aside blockquote dd details div dl dt figcaption figure footer form h1 h2 h3 h4 "
    "h5 h6 header hr li main nav ol p pre section summary table tbody td th thead tr ul"
)
_PARA_TAGS = word_set("p h1 h2 h3 h4 h5 h6 li blockquote tr pre")
_VOID_TAGS = word_set("area base br col embed hr img input link meta param source track wbr")
_SKIP_TAGS = word_set("script style noscript nav aside form svg template iframe select button")
_SKIP_CLASS_RE = re.compile(
    r"related|sidebar|widget|comment|menu|site-header|site-footer|breadcrumb|sharedaddy|share-|"
    r"navigation|pagination|screen-reader|skip-link|cookie|recent-posts|more-resources",
    re.I,
)
_FILE_HREF_RE = re.compile(r"\.(?:pdf|docx?|pptx?|xlsx?|odt|epub|zip)(?:[?#].*)?$", re.I)


class PageHTML(HTMLParser):
    """Collects title, content-region text (downloads marked inline), categories and tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool, bool]] = []  # tag, skip, in_content, in_article
        self.content: list[str] = []
        self.article: list[str] = []
        self.body: list[str] = []
        self.meta: list[str] = []
        self.title_parts: list[str] = []
        self.h1_entry: list[str] = []
        self.h1_any: list[str] = []
        self.og_title: str | None = None
        self.canonical: str | None = None
        self.categories: list[str] = []
        self.tags: list[str] = []
        self._in_title = False
        self._h1: str | None = None  # "entry" or "any" while inside an h1
        self._anchor: tuple[str | None, str, list[str]] | None = None  # href, rel, text

    # state helpers
    def _state(self) -> tuple[bool, bool, bool]:
        if not self.stack:
            return False, False, False
        _, skip, content, article = self.stack[-1]
        return skip, content, article

    def _emit(self, text: str) -> None:
        skip, content, article = self._state()
        if skip:
            return
        self.body.append(text)
        if content:
            self.content.append(text)
        elif article:
            self.article.append(text)
        if article and not content:
            self.meta.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        cls = a.get("class", "")
        if tag == "meta":
            prop = (a.get("property") or a.get("name") or "").lower()
            if prop == "og:title":
                self.og_title = a.get("content") or None
            elif prop == "og:url" and not self.canonical:
                self.canonical = a.get("content") or None
            return
        if tag == "link":
            if "canonical" in a.get("rel", "").lower().split():
                self.canonical = a.get("href") or None
            return
        if tag == "br":
            self._emit("\n")
            return
        if tag in _VOID_TAGS:
            if tag == "hr":
                self._emit("\n\n")
            return
        if tag == "p" and self.stack and self.stack[-1][0] == "p":
            self.handle_endtag("p")  # implicit </p>
        skip, content, article = self._state()
        if tag in _SKIP_TAGS or _SKIP_CLASS_RE.search(cls):
            skip = True
        if tag in ("header", "footer") and "entry" not in cls and "post" not in cls:
            skip = True
        if "entry-content" in cls or "post-content" in cls:
            content = True
        if tag in ("article", "main"):
            article = True
        self.stack.append((tag, skip, content, article))
        if tag == "title":
            self._in_title = True
        elif tag == "h1":
            self._h1 = "entry" if "entry-title" in cls or "post-title" in cls else "any"
        elif tag == "a":
            self._anchor = (a.get("href") or None, a.get("rel", "").lower(), [])
        if tag in _BLOCK_TAGS:
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "h1":
            self._h1 = None
        elif tag == "a" and self._anchor is not None:
            self._close_anchor()
        if tag in _BLOCK_TAGS:
            self._emit("\n\n" if tag in _PARA_TAGS else "\n")
        if not any(t == tag for t, *_ in self.stack):
            return
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def _close_anchor(self) -> None:
        assert self._anchor is not None
        href, rel, parts = self._anchor
        self._anchor = None
        text = re.sub(r"\s+", " ", "".join(parts)).strip()
        skip = self._state()[0]
        rels = rel.split()
        if not skip and text:
            if "category" in rels:
                self.categories.append(text)
            elif "tag" in rels:
                self.tags.append(text)
        if href and (_FILE_HREF_RE.search(href) or re.fullmatch(r"download(?: pdf| here)?", text, re.I)):
            self._emit(f"{MARK_OPEN}{href.strip()}{MARK_CLOSE}")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
            return
        in_pre = any(t == "pre" for t, *_ in self.stack)
        text = data if in_pre else re.sub(r"\s+", " ", data)
        if self._h1 == "entry":
            self.h1_entry.append(text)
        elif self._h1 == "any":
            self.h1_any.append(text)
        if self._anchor is not None:
            self._anchor[2].append(text)
        self._emit(text)

    # results
    def title(self) -> str | None:
        """Entry title, else <title> without its ' – Site name' suffix, else og:title or any h1."""
        t = re.sub(r"\s+", " ", "".join(self.h1_entry)).strip()
        if t:
            return fix_mojibake(t)
        t = re.sub(r"\s+", " ", "".join(self.title_parts)).strip()
        if t:
            m = re.match(r"^(.*\S)\s+[|–—-]\s+([^|–—]{1,60})$", t)
            if m and len(m.group(2).split()) <= 6:
                t = m.group(1)
            return fix_mojibake(t)
        for cand in (self.og_title or "", "".join(self.h1_any)):
            cand = re.sub(r"\s+", " ", cand).strip()
            if cand:
                return fix_mojibake(cand)
        return None


def render(parts: list[str]) -> str:
    """Join emitted fragments, trim lines and collapse runs of blank lines HTML nesting creates."""
    text = "".join(parts)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_HTML_RE = re.compile(
    r"<(?:!doctype\s+html|html|head|body|div|article|section|p|h[1-6]|a|span|ul|li)\b[^>]*>", re.I
)


def looks_like_html(content: str) -> bool:
    """At least two HTML tags near the start: captured HTML rather than captured text."""
    return len(_HTML_RE.findall(content[:200_000])) >= 2


def parse_html(content: str, url: str | None) -> ResourceRecord:
    """Text-parse the content region, then add HTML-only facts: title, category/tag links, absolute URLs."""
    page = PageHTML()
    page.feed(content)
    page.close()
    title = page.title()
    region = next((p for p in (page.content, page.article, page.body) if render(p)), page.body)
    record = parse_text(render(region), known_title=title)
    meta_tags: list[str] = []
    meta_cats: list[str] = []
    for line in render(page.meta).split("\n"):
        if m := TAGS_RE.match(line):
            meta_tags.extend(split_tags(m.group(1)))
        elif (m := CATEGORIES_PREFIX_RE.match(line)) is not None:
            meta_cats.extend(split_categories(m.group(1)))
    cats = [c for text in page.categories for c in split_categories(fix_mojibake(text))]
    record.categories = dedupe_stripped(cats + meta_cats + record.categories)
    record.tags = dedupe_stripped([fix_mojibake(t) for t in page.tags] + meta_tags + record.tags)
    record.url = url or page.canonical
    base = record.url
    for d in record.downloads:
        if d.url:
            d.url = urljoin(base, unescape(d.url)) if base else unescape(d.url)
    return record
