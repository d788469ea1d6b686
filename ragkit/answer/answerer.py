"""Answering a question from retrieved evidence: the steps in order, each done by a module of its own.

1. The conversation (``conversation``): a reply to a clarifying question completes the question it was about; a
   follow-up is retrieved together with the user's previous turn.
2. A compound question (``question.sub_questions``) is retrieved and judged part by part (``decide.decide_parts``).
3. The evidence is assessed (``assess``): its sentences, the retrieval signals and a calibrated confidence.
4. Not confident: the recall-failure path — rewrite the query (drop words the corpus has never seen, add the
   graph's aliases of its entities: ``question.rewrite_query``) and retrieve once more.
5. The status is decided without a model (``decide``): answered, partial, clarify or no_answer.
6. The answer is written (``write``): extractive and cited, or by an LLM (``llm``) whose citations are checked.

The tuned constants are one ``AnswerPolicy`` (``policy``); the words, one ``Lexicon`` (``lexicon``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Mapping, Sequence

from ragkit.answer.assess import Assessment, Assessor
from ragkit.answer.calibrator import Calibrator
from ragkit.answer.conversation import Turn, clarification_reply, conversation, follow_up_context
from ragkit.answer.decide import Context, changed_subject, decide, decide_parts, depends_on_subject, is_confident
from ragkit.answer.lexicon import ENGLISH, Lexicon
from ragkit.answer.llm import ChatModel
from ragkit.answer.policy import AnswerPolicy
from ragkit.answer.question import rewrite_query, sub_questions, topic_label
from ragkit.answer.write import Writer
from ragkit.embed import Embedder
from ragkit.errors import ConfigError
from ragkit.records import Answer, AnswerStatus, Hit
from ragkit.sparse import CorpusStatistics

Search = Callable[[str], Sequence[Hit]]
Expand = Callable[[str], Sequence[str]]


class Answerer:
    """Answers from retrieved evidence without an LLM (or with one, grounded): decides the status, then writes.

    ``calibrator`` turns signals into confidence (the one ragkit ships by default), ``policy`` holds the tuned
    constants and ``lexicon`` the language's words. ``calibrator`` and ``threshold`` may be replaced later (a
    knowledge base does when it is calibrated).
    """

    def __init__(self, embedder: Embedder, stats: CorpusStatistics, *, calibrator: Calibrator | None = None,
                 policy: AnswerPolicy = AnswerPolicy(), lexicon: Lexicon = ENGLISH) -> None:
        self.calibrator = calibrator or Calibrator.default(embedder.name)
        self.threshold = self.calibrator.threshold if policy.threshold is None else policy.threshold
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, got {self.threshold}")
        self._policy = policy
        self._lexicon = lexicon
        self._assessor = Assessor(embedder, stats, policy=policy, lexicon=lexicon)
        self._writer = Writer(stats, policy, lexicon)

    def answer(self, question: str, search: Search, *, expand: Expand | None = None,
               llm: ChatModel | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Retrieve with ``search``, decide, and write the answer; ``expand`` names aliases of the question's
        entities (from the graph) for the rewrite, ``llm`` writes the text of a grounded answer, ``history`` holds
        the conversation's earlier turns (``ragkit.answer.conversation``)."""
        messages = conversation(history)
        chosen = clarification_reply(question, messages, self._lexicon)
        if chosen is not None:  # the user picked an option of our clarifying question: answer what it was about
            question, added = chosen.question, chosen.option
            search = _turning_down(search, chosen.others, self._lexicon)
        else:
            added = follow_up_context(question, messages, self._lexicon)
        context = f" {added}" if added else ""
        parts = sub_questions(question, self._lexicon)
        if len(parts) > 1:
            searched = _in_context(search, context) if context else search
            answer = self._compound(question, parts, searched, llm, messages, context, clarified=chosen is not None)
        else:
            answer = self._single(question, search, context, expand, llm, messages, clarified=chosen is not None)
            if answer.status is AnswerStatus.CLARIFY and context and chosen is None and changed_subject(
                    self._assessor.turn_cosine(question, _user_turns(messages)), self._policy):
                # It changed the subject, and with the old one retrieved beside it, it is unclear: judge it alone.
                context = ""
                answer = self._single(question, search, context, expand, llm, messages)
        return replace(answer, search_query=question.strip() + context if context else None)

    def _single(self, question: str, search: Search, context: str, expand: Expand | None, llm: ChatModel | None,
                messages: Sequence[Mapping[str, str]], clarified: bool = False) -> Answer:
        """One question retrieved (with ``context``, a follow-up's earlier turn, if any) and decided — retrieved once
        more, rewritten, if the first evidence is not confident."""
        if context:  # a follow-up: every retrieval also carries the user's previous turn (or the chosen option)
            search = _in_context(search, context)
        assessment = self._assess(question, search(question), context)
        rewritten = None
        if not is_confident(assessment, self.threshold):  # the recall-failure path: one more retrieval, rewritten
            aliases = expand(question) if expand else []
            rewrite = rewrite_query(question, assessment.signals.unknown_words, aliases, self._lexicon)
            if rewrite is not None:
                second = self._assess(question, search(rewrite), context)
                if second.confidence > assessment.confidence:
                    assessment, rewritten = second, rewrite
        return self._decided(assessment, rewritten, llm, messages, clarified)

    def _compound(self, question: str, parts: list[str], search: Search, llm: ChatModel | None,
                  messages: Sequence[Mapping[str, str]], context: str, clarified: bool = False) -> Answer:
        """Each part retrieved and judged on its own: all confident → answered; some → partial, naming the rest;
        none → the whole question judged on the parts' evidence together."""
        assessments = [self._assess(part, search(part), context) for part in parts]
        decision = decide_parts(parts, assessments, threshold=self.threshold)
        if decision is None:
            evidence = max(len(a.hits) for a in assessments)  # as many hits as each part's search returned
            whole = self._assess(question, _interleave([list(a.hits) for a in assessments], evidence), context)
            return self._decided(whole, " | ".join(parts), llm, messages, clarified)
        confident = [a for a in assessments if is_confident(a, self.threshold)]
        weakest = min(assessments, key=lambda a: a.confidence)
        hits = tuple({hit.chunk_id: hit for a in confident for hit in a.hits}.values())
        answer = Answer(question, decision.status, "", round(weakest.confidence, 4), (), hits,
                        missing=decision.missing, signals=weakest.signals.values, rewritten_query=" | ".join(parts))
        return self._writer.cite(answer, confident, llm, messages)

    def _assess(self, question: str, hits: Sequence[Hit], context: str = "") -> Assessment:
        return self._assessor.assess(question, hits, self.calibrator, context)

    def _decided(self, a: Assessment, rewritten: str | None, llm: ChatModel | None,
                 messages: Sequence[Mapping[str, str]], clarified: bool) -> Answer:
        """The decision on ``a`` — with the follow-up's closeness to the earlier turns measured where the decision
        turns on it — and the answer it calls for."""
        context = Context.of(messages, clarified=clarified, lexicon=self._lexicon)
        if depends_on_subject(a, context, self._lexicon):
            context = replace(context, turn_cosine=self._assessor.turn_cosine(a.question, context.user_turns))
        decision = decide(a, threshold=self.threshold, policy=self._policy, context=context, lexicon=self._lexicon)
        return self._writer.write(decision, a, rewritten=rewritten, llm=llm, messages=messages)


def _user_turns(messages: Sequence[Mapping[str, str]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


def _in_context(search: Search, context: str) -> Search:
    return lambda query: search(query + context)


def _turning_down(search: Search, labels: Sequence[str], lexicon: Lexicon) -> Search:
    """Leaves out hits about the options a reply to a clarifying question turned down (unless nothing is left)."""

    def run(query: str) -> tuple[Hit, ...]:
        hits = tuple(search(query))
        return tuple(hit for hit in hits if topic_label(hit, lexicon) not in labels) or hits

    return run


def _interleave(rankings: list[list[Hit]], limit: int) -> list[Hit]:
    """Round-robin over several rankings, each chunk once, the first ``limit``."""
    merged: dict[str, Hit] = {}
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking):
                merged.setdefault(ranking[rank].chunk_id, ranking[rank])
    return list(merged.values())[: max(limit, 1)]
