"""The offline extractive answer on hand-made passages: the sentence with the figure, the whole
list, both parts of a two-part question, antecedents, and every shown sentence cited."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from assistant.answer import MAX_WORDS, extractive_answer, read_passage
from assistant.cite import check_citations
from assistant.compose import analyse, carries, leans_back
from core.settings import Settings
from core.text import MARKER, cited_numbers, claims, content_words
from core.types import Chunk, Hit


class BagOfWords:
    """A stand-in embedder: hashed stemmed content words, so similarity follows shared words."""

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in content_words(text):
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % 256] += 1.0
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


def hit(text: str, n: int) -> Hit:
    return Hit(Chunk(f"c{n}", f"doc{n}.pdf", n, 0, len(text), text, {"title": f"Doc {n}"}), 1.0 - n / 10, n)


def answer(question: str, *texts: str) -> tuple[str, list[Hit]]:
    hits = [hit(t, i + 1) for i, t in enumerate(texts)]
    draft = extractive_answer(question, hits, BagOfWords(), Settings())
    return draft.text, hits


def shown(text: str) -> str:
    return MARKER.sub("", text)


RECOVERY = ("Recovery period for victims\nVictims identified by the police are offered a recovery period. "
            "The recovery period for adult victims lasts at least 30 days. "
            "Recovery support for victims includes accommodation, legal advice and medical care from the police partners.")


def test_how_many_question_gets_the_sentence_with_the_figure() -> None:
    text, _ = answer("How many days does the recovery period for victims last?", RECOVERY)
    assert "30 days" in text
    assert text.startswith("The recovery period for adult victims lasts at least 30 days. [1]")


def test_heading_and_reference_lines_never_appear() -> None:
    text, _ = answer("How many days does the recovery period for victims last?", RECOVERY
                     + "\nSmith, J. (2019). Recovery periods for victims. London: Home Office.")
    assert "Recovery period for victims Victims" not in text
    assert "Smith, J." not in text


LIST_PAGE = ("What to Report\nIf you observe suspected trafficking, the details you provide in your tip matter. "
             "Try to collect as much information as possible about the people, like:\n"
             "» Approximate ages and the number of individuals involved\n"
             "» Nicknames or gang-related affiliations being used\n"
             "» Vehicle information (color, make, model, license plate)\n"
             "How to Report\nCall the hotline with what you saw.")


def test_list_question_gets_the_whole_list_with_its_lead_in_each_item_cited() -> None:
    text, hits = answer("Which details should an employee note down for a trafficking tip?", LIST_PAGE)
    for item in ("Approximate ages", "Nicknames", "Vehicle information"):
        assert item in text
    assert "people, like: [1]" in text
    checked = check_citations(text, hits)
    assert checked.removed == []
    for claim in claims(checked.text):
        assert cited_numbers(claim) == [1], claim


def test_pronoun_sentence_brings_the_sentence_it_points_back_to() -> None:
    page = ("The reflection period gives a possible victim three months to decide whether to report the offence. "
            "It ends early when the victim leaves for an unknown destination. "
            "Other rules apply to residence permits for family members of the victim.")
    text, _ = answer("When does it end early, leaving for an unknown destination?", page)
    assert "It ends early" in text
    assert text.index("The reflection period gives") < text.index("It ends early")


def test_two_part_question_has_each_part_answered_and_cited() -> None:
    law = ("Since 1 January 2005 trafficking for organ removal has been a crime in the Netherlands. "
           "The law was debated for several years before it passed.")
    shelter = ("Shelters for victims are run by municipalities across the country. "
               "Most shelters offer between ten and twenty beds for adult victims.")
    text, hits = answer("Since when has organ removal trafficking been a crime, and who runs the shelters for victims?",
                        law, shelter)
    assert "1 January 2005" in text and "run by municipalities" in text
    assert set(cited_numbers(text)) == {1, 2}
    assert check_citations(text, hits).removed == []


def test_answer_is_concise_without_a_list() -> None:
    filler = " ".join(f"Victims of trafficking in region {i} receive support from local services and shelters."
                      for i in range(12))
    text, _ = answer("What support do trafficking victims receive from local services?", filler)
    assert len(shown(text).split()) <= MAX_WORDS


def test_footnote_digits_are_dropped_from_shown_sentences_and_citation_holds() -> None:
    page = "The number of victims registered by the coordination centres2 rose sharply that year.34 Other figures followed."
    text, hits = answer("Did the number of registered victims rise that year?", page)
    assert "centres rose sharply that year. [1]" in text
    assert check_citations(text, hits).removed == []


@pytest.mark.parametrize(
    ("question", "kinds", "wants_list"),
    [
        ("How many victims were reported in 2011?", {"number"}, False),
        ("How long does the reflection period last?", {"duration"}, False),
        ("When did the convention enter into force?", {"date"}, False),
        ("What is meant by debt bondage?", {"definition"}, False),
        ("Which agencies must notify the registration centre?", {"agent"}, True),
        ("Which indicators point to forced begging?", set(), True),
        ("What steps should a first responder take?", set(), True),
        ("In which country was the survey carried out?", {"place"}, False),
    ],
)
def test_question_shapes(question: str, kinds: set[str], wants_list: bool) -> None:
    asks = analyse(question)
    assert set(asks.kinds) == kinds
    assert asks.wants_list is wants_list


def test_two_part_and_yes_no_questions() -> None:
    asks = analyse("Does a minor have to be forced for it to count, and how is such a case classified?")
    assert asks.yes_no and len(asks.parts) == 2
    assert len(analyse("Which groups of children were examined in the study?").parts) == 1


def test_token_kinds_and_pointing_back() -> None:
    assert carries("number", "Some 42 victims (29%) filed a claim.")
    assert not carries("number", "In 2010 the law changed.")  # a year is a date, not a count
    assert carries("date", "Since 1 October 2002 the law applies.")
    assert carries("duration", "The period lasts three months.")
    assert leans_back("These forms of exploitation are common.") and not leans_back("Theft is common.")


def test_paragraph_numbers_are_not_shown_as_claims_of_their_own() -> None:
    page = ("### Article 8\n1. National laws shall require that migrant domestic workers receive a written job offer. "
            "2. The preceding paragraph shall not apply to workers who enjoy freedom of movement.")
    text, _ = answer("What must migrant domestic workers receive before crossing borders?", page)
    assert all(len(content_words(MARKER.sub("", c))) > 1 for c in claims(text)), text
    assert "written job offer. [1]" in text


def test_the_documents_title_printed_on_its_page_is_not_an_answer() -> None:
    title = "Referral Toolkit for the Region: Referring victims of exploitation to the regional referral service (RRS)"
    text = ("Referring victims of exploitation to the regional referral service (RRS)\n\n"
            "The regional referral service is the framework for identifying and referring victims of exploitation.")
    draft = extractive_answer("What is the regional referral service?",
                              [Hit(Chunk("c1", "toolkit.pdf", 1, 0, len(text), text, {"title": title}), 1.0, 1)],
                              BagOfWords(), Settings())
    assert shown(draft.text).strip() == "The regional referral service is the framework for identifying and referring victims of exploitation."


def test_an_age_is_not_a_duration() -> None:
    assert carries("duration", "The recovery period lasts 45 days.")
    assert not carries("duration", "Victims were 15 years old on average when first exploited.")
    assert not carries("duration", "The typical recruiter was a 28-year-old man.")


def test_the_how_long_part_of_a_two_part_question_gets_the_sentence_with_a_duration() -> None:
    text, _ = answer(
        "In the survey of recruiters, how old were the victims on average when first recruited, and how long "
        "did the exploitation typically last?",
        "Victims were an average of 15 years old when the recruiters first exploited them. "
        "The typical recruiter was a 28-year-old man known to the victim. "
        "The recruiters were on average 17 years older than the victims they recruited.",
        "Victims were exploited for an average of 154 days, ranging from one day to eleven years.",
    )
    assert "15 years old" in text and "154 days" in text


def test_the_sentence_beside_the_matched_passage_can_answer_and_its_citation_holds() -> None:
    matched = ("Victims of trafficking identified by the police are offered a reflection period. "
               "During the reflection period they receive shelter, medical care and legal advice.")
    beside = "The reflection period lasts 45 days for adult victims and can be extended for a child."
    page = f"{matched}\n\n{beside}"
    found = Hit(Chunk("c1", "doc.pdf", 3, 0, len(matched), matched, {"title": "Doc"}), 0.9, 1)
    near = Chunk("c2", "doc.pdf", 3, len(matched) + 2, len(page), beside, {"title": "Doc"})
    question = "How many days does the reflection period last for adult victims?"

    alone = extractive_answer(question, [found], BagOfWords(), Settings())
    assert "45 days" not in alone.text  # the hit itself does not say

    draft = extractive_answer(question, [found], BagOfWords(), Settings(), around=[[near]])
    assert "The reflection period lasts 45 days for adult victims" in draft.text
    checked = check_citations(draft.text, [read_passage(found, [near], page)])
    assert "45 days" in checked.text and not checked.removed
    quote = next(c.quote for c in checked.citations if "45 days" in c.quote)
    assert quote in page and checked.citations[0].page == 3  # the page cited holds the quote
    # the checker reading only the matched chunk would rightly refuse that sentence
    assert "45 days" not in check_citations(draft.text, [found]).text
