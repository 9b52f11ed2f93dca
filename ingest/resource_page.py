"""Parse captured resource-library pages (RESPECT-style WordPress) into one clean record.

Why: a captured page mixes the resource's own description and download lines with
WordPress boilerplate (post, page, attachment, ... exactmetrics_note) and teasers of
*other* resources. Ingesting it verbatim makes retrieval cite the wrong resource, so
this module keeps only the page's own resource and normalises copy-paste damage.
Accepts captured text or the page's HTML; standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urljoin

from .clean import fix_mojibake

__all__ = [
    "Download",
    "ResourceRecord",
    "fix_mojibake",
    "looks_like_resource_page",
    "parse_language",
    "parse_resource_page",
    "split_categories",
]


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


# --------------------------------------------------------------------------- vocabularies
def _words(names: str) -> frozenset[str]:
    """Space-separated names as a set (keeps the long tag lists readable)."""
    return frozenset(names.split())


# WordPress post types that leak into captured pages as a run of one-word lines.
POST_TYPES = frozenset(
    {
        "post", "page", "attachment", "revision", "nav_menu_item", "custom_css",
        "customize_changeset", "oembed_cache", "user_request", "wp_block", "wp_template",
        "wp_template_part", "wp_global_styles", "wp_navigation", "wp_font_family",
        "wp_font_face", "acf-taxonomy", "acf-post-type", "acf-field-group", "acf-field",
        "ai1ec_event", "exactmetrics_note", "product", "product_variation", "shop_order",
        "elementor_library", "tribe_events", "mc4wp-form", "wpcf7_contact_form",
    }
)  # fmt: skip
_POST_TYPE_RE = re.compile(r"^(?:wp|acf|ai1ec|exactmetrics|monsterinsights|elementor|tribe)[_-][a-z0-9_-]+$")
_AMBIGUOUS_POST_TYPES = frozenset({"post", "page", "attachment", "revision", "product"})

# Longest first so "COVID-19 resources" wins over a shorter prefix.
KNOWN_CATEGORIES: tuple[str, ...] = tuple(
    sorted(
        {
            "COVID-19 resources", "Case study", "Case studies", "Guidance", "Guidelines",
            "Research", "Training", "Toolkit", "Toolkits", "Report", "Reports", "Policy",
            "Policy brief", "Legislation", "Tools", "Tool", "Video", "Videos", "Podcast",
            "Webinar", "Infographic", "Article", "News", "Publication", "Publications",
            "Campaign", "Good practice", "Good practices", "Statement", "Briefing",
            "Handbook", "Manual", "Data", "Resources", "Awareness raising", "Advocacy",
        },
        key=lambda c: (-len(c), c),
    )
)  # fmt: skip
_KNOWN_CATEGORIES_LOWER = {c.lower(): c for c in KNOWN_CATEGORIES}

_LANG_PAIRS: tuple[tuple[str, str], ...] = (
    ("english", "en"), ("french", "fr"), ("spanish", "es"), ("russian", "ru"), ("german", "de"),
    ("dutch", "nl"), ("portuguese", "pt"), ("arabic", "ar"), ("italian", "it"), ("chinese", "zh"),
    ("ukrainian", "uk"), ("romanian", "ro"), ("polish", "pl"), ("bulgarian", "bg"), ("greek", "el"),
    ("turkish", "tr"), ("albanian", "sq"), ("serbian", "sr"), ("croatian", "hr"), ("bosnian", "bs"),
    ("macedonian", "mk"), ("slovenian", "sl"), ("hungarian", "hu"), ("czech", "cs"), ("slovak", "sk"),
    ("lithuanian", "lt"), ("latvian", "lv"), ("estonian", "et"), ("georgian", "ka"), ("armenian", "hy"),
    ("azerbaijani", "az"), ("swedish", "sv"), ("danish", "da"), ("finnish", "fi"), ("norwegian", "no"),
    ("japanese", "ja"), ("korean", "ko"), ("vietnamese", "vi"), ("thai", "th"), ("hindi", "hi"),
    ("bengali", "bn"), ("urdu", "ur"), ("persian", "fa"), ("swahili", "sw"), ("indonesian", "id"),
    ("tagalog", "tl"), ("nepali", "ne"), ("amharic", "am"), ("tigrinya", "ti"), ("somali", "so"),
    ("hausa", "ha"), ("kazakh", "kk"), ("kyrgyz", "ky"), ("uzbek", "uz"), ("tajik", "tg"),
    ("mongolian", "mn"), ("hebrew", "he"), ("malay", "ms"), ("burmese", "my"), ("khmer", "km"),
    ("pashto", "ps"), ("kurdish", "ku"), ("belarusian", "be"), ("montenegrin", "cnr"),
)  # fmt: skip
LANGUAGE_NAMES: dict[str, str] = {code: name.capitalize() for name, code in _LANG_PAIRS}
_LANGUAGES: dict[str, str] = {name: code for name, code in _LANG_PAIRS} | {
    "français": "fr", "francais": "fr", "español": "es", "espanol": "es", "castellano": "es",
    "русский": "ru", "deutsch": "de", "nederlands": "nl", "português": "pt", "portugues": "pt",
    "العربية": "ar", "italiano": "it", "mandarin": "zh", "українська": "uk", "română": "ro",
    "polski": "pl", "farsi": "fa", "filipino": "tl", "moldovan": "ro", "brazilian portuguese": "pt",
}  # fmt: skip

# Bare codes accepted as "(FR)"; codes that are also common words or country marks ("(UK)", "(IT)") are not.
_SAFE_CODES = _words(
    "en fr es ru de nl pt ar zh ro pl bg el tr sq sr hr mk hu cs lt lv et ka hy sv da fi ja ko vi th fa sw"
)

# --------------------------------------------------------------------------- patterns

_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"  # private-use chars carry an href inside text
_MARKER = f"{_MARK_OPEN}[^{_MARK_CLOSE}]*{_MARK_CLOSE}"
_TOKEN_RE = re.compile(
    rf"(?:\b(?:DOWNLOAD|Download)\b(?:\s+(?:PDF|pdf|HERE|here|file))?\s*(?:{_MARKER})?|{_MARKER})"
)
_MARKER_URL_RE = re.compile(f"{_MARK_OPEN}([^{_MARK_CLOSE}]*){_MARK_CLOSE}")
_PAREN_LANG_RE = re.compile(r"\s*[(\[]([^()\[\]]{2,40})[)\]]\s*$")
_YEAR_END_RE = re.compile(r"(?:^|[,\s])\s*\(?((?:19|20)\d{2})(?:\s*[-–/]\s*(?:19|20)?\d{2})?\)?\s*$")
_DASH_SEP_RE = re.compile(r"\s+[-–—]+\s*|\s*[-–—]+\s+")
_TAGS_RE = re.compile(r"^\s*tags?\s*:\s*(.*)$", re.I)
_CATEGORIES_PREFIX_RE = re.compile(r"^\s*categor(?:y|ies)\s*:\s*(.*)$", re.I)
_TEASER_END_RE = re.compile(
    r"(?:\.\.\.|…|\[(?:\.\.\.|…)\])\s*(?P<more>(?:read\s+more|continue\s+reading)\s*[»›→>]*)?\s*$", re.I
)
_READ_MORE_LINE_RE = re.compile(r"^\s*(?:read\s+more|continue\s+reading)\s*[»›→>]*\s*$", re.I)
_SENTENCE_END = (".", "!", "?", ";", ":", ",", "…")
_VERSIONS_NOTE_RE = re.compile(
    r"\b(?:(?:also\s+)?available\s+in\s+(?:\w+\s+){0,3}languages?"
    r"|other\s+language\s+(?:versions?|editions?)"
    r"|translations?\s+(?:are|is)\s+available"
    r"|(?:also\s+)?available\s+in\s+(?:" + "|".join(n for n, _ in _LANG_PAIRS) + r"))\b",
    re.I,
)

# --------------------------------------------------------------------------- text repair

def _clean(text: str) -> str:
    """Normalise line ends, invisible chars, mojibake, PDF hyphenation and Markdown download links."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u00ad", "").replace("\u200b", "").replace("\ufeff", "")
    text = fix_mojibake(text)
    text = re.sub(r"([A-Za-z])-[ \t]*\n[ \t]*([a-z])", r"\1\2", text)  # traf-\nficking
    text = re.sub(
        r"\[\s*(DOWNLOAD|Download)[^\]]*\]\(\s*([^)\s]+)\s*\)", rf"DOWNLOAD{_MARK_OPEN}\2{_MARK_CLOSE}", text
    )
    text = re.sub(
        r"\b(DOWNLOAD)\s*[:(<]?\s*(https?://[^\s)>]+)[)>]?", rf"DOWNLOAD{_MARK_OPEN}\2{_MARK_CLOSE}", text
    )
    return text


def _fix_spacing(text: str) -> str:
    """Collapse whitespace and restore the space PDF copy-paste drops after a full stop."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"(?<=[a-z0-9)\]”’\"]{2})([.!?])(?=[A-Z][a-z])", r"\1 ", text)


# --------------------------------------------------------------------------- small parsers


def parse_language(value: str) -> str | None:
    """ISO code for '(French)', 'Français', '(FR)', 'English version'; None if not a language."""
    v = value.strip().strip("()[]").strip().lower()
    v = re.sub(r"\b(?:version|edition|language|only|translation)\b", "", v).strip(" -:")
    v = re.split(r"\s*(?:/|,|\band\b|&)\s*", v)[0].strip() if v else v
    if v in _LANGUAGES:
        return _LANGUAGES[v]
    if v in _SAFE_CODES:
        return v
    return None


def _dedupe(items: list[str]) -> list[str]:
    """Order-preserving, case-insensitive de-duplication."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(item.strip())
    return out


def _split_run(part: str) -> list[str]:
    """Split run-together category words: known names first, then CamelCase boundaries."""
    out: list[str] = []
    i, n = 0, len(part)
    while i < n:
        if part[i].isspace():
            i += 1
            continue
        low = part[i:].lower()
        for cat in KNOWN_CATEGORIES:
            end = i + len(cat)
            if low.startswith(cat.lower()) and (end >= n or not part[end].islower()):
                out.append(part[i:end])
                i = end
                break
        else:
            j = i + 1
            while j < n and not (part[j - 1].islower() and part[j].isupper()):
                j += 1
            out.append(part[i:j].strip())
            i = j
    return [p for p in out if p]


def split_categories(value: str) -> list[str]:
    """'COVID-19 resourcesGuidance' → ['COVID-19 resources', 'Guidance']; also splits on , | ; •."""
    parts: list[str] = []
    for chunk in re.split(r"\s*[,|;•·]\s*", value.strip()):
        parts.extend(_split_run(chunk))
    return _dedupe(parts)


def _is_category_line(line: str) -> list[str] | None:
    """Categories if the line is made only of category names (possibly run together)."""
    m = _CATEGORIES_PREFIX_RE.match(line)
    if m:
        return split_categories(m.group(1))
    s = line.strip()
    if not s or len(s) > 100 or s.endswith(_SENTENCE_END) or _TOKEN_RE.search(s):
        return None
    parts = split_categories(s)
    known = [p for p in parts if p.lower() in _KNOWN_CATEGORIES_LOWER]
    if parts and len(known) == len(parts):
        return [_KNOWN_CATEGORIES_LOWER[p.lower()] for p in parts]
    camel = re.search(r"[a-z][A-Z]", s)
    if camel and known and len(parts) >= 2 and all(len(p.split()) <= 4 for p in parts):
        return parts
    return None


def _is_boilerplate_line(line: str) -> bool:
    """True for a line made only of WordPress post-type names."""
    tokens = line.split()
    return bool(tokens) and all(t in POST_TYPES or _POST_TYPE_RE.match(t) for t in tokens)


def _boilerplate_start(lines: list[str]) -> int | None:
    """Index of the first run of post-type lines (blank lines allowed in between)."""
    i = 0
    while i < len(lines):
        if not _is_boilerplate_line(lines[i]):
            i += 1
            continue
        start, tokens, j = i, [], i
        while j < len(lines) and (not lines[j].strip() or _is_boilerplate_line(lines[j])):
            tokens.extend(lines[j].split())
            j += 1
        if len(tokens) >= 2 or (tokens and tokens[0] not in _AMBIGUOUS_POST_TYPES):
            return start
        i = j
    return None


def _split_tags(value: str) -> list[str]:
    return [t.strip() for t in re.split(r"\s*[,|;•]\s*", value) if t.strip()]


# --------------------------------------------------------------------------- download lines


@dataclass
class _Body:
    """The 'Title - Publisher, Year (Language)' part of a download line."""

    title: str
    publisher: str | None
    year: int | None
    language: str | None


def _strip_trailing_language(text: str) -> tuple[str, str | None]:
    m = _PAREN_LANG_RE.search(text)
    if m and (lang := parse_language(m.group(1))):
        return text[: m.start()].rstrip(), lang
    return text, None


def _parse_body(body: str, need_year: bool = False) -> _Body | None:
    """Split a download line body into title/publisher/year/language; None if not that shape."""
    s = body.strip().strip("|").strip()
    if not s:
        return None
    s, lang = _strip_trailing_language(s)
    year = None
    m = _YEAR_END_RE.search(s)
    if m and m.start() > 0:
        year = int(m.group(1))
        s = s[: m.start()].rstrip(" ,;:-–—")
    if need_year and year is None:
        return None
    seps = list(_DASH_SEP_RE.finditer(s))
    title, publisher = s, None
    if seps:
        last = seps[-1]
        if last.start() > 0 and s[last.end() :].strip():
            title, publisher = s[: last.start()], s[last.end() :]
    elif year is not None and "," in s:
        title, publisher = s.rsplit(",", 1)
    elif need_year:
        return None
    title, publisher = title.strip(" ,;:"), (publisher.strip(" ,;:") if publisher else None)
    if publisher and len(publisher.split()) > 10:
        if need_year:
            return None
        title, publisher = s.strip(), None
    title, title_lang = _strip_trailing_language(title)
    if not title:
        return None
    return _Body(title, publisher or None, year, lang or title_lang)


def _line_language(segment: str) -> str | None:
    s = segment.strip().strip("|,;:-–—").strip()
    return parse_language(s) if s else None


@dataclass
class _DownloadLine:
    """A line ending in DOWNLOAD tokens: its body (may be empty) and (language, url) per token."""

    body: _Body | None
    files: list[tuple[str | None, str | None]]


def _parse_download_line(line: str) -> _DownloadLine | None:
    """Recognise 'Body (Lang) DOWNLOAD (Lang) DOWNLOAD...'; None when text follows the token."""
    tokens = list(_TOKEN_RE.finditer(line))
    if not tokens:
        return None
    segments = [line[: tokens[0].start()]]
    segments += [line[a.end() : b.start()] for a, b in zip(tokens, tokens[1:], strict=False)]
    segments.append(line[tokens[-1].end() :])
    for seg in segments[1:]:
        if seg.strip(" |,;:-–—") and _line_language(seg) is None:
            return None
    head = segments[0].strip()
    body: _Body | None = None
    head_lang = _line_language(head)
    if head and head_lang is None:
        body = _parse_body(head)
        if body is None:
            return None
        head_lang = body.language
    urls = []
    for tok in tokens:
        m = _MARKER_URL_RE.search(tok.group(0))
        urls.append(m.group(1).strip() or None if m else None)
    pre = [head_lang] + [_line_language(seg) for seg in segments[1:-1]]
    post = [_line_language(seg) for seg in segments[1:]]
    # "(English) DOWNLOAD (French) DOWNLOAD" names the language before each token;
    # "DOWNLOAD (English) DOWNLOAD (French)" (no language before the first) names it after.
    langs = post if post[-1] and not pre[0] else pre
    return _DownloadLine(body, list(zip(langs, urls, strict=True)))


def _yearful_body(line: str, next_line: str = "") -> _Body | None:
    """'Title, Publisher, Year' without a DOWNLOAD token, unless it is a wrapped prose line."""
    s = line.strip()
    if not s or s.endswith(".") or s[0].islower() or next_line.strip()[:1].islower():
        return None
    return _parse_body(s, need_year=True)


def _is_download_line(line: str, next_line: str = "") -> bool:
    return _parse_download_line(line) is not None or _yearful_body(line, next_line) is not None


def _at(lines: list[str], i: int) -> str:
    return lines[i] if 0 <= i < len(lines) else ""


def _looks_like_title(line: str) -> bool:
    s = line.strip()
    return bool(s) and len(s) <= 200 and len(s.split()) <= 25 and not s.endswith(_SENTENCE_END)


# --------------------------------------------------------------------------- section finding


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) of runs of non-blank lines."""
    out, start = [], None
    for i, line in enumerate(lines + [""]):
        if line.strip() and start is None:
            start = i
        elif not line.strip() and start is not None:
            out.append((start, i))
            start = None
    return out


def _teaser_starts(lines: list[str], first_dl: int | None) -> list[tuple[int, bool]]:
    """Start line of each teaser block (title/category header included) and whether it is certain."""
    blocks = _blocks(lines)
    out = []
    for bi, (b0, b1) in enumerate(blocks):
        for i in range(b0, b1):
            m = _TEASER_END_RE.search(lines[i])
            if not m or len(lines[i].strip()) < 15:
                continue
            nxt = blocks[bi + 1][0] if bi + 1 < len(blocks) else None
            strong = bool(m.group("more")) or (
                i == b1 - 1 and nxt is not None and bool(_READ_MORE_LINE_RE.match(lines[nxt]))
            )
            header_has_cat = any(_is_category_line(x) for x in lines[b0:i])
            start = b0
            if not header_has_cat and bi > 0:
                p0, p1 = blocks[bi - 1]
                prev = lines[p0:p1]
                has_cat = any(_is_category_line(x) for x in prev)
                if (
                    p1 - p0 <= 3
                    and all(len(x.strip()) <= 200 for x in prev)
                    and not any(_is_download_line(x) for x in prev)
                    and (has_cat or (p1 - p0 <= 2 and _looks_like_title(prev[-1])))
                    and (first_dl is None or p0 > first_dl)
                ):
                    start, header_has_cat = p0, has_cat
            after_download = first_dl is not None and i > first_dl
            if strong or after_download or header_has_cat:
                out.append((start, strong))
            break
    return out


def _own_section_end(lines: list[str]) -> int:
    """Where the page's own resource ends: boilerplate, a run of blank lines, or the first teaser."""
    first_content = next((i for i, x in enumerate(lines) if x.strip()), 0)
    bp = _boilerplate_start(lines)
    limit = bp if bp is not None else len(lines)
    first_dl = next(
        (i for i in range(limit) if lines[i].strip() and _is_download_line(lines[i], _at(lines, i + 1))),
        None,
    )
    cut = limit
    if first_dl is not None:
        for i in range(first_dl + 1, limit - 2):
            if not (lines[i].strip() or lines[i + 1].strip() or lines[i + 2].strip()):
                cut = i
                break
    for start, _strong in _teaser_starts(lines[:cut], first_dl):
        if start > first_content:
            cut = min(cut, start)
            break
    return cut


# --------------------------------------------------------------------------- text parser


def _dedupe_paragraphs(paragraphs: list[str]) -> list[str]:
    """Drop paragraphs wholly contained in another (keep the longer / first copy)."""
    norms = [re.sub(r"\W+", " ", p.lower()).strip() for p in paragraphs]
    keep = []
    for i, (p, ni) in enumerate(zip(paragraphs, norms, strict=True)):
        if not ni:
            continue
        contained = any(j != i and ni in nj and (len(nj) > len(ni) or j < i) for j, nj in enumerate(norms))
        if not contained:
            keep.append(p)
    return keep


def _parse_text(content: str, known_title: str | None = None) -> ResourceRecord:
    """Parse captured page text (or text rendered from HTML) into the page's own record."""
    lines = [line.strip() for line in _clean(content).split("\n")]
    own = lines[: _own_section_end(lines)]

    title = known_title
    first = next((i for i, x in enumerate(own) if x), None)
    if title is None and first is not None:
        cand = own[first].lstrip("#").strip()
        rest = [x for x in own[first + 1 :] if x]
        if (
            rest
            and _looks_like_title(cand)
            and not _at(own, first + 1)[:1].islower()  # a wrapped first sentence is not a title
            and not _is_download_line(cand)
            and not _is_category_line(cand)
            and not _TAGS_RE.match(cand)
            and not _READ_MORE_LINE_RE.match(cand)
        ):
            title = cand
            own[first] = ""

    paragraphs: list[str] = []
    buf: list[str] = []
    categories: list[str] = []
    tags: list[str] = []
    downloads: list[Download] = []
    pending: Download | None = None  # a 'Title - Publisher, Year' line still waiting for its DOWNLOAD
    last_kind = ""

    def flush() -> None:
        if buf:
            paragraphs.append(" ".join(buf))
            buf.clear()

    for idx, line in enumerate(own):
        if not line:
            flush()
            continue
        if m := _TAGS_RE.match(line):
            flush()
            tags.extend(_split_tags(m.group(1)))
            last_kind = "tags"
            continue
        if _READ_MORE_LINE_RE.match(line) or _is_boilerplate_line(line):
            continue
        if (cats := _is_category_line(line)) is not None:
            flush()
            categories.extend(cats)
            last_kind = "cat"
            continue
        dl = _parse_download_line(line)
        if dl is not None:
            body = dl.body
            if body is None and pending is None and buf and _looks_like_title(buf[-1]):
                body = _parse_body(buf.pop())
            flush()
            for k, (lang, url) in enumerate(dl.files):
                if k == 0 and body is None and pending is not None and pending.url is None:
                    pending.url = url
                    pending.language = lang or pending.language
                    continue
                base = body or (
                    _Body(downloads[-1].title, downloads[-1].publisher, downloads[-1].year, None)
                    if downloads
                    else _Body("", None, None, None)
                )
                downloads.append(Download(base.title, base.publisher, base.year, lang or base.language, url))
            pending = None
            last_kind = "dl"
            continue
        yearful = _yearful_body(line, _at(own, idx + 1))
        if yearful is not None:
            flush()
            pending = Download(yearful.title, yearful.publisher, yearful.year, yearful.language, None)
            downloads.append(pending)
            last_kind = "dl"
            continue
        if last_kind == "dl":
            pending = None
        last_kind = "text"
        buf.append(line)
    flush()

    paragraphs = [_fix_spacing(p) for p in paragraphs]
    if title:
        paragraphs = [p for p in paragraphs if p.lower() != title.strip().lower()]
    paragraphs = _dedupe_paragraphs(paragraphs)
    description = "\n\n".join(paragraphs)

    unique: list[Download] = []
    for d in downloads:
        d.title = _fix_spacing(d.title)
        if d not in unique:
            unique.append(d)
    if title is None and unique and unique[0].title:
        title = unique[0].title
    for d in unique:
        if not d.title:
            d.title = title or "Untitled resource"

    return ResourceRecord(
        title=title,
        description=description,
        categories=_dedupe(categories),
        tags=_dedupe(tags),
        downloads=unique,
        url=None,
        language_versions_note=bool(_VERSIONS_NOTE_RE.search(description)),
    )


# --------------------------------------------------------------------------- HTML


_BLOCK_TAGS = _words(
    "address article aside blockquote dd details div dl dt figcaption figure footer form h1 h2 h3 h4 "
    "h5 h6 header hr li main nav ol p pre section summary table tbody td th thead tr ul"
)
_PARA_TAGS = _words("p h1 h2 h3 h4 h5 h6 li blockquote tr pre")
_VOID_TAGS = _words("area base br col embed hr img input link meta param source track wbr")
_SKIP_TAGS = _words("script style noscript nav aside form svg template iframe select button")
_SKIP_CLASS_RE = re.compile(
    r"related|sidebar|widget|comment|menu|site-header|site-footer|breadcrumb|sharedaddy|share-|"
    r"navigation|pagination|screen-reader|skip-link|cookie|recent-posts|more-resources",
    re.I,
)
_FILE_HREF_RE = re.compile(r"\.(?:pdf|docx?|pptx?|xlsx?|odt|epub|zip)(?:[?#].*)?$", re.I)


class _PageHTML(HTMLParser):
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
            self._emit(f"{_MARK_OPEN}{href.strip()}{_MARK_CLOSE}")

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


def _render(parts: list[str]) -> str:
    """Join emitted fragments, trim lines and collapse runs of blank lines HTML nesting creates."""
    text = "".join(parts)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_HTML_RE = re.compile(
    r"<(?:!doctype\s+html|html|head|body|div|article|section|p|h[1-6]|a|span|ul|li)\b[^>]*>", re.I
)


def _looks_like_html(content: str) -> bool:
    return len(_HTML_RE.findall(content[:200_000])) >= 2


def _parse_html(content: str, url: str | None) -> ResourceRecord:
    page = _PageHTML()
    page.feed(content)
    page.close()
    title = page.title()
    region = next((p for p in (page.content, page.article, page.body) if _render(p)), page.body)
    record = _parse_text(_render(region), known_title=title)
    meta_tags: list[str] = []
    meta_cats: list[str] = []
    for line in _render(page.meta).split("\n"):
        if m := _TAGS_RE.match(line):
            meta_tags.extend(_split_tags(m.group(1)))
        elif (m := _CATEGORIES_PREFIX_RE.match(line)) is not None:
            meta_cats.extend(split_categories(m.group(1)))
    cats = [c for text in page.categories for c in split_categories(fix_mojibake(text))]
    record.categories = _dedupe(cats + meta_cats + record.categories)
    record.tags = _dedupe([fix_mojibake(t) for t in page.tags] + meta_tags + record.tags)
    record.url = url or page.canonical
    base = record.url
    for d in record.downloads:
        if d.url:
            d.url = urljoin(base, unescape(d.url)) if base else unescape(d.url)
    return record


# --------------------------------------------------------------------------- public API


def parse_resource_page(content: str, url: str | None = None) -> ResourceRecord:
    """Parse a captured resource page (text or WordPress HTML) into its own resource record."""
    if _looks_like_html(content):
        return _parse_html(content, url)
    record = _parse_text(content)
    record.url = url
    return record


def looks_like_resource_page(text: str) -> bool:
    """True for captured resource-library pages (text or HTML); False for briefs and treaty texts."""
    if _looks_like_html(text):
        if re.search(r"""rel=["'][^"']*category tag""", text) and re.search(
            r"""class=["'][^"']*entry-(?:title|content)""", text
        ):
            return True
        if re.search(r""">\s*DOWNLOAD\s*</a>""", text):
            return True
        page = _PageHTML()
        page.feed(text)
        page.close()
        text = _render(page.body)
    lines = [line.strip() for line in _clean(text).split("\n")]
    if any(re.search(r"\bDOWNLOAD\s*$", line) or _MARK_CLOSE in line for line in lines):
        return True
    bp = _boilerplate_start(lines)
    if bp is not None:
        run = [t for line in lines[bp : bp + 80] if _is_boilerplate_line(line) for t in line.split()]
        if len(run) >= 3 and any(("_" in t or "-" in t) for t in run):
            return True
    teasers = _teaser_starts(lines, None)
    return any(strong for _, strong in teasers) or len(teasers) >= 2
