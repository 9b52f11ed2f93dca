"""The citation checker (assistant/cite.py) and the abstention gate (assistant/gate.py), on
hand-made passages whose right answers are known."""

from __future__ import annotations

import pytest

from assistant.cite import check_citations, support_score
from assistant.fitted import AbstainModel
from assistant.gate import (
    FEATURES,
    Evidence,
    abstain_probability,
    abstain_reason,
    acronyms,
    answer_text,
    gather_evidence,
    key_terms,
    should_abstain,
    wants_number,
)
from core.text import content_words, sentence_spans
from core.types import Chunk, Hit

RECOVERY = (
    "A positive reasonable grounds decision opens a recovery period of at least 30 days. "
    "During this period victims receive safe accommodation and legal advice."
)
CHILDREN = "Children do not need to consent to a referral to the National Referral Mechanism."
HOTLINE = "The Modern Slavery Helpline answers calls every day of the year."


def hit(text: str, n: int, page: int | None = 3, source: str = "guide.pdf") -> Hit:
    meta = {"title": "Guide", "url": "https://example.org/guide.pdf", "publisher": "Home Office", "year": 2024}
    return Hit(Chunk(f"chunk{n}", source, page, 0, len(text), text, meta), 0.5 - n / 100, n)


@pytest.fixture
def hits() -> list[Hit]:
    return [hit(RECOVERY, 1, page=4), hit(CHILDREN, 2, page=7), hit(HOTLINE, 3, page=9, source="helpline.pdf")]


# --------------------------------------------------------------------------- sentences


def test_sentence_spans_split_sentences_list_items_and_paragraphs() -> None:
    text = (
        "Victims are referred to the NRM. A decision follows within 5 working days.\n"
        "Indicators include:\n• Look intimidated\n• Have no access to education\n\n"
        "A new paragraph starts here"
    )
    spans = sentence_spans(text)
    assert [s.text for s in spans] == [
        "Victims are referred to the NRM.",
        "A decision follows within 5 working days.",
        "Indicators include:",
        "• Look intimidated",
        "• Have no access to education",
        "A new paragraph starts here",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_sentence_spans_do_not_break_after_abbreviations() -> None:
    text = "See Art. 3 of Convention No. 29 for the definition. It applies in the U.K. today."
    assert [s.text for s in sentence_spans(text)] == [
        "See Art. 3 of Convention No. 29 for the definition.",
        "It applies in the U.K. today.",
    ]


# --------------------------------------------------------------------------- support


def test_support_score_counts_the_claims_content_words_found_in_the_passage() -> None:
    assert support_score("Victims receive legal advice.", RECOVERY) == 1.0
    assert support_score("Victims were given legal advice", "the victim is given legal advice") == 1.0  # stems
    assert support_score("Penguins migrate south in winter.", RECOVERY) == 0.0
    assert support_score("Victims receive a pension", RECOVERY) == pytest.approx(2 / 3)
    assert "[1]" not in " ".join(content_words("Victims receive advice [1]."))


# --------------------------------------------------------------------------- the checker


def test_supported_citations_are_kept_with_a_verbatim_quote(hits: list[Hit]) -> None:
    checked = check_citations("Victims receive safe accommodation and legal advice [1].", hits)
    assert checked.text == "Victims receive safe accommodation and legal advice. [1]"
    assert checked.removed == []
    [c] = checked.citations
    assert (c.n, c.source, c.page, c.url) == (1, "guide.pdf", 4, "https://example.org/guide.pdf")
    assert c.quote == "During this period victims receive safe accommodation and legal advice."
    assert c.quote in RECOVERY


def test_citations_are_renumbered_in_order_of_first_use(hits: list[Hit]) -> None:
    checked = check_citations(
        "The helpline answers calls every day [3]. Children need no consent for a referral [2]. "
        "The helpline is open every day of the year [3].",
        hits,
    )
    assert checked.text == (
        "The helpline answers calls every day. [1] Children need no consent for a referral. [2] "
        "The helpline is open every day of the year. [1]"
    )
    assert [(c.n, c.source, c.page) for c in checked.citations] == [(1, "helpline.pdf", 9), (2, "guide.pdf", 7)]


def test_out_of_range_citation_is_removed_with_its_claim(hits: list[Hit]) -> None:
    checked = check_citations("Victims receive legal advice [1]. Drones deliver the referral forms [9].", hits)
    assert checked.text == "Victims receive legal advice. [1]"
    assert [c.n for c in checked.citations] == [1]
    [removed] = checked.removed
    assert removed.n == 9 and removed.sentence == "Drones deliver the referral forms."
    assert "no source [9]" in removed.reason and "3 were retrieved" in removed.reason


def test_unsupported_citation_is_removed_with_its_claim(hits: list[Hit]) -> None:
    checked = check_citations("Victims receive legal advice [1]. Every victim gets a lifetime pension [2].", hits)
    assert checked.text == "Victims receive legal advice. [1]"
    assert [r.n for r in checked.removed] == [2]
    assert "does not support" in checked.removed[0].reason


def test_a_wrong_number_is_not_supported(hits: list[Hit]) -> None:
    checked = check_citations("The recovery period lasts at least 45 days [1].", hits)
    assert checked.citations == [] and checked.text == ""
    assert "45" in checked.removed[0].reason
    kept = check_citations("The recovery period lasts at least 30 days [1].", hits)
    assert [c.n for c in kept.citations] == [1]


def test_a_claim_keeps_the_citations_that_hold(hits: list[Hit]) -> None:
    checked = check_citations("Children do not need to consent to a referral [1, 2].", hits)
    assert checked.text == "Children do not need to consent to a referral. [1]"
    assert [(c.n, c.page) for c in checked.citations] == [(1, 7)]
    assert [r.n for r in checked.removed] == [1]


def test_judge_can_veto_a_lexically_supported_citation(hits: list[Hit]) -> None:
    asked: list[tuple[str, str]] = []

    def judge(sentence: str, passage: str) -> bool:
        asked.append((sentence, passage))
        return "helpline" in sentence.lower()

    checked = check_citations("Victims receive legal advice [1]. The helpline answers calls every day [3].", hits, judge=judge)
    assert asked == [("Victims receive legal advice.", RECOVERY), ("The helpline answers calls every day.", HOTLINE)]
    assert checked.text == "The helpline answers calls every day. [1]"
    assert "LLM check" in checked.removed[0].reason and checked.removed[0].n == 1


def test_connectives_pass_and_an_uncited_claim_gets_its_source(hits: list[Hit]) -> None:
    checked = check_citations("In short: Victims receive legal advice [1].", hits)
    assert checked.text == "In short: Victims receive legal advice. [1]"
    assert check_citations("", hits).text == ""
    uncited = check_citations("Here is what the guide says. The helpline answers calls every day.", hits)
    assert uncited.text == "Here is what the guide says. The helpline answers calls every day. [1]"
    assert [c.source for c in uncited.citations] == ["helpline.pdf"] and uncited.removed == []


def test_an_uncited_claim_no_source_supports_is_dropped(hits: list[Hit]) -> None:
    checked = check_citations("Victims receive legal advice [1]. Traffickers are always sentenced to life.", hits)
    assert checked.text == "Victims receive legal advice. [1]"
    assert [(r.n, r.sentence) for r in checked.removed] == [(0, "Traffickers are always sentenced to life.")]


def test_a_source_that_says_the_opposite_does_not_support(hits: list[Hit]) -> None:
    checked = check_citations("Children need to consent to a referral to the National Referral Mechanism [2].", hits)
    assert checked.text == "" and "opposite" in checked.removed[0].reason
    agreeing = check_citations("Children do not need to consent to a referral [2].", hits)
    assert agreeing.text == "Children do not need to consent to a referral. [1]" and not agreeing.removed


def test_a_sentence_quoted_word_for_word_is_not_read_against_a_negated_neighbour() -> None:
    # the checker's sentences can differ from the answer's (a heading blanked out, a note number
    # glued to a stop): the best-matching passage span then holds another clause's "not"
    passage = ("Recovery and support\nVictims receive safe accommodation and legal advice during the recovery "
               "period; they are not required to cooperate with the police")
    quoted = check_citations("Victims receive safe accommodation and legal advice during the recovery period [1].",
                             [hit(passage, 1)])
    assert quoted.citations and not quoted.removed
    # a claim cut from inside a negated sentence is no quote: the passage says the opposite
    inside = check_citations("Children need to consent to a referral [1].",
                             [hit("It is not true that children need to consent to a referral.", 1)])
    assert inside.text == "" and "opposite" in inside.removed[0].reason


def test_ranges_of_citations_are_each_checked(hits: list[Hit]) -> None:
    checked = check_citations("Victims receive safe accommodation and legal advice [1-2].", hits)
    assert checked.text == "Victims receive safe accommodation and legal advice. [1]"
    assert [r.n for r in checked.removed] == [2]


# --------------------------------------------------------------------------- the gate


def test_key_terms_are_years_numbers_names_and_acronyms() -> None:
    assert key_terms("How many victims were identified in Texas in 2019 by the FBI?") == ["2019", "Texas", "FBI"]
    assert key_terms("What did the Home Office say about 2,500 NRM referrals?") == ["2,500", "Home", "Office", "NRM"]
    assert key_terms("What are the indicators of forced labour?") == []
    # function words of other languages are not names, a possessive is dropped
    assert key_terms("Wat zegt Europol's rapport?") == ["Europol"]


def test_acronyms_of_spelled_out_names() -> None:
    found = acronyms("guidance from the Department of Homeland Security on the National Referral Mechanism")
    assert {"DHS", "NRM"} <= found


def evidence_for(question: str, passages: list[str], dense: float = 0.6) -> Evidence:
    return gather_evidence(question, [hit(t, n) for n, t in enumerate(passages, 1)], [dense, dense - 0.05], [12.0, 9.0])


def test_gate_finds_absent_years_and_places_and_says_so() -> None:
    report = ["In 2014, 927 offenses were reported by agencies in Texas and Florida."]
    assert evidence_for("How many offenses were reported in Texas in 2014?", report).missing_terms == []
    evidence = evidence_for("How many offenses were reported in Ohio in 2019?", report)
    assert evidence.missing_terms == ["2019", "Ohio"]
    assert evidence.features["missing_years"] == 1.0 and evidence.features["missing_names"] == 1.0
    assert evidence.features["pool_missing_names"] == 1.0
    assert abstain_reason(evidence) == "nothing retrieved mentions 2019 or Ohio"
    # a term the pool holds but the closest passages do not is reported as such
    pool = [hit("Ohio reported 12 offenses in 2019.", 9).chunk]
    near = gather_evidence("How many offenses were reported in Ohio in 2019?", [hit(report[0], 1)], [0.6], [9.0], True, pool)
    assert near.missing_terms == ["2019", "Ohio"] and near.pool_missing_terms == []
    assert near.features["missing_years"] == 1.0 and near.features["pool_missing_names"] == 0.0
    assert abstain_reason(near) == "the closest passages do not mention 2019 or Ohio"


def test_gate_reads_the_sentences_the_answer_would_quote_not_only_whole_passages() -> None:
    # the passage names 2012 (in its last line), but the figure it gives, the one an answer quotes, is for 2011
    page = ("On 31 December 2011 there were 883 people on the waiting list for a donor kidney [1]. "
            "The 2012 annual report discusses transplant tourism.")
    hits = [hit(page, 1)]
    question = "How many people were on the waiting list for a donor kidney at the end of 2012?"
    quoted = "On 31 December 2011 there were 883 people on the waiting list for a donor kidney. [1]"
    evidence = gather_evidence(question, hits, [0.7, 0.6], [12.0, 9.0], answer=answer_text(quoted, hits))
    assert evidence.missing_terms == [] and evidence.features["missing_years"] == 0.0
    assert evidence.answer_missing_terms == ["2012"] and evidence.features["answer_missing_years"] == 1.0
    assert abstain_reason(evidence) == "the sentences that come closest to an answer do not mention 2012"
    # a year in the title of the document cited qualifies the sentence quoted from it
    titled = [Hit(Chunk("t1", "r.pdf", 3, 0, len(page), page, {"title": "Annual report 2012"}), 0.9, 1)]
    dated = gather_evidence(question, titled, [0.7, 0.6], [12.0, 9.0], answer=answer_text(quoted, titled))
    assert dated.answer_missing_terms == [] and dated.features["answer_missing_years"] == 0.0


def test_gate_accepts_numbers_written_differently_and_spelled_out_acronyms() -> None:
    evidence = evidence_for("What did DHS say about the 2,500 calls?", ["The Department of Homeland Security counted 2 500 calls."])
    assert evidence.missing_terms == []
    assert evidence_for("What did the US say?", ["The U.S. State Department said so."]).missing_terms == []


def test_a_year_inside_a_period_counts_both_ways() -> None:
    assert key_terms("How many victims were found in 2015-2017 by the NRM?") == ["2015–2017", "NRM"]
    assert key_terms("What changed between 2010 and 2012?") == ["2010–2012"]
    assert key_terms("Was it higher in 2018–19?") == ["2018–2019"]
    period = ["The estimates cover 2010 to 2015 across the country."]
    assert evidence_for("How many victims were estimated in 2013?", period).missing_terms == []
    assert evidence_for("How many victims were estimated in 2017?", period).missing_terms == ["2017"]
    years = ["In 2016 the helpline answered 7,905 calls."]
    assert evidence_for("How many calls in 2015 to 2017?", years).missing_terms == []
    assert evidence_for("How many calls between 2018 and 2020?", years).missing_terms == ["2018–2020"]
    # two years joined by "and" are two years, not a period
    assert evidence_for("How many calls?", ["In 2010 and 2015 the line was closed."]).missing_terms == []
    assert evidence_for("How many calls in 2012?", ["In 2010 and 2015 the line was closed."]).missing_terms == ["2012"]


def test_codes_stay_one_term() -> None:
    assert key_terms("Did reports among H-2B visa holders change during COVID-19?") == ["H-2B", "COVID-19"]
    assert key_terms("Who can apply for a T-visa?") == ["T-visa"]
    assert evidence_for("Did H-2B workers call?", ["Most calls came from H-2A visa holders."]).missing_terms == ["H-2B"]
    assert evidence_for("Did H-2B workers call?", ["H2B workers called."]).missing_terms == []
    assert evidence_for("Who can apply for a T-visa?", ["T visas are granted to victims."]).missing_terms == []


def test_demonyms_and_plurals_match_the_place() -> None:
    assert evidence_for("How many victims came from Nigeria?", ["Nigerians were the largest group."]).missing_terms == []
    assert evidence_for("How many Nigerian victims were found?", ["Most came from Nigeria."]).missing_terms == []
    assert evidence_for("How many Syrian refugees?", ["Refugees from Syria arrived."]).missing_terms == []
    assert evidence_for("Were victims from Germany?", ["Germans were among them."]).missing_terms == []
    assert evidence_for("Were victims from Ghana?", ["Ghanaian workers were found."]).missing_terms == []
    assert evidence_for("Were victims from Ghana?", ["Nigerian workers were found."]).missing_terms == ["Ghana"]


def test_acronyms_match_spelled_out_names_both_ways() -> None:
    assert evidence_for("What does the ILO say?", ["The International Labour Organization says so."]).missing_terms == []
    spelled = evidence_for("What does the Department of Homeland Security list?", ["DHS lists indicators."])
    assert spelled.missing_terms == []
    assert evidence_for("What does the Department of Homeland Security list?", ["The agency lists indicators."]
                        ).missing_terms == ["Department", "Homeland", "Security"]
    assert evidence_for("How many NGOs took part?", ["Twelve NGOs took part."]).missing_terms == []


def test_a_question_not_in_english_is_held_to_numbers_and_codes_nothing_retrieved_mentions() -> None:
    # names and acronyms may be translated ("Allemagne" for "Germany", "OIT" for "ILO")
    assert key_terms("Combien de victimes en Allemagne selon l'OIT en 2019 ?") == ["2019", "Allemagne", "OIT"]
    evidence = gather_evidence("Combien de victimes en Allemagne selon l'OIT en 2019 ?", [hit("ILO: Germany 2018", 1)],
                               [0.6], [1.0], english=False)
    assert evidence.key_terms == ["2019"] and evidence.pool_missing_terms == ["2019"]
    assert abstain_reason(evidence) == "nothing retrieved mentions 2019"
    # its closest passages are found less reliably: a number further down the pool is enough
    pool = [hit("ILO: Germany 2018", 1).chunk, hit("In 2019, 12 victims.", 2).chunk]
    found = gather_evidence("Combien de victimes en Allemagne en 2019 ?", [hit("ILO: Germany 2018", 1)],
                            [0.6], [1.0], english=False, pool=pool)
    assert found.missing_terms == [] and found.features["missing_numbers"] == 0.0


def test_gate_matches_whole_words_only() -> None:
    assert evidence_for("Were women trafficked to Oman or Mali?", ["A woman reported the formalities."]).missing_terms == [
        "Oman", "Mali"]
    assert evidence_for("What did the US say?", ["Officers use the form."]).missing_terms == ["US"]
    assert evidence_for("What did the Dutch courts decide?", ["The Dutchess said nothing."]).missing_terms == ["Dutch"]
    assert evidence_for("Who are the Yazidi victims?", ["Yazidis were held."]).missing_terms == []


def test_a_question_asking_for_a_figure_needs_one_in_the_passages() -> None:
    assert wants_number("How many calls were made?") and wants_number("What percentage of victims were children?")
    assert not wants_number("What are the indicators of forced labour?")
    words_only = evidence_for("How many calls were made in 2020?", ["In 2020 the helpline answered calls every day."])
    assert words_only.features["number_missing"] == 1.0  # a year is not the figure asked for
    assert evidence_for("How many calls were made?", ["It answered 7,905 calls."]).features["number_missing"] == 0.0


def test_the_decision_follows_the_model_and_its_operating_point() -> None:
    coef = tuple(4.0 if name == "missing_years" else 0.0 for name in FEATURES)
    model = AbstainModel(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), coef, -2.0, 0.5)
    present = evidence_for("How long is the recovery period in 2014?", ["In 2014 the recovery period was 30 days."])
    absent = evidence_for("How long is the recovery period in 2019?", ["In 2014 the recovery period was 30 days."])
    assert abstain_probability(present, model) < 0.5 < abstain_probability(absent, model)
    assert should_abstain(absent, model=model) and not should_abstain(present, model=model)
    # a demanding evidence floor (Settings.abstain_threshold) refuses both
    assert should_abstain(present, min_score=0.95, model=model)


def test_the_fitted_gate_refuses_a_near_miss_and_answers_its_twin() -> None:
    report = ["In 2014, 927 human trafficking offenses were reported by agencies in Texas and Florida."]
    assert should_abstain(evidence_for("How many offenses were reported in Ohio in 2019?", report))
    assert not should_abstain(evidence_for("How many offenses were reported in Texas in 2014?", report))


def test_the_reason_names_years_and_names_before_other_numbers() -> None:
    evidence = evidence_for("Which 14 provisions did Nigeria adopt in 2031?", ["It adopted 12 provisions in 2020."])
    assert evidence.missing_terms == ["14", "2031", "Nigeria"]
    assert evidence.features["missing_years"] == 1.0 and evidence.features["missing_numbers"] == 2.0
    assert abstain_reason(evidence) == "nothing retrieved mentions 2031 or Nigeria"  # what the gate counts
    assert abstain_reason(evidence_for("Which 14 provisions?", ["It adopted 12."])) == "nothing retrieved mentions 14"


def test_a_number_with_leading_zeros_is_the_same_number() -> None:
    title = ["Forced Labour Convention, 1930 (ILO C029): text"]
    assert evidence_for("Under ILO Convention 29, who could be called up?", title).missing_terms == []
    assert evidence_for("Under ILO Convention 105, who could be called up?", title).missing_terms == ["105"]
