"""Where a captured page's own resource ends: boilerplate, blank runs, or teasers of other resources.

Why: below the resource's own description and downloads, a captured page shows teasers
of *other* resources (title, categories, an excerpt ending in '...' or 'Read more').
Ingesting them would make retrieval cite the wrong resource, so the parser stops here.
"""

from __future__ import annotations

import re

from .downloads import is_download_line
from .lines import READ_MORE_LINE_RE, boilerplate_start, is_category_line, line_at, looks_like_title

_TEASER_END_RE = re.compile(
    r"(?:\.\.\.|…|\[(?:\.\.\.|…)\])\s*(?P<more>(?:read\s+more|continue\s+reading)\s*[»›→>]*)?\s*$", re.I
)


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


def teaser_starts(lines: list[str], first_dl: int | None) -> list[tuple[int, bool]]:
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
                i == b1 - 1 and nxt is not None and bool(READ_MORE_LINE_RE.match(lines[nxt]))
            )
            header_has_cat = any(is_category_line(x) for x in lines[b0:i])
            start = b0
            if not header_has_cat and bi > 0:
                p0, p1 = blocks[bi - 1]
                prev = lines[p0:p1]
                has_cat = any(is_category_line(x) for x in prev)
                if (
                    p1 - p0 <= 3
                    and all(len(x.strip()) <= 200 for x in prev)
                    and not any(is_download_line(x) for x in prev)
                    and (has_cat or (p1 - p0 <= 2 and looks_like_title(prev[-1])))
                    and (first_dl is None or p0 > first_dl)
                ):
                    start, header_has_cat = p0, has_cat
            after_download = first_dl is not None and i > first_dl
            if strong or after_download or header_has_cat:
                out.append((start, strong))
            break
    return out


def own_section_end(lines: list[str]) -> int:
    """Where the page's own resource ends: boilerplate, a run of blank lines, or the first teaser."""
    first_content = next((i for i, x in enumerate(lines) if x.strip()), 0)
    bp = boilerplate_start(lines)
    limit = bp if bp is not None else len(lines)
    first_dl = next(
        (i for i in range(limit) if lines[i].strip() and is_download_line(lines[i], line_at(lines, i + 1))),
        None,
    )
    cut = limit
    if first_dl is not None:
        for i in range(first_dl + 1, limit - 2):
            if not (lines[i].strip() or lines[i + 1].strip() or lines[i + 2].strip()):
                cut = i
                break
    for start, _strong in teaser_starts(lines[:cut], first_dl):
        if start > first_content:
            cut = min(cut, start)
            break
    return cut
