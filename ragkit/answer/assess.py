"""Judging retrieved evidence against a question: its statement sentences, how close each is to the question, the
retrieval signals (``ragkit.answer.signals``) and the calibrated confidence that the evidence answers it.

The ``Assessor`` holds what this needs the model for — the question's and the sentences' vectors and token vectors,
the sentences' kept between questions — and hands back a frozen ``Assessment``, which deciding (``decide``) and
writing (``write``) read without a model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from ragkit.answer.calibrator import Calibrator
from ragkit.answer.lexicon import ENGLISH, Lexicon
from ragkit.answer.policy import AnswerPolicy
from ragkit.answer.signals import Signals, TokenAlignment, compute_signals
from ragkit.embed import Embedder
from ragkit.records import Hit
from ragkit.sparse import CorpusStatistics
from ragkit.text import split_sentences


@dataclass(frozen=True)
class Sentence:
    """One statement of a hit's text, which an extractive answer may quote."""

    hit: Hit
    start: int  # offsets into the hit's document
    end: int
    text: str


@dataclass(frozen=True)
class Assessment:
    """A question against its evidence: the hits, their statement sentences and each one's cosine to the question,
    the retrieval signals, and the calibrated confidence that the evidence answers it (0.0 without hits)."""

    question: str
    hits: tuple[Hit, ...]
    sentences: tuple[Sentence, ...]
    cosines: np.ndarray
    signals: Signals
    confidence: float
    context_cosines: np.ndarray | None = None  # a follow-up's sentences against the question with its context


def is_statement(sentence: str) -> bool:
    """Headings, labels ("Access and password policy") and questions ("What is the warranty?") are not answers:
    keep sentences that end like a statement, or run on for eight words or more without a question mark."""
    end = sentence.rstrip()[-1:]
    return end in ".!。！" or (len(sentence.split()) >= 8 and end not in "?？")


class Assessor:
    """Assesses evidence with ``embedder`` (the sentences' vectors and, where it gives them, token vectors) and the
    knowledge base's corpus ``stats`` (the signals)."""

    def __init__(self, embedder: Embedder, stats: CorpusStatistics, *, policy: AnswerPolicy = AnswerPolicy(),
                 lexicon: Lexicon = ENGLISH) -> None:
        self._embedder = embedder
        self._stats = stats
        self._policy = policy
        self._lexicon = lexicon
        self._vectors: OrderedDict[str, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        self._cache_lock = threading.Lock()  # questions may be asked from several threads at once

    def assess(self, question: str, hits: Sequence[Hit], calibrator: Calibrator, context: str = "") -> Assessment:
        """Judge ``hits`` (all the search returned: ``ask``'s ``k``) against the question as asked, with
        ``calibrator``; ``context`` (a follow-up's earlier turn, as retrieved with) only helps choose the sentences of
        the answer."""
        top = tuple(hits)
        sentences = tuple(
            Sentence(hit, hit.start + a, hit.start + b, hit.text[a:b])
            for hit in top
            for a, b in split_sentences(hit.text)
            if is_statement(hit.text[a:b])
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
        signals = compute_signals(question, top, stats=self._stats,
                                  sentence_cosine=float(cosines.max()) if len(cosines) else 0.0, alignment=alignment,
                                  lexicon=self._lexicon)
        confidence = calibrator.probability(signals.values) if top else 0.0
        return Assessment(question, top, sentences, cosines, signals, confidence, in_context)

    def turn_cosine(self, question: str, user_turns: Sequence[str]) -> float | None:
        """The question's best cosine to one of the user's earlier turns, None without turns — how a follow-up that
        changed the subject is told (``decide.changed_subject``). The embedder remembers the turns a chat asked
        before, so this rarely embeds anything new."""
        if not user_turns:
            return None
        question_vector = self._embed_question(question)[0]
        return max(float(self._embedder.embed_query(turn) @ question_vector) for turn in user_turns)

    def _alignment(self, question: str, question_tokens: np.ndarray, sentences: Sequence[Sentence],
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

    def _embed_question(self, question: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The question's vector and token vectors — the retriever's pass, where the embedder remembers it."""
        with_tokens = getattr(self._embedder, "query_with_tokens", None)
        if with_tokens is None:
            return self._embedder.embed_query(question), None
        return with_tokens(question)

    def _embed(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Vectors of evidence sentences and, if the embedder gives them, their token vectors. Sentences come back
        for related questions, so theirs are kept (LRU, ``AnswerPolicy.sentence_cache``)."""
        with_tokens = getattr(self._embedder, "embed_with_tokens", None)
        with self._cache_lock:
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:  # embedded outside the lock: another thread's question need not wait for this one
            if with_tokens is None:
                computed = zip(self._embedder.embed_documents(missing), [None] * len(missing))
            else:
                vectors, tokens = with_tokens(missing)
                computed = zip(vectors, (t.astype(np.float16) for t in tokens))
            found.update(zip(missing, computed))
        with self._cache_lock:
            for text in texts:
                self._vectors[text] = found[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > max(self._policy.sentence_cache, len(texts)):
                self._vectors.popitem(last=False)
        entries = [found[t] for t in texts]
        token_rows = [e[1] for e in entries]
        return np.stack([e[0] for e in entries]), (None if any(t is None for t in token_rows) else token_rows)


@lru_cache(maxsize=1)
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
