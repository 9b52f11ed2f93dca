"""The vocabulary resource pages are read with: WordPress post types, category names, languages.

Why: data, kept apart from the parsers so a new category, post type or language is a
one-line change here, reviewed as data. Names are space-separated or tuples to keep long
lists readable.
"""

from __future__ import annotations

import re

__all__ = [
    "AMBIGUOUS_POST_TYPES",
    "KNOWN_CATEGORIES",
    "KNOWN_CATEGORIES_LOWER",
    "LANGUAGE_CODES",
    "LANGUAGE_NAMES",
    "LANGUAGE_PAIRS",
    "POST_TYPES",
    "POST_TYPE_RE",
    "SAFE_CODES",
    "word_set",
]


def word_set(names: str) -> frozenset[str]:
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
POST_TYPE_RE = re.compile(r"^(?:wp|acf|ai1ec|exactmetrics|monsterinsights|elementor|tribe)[_-][a-z0-9_-]+$")
AMBIGUOUS_POST_TYPES = frozenset({"post", "page", "attachment", "revision", "product"})

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
KNOWN_CATEGORIES_LOWER = {c.lower(): c for c in KNOWN_CATEGORIES}

LANGUAGE_PAIRS: tuple[tuple[str, str], ...] = (
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
LANGUAGE_NAMES: dict[str, str] = {code: name.capitalize() for name, code in LANGUAGE_PAIRS}
LANGUAGE_CODES: dict[str, str] = {name: code for name, code in LANGUAGE_PAIRS} | {
    "français": "fr", "francais": "fr", "español": "es", "espanol": "es", "castellano": "es",
    "русский": "ru", "deutsch": "de", "nederlands": "nl", "português": "pt", "portugues": "pt",
    "العربية": "ar", "italiano": "it", "mandarin": "zh", "українська": "uk", "română": "ro",
    "polski": "pl", "farsi": "fa", "filipino": "tl", "moldovan": "ro", "brazilian portuguese": "pt",
}  # fmt: skip

# Bare codes accepted as "(FR)"; codes that are also common words or country marks ("(UK)", "(IT)") are not.
SAFE_CODES = word_set(
    "en fr es ru de nl pt ar zh ro pl bg el tr sq sr hr mk hu cs lt lv et ka hy sv da fi ja ko vi th fa sw"
)
