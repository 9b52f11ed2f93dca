"""Span labelling on real-looking PDF lines: what an extractive answer may quote and what it never may."""

from __future__ import annotations

import pytest

from assistant.spans import (
    clean,
    is_contents,
    is_fragment,
    is_reference,
    is_title_run,
    line_labels,
    strip_footnote_digits,
    units,
)


def labels_of(text: str) -> dict[str, str]:
    return {text[s:e]: label for s, e, label in line_labels(text)}


def sentences_of(text: str) -> list[str]:
    return [u.text for u in units(text) if u.kind == "sentence"]


def test_heading_is_split_off_the_sentence_below_it() -> None:
    text = ("Forced labour is found in many sectors of the economy.\nThe economics of slavery\n"
            "These forms of exploitation generate large illegal profits for the traffickers.")
    assert labels_of(text)["The economics of slavery"] == "heading"
    shown = sentences_of(text)
    assert shown[1] == "These forms of exploitation generate large illegal profits for the traffickers."
    assert all("economics of slavery" not in s for s in shown)
    assert units(text)[1].context == "The economics of slavery"  # kept for scoring, never shown


def test_wrapped_line_of_a_sentence_is_not_a_heading() -> None:
    text = ("When officers encounter a potential\nvictim of trafficking in the course of their duties, they\n"
            "Should act at once.\nLast line here")
    labels = labels_of(text)
    assert labels["When officers encounter a potential"] == "text"
    assert labels["victim of trafficking in the course of their duties, they"] == "text"


def test_caps_heading_on_two_lines_and_markdown_heading() -> None:
    text = ("CONVENIENCE STORES’ ROLE IN COMBATING\nHUMAN TRAFFICKING\nTraffickers may use convenience stores "
            "to buy food.\n### Article 7\n1.\nEach Member shall take all necessary measures to ensure enforcement.")
    labels = labels_of(text)
    assert labels["CONVENIENCE STORES’ ROLE IN COMBATING"] == labels["HUMAN TRAFFICKING"] == "heading"
    assert labels["### Article 7"] == "heading"
    assert labels["1."] == "boilerplate"
    assert sentences_of(text) == ["Traffickers may use convenience stores to buy food.",
                                  "Each Member shall take all necessary measures to ensure enforcement."]
    assert units(text)[0].context == "CONVENIENCE STORES’ ROLE IN COMBATING HUMAN TRAFFICKING"


def test_caps_run_glued_to_a_sentence_is_cut() -> None:
    assert clean("REPORTING HUMAN TRAFFICKING If you observe suspected trafficking, call.") == (
        "If you observe suspected trafficking, call.")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("The Council of Europe and other Organisations1 agree.", "The Council of Europe and other Organisations agree."),
        ("to prevent the so-called waterbed effect.26", "to prevent the so-called waterbed effect."),
        ("a fine of up to € 76,000 (fifth category).105 There", "a fine of up to € 76,000 (fifth category). There"),
        ("groups of children3 about whom there have been reports", "groups of children about whom there have been reports"),
        ("B9 residence permits were granted in 2009 to 340 victims.", "B9 residence permits were granted in 2009 to 340 victims."),
        ("under Convention No.182 and Article 3 of the Protocol", "under Convention No.182 and Article 3 of the Protocol"),
        ("COVID-19 made it worse for 25 workers.", "COVID-19 made it worse for 25 workers."),
    ],
)
def test_footnote_digits_go_other_numbers_stay(raw: str, shown: str) -> None:
    assert strip_footnote_digits(raw) == shown


@pytest.mark.parametrize(
    "line",
    [
        "Kaandorp and Blaak, 2013: p. 32.",
        "Smith, J. A. (2019). Forced labour in supply chains. London: Routledge.",
        "Clark, Emily. Hidden agony behind our craze for cashews. The Daily Mail, April 3, 2019. https://www.dailymail.co.uk/x",
        "Shelley, L. et al. Human Trafficking: A Global Perspective. Cambridge University Press.",
        "ISBN 978-92-1-148314-7",
        "Available at: https://doi.org/10.1000/xyz123",
        "Ibid: p. 32.",
        "AIVD (2014) The transformation of jihadism in the Netherlands.",
    ],
)
def test_reference_entries_are_recognised(line: str) -> None:
    assert is_reference(line)


@pytest.mark.parametrize(
    "line",
    [
        "In 2010, 993 possible victims were reported to CoMensha and 20% were exploited outside the sex industry.",
        "If you are interested in a presentation at your school, you can email the team or visit "
        "www.example.gov to request one for your students and staff members this year.",
        "The Netherlands, 2013: the number of reported victims rose again.",
    ],
)
def test_statements_are_not_references(line: str) -> None:
    assert not is_reference(line)


@pytest.mark.parametrize(
    ("line", "contents"),
    [
        ("3.2 Victims in the CoMensha register ... 45", True),
        ("Chapter 4 Prosecution and trial 112", True),
        ("In 2011 the number of victims rose to 1,222.", False),
        ("Article 4 defines trafficking for the purposes of this Convention.", False),
    ],
)
def test_contents_lines(line: str, contents: bool) -> None:
    assert is_contents(line) is contents


def test_contents_and_boilerplate_lines_never_become_units() -> None:
    text = ("Contents\n1 Introduction ... 3\n2 Findings and recommendations 17\nDownload: full report (PDF, 2 MB)\n"
            "Read more\nThe report found that most victims were recruited through a known contact.")
    labels = labels_of(text)
    assert labels["1 Introduction ... 3"] == labels["2 Findings and recommendations 17"] == "contents"
    assert labels["Download: full report (PDF, 2 MB)"] == labels["Read more"] == "boilerplate"
    assert [u.text for u in units(text)] == ["The report found that most victims were recruited through a known contact."]


def test_reference_and_title_runs_are_not_offered() -> None:
    text = ("Human trafficking is underreported in most regions of the world.\n"
            "Kaandorp and Blaak, 2013: p. 32.\n\n"
            "Vulnerability up Close An Exploratory Study Into The Vulnerability Of Children To Human Trafficking "
            "Office of the National Rapporteur The Hague")
    assert sentences_of(text) == ["Human trafficking is underreported in most regions of the world."]
    assert is_title_run("Vulnerability up Close An Exploratory Study Into The Vulnerability Of Children To Human "
                        "Trafficking Office of the National Rapporteur")


def test_list_with_lead_in_becomes_one_unit_with_each_item_a_part() -> None:
    text = ("Be observant and try to collect as much information as possible about the situation and\npeople, like:\n"
            "» Approximate ages and the number of individuals involved\n"
            "» Details about their physical appearances (hair and eye color, tattoos, etc.)\n"
            "» Vehicle information (color, make, model, license plate, etc.)\nHow to Report\n"
            "Do not attempt to confront a suspected trafficker directly.")
    found = units(text)
    lists = [u for u in found if u.kind == "list"]
    assert len(lists) == 1
    assert lists[0].parts[0].endswith("people, like:")
    assert lists[0].parts[1:] == (
        "» Approximate ages and the number of individuals involved",
        "» Details about their physical appearances (hair and eye color, tattoos, etc.)",
        "» Vehicle information (color, make, model, license plate, etc.)",
    )
    assert sum(u.kind == "item" for u in found) == 3
    assert found[-1].text == "Do not attempt to confront a suspected trafficker directly."
    assert found[-1].context == "How to Report"


def test_an_item_wrapped_over_two_lines_is_one_item() -> None:
    text = ("Officers build trust by:\n• Immediately engaging a victim specialist who can connect the victim to support\n"
            "services (which could include shelter).\n• Using an interpreter when needed.")
    items = [u.text for u in units(text) if u.kind == "item"]
    assert items == ["• Immediately engaging a victim specialist who can connect the victim to support services "
                     "(which could include shelter).", "• Using an interpreter when needed."]


def test_a_source_question_is_context_not_an_answer() -> None:
    text = ("5. What criteria does the agency use to remove goods from the List?\n\n"
            "The guidelines provide criteria for the removal of items from the List.\n"
            "• Does every state have arrests?\n• Do female traffickers differ from male traffickers?")
    found = units(text)
    assert [u.text for u in found] == ["The guidelines provide criteria for the removal of items from the List."]
    assert found[0].context == "5. What criteria does the agency use to remove goods from the List?"


def test_a_wrapped_line_ending_in_a_number_stays_prose() -> None:
    text = ("Over the decade the annual number of reported victims almost trebled to 909\n"
            "in 2009, mainly thanks to the growing attention for human trafficking.")
    assert sentences_of(text) == [" ".join(text.split())]


def test_a_bibliography_offers_no_sentence_though_its_titles_read_like_sentences() -> None:
    text = ("Most studies rely on registered victims only.\n"
            "Mendes, A. (2009). Operational indicators of trafficking in human beings: results from a Delphi\n"
            "survey. Geneva: Labour Office.\n"
            "Reyes (2012a). Global Estimate of Forced Labour. Results and methodology. Geneva: Labour Office.\n"
            "Online at: https://www.example.org/estimates/index.htm.\n"
            "Tanaka, M., Berg, F., et al. (2010).\n\n"
            "The register has grown every year since 2008.")
    labels = labels_of(text)
    assert labels["Mendes, A. (2009). Operational indicators of trafficking in human beings: results from a Delphi\n"
                  "survey. Geneva: Labour Office."] == "reference"  # one entry over two lines
    assert labels["Online at: https://www.example.org/estimates/index.htm."] == "reference"
    assert sentences_of(text) == ["Most studies rely on registered victims only.",
                                  "The register has grown every year since 2008."]


def test_prose_that_cites_or_links_mid_sentence_stays_prose() -> None:
    text = ("If you are interested in a presentation at your school, you can email the team or\n"
            "visit www.example.gov to request one for your students and staff members this year.\n"
            "As Reyes et al. showed, most victims\n"
            "were recruited by someone they knew.")
    assert sentences_of(text)[0] == " ".join(text.split("\nAs")[0].split())


@pytest.mark.parametrize(("section", "offered"), [("8.1 International aspects > Literature", False),
                                                  ("Annex > References", False), ("Notes", False),
                                                  ("Literature review", True), ("2 Findings", True), (None, True)])
def test_a_chunk_under_a_reference_list_heading_offers_nothing(section: str | None, offered: bool) -> None:
    text = "Hard to see, harder to count. Survey guidelines to estimate forced labour of adults and children."
    assert bool(units(text, section)) is offered


def test_a_heading_under_a_sentence_that_ends_in_a_footnote_number_is_a_heading() -> None:
    text = ("Debt is often accompanied by threats and\ncoercion by employers.74\n"
            "Artisanal mining in the region\nOne of the areas of exploitation is the mining\nof precious metals.")
    assert labels_of(text)["Artisanal mining in the region"] == "heading"
    assert sentences_of(text)[-1] == "One of the areas of exploitation is the mining of precious metals."


@pytest.mark.parametrize(("text", "fragment"), [
    ("Referring victims of modern slavery to the referral mechanism (RM)", True),  # a title line
    ("adult (Northern Region and Eastern Region) - Example.gov", True),  # a browser's print header
    ("The mechanism identifies and supports victims.", False),
    ("Victims were accompanied by violent treatment, threats and coercion by employers.74", False),
    ("Over the decade the annual number of reported victims almost trebled to 909 in 2009 mainly", False),  # cut off
])
def test_a_short_line_that_never_closes_is_a_fragment_not_a_statement(text: str, fragment: bool) -> None:
    assert is_fragment(text) is fragment


def test_markdown_emphasis_is_shown_as_read_and_a_footnote_asterisk_stays() -> None:
    # treaty texts in Markdown: "(*c*)", "*inter alia*"; a chart title's footnote mark is not emphasis
    assert clean("determining, *inter alia*, (*a*) that such labour") == "determining, inter alia, (a) that such labour"
    assert clean("**Article 2** The term") == "Article 2 The term"
    # a run-in heading keeps its marks: bare, "Referral." would be checked as a sentence of its own
    assert clean("**Referral.** The form is sent within **5 working days**.") == "**Referral.** The form is sent within 5 working days."
    assert clean("top 25 countries globally, 2014–2022*") == "top 25 countries globally, 2014–2022*"
    assert clean("Victim’s loss = (Wtr-v * Htr) – (Wtr * Htr)") == "Victim’s loss = (Wtr-v * Htr) – (Wtr * Htr)"


def test_a_heading_in_capitals_under_a_list_is_not_the_last_items_second_line() -> None:
    # UNODC's indicators leaflet: "CHILDREN" and its lead-in had been read as the rest of the item above
    text = ("Adults who have been trafficked may:\n• Be in a situation of dependence\n• Have acted on the basis of "
            "false promises\nCHILDREN\nChildren who have been trafficked may:\n• Have no access to their parents\n"
            "• Look intimidated\nISSN 1020-9212\nSee the ILO's list.")
    labels = labels_of(text)
    assert labels["• Have acted on the basis of false promises"] == "item"
    assert labels["CHILDREN"] == "heading"
    assert labels["Children who have been trafficked may:"] == "text"
    assert labels.get("ISSN 1020-9212") != "heading"  # capitals with digits: a code, not a heading
    lists = [u for u in units(text) if u.kind == "list"]
    assert lists[-1].parts[0] == "Children who have been trafficked may:" and lists[-1].context == "CHILDREN"
