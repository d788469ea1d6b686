"""Deciding whether, and how, the knowledge base answers a question — before any answer text is written.

The decision is made from retrieval signals (``ragkit.answer.signals``) turned into a calibrated probability that
the knowledge base can answer (``ragkit.answer.calibrator``):

- confident, every key phrase of the question stated by the evidence → ``answered``;
- confident enough, but some of the question's names or terms are stated nowhere → ``partial``, naming them;
- not confident: first the recall-failure path — rewrite the query (drop words the corpus has never seen, split a
  compound question, add the graph's aliases of its entities) and retrieve once more; if still not confident and
  the question points at something it does not name ("this county", "it") while the evidence splits across
  distinct documents → ``clarify`` with the candidates as options; otherwise → ``no_answer``, saying what the
  knowledge base covers nearby.

The answer text is extractive — the evidence sentences that best match the question, each cited — or, with an LLM
(``ragkit.answer.llm``), a grounded reply whose citations are checked.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ragkit.answer.calibrator import Calibrator
from ragkit.answer.conversation import (
    Turn,
    clarification_reply,
    clarifying_question,
    conversation,
    follow_up_context,
    previous_user_turn,
)
from ragkit.answer.lexicon import ENGLISH
from ragkit.answer.llm import ChatModel, grounded_answer
from ragkit.answer.question import (
    ambiguous_name,
    document_title,
    options_for,
    points_unidentified,
    rewrite_query,
    sub_questions,
    topic_label,
    underspecified_noun,
    unintroduced_description,
)
from ragkit.answer.signals import CorpusStats, Signals, TokenAlignment, compute_signals
from ragkit.embed import Embedder
from ragkit.errors import ConfigError
from ragkit.records import Answer, AnswerStatus, Citation, Hit
from ragkit.sparse import BM25Encoder, bm25_idf
from ragkit.text import split_sentences

Search = Callable[[str], Sequence[Hit]]
Expand = Callable[[str], Sequence[str]]

# A follow-up whose cosine to every earlier user turn is below this has changed the subject (MiniLM; on MTRAG-UN the
# underspecified questions with an unintroduced description sit below it, the answerable follow-ups above).
_UNRELATED = 0.2
# Evidence sentences' vectors (and token vectors, in float16) kept between questions: ~25 KB each at 384
# dimensions, so ~100 MB when full.
_SENTENCE_CACHE = 4_000
_CLEAR_LEAD = 0.1  # a dense-score lead of the best hit over the next that settles what an unnamed "it" means


@dataclass(frozen=True)
class _Sentence:
    hit: Hit
    start: int  # offsets into the hit's document
    end: int
    text: str


@dataclass(frozen=True)
class _Assessment:
    question: str
    hits: tuple[Hit, ...]
    sentences: tuple[_Sentence, ...]
    cosines: np.ndarray
    signals: Signals
    confidence: float
    context_cosines: np.ndarray | None = None  # a follow-up's sentences against the question with its context


_NUMBER = re.compile(r"\d+")


def _is_statement(sentence: str) -> bool:
    """Headings, labels ("Access and password policy") and questions ("What is the warranty?") are not answers:
    keep sentences that end like a statement, or run on for eight words or more without a question mark."""
    end = sentence.rstrip()[-1:]
    return end in ".!。！" or (len(sentence.split()) >= 8 and end not in "?？")


def _named_topics(sentence: str, hits: Sequence[Hit], *, exclude: Hit, question: str) -> set[str]:
    """The topic labels of ``hits`` (other than ``exclude``'s) that ``sentence`` names, as written, and ``question``
    does not."""
    own = topic_label(exclude)
    return {label for label in map(topic_label, hits) if label != own
            and re.search(rf"(?<!\w){re.escape(label)}(?!\w)", sentence)
            and label.lower() not in question.lower()}


class Answerer:
    """Answers from retrieved evidence without an LLM (or with one, grounded): decides the status, then writes."""

    def __init__(self, embedder: Embedder, encoder: BM25Encoder, stats: CorpusStats, *,
                 calibrator: Calibrator | None = None, threshold: float | None = None,
                 max_sentences: int = 3) -> None:
        if max_sentences < 1:
            raise ConfigError(f"max_sentences must be at least 1, got {max_sentences}")
        self.calibrator = calibrator or Calibrator.default()
        self.threshold = self.calibrator.threshold if threshold is None else threshold
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, got {self.threshold}")
        self._embedder = embedder
        self._encoder = encoder
        self._stats = stats
        self._max_sentences = max_sentences
        self._vectors: OrderedDict[str, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()

    def answer(self, question: str, search: Search, *, expand: Expand | None = None,
               llm: ChatModel | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Retrieve with ``search``, decide, and write the answer; ``expand`` names aliases of the question's
        entities (from the graph) for the rewrite, ``llm`` writes the text of a grounded answer, ``history`` holds
        the conversation's earlier turns (``ragkit.answer.conversation``)."""
        messages = conversation(history)
        chosen = clarification_reply(question, messages)
        if chosen is not None:  # the user picked an option of our clarifying question: answer what it was about
            question, added = chosen.question, chosen.option
            search = _turning_down(search, chosen.others)
        else:
            added = follow_up_context(question, messages)
        context = f" {added}" if added else ""
        parts = sub_questions(question)
        if len(parts) > 1:
            searched = _in_context(search, context) if context else search
            answer = self._compound(question, parts, searched, llm, messages, context, clarified=chosen is not None)
        else:
            answer = self._single(question, search, context, expand, llm, messages, clarified=chosen is not None)
            if answer.status is AnswerStatus.CLARIFY and context and chosen is None \
                    and self._unrelated(question, _user_turns(messages)):
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
        if assessment.confidence < self.threshold:  # the recall-failure path: one more retrieval, rewritten
            rewrite = self._rewrite(question, assessment.signals, expand)
            if rewrite is not None:
                second = self._assess(question, search(rewrite), context)
                if second.confidence > assessment.confidence:
                    assessment, rewritten = second, rewrite
        return self._decide(question, assessment, rewritten, llm, messages, clarified=clarified)

    def _compound(self, question: str, parts: list[str], search: Search, llm: ChatModel | None,
                  messages: Sequence[Mapping[str, str]], context: str, clarified: bool = False) -> Answer:
        """Each part retrieved and judged on its own: all confident → answered; some → partial, naming the rest."""
        assessments = [self._assess(part, search(part), context) for part in parts]
        confident = [a for a in assessments if a.confidence >= self.threshold]
        if not confident:
            evidence = max(len(a.hits) for a in assessments)  # as many hits as each part's search returned
            whole = self._assess(question, _interleave([list(a.hits) for a in assessments], evidence), context)
            return self._decide(question, whole, " | ".join(parts), llm, messages, clarified)
        weakest = min(assessments, key=lambda a: a.confidence)
        missing = tuple(part for part, a in zip(parts, assessments) if a.confidence < self.threshold)
        status = AnswerStatus.PARTIAL if missing else AnswerStatus.ANSWERED
        hits = tuple({hit.chunk_id: hit for a in confident for hit in a.hits}.values())
        answer = Answer(question, status, "", round(weakest.confidence, 4), (), hits, missing=missing,
                        signals=weakest.signals.values, rewritten_query=" | ".join(parts))
        return self._write(answer, confident, llm, messages)

    # -- assessing ------------------------------------------------------------------------------------------

    def _assess(self, question: str, hits: Sequence[Hit], context: str = "") -> _Assessment:
        """Judge ``hits`` (all the search returned: ``ask``'s ``k``) against the question as asked; ``context`` (a
        follow-up's earlier turn, as retrieved with) only helps choose the sentences of the answer."""
        top = tuple(hits)
        sentences = tuple(
            _Sentence(hit, hit.start + a, hit.start + b, hit.text[a:b])
            for hit in top
            for a, b in split_sentences(hit.text)
            if _is_statement(hit.text[a:b])
        )
        cosines = np.zeros(0, dtype=np.float32)
        in_context = None
        alignment = None
        if sentences:
            question_vector, question_tokens = self._embed_question(question)
            vectors, tokens = self._embed([s.text for s in sentences])
            cosines = vectors @ question_vector
            if context:  # the query retrieval ran with (the packaged embedders remember it: no second pass)
                in_context = vectors @ self._embed_question(question + context)[0]
            if question_tokens is not None and tokens is not None:
                alignment = self._alignment(question, question_tokens, sentences, tokens)
        signals = compute_signals(question, top, encoder=self._encoder, stats=self._stats,
                                  sentence_cosine=float(cosines.max()) if len(cosines) else 0.0, alignment=alignment)
        confidence = self.calibrator.probability(signals.values) if top else 0.0
        return _Assessment(question, top, sentences, cosines, signals, confidence, in_context)

    def _alignment(self, question: str, question_tokens: np.ndarray, sentences: Sequence[_Sentence],
                   tokens: Sequence[np.ndarray]) -> TokenAlignment:
        """Per hit, each question token's best cosine to a token of the hit's evidence sentences."""
        by_hit: dict[str, list[np.ndarray]] = {}
        for sentence, rows in zip(sentences, tokens):
            by_hit.setdefault(sentence.hit.chunk_id, []).append(rows)
        # One BLAS thread: a multi-threaded product leaves OpenBLAS's workers spinning, and they slowed the model's
        # next forward pass (the query's) from ~20 to ~50 ms on 2 cores.
        with _blas().limit(limits=1, user_api="blas"):
            best = [(np.concatenate(rows).astype(np.float32) @ question_tokens.T).max(axis=0)
                    for rows in by_hit.values() if sum(len(r) for r in rows)]
        return TokenAlignment(self._embedder.token_spans(question), best)  # type: ignore[attr-defined]

    def _unrelated(self, question: str, user_turns: Sequence[str]) -> bool:
        """Whether a follow-up changed the subject: its cosine to each earlier user turn is below ``_UNRELATED`` (the
        embedder remembers the turns a chat asked before, so this rarely embeds anything new). False without turns."""
        if not user_turns:
            return False
        question_vector = self._embed_question(question)[0]
        return max(float(self._embedder.embed_query(turn) @ question_vector) for turn in user_turns) < _UNRELATED

    def _embed_question(self, question: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The question's vector and token vectors — the retriever's pass, where the embedder remembers it."""
        with_tokens = getattr(self._embedder, "query_with_tokens", None)
        if with_tokens is None:
            return self._embedder.embed_query(question), None
        return with_tokens(question)

    def _embed(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Vectors of evidence sentences and, if the embedder gives them, their token vectors. Sentences come back
        for related questions, so theirs are kept (LRU)."""
        with_tokens = getattr(self._embedder, "embed_with_tokens", None)
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            if with_tokens is None:
                computed = zip(self._embedder.embed_documents(missing), [None] * len(missing))
            else:
                vectors, tokens = with_tokens(missing)
                computed = zip(vectors, (t.astype(np.float16) for t in tokens))
            for text, entry in zip(missing, computed):
                self._vectors[text] = entry
        for text in texts:
            self._vectors.move_to_end(text)
        entries = [self._vectors[t] for t in texts]
        while len(self._vectors) > max(_SENTENCE_CACHE, len(texts)):
            self._vectors.popitem(last=False)
        token_rows = [e[1] for e in entries]
        return np.stack([e[0] for e in entries]), (None if any(t is None for t in token_rows) else token_rows)

    def _rewrite(self, question: str, signals: Signals, expand: Expand | None) -> str | None:
        """A query for a second retrieval: the question relaxed (words the corpus has never seen dropped) and
        widened (the graph's names for its entities); None if that changes nothing."""
        return rewrite_query(question, signals.unknown_words, expand(question) if expand else [])

    # -- deciding and writing -------------------------------------------------------------------------------

    def _decide(self, question: str, a: _Assessment, rewritten: str | None, llm: ChatModel | None,
                messages: Sequence[Mapping[str, str]] = (), clarified: bool = False) -> Answer:
        confidence = round(a.confidence, 4)
        base = Answer(question, AnswerStatus.NO_ANSWER, "", confidence, (), a.hits, signals=a.signals.values,
                      rewritten_query=rewritten)
        if not a.sentences:
            return replace(base, text=self._refusal(a.hits))
        earlier = [m["content"] for m in messages]
        noun = underspecified_noun(question, a.signals.key_phrases, earlier, previous_user_turn(messages))
        # "this state library" as the first question, or after turns about something else: nothing has named one —
        # unless the question says which itself ("this song that was inspired by…") or names something ("this bend
        # in the Rhine").
        turns = _user_turns(messages)
        pointing = (noun not in (None, ENGLISH.unnamed) and points_unidentified(question, noun)
                    and not [p for p in a.signals.key_phrases if p != noun]
                    and (not turns or self._unrelated(question, turns)))
        if noun is None and (described := unintroduced_description(question, earlier)) is not None \
                and self._unrelated(question, turns):
            # "the basketball player" in a conversation about cells: which one? (A longer description may hold a
            # verb — "the engineer acknowledge" — so only a one-word one names the options.)
            noun = described if " " not in described else ENGLISH.unnamed
        labels = [topic_label(hit) for hit in a.hits[:3]]
        candidates = list(dict.fromkeys(labels)) if noun is not None else []  # what the evidence splits between
        options = list(dict.fromkeys(options_for(noun, a.hits[:3]))) if noun is not None else []  # those about the noun
        if noun is None and (ambiguous := ambiguous_name(a.signals.key_phrases, a.hits[:3])) is not None:
            noun, options = ambiguous
            candidates = options
        # Ambiguous: the question points at something it does not name, or names something the evidence gives to
        # different things, and the evidence splits between candidates with no clear winner (a confident answer
        # whose best hit leads clearly, or whose two best hits are about the same thing, is taken to be about that).
        # A demonstrative pointing at nothing said before is asked about even then, and with one candidate: "this
        # state library" means a particular one, and that the evidence is about a state library does not make it so.
        leads = a.signals.values.get("dense_gap", 0.0) >= _CLEAR_LEAD or len(set(labels[:2])) == 1
        split = len(candidates) > 1 and not (a.confidence >= self.threshold and leads)
        if noun is not None and options and (pointing or split) and not clarified:
            return replace(base, status=AnswerStatus.CLARIFY, text=clarifying_question(noun, options),
                           clarifications=tuple(options))
        stated = len([p for p in a.signals.key_phrases if p not in a.signals.missing])
        if a.confidence >= self.threshold or (stated > 0 and a.signals.missing and a.confidence >= self.threshold / 2):
            status = AnswerStatus.PARTIAL if a.signals.missing else AnswerStatus.ANSWERED
            return self._write(replace(base, status=status, missing=a.signals.missing), [a], llm, messages)
        return replace(base, text=self._refusal(a.hits))

    def _refusal(self, hits: Sequence[Hit]) -> str:
        if not hits:
            return ENGLISH.nothing_related
        nearby = "; ".join(dict.fromkeys(topic_label(hit) for hit in hits[:3]))
        return ENGLISH.closest_covered.format(topics=nearby)

    def _write(self, answer: Answer, parts: Sequence[_Assessment], llm: ChatModel | None,
               messages: Sequence[Mapping[str, str]] = ()) -> Answer:
        """The answer text with [n] citations: the model's grounded reply if it cites its sources, else the best
        evidence sentences of each part of the question."""
        if llm is not None:
            written = grounded_answer(llm, answer.question, answer.evidence, messages)
            if written is not None:
                text, citations = written
                return replace(answer, text=self._with_missing(text, answer), citations=citations, generator=llm.name)
        share = max(1, self._max_sentences // len(parts))
        chosen = {(s.hit.doc_id, s.start): s for a in parts for s in self._best_sentences(a, share)}
        citations = tuple(
            Citation(number, s.hit.chunk_id, s.hit.source, s.start, s.end, s.text)
            for number, s in enumerate(chosen.values(), start=1)
        )
        text = " ".join(f"{citation.quote} [{citation.number}]" for citation in citations)
        return replace(answer, text=self._with_missing(text, answer), citations=citations)

    def _best_sentences(self, a: _Assessment, limit: int) -> list[_Sentence]:
        """By meaning, nudged towards sentences that state the question's terms (the rarer, the more), a number when
        it asks for one, and towards the better hits; only those close to the best. (Weights chosen on SQuAD and
        HotpotQA answers: ``ragkit eval abstention`` reports how often the first quote holds the gold answer.)"""
        if not a.sentences:
            return []
        terms = sorted(self._encoder.query_terms(a.question))
        frequencies, chunks = self._stats(terms)
        idf = {t: bm25_idf(frequencies[t], max(chunks, 1)) for t in terms if frequencies.get(t, 0) > 0}
        total = sum(idf.values()) or 1.0
        # A sentence is about what its document is about: "His books have sold…" in the article titled "Roald Dahl"
        # speaks of Roald Dahl, so the title's terms count for it — at half weight, being implied, not said.
        implied = {hit.chunk_id: self._encoder.query_terms(document_title(hit) or "") for hit in a.hits}

        def coverage_of(sentence: _Sentence) -> float:
            said = self._encoder.query_terms(sentence.text)
            title = implied.get(sentence.hit.chunk_id, frozenset())
            return sum(w if t in said else 0.5 * w if t in title else 0.0 for t, w in idf.items()) / total

        coverage = np.array([coverage_of(s) for s in a.sentences])
        rank = {hit.chunk_id: number for number, hit in enumerate(a.hits)}
        closeness = a.cosines if a.context_cosines is None else (a.cosines + a.context_cosines) / 2
        # A question that asks for a number or a date is answered by a sentence that states one it does not.
        given = set(_NUMBER.findall(a.question)) if ENGLISH.asks_number.search(a.question) else None
        states = np.array([given is not None and bool(set(_NUMBER.findall(s.text)) - given) for s in a.sentences])
        scores = (closeness + 0.5 * coverage + 0.1 * states
                  - 0.02 * np.array([rank.get(s.hit.chunk_id, 0) for s in a.sentences]))
        order = [int(i) for i in np.argsort(-scores)]
        chosen = [a.sentences[i] for i in order if scores[i] >= scores[order[0]] - 0.15][:limit]
        label = {hit.chunk_id: topic_label(hit) for hit in a.hits}
        # A multi-hop answer: the first quote names what another hit is about ("… played by Shirley Temple"), which
        # the question does not name — the answer is likely in that hit, so its best sentence is quoted too.
        named = _named_topics(chosen[0].text, a.hits, exclude=chosen[0].hit, question=a.question)
        bridge = next((a.sentences[i] for i in order if label[a.sentences[i].hit.chunk_id] in named), None)
        if bridge is not None and bridge not in chosen and limit > 1:
            chosen = chosen[: limit - 1] + [bridge]
        # A comparison ("Who is older, Annie Morton or Terry Richardson?"): each thing the question names that a hit
        # is about gets that hit's best sentence, so the answer quotes both sides.
        best_about: dict[str, _Sentence] = {}  # each topic's best sentence, by its label in lower case
        for i in order:
            best_about.setdefault(label[a.sentences[i].hit.chunk_id].lower(), a.sentences[i])
        quoted = {label[s.hit.chunk_id].lower() for s in chosen}
        others = [best_about[phrase.lower()] for phrase in a.signals.key_phrases
                  if phrase.lower() not in quoted and phrase.lower() in best_about]
        if others and limit > 1:
            chosen = chosen[: max(1, limit - len(others))] + others[: limit - 1]
        return chosen

    @staticmethod
    def _with_missing(text: str, answer: Answer) -> str:
        if answer.status is not AnswerStatus.PARTIAL:
            return text
        return f"{text} {ENGLISH.not_covered.format(missing=', '.join(answer.missing))}"


@lru_cache(maxsize=1)
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _user_turns(messages: Sequence[Mapping[str, str]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


def _in_context(search: Search, context: str) -> Search:
    return lambda query: search(query + context)


def _turning_down(search: Search, labels: Sequence[str]) -> Search:
    """Leaves out hits about the options a reply to a clarifying question turned down (unless nothing is left)."""

    def run(query: str) -> tuple[Hit, ...]:
        hits = tuple(search(query))
        return tuple(hit for hit in hits if topic_label(hit) not in labels) or hits

    return run


def _interleave(rankings: list[list[Hit]], limit: int) -> list[Hit]:
    """Round-robin over several rankings, each chunk once, the first ``limit``."""
    merged: dict[str, Hit] = {}
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking):
                merged.setdefault(ranking[rank].chunk_id, ranking[rank])
    return list(merged.values())[: max(limit, 1)]
