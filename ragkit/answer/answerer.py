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
from collections import Counter, OrderedDict
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import PurePath
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
from ragkit.answer.llm import ChatModel, grounded_answer
from ragkit.answer.signals import (
    FUNCTION_WORDS,
    CorpusStats,
    Signals,
    TokenAlignment,
    compute_signals,
    document_title,
    is_content_word,
    key_phrases,
    word_pairs,
)
from ragkit.embed import Embedder
from ragkit.errors import ConfigError
from ragkit.records import Answer, AnswerStatus, Citation, Hit
from ragkit.sparse import BM25Encoder, bm25_idf
from ragkit.text import split_sentences

Search = Callable[[str], Sequence[Hit]]
Expand = Callable[[str], Sequence[str]]

# "this county", "those policies": a demonstrative before a noun, not before a verb ("that is").
_DEICTIC = re.compile(r"\b(?:this|that|these|those)\s+([a-z][a-z-]+)", re.IGNORECASE)
_NOT_NOUNS = frozenset(
    "is are was were be been do does did can could should would will has have had may might must means way "
    "one ones kind sort much many also still true right correct wrong possible okay ok so good bad important "
    "necessary enough all same different first second third last next previous other new old "
    "i you he she it we they me him her us them my your his its our their there here".split()  # "that he said"
)
_WORD = re.compile(r"\w+")
_DEMONSTRATIVE = re.compile(r"\b(?:this|these|those)\s+((?:[\w'-]+\s*){1,4})", re.IGNORECASE)
_SAYS_WHICH = frozenset("that which who whose of".split())
_CAPITALISED = re.compile(r"[A-Z][\w-]*(?:[ \t]+[A-Z][\w-]*)*")
_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|he|him|his|she|her)\b", re.IGNORECASE)
# "the famous basketball player": "the" and up to three lower-case words, the description's head noun the last of them.
_DEFINITE = re.compile(r"\bthe\s+")
_DESCRIBING = re.compile(r"[a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){0,2}")  # the lower-case words after it
# A follow-up whose cosine to every earlier user turn is below this has changed the subject (MiniLM; on MTRAG-UN the
# underspecified questions with an unintroduced description sit below it, the answerable follow-ups above).
_UNRELATED = 0.2
_PREPOSITIONS = frozenset(
    "through across after against along among around before behind below beside besides beyond during except inside "
    "near since toward towards upon within without via per like unlike despite".split()
)
_POSTPOSITIVE = ("ed", "able", "ible")
# Evidence sentences' vectors (and token vectors, in float16) kept between questions: ~25 KB each at 384
# dimensions, so ~100 MB when full.
_SENTENCE_CACHE = 4_000
_LEADING_CONJUNCTION = re.compile(r"^(?:and|but|also|plus)\s+", re.IGNORECASE)
_CLEAR_LEAD = 0.1  # a dense-score lead of the best hit over the next that settles what an unnamed "it" means
_COMPOUND = re.compile(r"\?\s+|;\s+|,?\s+and\s+(?=(?:what|how|who|when|where|why|which|is|are|does|do|did|can)\b)",
                       re.IGNORECASE)


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


_ASKS_NUMBER = re.compile(r"\b(?:how (?:many|much|old|long|tall|high|far|large|big)|(?:what|which) (?:year|date|"
                          r"percentage|number)|when)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")


def _is_statement(sentence: str) -> bool:
    """Headings, labels ("Access and password policy") and questions ("What is the warranty?") are not answers:
    keep sentences that end like a statement, or run on for eight words or more without a question mark."""
    end = sentence.rstrip()[-1:]
    return end in ".!。！" or (len(sentence.split()) >= 8 and end not in "?？")


def underspecified_noun(question: str, named: Sequence[str], earlier: Sequence[str] = (),
                        previous: str = "") -> str | None:
    """What the question points at without naming it: "county" for "this county", "one" for a bare pronoun in a
    question that names nothing; None if it names what it asks about, or if the conversation does: ``earlier`` turns
    mention the noun ("this policy" after a turn about the vacation policy), or the user's ``previous`` turn names
    something for the pronoun to stand for ("does it…" after "what is the Atlas arm?")."""
    mentioned = {w[:5] for turn in earlier for w in _WORD.findall(turn.lower())}
    for match in _DEICTIC.finditer(question):
        word, noun = match.group(1), match.group(1).lower()
        if match.group(0).lower().startswith("that") and (
                word[0].isupper() or (noun.endswith("s") and not noun.endswith(("ss", "us", "is")))):
            continue  # a relative clause: "the company that Sachin Warrier founded", "a firm that provides"
        if noun not in _NOT_NOUNS and noun[:5] not in mentioned:
            named_run = _CAPITALISED.match(question, match.start(1)) if word[0].isupper() else None
            return named_run.group(0) if named_run else noun  # "this Superior Court": the whole name
    if not named and _PRONOUN.search(question) and not key_phrases(previous):
        return "one"
    return None


def _points_unidentified(question: str, noun: str) -> bool:
    """Whether "this", "these" or "those" opens a noun phrase about ``noun`` that the question does not go on to
    identify: "this state library?", not "this song that was inspired by…" or "this singer of…", nor "…, and this
    association is strongest…" (what the first clause described). "That" is left out: it opens clauses."""
    head = noun.lower().split()[0]
    return any(match.group(1).lower().startswith(head) and not _SAYS_WHICH & set(match.group(1).lower().split())
               and not re.search(r"(?:,|\band|\bbut)\s*$", question[: match.start()], re.IGNORECASE)
               for match in _DEMONSTRATIVE.finditer(question))


def unintroduced_description(question: str, earlier: Sequence[str]) -> str | None:
    """A definite description in the question whose head noun no earlier turn uses — "famous basketball player" in
    "when was the famous basketball player born?" after turns about cells; None if there is none. (Whether it points
    at something unknown also depends on the question having changed the subject: see ``Answerer._unrelated``.)"""
    mentioned = {w[:5] for turn in earlier for w in _WORD.findall(turn.lower())}
    for match in _DEFINITE.finditer(question):
        following = _DESCRIBING.match(question, match.end())
        words: list[str] = []
        for word in (following.group(0).split() if following else []):
            # the description ends before a function word or preposition, and before a participle or adjective
            # that follows its noun ("the actor received", "the opportunities available")
            if word in FUNCTION_WORDS or word in _PREPOSITIONS or (words and word.endswith(_POSTPOSITIVE)):
                break
            words.append(word)
        after = question[match.end():].split()[len(words): len(words) + 2]
        if after[:1] == ["of"] and after[1:] not in (["a"], ["an"]):
            continue  # "the speed of light", "the capital of France" say which ("the role of a boy" does not)
        if words and is_content_word(words[-1].removesuffix("'s")) and words[-1][:5] not in mentioned:
            return " ".join(words)
    return None


def ambiguous_name(named: Sequence[str], hits: Sequence[Hit]) -> tuple[str, list[str]] | None:
    """A name of the question that the best hits' titles give to different things, told apart the way encyclopedias
    do — "Mercury" finding "Mercury (planet)" and "Mercury (element)", and no hit titled "Mercury" alone: the name and
    those titles. A title that merely contains the name ("Freddie Mercury", "Lempster, New Hampshire") is another
    thing, not another meaning of it."""
    titles = list(dict.fromkeys(t for t in (document_title(hit) for hit in hits[:3]) if t))
    for name in named:
        if any(t.lower() == name.lower() for t in titles):
            continue  # one of them is the thing itself
        meanings = [t for t in titles if re.fullmatch(rf"{re.escape(name)}\s*\([^()]+\)", t, re.IGNORECASE)]
        if len(meanings) > 1:
            return name, meanings
    return None


def topic_label(hit: Hit) -> str:
    """A short name for what a hit is about: its document's title or top heading, else the name its text repeats
    most, else the file name."""
    title = document_title(hit)
    if title is not None:
        return title
    names = Counter(p for p in key_phrases(hit.text) if len(p) > 3 and not p[0].isdigit())
    if names:
        return names.most_common(1)[0][0]
    return PurePath(hit.source).stem.replace("-", " ").replace("_", " ")


def _named_topics(sentence: str, hits: Sequence[Hit], *, exclude: Hit, question: str) -> set[str]:
    """The topic labels of ``hits`` (other than ``exclude``'s) that ``sentence`` names, as written, and ``question``
    does not."""
    own = topic_label(exclude)
    return {label for label in map(topic_label, hits) if label != own
            and re.search(rf"(?<!\w){re.escape(label)}(?!\w)", sentence)
            and label.lower() not in question.lower()}


def _offered(noun: str, hits: Sequence[Hit]) -> list[str]:
    """The topic labels a clarifying question offers for ``noun``: the best hit's, and those of the other hits that
    speak of a ``noun`` ("Which warranty do you mean" does not offer the access policy); every hit's for "one"."""
    stems = {w[:5] for w in _WORD.findall(noun.lower())}
    return [topic_label(hit) for number, hit in enumerate(hits)
            if number == 0 or noun == "one" or stems <= {w[:5] for w in _WORD.findall(hit.text.lower())}]


def sub_questions(question: str) -> list[str]:
    """A compound question's parts ("What is X? And how does Y…" → two); a simple question gives itself."""
    parts = [_LEADING_CONJUNCTION.sub("", p.strip(" ,?？")) for p in _COMPOUND.split(question)]
    parts = [p for p in parts if len(p.split()) >= 3]
    return parts if len(parts) > 1 else [question]


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
        relaxed = question
        for word in signals.unknown_words:  # a word the corpus has never seen can only stop BM25 from matching
            relaxed = re.sub(rf"\b{re.escape(word)}\b", " ", relaxed)
        relaxed = " ".join(relaxed.split())
        if len(word_pairs(relaxed)) < 1:
            relaxed = ""  # nothing left worth searching for ("What is the of ?")
        aliases = [a for a in (expand(question) if expand else []) if a.lower() not in question.lower()]
        rewrite = " ".join([relaxed, *aliases]).strip()
        return rewrite if rewrite and rewrite != question else None

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
        pointing = (noun not in (None, "one") and _points_unidentified(question, noun)
                    and not [p for p in a.signals.key_phrases if p != noun]
                    and (not turns or self._unrelated(question, turns)))
        if noun is None and (described := unintroduced_description(question, earlier)) is not None \
                and self._unrelated(question, turns):
            # "the basketball player" in a conversation about cells: which one? (A longer description may hold a
            # verb — "the engineer acknowledge" — so only a one-word one names the options.)
            noun = described if " " not in described else "one"
        labels = [topic_label(hit) for hit in a.hits[:3]]
        candidates = list(dict.fromkeys(labels)) if noun is not None else []  # what the evidence splits between
        options = list(dict.fromkeys(_offered(noun, a.hits[:3]))) if noun is not None else []  # those about the noun
        if noun is None and (ambiguous := ambiguous_name(a.signals.key_phrases, a.hits)) is not None:
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
            return "Sorry — the knowledge base has nothing related to this question."
        nearby = "; ".join(dict.fromkeys(topic_label(hit) for hit in hits[:3]))
        return f"Sorry — the knowledge base does not answer this question. The closest it covers: {nearby}."

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
        given = set(_NUMBER.findall(a.question)) if _ASKS_NUMBER.search(a.question) else None
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
        return f"{text} The knowledge base does not cover: {', '.join(answer.missing)}."


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
