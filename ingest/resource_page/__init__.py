"""Parse captured resource-library pages (RESPECT-style WordPress) into one clean record.

Why: a captured page mixes the resource's own description and download lines with
WordPress boilerplate (post, page, attachment, ... exactmetrics_note) and teasers of
*other* resources. Ingesting it verbatim makes retrieval cite the wrong resource, so
this package keeps only the page's own resource and normalises copy-paste damage.
Accepts captured text or the page's HTML; standard library only.

Modules: `vocabulary` (post types, categories, languages: data), `record` (the result),
`lines` (one-line recognisers, text repair), `downloads` (download lines), `sections`
(where the own resource ends), `text_parser`, `html_parser`, `page` (the entry points).
"""

from __future__ import annotations

from ..clean import fix_mojibake
from .lines import parse_language, split_categories
from .page import looks_like_resource_page, parse_resource_page
from .record import Download, ResourceRecord
from .vocabulary import LANGUAGE_NAMES

__all__ = [
    "LANGUAGE_NAMES",
    "Download",
    "ResourceRecord",
    "fix_mojibake",
    "looks_like_resource_page",
    "parse_language",
    "parse_resource_page",
    "split_categories",
]
