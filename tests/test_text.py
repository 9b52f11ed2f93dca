"""The one text toolkit (core.text): what every layer relies on when it reads text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import unavailable

from core.text import (
    MARKER,
    cited_numbers,
    claims,
    complete_claims,
    content_words,
    guess_language,
    html_to_text,
    neutralise_markers,
    normalise,
    numbers,
    sentence_spans,
    sentences,
    stem,
    stopwords,
    strip_markers,
    words,
)

GOLD = Path(__file__).resolve().parents[2] / "shared" / "eval"


def test_sentences_respect_abbreviations_lists_and_offsets() -> None:
    text = "Art. 4 of Convention No. 29 applies. The U.S. report says so.\n• first item\n• second item\n\nIntro:\nnext line"
    spans = sentence_spans(text)
    assert [s.text for s in spans] == [
        "Art. 4 of Convention No. 29 applies.", "The U.S. report says so.", "• first item", "• second item",
        "Intro:", "next line",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)
    assert sentences("") == []


def test_note_references_after_a_full_stop_start_no_sentence() -> None:
    # USDOL-style reports put note numbers after the stop, with or without a space; quoted as they
    # were, a sentence began "(21,32-37) As a result" or ran on past "made.(49)" into the next one
    text = ("(9,30,31) Since August 2017, 884,000 people have fled. (21,32-37) As a result, 450,000 are children. "
            "A finding should be made.(49) Although ILO Conventions focus on labor laws. Table 4. (2014) Data.")
    spans = sentence_spans(text)
    assert [s.text for s in spans] == [
        "Since August 2017, 884,000 people have fled.", "As a result, 450,000 are children.",
        "A finding should be made.", "Although ILO Conventions focus on labor laws.", "Table 4.", "(2014) Data.",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)  # still verbatim: quotes are checked against the page


def test_a_footnote_under_a_table_is_its_own_sentence_without_its_mark() -> None:
    # USDOL country reports set "‡ Age calculated…" under a table, and the next paragraph follows
    # with no blank line: quoted, the footnote ran on into it and began with "‡"
    text = ("Compulsory Education Age Yes 16 Constitution\n‡ Age calculated based on available information (16)\n"
            "During the reporting period, the government amended the Criminal Code.\n"
            "It can be calculated that the Republic of\n* According to information reported by the Italian authorities, victims were forced.")
    spans = [s.text for s in sentence_spans(text)]
    assert "Age calculated based on available information (16)" in spans
    assert "During the reporting period, the government amended the Criminal Code." in spans
    assert "According to information reported by the Italian authorities, victims were forced." in spans
    assert not any(s.startswith(("‡", "*")) for s in spans)


def test_a_note_number_glued_to_the_full_stop_ends_the_sentence() -> None:
    # UNODC's reports print "areas.89 Sexual exploitation…": the whole page had been one sentence
    text = ("typically taking place in the surrounding areas.89 Sexual exploitation can be\ndriven by a large "
            "male labour force.90 According to one study, 13 to 30 per cent are victims.91\nVictims are "
            "recruited. Version 2.1 The end. In 2015.12 Member States joined.")
    assert [s.text for s in sentence_spans(text)] == [
        "typically taking place in the surrounding areas.", "Sexual exploitation can be\ndriven by a large male labour force.",
        "According to one study, 13 to 30 per cent are victims.", "Victims are recruited.", "Version 2.1 The end.",
        "In 2015.12 Member States joined.",
    ]


def test_claims_keep_their_markers_and_streaming_stops_at_a_finished_claim() -> None:
    assert claims("Victims get 45 days [1]. Children need no consent [2][3]. Unsourced.") == [
        "Victims get 45 days [1].", "Children need no consent [2][3].", "Unsourced.",
    ]
    assert complete_claims("First claim [1]. Second cla") == "First claim [1]."
    assert complete_claims("Still writing the first") == ""


def test_citation_markers() -> None:
    assert cited_numbers("A [2] b [1, 3][2] c [4-6].") == [2, 1, 3, 4, 5, 6]
    assert cited_numbers("between 2010 and 2015 [2015]") == []
    assert strip_markers("Victims are helped [1] , always [2].") == "Victims are helped, always."
    assert neutralise_markers("a source saying [1] or [2, 3]") == "a source saying (1) or (2, 3)"
    assert MARKER.search("no markers here") is None


def test_words_stems_and_stopwords() -> None:
    assert words("The child’s 2,500 euros (1.5%)") == ["the", "child's", "2,500", "euros", "1.5"]
    assert stem("victims") == stem("victim") and stem("exploitation") == stem("exploited")
    assert stem("slachtoffers", "nl") == stem("slachtoffer", "nl")
    assert {"the", "of", "what"} <= stopwords("en") and {"de", "het", "een"} <= stopwords("nl")
    assert "le" in stopwords("fr") and "trafficking" not in stopwords("en")
    assert content_words("What are the indicators of forced labour [1]?") == ["indic", "forc", "labour"]


def test_numbers_and_normalise_compare_spellings_of_one_figure() -> None:
    assert numbers("In 2019 123 people; 2,500 and 2 488 and 1.5") == {"2019", "123", "2500", "2488", "1.5"}
    assert normalise("7,905 victims (23 per cent)") == normalise("7905 Victims, 23%")
    assert normalise("1.5 million") == "1.5 million"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("What are the indicators of forced labour?", "en"),
        ("Welke rol speelt de gemeente bij de opvang van slachtoffers?", "nl"),
        ("Quelles sont les obligations des entreprises en matière de diligence?", "fr"),
        ("ILO", "en"),
    ],
)
def test_guess_language(text: str, lang: str) -> None:
    assert guess_language(text) == lang


def test_guess_language_on_every_gold_question() -> None:
    if not GOLD.is_dir():
        unavailable("needs ../shared/eval beside the checkout")
    questions = [json.loads(line) for name in ("dev", "tune") for line in (GOLD / f"{name}_questions.jsonl").open()]
    wrong = [q["id"] for q in questions if guess_language(q["question"]) != q["language"]]
    assert wrong == []


def test_html_to_text_keeps_paragraphs_and_drops_scripts() -> None:
    html = "<html><nav>Menu</nav><p>First&nbsp;para.</p><script>x=1</script><div>Second</div></html>"
    assert html_to_text(html) == "First para.\n\nSecond"
