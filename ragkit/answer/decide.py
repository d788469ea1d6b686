"""Deciding whether, and how, the knowledge base answers a question — from an ``Assessment``, before any text.

``decide`` is pure: it reads the assessment, the threshold, the policy and what the conversation says (a
``Context``), and calls no model. Its rules, each a function of its own:

- no statement among the evidence → ``no_answer``;
- ``needs_clarification``: the question points at something it does not name ("this county", "it"), or names
  something the evidence gives to different things ("Mercury"), and the evidence splits between candidates with no
  clear winner — or a demonstrative points at something nothing said before introduced → ``clarify``, with the
  candidates as options (never for a reply to a clarifying question);
- ``is_confident`` → ``answered``, or ``partial`` naming the key phrases no hit states; ``answers_in_part``: not
  quite confident, but the evidence states some of the question's names and misses others → ``partial``;
- otherwise → ``no_answer``.

Whether a follow-up changed the subject is measured with the model (its cosine to the earlier user turns); the
caller measures it only where ``depends_on_subject`` says the decision turns on it, and passes it in the context.
``decide_parts`` judges a compound question's parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ragkit.answer.assess import Assessment
from ragkit.answer.conversation import previous_user_turn
from ragkit.answer.lexicon import ENGLISH, Lexicon
from ragkit.answer.policy import AnswerPolicy
from ragkit.answer.question import (
    ambiguous_name,
    options_for,
    points_unidentified,
    topic_label,
    underspecified_noun,
    unintroduced_description,
)
from ragkit.records import AnswerStatus


@dataclass(frozen=True)
class Context:
    """What the conversation before a question tells the decision; ``Context()`` is a question asked alone."""

    earlier: tuple[str, ...] = ()  # the text of every earlier message, oldest first
    user_turns: tuple[str, ...] = ()  # the user's earlier turns
    previous: str = ""  # the user's previous turn (for a reply to a clarifying question: the question it completed)
    turn_cosine: float | None = None  # the question's best cosine to one of ``user_turns``, where it was measured
    clarified: bool = False  # the question is a reply to a clarifying question: it is not asked about again

    @classmethod
    def of(cls, messages: Sequence[Mapping[str, str]], *, clarified: bool = False,
           lexicon: Lexicon = ENGLISH) -> Context:
        """The context of chat ``messages`` (``conversation.conversation``), its turn cosine not yet measured."""
        return cls(tuple(m["content"] for m in messages), tuple(m["content"] for m in messages if m["role"] == "user"),
                   previous_user_turn(messages, lexicon), clarified=clarified)


@dataclass(frozen=True)
class Reference:
    """What a question points at without naming it, before knowing whether the conversation changed the subject."""

    noun: str | None  # "county" for "this county", "one" for a bare "it" (``underspecified_noun``)
    pointing: bool  # a demonstrative that the question does not go on to identify, and it names nothing else
    described: str | None  # a definite description no earlier turn introduced (``unintroduced_description``)


@dataclass(frozen=True)
class Decision:
    """The status a question gets, with what a partial answer leaves out or what a clarifying question offers."""

    status: AnswerStatus
    missing: tuple[str, ...] = ()  # answered in part: what the evidence does not state
    noun: str | None = None  # clarify: what the question points at ("policy", "Mercury", "one")
    options: tuple[str, ...] = ()  # clarify: the topics offered


def unnamed_reference(a: Assessment, context: Context, lexicon: Lexicon = ENGLISH) -> Reference:
    """The question's unnamed reference: "this state library" as the first question, or after turns about something
    else, points at something nothing has named — unless the question says which itself ("this song that was
    inspired by…") or names something ("this bend in the Rhine")."""
    named = a.signals.key_phrases
    noun = underspecified_noun(a.question, named, context.earlier, context.previous, lexicon)
    pointing = (noun not in (None, lexicon.unnamed) and points_unidentified(a.question, noun, lexicon)
                and not [p for p in named if p != noun])
    described = unintroduced_description(a.question, context.earlier, lexicon) if noun is None else None
    return Reference(noun, pointing, described)


def depends_on_subject(a: Assessment, context: Context, lexicon: Lexicon = ENGLISH) -> bool:
    """Whether the decision turns on the follow-up having changed the subject — what the caller measures with the
    model (``Assessor.turn_cosine``) before deciding."""
    if not a.sentences or not context.user_turns:
        return False
    reference = unnamed_reference(a, context, lexicon)
    return reference.pointing or reference.described is not None


def changed_subject(turn_cosine: float | None, policy: AnswerPolicy) -> bool:
    """Whether a follow-up changed the subject: its cosine to every earlier user turn is below
    ``policy.unrelated_cosine``. False without turns (``turn_cosine`` None)."""
    return turn_cosine is not None and turn_cosine < policy.unrelated_cosine


def is_confident(a: Assessment, threshold: float) -> bool:
    """Whether the calibrated confidence reaches the threshold."""
    return a.confidence >= threshold


def answers_in_part(a: Assessment, threshold: float, policy: AnswerPolicy) -> bool:
    """Not confident, but worth a partial answer: the evidence states some of the question's names, misses others,
    and the confidence reaches ``policy.partial_share`` of the threshold."""
    missing = a.signals.missing
    stated = len([p for p in a.signals.key_phrases if p not in missing])
    return stated > 0 and bool(missing) and a.confidence >= threshold * policy.partial_share


def leads_clearly(a: Assessment, labels: Sequence[str], policy: AnswerPolicy) -> bool:
    """Whether the best hit settles what the question is about: it leads the next by ``policy.clear_lead`` in dense
    score, or the two best hits are about the same thing (``labels``, their topic labels)."""
    return a.signals.values.get("dense_gap", 0.0) >= policy.clear_lead or len(set(labels[:2])) == 1


def needs_clarification(a: Assessment, threshold: float, policy: AnswerPolicy, context: Context,
                        lexicon: Lexicon = ENGLISH) -> tuple[str, tuple[str, ...]] | None:
    """What to ask about — the noun and the options offered — or None.

    Ambiguous: the question points at something it does not name, or names something the evidence gives to different
    things, and the evidence splits between candidates with no clear winner (a confident answer whose best hit leads
    clearly, or whose two best hits are about the same thing, is taken to be about that). A demonstrative pointing at
    nothing said before is asked about even then, and with one candidate: "this state library" means a particular
    one, and that the evidence is about a state library does not make it so.
    """
    reference = unnamed_reference(a, context, lexicon)
    noun = reference.noun
    changed = changed_subject(context.turn_cosine, policy)
    pointing = reference.pointing and (not context.user_turns or changed)
    if reference.described is not None and changed:
        # "the basketball player" in a conversation about cells: which one? (A longer description may hold a verb —
        # "the engineer acknowledge" — so only a one-word one names the options.)
        noun = reference.described if " " not in reference.described else lexicon.unnamed
    top = a.hits[: policy.named_hits]
    labels = [topic_label(hit, lexicon) for hit in top]
    candidates = list(dict.fromkeys(labels)) if noun is not None else []  # what the evidence splits between
    options = list(dict.fromkeys(options_for(noun, top, lexicon))) if noun is not None else []  # about the noun
    if noun is None and (ambiguous := ambiguous_name(a.signals.key_phrases, top)) is not None:
        noun, options = ambiguous
        candidates = options
    split = len(candidates) > 1 and not (is_confident(a, threshold) and leads_clearly(a, labels, policy))
    if noun is not None and options and (pointing or split):
        return noun, tuple(options)
    return None


def decide(a: Assessment, *, threshold: float, policy: AnswerPolicy = AnswerPolicy(), context: Context = Context(),
           lexicon: Lexicon = ENGLISH) -> Decision:
    """The status of a question given its assessment (see the module's docstring for the rules, in order)."""
    if not a.sentences:
        return Decision(AnswerStatus.NO_ANSWER)
    if not context.clarified and (asked := needs_clarification(a, threshold, policy, context, lexicon)) is not None:
        noun, options = asked
        return Decision(AnswerStatus.CLARIFY, noun=noun, options=options)
    if is_confident(a, threshold) or answers_in_part(a, threshold, policy):
        missing = a.signals.missing
        return Decision(AnswerStatus.PARTIAL if missing else AnswerStatus.ANSWERED, missing=missing)
    return Decision(AnswerStatus.NO_ANSWER)


def decide_parts(parts: Sequence[str], assessments: Sequence[Assessment], *, threshold: float) -> Decision | None:
    """A compound question, each part judged on its own: all confident → answered; some → partial, naming the others
    as asked; None when no part is (the whole question is then judged on the parts' evidence together)."""
    missing = tuple(part for part, a in zip(parts, assessments) if not is_confident(a, threshold))
    if len(missing) == len(parts):
        return None
    return Decision(AnswerStatus.PARTIAL if missing else AnswerStatus.ANSWERED, missing=missing)
