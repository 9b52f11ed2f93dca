"""Tests for ingest.resource_page: keep a resource page's own text, drop boilerplate and teasers."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRICT

from ingest.resource_page import (
    Download,
    ResourceRecord,
    fix_mojibake,
    looks_like_resource_page,
    parse_language,
    parse_resource_page,
    split_categories,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL_PAGE = SHARED / "corpus" / "pages" / "resource-page-national-referral-mechanisms.txt"
OTHER_DIR = SHARED / "corpus" / "other"

BOILERPLATE = (
    "post page attachment revision nav_menu_item custom_css customize_changeset oembed_cache "
    "user_request wp_block wp_template wp_template_part wp_global_styles wp_navigation "
    "wp_font_family wp_font_face acf-taxonomy acf-post-type acf-field-group acf-field "
    "ai1ec_event exactmetrics_note"
).replace(" ", "\n\n")


# --------------------------------------------------------------------------- the real page


@pytest.mark.skipif(not REAL_PAGE.exists() and not STRICT, reason="shared corpus not beside the checkout")
def test_real_page_keeps_only_its_own_resource() -> None:
    record = parse_resource_page(REAL_PAGE.read_text(encoding="utf-8"))

    assert record.title == "National Referral Mechanisms (First edition)"
    assert len(record.downloads) == 1
    dl = record.downloads[0]
    assert dl.title == "National Referral Mechanisms (First edition)"
    assert dl.publisher == "OSCE & ODIHR"
    assert dl.year == 2004
    assert "sustainable mechanisms and structures" in record.description
    assert record.language_versions_note is True
    assert "available in other languages here" in record.description

    text = record.text()
    for unwanted in (
        "exactmetrics_note",
        "Paying for a Bus Ticket",
        "Read More",
        "TAGS:",
        "Building Slavery-free Communities",
        "Crisis Upon Crisis",
        "nav_menu_item",
    ):
        assert unwanted not in text, unwanted
    assert "Download: National Referral Mechanisms (First edition) - OSCE & ODIHR, 2004" in text
    # The first paragraph is repeated inside the second: it must appear once only.
    assert text.count("This handbook provides guidance on how to design") == 1
    assert text.index("rule of law") < text.index("Download:")


@pytest.mark.skipif(not REAL_PAGE.exists() and not STRICT, reason="shared corpus not beside the checkout")
def test_real_page_is_recognised() -> None:
    assert looks_like_resource_page(REAL_PAGE.read_text(encoding="utf-8"))


@pytest.mark.skipif(not OTHER_DIR.exists() and not STRICT, reason="shared corpus not beside the checkout")
def test_treaty_markdown_is_not_a_resource_page() -> None:
    files = sorted(OTHER_DIR.glob("*.md"))
    assert files
    for path in files:
        assert not looks_like_resource_page(path.read_text(encoding="utf-8")), path.name


def test_plain_markdown_brief_is_not_a_resource_page() -> None:
    brief = (
        "# Policy brief: victim identification\n\n"
        "## Summary\n\nFront-line staff should refer possible victims to the NRM...\n\n"
        "- Indicators include debt bondage, withheld documents and isolation.\n"
        "- See the 2004 OSCE handbook, National Referral Mechanisms - OSCE, 2004.\n\n"
        "Read more about referral in Annex 2.\n"
    )
    assert not looks_like_resource_page(brief)


# --------------------------------------------------------------------------- synthetic HTML

HTML_PAGE = """<!DOCTYPE html>
<html lang="en-GB"><head>
<meta charset="utf-8">
<title>Identifying Victims of Trafficking &#8211; RESPECT</title>
<link rel="canonical" href="https://respect.example.org/identifying-victims/">
<script>var menu = "Home Resources";</script>
</head><body class="post-template-default single">
<header class="site-header"><nav class="main-menu"><ul>
<li><a href="/">Home</a></li><li><a href="/resources/">Resources</a></li></ul></nav></header>
<main id="main"><article class="post-123 post type-post">
<header class="entry-header"><h1 class="entry-title">Identifying Victims of Trafficking</h1>
<div class="entry-meta"><span class="cat-links"><a href="/category/guidance/" rel="category tag">Guidance</a><a
 href="/category/toolkit/" rel="category tag">Toolkit</a></span></div></header>
<div class="entry-content">
<p>This toolkit helps front-line staff recognise indicators of trafficking &amp; refer
victims to support services.The toolkit was developed with survivors&#8217; input.</p>
<p>Identifying Victims of Trafficking - UNODC, 2019 (English)<br>
<a href="/wp-content/uploads/2019/05/identifying-en.pdf">DOWNLOAD</a></p>
<p>Identifying Victims of Trafficking - UNODC, 2019 (French)<br>
<a href="https://respect.example.org/wp-content/uploads/2019/05/identifying-fr.pdf">DOWNLOAD</a></p>
</div>
<footer class="entry-footer"><span class="tags-links">TAGS: <a href="/tag/global/" rel="tag">Global</a></span>
</footer>
</article>
<section class="related-posts"><h3>Related resources</h3>
<article><h2><a href="/other/">Other Resource About Labour</a></h2>
<a href="/category/research/" rel="category tag">Research</a>
<p>Some teaser text about another resource that trails...Read More</p></article>
</section></main>
<footer class="site-footer"><p>&copy; RESPECT</p></footer>
</body></html>
"""


def test_html_page_with_two_language_downloads() -> None:
    record = parse_resource_page(HTML_PAGE)

    assert record.title == "Identifying Victims of Trafficking"
    assert record.url == "https://respect.example.org/identifying-victims/"
    assert record.categories == ["Guidance", "Toolkit"]
    assert record.tags == ["Global"]
    assert record.downloads == [
        Download(
            "Identifying Victims of Trafficking",
            "UNODC",
            2019,
            "en",
            "https://respect.example.org/wp-content/uploads/2019/05/identifying-en.pdf",
        ),
        Download(
            "Identifying Victims of Trafficking",
            "UNODC",
            2019,
            "fr",
            "https://respect.example.org/wp-content/uploads/2019/05/identifying-fr.pdf",
        ),
    ]
    assert "trafficking & refer victims to support services. The toolkit" in record.description
    assert "survivors\u2019 input" in record.description

    text = record.text()
    assert "Download: Identifying Victims of Trafficking - UNODC, 2019 (English)" in text
    assert "Download: Identifying Victims of Trafficking - UNODC, 2019 (French)" in text
    for unwanted in ("Home", "Other Resource", "Read More", "RESPECT", "var menu", "Research"):
        assert unwanted not in text, unwanted
    assert looks_like_resource_page(HTML_PAGE)


def test_html_without_entry_content_and_inline_download_link() -> None:
    html = (
        "<html><head><title>Forced Labour Indicators | RESPECT</title></head><body>"
        "<h1>Forced Labour Indicators</h1>"
        "<p>Eleven indicators of forced labour, with examples.</p>"
        '<p>Forced Labour Indicators, ILO, 2012 <a href="files/indicators.pdf">DOWNLOAD</a></p>'
        "</body></html>"
    )
    record = parse_resource_page(html, url="https://respect.example.org/resources/indicators/")
    assert record.title == "Forced Labour Indicators"
    assert record.description == "Eleven indicators of forced labour, with examples."
    [dl] = record.downloads
    assert (dl.title, dl.publisher, dl.year) == ("Forced Labour Indicators", "ILO", 2012)
    assert dl.url == "https://respect.example.org/resources/indicators/files/indicators.pdf"


# --------------------------------------------------------------------------- synthetic text variants


def test_dash_without_space_mojibake_and_run_together_categories() -> None:
    page = (
        "Guidelines for Labour Inspectors\n"
        "COVID-19 resourcesGuidance\n\n"
        "This guide explains how inspectors can spot forced labourâ€™s indicators during the "
        "pandemic.Inspectors should â€œfollow the moneyâ€ and check recruitment fees â€“ including "
        "hidden ones. It also covers traf-\nficking for labour exploitation.\n\n"
        "Guidelines for Labour Inspectors- ILO, 2019 DOWNLOAD\n\n" + BOILERPLATE + "\n\n"
        "Another Report\nResearch\n\nA teaser of something else entirely...Read More\n"
    )
    record = parse_resource_page(page)

    assert record.title == "Guidelines for Labour Inspectors"
    assert record.categories == ["COVID-19 resources", "Guidance"]
    [dl] = record.downloads
    assert (dl.title, dl.publisher, dl.year, dl.language) == (
        "Guidelines for Labour Inspectors",
        "ILO",
        2019,
        None,
    )
    desc = record.description
    assert "forced labour\u2019s indicators" in desc
    assert "pandemic. Inspectors" in desc
    assert "\u201cfollow the money\u201d" in desc
    assert "fees \u2013 including" in desc
    assert "trafficking for labour exploitation" in desc
    assert "â€" not in record.text()
    assert "Another Report" not in record.text()
    assert looks_like_resource_page(page)


def test_boilerplate_replaced_by_blank_lines_and_comma_download_lines() -> None:
    page = (
        "Handbook for prosecutors on investigating trafficking cases.\n\n"
        "Handbook on Trafficking Investigations, UNODC, 2018 (English) DOWNLOAD\n"
        "Handbook on Trafficking Investigations, UNODC, 2018 (Spanish) DOWNLOAD\n"
        + "\n"
        * 30
        + "Unrelated Resource Title\nResearch\n\n"
        "An unrelated teaser paragraph that is cut short without any marker.\n\n"
        "TAGS: Europe\n"
    )
    record = parse_resource_page(page)

    assert record.title == "Handbook on Trafficking Investigations"
    assert record.description == "Handbook for prosecutors on investigating trafficking cases."
    assert [(d.publisher, d.year, d.language) for d in record.downloads] == [
        ("UNODC", 2018, "en"),
        ("UNODC", 2018, "es"),
    ]
    assert record.tags == []
    assert "Unrelated" not in record.text()
    assert record.text().endswith("Download: Handbook on Trafficking Investigations - UNODC, 2018 (Spanish)")


def test_teasers_ending_in_plain_ellipsis_and_several_languages_on_one_line() -> None:
    page = (
        "Supply Chain Toolkit\nToolkit\n\n"
        "A practical toolkit for companies mapping forced labour risks in their supply chains.\n\n"
        "Supply Chain Toolkit - Anti-Slavery International, 2020 (English) DOWNLOAD (French) DOWNLOAD\n\n"
        "Another Resource On Fisheries\nResearch\n\n"
        "This teaser describes a different resource and trails off...\n\n"
        "Third Resource\nGuidance\n\n"
        "A second teaser that also stops short\u2026\n"
    )
    record = parse_resource_page(page)

    assert record.title == "Supply Chain Toolkit"
    assert record.categories == ["Toolkit"]
    assert [(d.title, d.publisher, d.language) for d in record.downloads] == [
        ("Supply Chain Toolkit", "Anti-Slavery International", "en"),
        ("Supply Chain Toolkit", "Anti-Slavery International", "fr"),
    ]
    text = record.text()
    assert "Fisheries" not in text and "trails off" not in text and "Third Resource" not in text
    assert looks_like_resource_page(page)


def test_shortened_boilerplate_and_language_versions_note() -> None:
    page = (
        "Guidance for social workers on supporting child victims.\n"
        "The guidance is also available in other languages.\n\n"
        "Child Victims Guidance (Russian) - Council of Europe, 2016 DOWNLOAD\n\n"
        "post\n\npage\n\nexactmetrics_note\n\n"
        "Some Other Item\nVideo\n\nAbout something else...Read More\n"
    )
    record = parse_resource_page(page, url="https://respect.example.org/child-victims/")
    assert record.url == "https://respect.example.org/child-victims/"
    assert record.language_versions_note is True
    [dl] = record.downloads
    assert (dl.title, dl.publisher, dl.year, dl.language) == (
        "Child Victims Guidance",
        "Council of Europe",
        2016,
        "ru",
    )
    assert "exactmetrics_note" not in record.text()
    assert "Some Other Item" not in record.text()


def test_description_without_version_note() -> None:
    record = parse_resource_page("A short report on labour exploitation.\n\nReport X - ILO, 2021 DOWNLOAD\n")
    assert record.language_versions_note is False
    assert record.title == "Report X"


def test_text_layout() -> None:
    record = ResourceRecord(
        title="T",
        description="First paragraph.\n\nSecond paragraph.",
        categories=[],
        tags=[],
        downloads=[Download("T", "Pub", 2001, "de", None), Download("T", None, None, None, None)],
        url=None,
        language_versions_note=False,
    )
    assert (
        record.text()
        == "First paragraph.\n\nSecond paragraph.\n\nDownload: T - Pub, 2001 (German)\nDownload: T"
    )


# --------------------------------------------------------------------------- helpers


def test_split_categories() -> None:
    assert split_categories("COVID-19 resourcesGuidance") == ["COVID-19 resources", "Guidance"]
    assert split_categories("GuidanceResearchCase study") == ["Guidance", "Research", "Case study"]
    assert split_categories("Modern SlaveryPolicy") == ["Modern Slavery", "Policy"]
    assert split_categories("Training, Tools") == ["Training", "Tools"]


def test_parse_language() -> None:
    assert parse_language("(English)") == "en"
    assert parse_language("French") == "fr"
    assert parse_language("(Español)") == "es"
    assert parse_language("(FR)") == "fr"
    assert parse_language("(UK)") is None
    assert parse_language("(First edition)") is None


def test_fix_mojibake_leaves_clean_text_alone() -> None:
    assert fix_mojibake("decadeâ€™s experience") == "decade\u2019s experience"
    assert fix_mojibake("Ã©tude") == "\u00e9tude"
    clean = "decade\u2019s experience \u2013 \u201cquoted\u201d, Côte d'Ivoire"
    assert fix_mojibake(clean) == clean


def test_download_line_shapes_and_wrapped_prose() -> None:
    pending = parse_resource_page(
        "Desc here.\n\nToolkit on X, IOM, 2017 (English)\nDOWNLOAD\nFrench DOWNLOAD\n(Arabic) DOWNLOAD\n"
    )
    assert [(d.title, d.publisher, d.year, d.language) for d in pending.downloads] == [
        ("Toolkit on X", "IOM", 2017, "en"),
        ("Toolkit on X", "IOM", 2017, "fr"),
        ("Toolkit on X", "IOM", 2017, "ar"),
    ]
    after = parse_resource_page("Desc.\n\nGuide - OSCE, 2010 DOWNLOAD (English) DOWNLOAD (Russian)\n")
    assert [d.language for d in after.downloads] == ["en", "ru"]
    link = parse_resource_page("Desc.\n\nGuide - OSCE, 2010 [DOWNLOAD](https://x.example/a.pdf)\n")
    assert link.downloads[0].url == "https://x.example/a.pdf"
    wrapped = parse_resource_page(
        "The Council of Europe Convention, adopted in Warsaw, 2005\nand ratified by many states, is key.\n\n"
        "Convention Guide - CoE, 2006 DOWNLOAD\n"
    )
    assert [d.title for d in wrapped.downloads] == ["Convention Guide"]
    assert "adopted in Warsaw, 2005 and ratified" in wrapped.description


def test_wrapped_first_sentence_is_not_a_title() -> None:
    record = parse_resource_page(
        "Short first line without a stop\nand its continuation here.\n\nG - X, 2001 DOWNLOAD\n"
    )
    assert record.title == "G"
    assert record.description == "Short first line without a stop and its continuation here."
