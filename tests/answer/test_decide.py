"""The answerer's decision rules, its writing and its lexicon on hand-built assessments: no model, no index.

``decide`` reads an ``Assessment`` (what the evidence says and how confident the calibrator is), a threshold, the
policy and what the conversation says; each rule is a function tested here on its own.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import numpy as np
import pytest
from support import FixedStatistics

from ragkit.answer import ENGLISH, AnswerPolicy
from ragkit.answer.assess import Assessment, Sentence
from ragkit.answer.conversation import clarification_reply, clarifying_question, conversation
from ragkit.answer.decide import (
    Context,
    Decision,
    answers_in_part,
    changed_subject,
    decide,
    decide_parts,
    depends_on_subject,
    is_confident,
    leads_clearly,
    needs_clarification,
)
from ragkit.answer.question import key_phrases
from ragkit.answer.signals import Signals
from ragkit.answer.write import Writer, refusal
from ragkit.errors import ConfigError
from ragkit.records import AnswerStatus, Hit, RetrieverScore

THRESHOLD = 0.5
POLICY = AnswerPolicy()
VACATION = "Vacation and leave policy. Employees get 25 vacation days per calendar year."
TRAVEL = "Travel and expenses policy. Hotels are reimbursed up to 180 euros per night."
ACCESS = "Access policy. Passwords are rotated every 90 days."
ATLAS = "The Atlas arm carries a maximum payload of 7.5 kilograms."


def hit(n: int, text: str, title: str | None = None, dense: float = 0.5) -> Hit:
    return Hit(f"c{n}", f"d{n}", f"s{n}.md", text, 0, len(text), dense, {"dense": RetrieverScore(n, dense)},
               {"title": title} if title else {})


def assessment(question: str, hits: list[Hit], *, confidence: float, missing: tuple[str, ...] = (),
               dense_gap: float = 0.0, sentences: bool = True) -> Assessment:
    """An assessment as ``Assessor.assess`` would make it: each hit one statement sentence."""
    said = tuple(Sentence(h, h.start, h.end, h.text) for h in hits) if sentences else ()
    signals = Signals({"dense_gap": dense_gap}, tuple(key_phrases(question)), missing, ())
    return Assessment(question, tuple(hits), said, np.full(len(said), 0.5, dtype=np.float32), signals, confidence)


POLICIES = [hit(1, VACATION, "Vacation and leave"), hit(2, TRAVEL, "Travel and expenses"), hit(3, ACCESS, "Access")]
ATLAS_HITS = [hit(1, ATLAS, "Atlas arm"), hit(2, "The Atlas arm has a 3-year warranty.", "Atlas arm")]
PLAYERS = [hit(1, "Kobe Bryant was a basketball player born in 1978.", "Kobe Bryant"),
           hit(2, "Pete Maravich was a basketball player born in 1947.", "Pete Maravich")]
CELLS = "How do cells keep different concentrations of proteins?"


def asked_alone(a: Assessment, **context) -> Decision:
    return decide(a, threshold=THRESHOLD, policy=POLICY, context=Context(**context))


# -- answered, partial, no_answer --------------------------------------------------------------------------------------


def test_evidence_without_a_statement_is_refused_however_confident():
    a = assessment("How many vacation days do employees get?", POLICIES, confidence=0.99, sentences=False)
    assert asked_alone(a) == Decision(AnswerStatus.NO_ANSWER)


def test_confidence_at_the_threshold_answers_and_names_what_is_missing():
    question = "How many vacation days do employees get?"
    assert asked_alone(assessment(question, POLICIES, confidence=THRESHOLD, dense_gap=0.2)).status \
        is AnswerStatus.ANSWERED
    partial = asked_alone(assessment(question, POLICIES, confidence=0.9, missing=("revenue",), dense_gap=0.2))
    assert partial == Decision(AnswerStatus.PARTIAL, missing=("revenue",))
    assert asked_alone(assessment(question, POLICIES, confidence=THRESHOLD - 1e-9)).status is AnswerStatus.NO_ANSWER


def test_below_the_threshold_a_question_whose_names_are_partly_stated_is_answered_in_part():
    question = "What is the maximum payload of the Atlas arm and of the Hyperion drone?"  # names Atlas, Hyperion
    a = assessment(question, ATLAS_HITS, confidence=0.3, missing=("Hyperion", "drone"))
    assert answers_in_part(a, THRESHOLD, POLICY) and not is_confident(a, THRESHOLD)
    assert asked_alone(a) == Decision(AnswerStatus.PARTIAL, missing=("Hyperion", "drone"))
    too_weak = replace(a, confidence=THRESHOLD * POLICY.partial_share - 0.01)
    assert not answers_in_part(too_weak, THRESHOLD, POLICY) and asked_alone(too_weak).status is AnswerStatus.NO_ANSWER
    nothing_stated = assessment("What is the payload of the Hyperion drone?", ATLAS_HITS, confidence=0.3,
                                missing=("Hyperion", "drone"))
    assert not answers_in_part(nothing_stated, THRESHOLD, POLICY)  # no name of the question is stated
    assert answers_in_part(replace(a, confidence=0.2), THRESHOLD, replace(POLICY, partial_share=0.4))


def test_a_compound_question_is_answered_by_the_parts_the_evidence_is_confident_about():
    parts = ["What is the Atlas arm's warranty", "what is the CEO's salary"]
    sure, unsure = (assessment(p, ATLAS_HITS, confidence=c) for p, c in zip(parts, (0.9, 0.1)))
    assert decide_parts(parts, [sure, sure], threshold=THRESHOLD) == Decision(AnswerStatus.ANSWERED)
    assert decide_parts(parts, [sure, unsure], threshold=THRESHOLD) == Decision(AnswerStatus.PARTIAL,
                                                                                  missing=(parts[1],))
    assert decide_parts(parts, [unsure, unsure], threshold=THRESHOLD) is None  # judged as a whole instead


# -- clarify ---------------------------------------------------------------------------------------------------------


def test_a_reference_the_evidence_splits_over_is_asked_about_unless_one_hit_leads():
    question = "How many days does that policy allow?"  # ("this policy" is asked about even so: see below)
    unsure = assessment(question, POLICIES, confidence=0.3)
    asked = asked_alone(unsure)
    assert asked.status is AnswerStatus.CLARIFY and asked.noun == "policy"
    assert asked.options == ("Vacation and leave", "Travel and expenses", "Access")  # each hit speaks of a policy
    confident = assessment(question, POLICIES, confidence=0.9, dense_gap=POLICY.clear_lead)
    assert leads_clearly(confident, ["Vacation and leave", "Travel and expenses"], POLICY)
    assert asked_alone(confident).status is AnswerStatus.ANSWERED  # confident, and the best hit leads clearly
    close = replace(confident, signals=replace(confident.signals, values={"dense_gap": 0.05}))
    assert asked_alone(close).status is AnswerStatus.CLARIFY  # confident, but no clear winner
    assert asked_alone(close, clarified=True).status is AnswerStatus.ANSWERED  # a reply is never asked about again


def test_only_hits_that_speak_of_the_noun_are_offered():
    question = "How long is this warranty?"
    hits = [ATLAS_HITS[1], hit(2, "The Nova drone has a 2-year warranty.", "Nova drone"), POLICIES[2]]
    asked = asked_alone(assessment(question, hits, confidence=0.3))
    assert asked.options == ("Atlas arm", "Nova drone")  # the access policy is no warranty


def test_a_demonstrative_nothing_introduced_is_asked_about_even_with_one_candidate():
    question = "What is the maximum payload of this arm?"
    a = assessment(question, ATLAS_HITS, confidence=0.9, dense_gap=0.3)
    assert asked_alone(a) == Decision(AnswerStatus.CLARIFY, noun="arm", options=("Atlas arm",))
    introduced = Context.of(conversation(["Tell me about the Atlas arm"]))
    assert not depends_on_subject(a, introduced)  # the conversation named the arm: nothing to measure
    assert decide(a, threshold=THRESHOLD, context=introduced).status is AnswerStatus.ANSWERED
    elsewhere = Context.of(conversation(["How many vacation days do I get?"]))
    assert depends_on_subject(a, elsewhere)  # did the question change the subject? The caller measures it
    assert decide(a, threshold=THRESHOLD, context=replace(elsewhere, turn_cosine=0.1)).status is AnswerStatus.CLARIFY
    assert decide(a, threshold=THRESHOLD, context=replace(elsewhere, turn_cosine=0.6)).status is AnswerStatus.ANSWERED


def test_a_description_never_introduced_is_asked_about_only_after_a_change_of_subject():
    question = "When was the famous basketball player born?"
    a = assessment(question, PLAYERS, confidence=0.9, dense_gap=0.01)
    context = Context.of(conversation([CELLS]))
    assert depends_on_subject(a, context)
    switched = decide(a, threshold=THRESHOLD, context=replace(context, turn_cosine=POLICY.unrelated_cosine - 0.01))
    assert switched == Decision(AnswerStatus.CLARIFY, noun="one", options=("Kobe Bryant", "Pete Maravich"))
    related = replace(context, turn_cosine=POLICY.unrelated_cosine)
    assert decide(a, threshold=THRESHOLD, context=related).status is AnswerStatus.ANSWERED
    assert not depends_on_subject(a, Context()) and asked_alone(a).status is AnswerStatus.ANSWERED  # no conversation
    one_word = assessment("What awards has the actor received?", PLAYERS, confidence=0.9)
    asked = decide(one_word, threshold=THRESHOLD, context=replace(context, turn_cosine=0.0))
    assert (asked.status, asked.noun) == (AnswerStatus.CLARIFY, "actor")  # a one-word description names the options


def test_a_name_the_evidence_gives_to_different_things_is_asked_about():
    hits = [hit(1, "Mercury orbits the Sun in 88 days.", "Mercury (planet)"),
            hit(2, "Mercury is liquid at room temperature.", "Mercury (element)"),
            hit(3, "Venus orbits the Sun in 225 days.", "Venus")]
    asked = asked_alone(assessment("When was Mercury discovered?", hits, confidence=0.3))
    assert asked == Decision(AnswerStatus.CLARIFY, noun="Mercury", options=("Mercury (planet)", "Mercury (element)"))
    settled = assessment("When was Mercury discovered?", hits, confidence=0.9, dense_gap=0.2)
    assert needs_clarification(settled, THRESHOLD, POLICY, Context()) is None


def test_changed_subject_is_a_cosine_below_the_policy_s_and_never_without_turns():
    assert changed_subject(0.19, POLICY) and not changed_subject(0.2, POLICY) and not changed_subject(None, POLICY)
    assert changed_subject(0.25, replace(POLICY, unrelated_cosine=0.3))


QUESTIONS = ["How many days does this policy allow?", "What is the maximum payload of this arm?",
             "When was the famous basketball player born?", "Does it need a passport?", "When was Mercury discovered?",
             "What is the maximum payload of the Atlas arm?", "How long is this warranty?"]
HISTORIES = [[], [CELLS], ["Tell me about the Atlas arm", {"role": "assistant", "content": "A robot arm [1]."}],
             ["How many vacation days do I get?"]]


@pytest.mark.parametrize("question, history", list(itertools.product(QUESTIONS, HISTORIES)))
def test_the_turn_cosine_matters_only_where_depends_on_subject_says(question, history):
    """The caller embeds the earlier turns only where ``depends_on_subject`` says so: elsewhere any cosine, or none,
    must give the same decision."""
    context = Context.of(conversation(history))
    for hits, confidence, gap in itertools.product([POLICIES, ATLAS_HITS, PLAYERS], (0.3, 0.9), (0.0, 0.3)):
        a = assessment(question, hits, confidence=confidence, dense_gap=gap)
        if depends_on_subject(a, context):
            continue
        cosines = (None, 0.0, 0.5, 1.0) if context.user_turns else (None,)  # no turns, nothing to be close to
        decisions = {decide(a, threshold=THRESHOLD, context=replace(context, turn_cosine=cosine)) for cosine in cosines}
        assert len(decisions) == 1, (question, history, confidence, gap)


# -- the policy, the writer and the lexicon ---------------------------------------------------------------------------


def test_a_policy_out_of_range_is_named():
    with pytest.raises(ConfigError, match="max_sentences must be at least 1, got 0"):
        AnswerPolicy(max_sentences=0)
    with pytest.raises(ConfigError, match="threshold must be between 0 and 1, got 1.5"):
        AnswerPolicy(threshold=1.5)


def _writer(policy: AnswerPolicy = POLICY, lexicon=ENGLISH) -> Writer:
    return Writer(FixedStatistics(10, default=1), policy, lexicon)


def test_the_writer_words_each_decision():
    a = assessment("How many days does this policy allow?", POLICIES, confidence=0.3)
    asked = _writer().write(Decision(AnswerStatus.CLARIFY, noun="policy", options=("Vacation and leave", "Access")), a)
    assert asked.text == "Which policy do you mean: Vacation and leave or Access?"
    assert asked.clarifications == ("Vacation and leave", "Access") and asked.confidence == 0.3
    refused = _writer().write(Decision(AnswerStatus.NO_ANSWER), a, rewritten="days policy")
    assert refused.rewritten_query == "days policy"
    assert refused.text == ("Sorry — the knowledge base does not answer this question. The closest it covers: "
                            "Vacation and leave; Travel and expenses; Access.")
    assert refusal([]) == "Sorry — the knowledge base has nothing related to this question."
    assert refusal(POLICIES, replace(POLICY, named_hits=1)).endswith("The closest it covers: Vacation and leave.")
    partial = _writer().write(Decision(AnswerStatus.PARTIAL, missing=("Hyperion",)), a)
    assert partial.citations and partial.text.endswith(f"[{len(partial.citations)}] The knowledge base does not cover: "
                                                       "Hyperion.")


def test_the_writer_quotes_at_most_the_policy_s_sentences():
    a = assessment("How many vacation days do employees get?", POLICIES, confidence=0.9)
    assert len(_writer().write(Decision(AnswerStatus.ANSWERED), a).citations) <= POLICY.max_sentences
    one = _writer(replace(POLICY, max_sentences=1)).write(Decision(AnswerStatus.ANSWERED), a)
    assert [c.source for c in one.citations] == ["s1.md"] and one.text == f"{VACATION} [1]"


def test_another_language_is_another_lexicon():
    german = replace(ENGLISH, clarifying="Welche {noun} meinen Sie: {options}?",
                     clarifying_pattern=re.compile(r"^Welche (?P<noun>.+?) meinen Sie: (?P<options>.+)\?$", re.DOTALL),
                     last_option_join=" oder ", option_separator=re.compile(r", | oder "),
                     option_pattern=re.compile(r'(?:^|, |,? oder )(?:"(?P<quoted>[^"]+)"|(?P<plain>.+?))'
                                               r'(?=, |,? oder |$)'),
                     ordinals={"erste": 0, "zweite": 1, "letzte": -1}, filler=frozenset("die der das meine".split()))
    asked = clarifying_question("Richtlinie", ["Urlaub", "Reisen, Spesen", "Zugang"], german)
    assert asked == 'Welche Richtlinie meinen Sie: Urlaub, "Reisen, Spesen" oder Zugang?'
    messages = conversation(["Wie viele Tage erlaubt diese Richtlinie?", {"role": "assistant", "content": asked}])
    assert clarification_reply("die zweite", messages, german).option == "Reisen, Spesen"
    assert clarification_reply("die zweite", messages) is None  # in English, "die zweite" names no option
