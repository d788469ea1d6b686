"""Writing the answer a decision calls for: the clarifying question, the refusal that names what is nearby, or the
answer text with [n] citations.

The text of an answer is extractive — the evidence sentences that best match the question, each cited — or, with an
LLM (``ragkit.answer.llm``), the model's grounded reply when it cites its sources, else the extractive text after
all. A partial answer ends by saying what the knowledge base does not cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from ragkit.answer.assess import Assessment, Sentence
from ragkit.answer.conversation import clarifying_question
from ragkit.answer.decide import Decision
from ragkit.answer.lexicon import ENGLISH, Lexicon
from ragkit.answer.llm import ChatModel, grounded_answer
from ragkit.answer.policy import AnswerPolicy
from ragkit.answer.question import document_title, topic_label
from ragkit.errors import LLMError
from ragkit.records import Answer, AnswerStatus, Citation, Hit
from ragkit.sparse import CorpusStatistics, bm25_idf

_NUMBER = re.compile(r"\d+")


def refusal(hits: Sequence[Hit], policy: AnswerPolicy = AnswerPolicy(), lexicon: Lexicon = ENGLISH) -> str:
    """The text of ``no_answer``: what the knowledge base covers nearby (the topics of the best hits), if anything."""
    if not hits:
        return lexicon.nothing_related
    nearby = "; ".join(dict.fromkeys(topic_label(hit, lexicon) for hit in hits[: policy.named_hits]))
    return lexicon.closest_covered.format(topics=nearby)


def with_missing(text: str, answer: Answer, lexicon: Lexicon = ENGLISH) -> str:
    """A partial answer's text, followed by what the knowledge base does not cover; any other answer's as it is."""
    if answer.status is not AnswerStatus.PARTIAL:
        return text
    return f"{text} {lexicon.not_covered.format(missing=', '.join(answer.missing))}"


def named_topics(sentence: str, hits: Sequence[Hit], *, exclude: Hit, question: str,
                 lexicon: Lexicon = ENGLISH) -> set[str]:
    """The topic labels of ``hits`` (other than ``exclude``'s) that ``sentence`` names, as written, and ``question``
    does not."""
    own = topic_label(exclude, lexicon)
    return {label for label in (topic_label(hit, lexicon) for hit in hits) if label != own
            and re.search(rf"(?<!\w){re.escape(label)}(?!\w)", sentence)
            and label.lower() not in question.lower()}


@dataclass(frozen=True)
class Writer:
    """Writes answers; the knowledge base's corpus ``stats`` weigh the question's terms when sentences are chosen."""

    stats: CorpusStatistics
    policy: AnswerPolicy = AnswerPolicy()
    lexicon: Lexicon = ENGLISH

    def write(self, decision: Decision, a: Assessment, *, rewritten: str | None = None, llm: ChatModel | None = None,
              messages: Sequence[Mapping[str, str]] = ()) -> Answer:
        """The answer ``decision`` calls for, on the evidence of ``a`` (retrieved with ``rewritten``, if set);
        ``llm`` writes the text of an answer, seeing ``messages``, the conversation before it."""
        base = Answer(a.question, AnswerStatus.NO_ANSWER, "", round(a.confidence, 4), (), a.hits,
                      signals=a.signals.values, rewritten_query=rewritten)
        if decision.status is AnswerStatus.CLARIFY and decision.noun is not None:
            return replace(base, status=AnswerStatus.CLARIFY, clarifications=decision.options,
                           text=clarifying_question(decision.noun, decision.options, self.lexicon))
        if decision.status in (AnswerStatus.ANSWERED, AnswerStatus.PARTIAL):
            return self.cite(replace(base, status=decision.status, missing=decision.missing), [a], llm, messages)
        return replace(base, text=refusal(a.hits, self.policy, self.lexicon))

    def cite(self, answer: Answer, parts: Sequence[Assessment], llm: ChatModel | None = None,
             messages: Sequence[Mapping[str, str]] = ()) -> Answer:
        """``answer`` (answered or partial) with its text and [n] citations: the model's grounded reply if it cites
        sources that support it, else the best evidence sentences of each part of the question — and then
        ``generator`` says why the model's reply was not used (it failed, or did not cite its support)."""
        generator = "extractive"
        if llm is not None:
            try:
                written = grounded_answer(llm, answer.question, answer.evidence, messages, self.lexicon)
            except LLMError as exc:
                written = f"it failed: {exc}"
            if not isinstance(written, str):
                text, citations = written
                return replace(answer, text=with_missing(text, answer, self.lexicon), citations=citations,
                               generator=llm.name)
            generator = f"extractive ({llm.name} not used: {written})"
        share = max(1, self.policy.max_sentences // len(parts))
        chosen = {(s.hit.doc_id, s.start): s for a in parts for s in self.best_sentences(a, share)}
        citations = tuple(
            Citation(number, s.hit.chunk_id, s.hit.source, s.start, s.end, s.text)
            for number, s in enumerate(chosen.values(), start=1)
        )
        text = " ".join(f"{citation.quote} [{citation.number}]" for citation in citations)
        return replace(answer, text=with_missing(text, answer, self.lexicon), citations=citations,
                       generator=generator)

    def best_sentences(self, a: Assessment, limit: int) -> list[Sentence]:
        """By meaning, nudged towards sentences that state the question's terms (the rarer, the more), a number when
        it asks for one, and towards the better hits; only those close to the best (the weights: ``AnswerPolicy``)."""
        if not a.sentences:
            return []
        p = self.policy
        rank = {hit.chunk_id: number for number, hit in enumerate(a.hits)}
        places = np.array([rank.get(s.hit.chunk_id, 0) for s in a.sentences])
        scores = (self._closeness(a) + p.coverage_weight * self._coverage(a) + p.number_weight * self._states_number(a)
                  - p.rank_penalty * places)
        order = [int(i) for i in np.argsort(-scores)]
        chosen = [a.sentences[i] for i in order if scores[i] >= scores[order[0]] - p.closeness_window][:limit]
        label = {hit.chunk_id: topic_label(hit, self.lexicon) for hit in a.hits}
        # A multi-hop answer: the first quote names what another hit is about ("… played by Shirley Temple"), which
        # the question does not name — the answer is likely in that hit, so its best sentence is quoted too.
        named = named_topics(chosen[0].text, a.hits, exclude=chosen[0].hit, question=a.question, lexicon=self.lexicon)
        bridge = next((a.sentences[i] for i in order if label[a.sentences[i].hit.chunk_id] in named), None)
        if bridge is not None and bridge not in chosen and limit > 1:
            chosen = chosen[: limit - 1] + [bridge]
        # A comparison ("Who is older, Annie Morton or Terry Richardson?"): each thing the question names that a hit
        # is about gets that hit's best sentence, so the answer quotes both sides.
        best_about: dict[str, Sentence] = {}  # each topic's best sentence, by its label in lower case
        for i in order:
            best_about.setdefault(label[a.sentences[i].hit.chunk_id].lower(), a.sentences[i])
        quoted = {label[s.hit.chunk_id].lower() for s in chosen}
        others = [best_about[phrase.lower()] for phrase in a.signals.key_phrases
                  if phrase.lower() not in quoted and phrase.lower() in best_about]
        if others and limit > 1:
            chosen = chosen[: max(1, limit - len(others))] + others[: limit - 1]
        return chosen

    @staticmethod
    def _closeness(a: Assessment) -> np.ndarray:
        """Each sentence's cosine to the question — for a follow-up, averaged with its cosine to the question with
        the context retrieval ran with."""
        return a.cosines if a.context_cosines is None else (a.cosines + a.context_cosines) / 2

    def _coverage(self, a: Assessment) -> np.ndarray:
        """Each sentence's share of the question's term weight (IDF). A sentence is about what its document is about:
        "His books have sold…" in the article titled "Roald Dahl" speaks of Roald Dahl, so the title's terms count
        for it — at ``policy.title_weight``, being implied, not said."""
        encoder = self.stats.encoder
        terms = sorted(encoder.query_terms(a.question))
        frequencies, chunks = self.stats.document_frequencies(terms), self.stats.chunk_count()
        idf = {t: bm25_idf(frequencies[t], max(chunks, 1)) for t in terms if frequencies.get(t, 0) > 0}
        total = sum(idf.values()) or 1.0
        implied = {hit.chunk_id: encoder.query_terms(document_title(hit) or "") for hit in a.hits}

        def coverage_of(sentence: Sentence) -> float:
            said = encoder.query_terms(sentence.text)
            title = implied.get(sentence.hit.chunk_id, frozenset())
            return sum(w if t in said else self.policy.title_weight * w if t in title else 0.0
                       for t, w in idf.items()) / total

        return np.array([coverage_of(s) for s in a.sentences])

    def _states_number(self, a: Assessment) -> np.ndarray:
        """For a question that asks for a number or a date, whether each sentence states one the question does not
        (the answer to it); all False for any other question."""
        given = set(_NUMBER.findall(a.question)) if self.lexicon.asks_number.search(a.question) else None
        return np.array([given is not None and bool(set(_NUMBER.findall(s.text)) - given) for s in a.sentences])
