"""Extractive answers: the sentences of the top evidence that best answer the question, each cited.

Whether to answer at all is decided before any text is composed, from how well the best evidence matches the
question: the cosine between question and best sentence, and how many of the question's BM25 terms the top
evidence contains. The weights below are a hand-set baseline (see ``relevance_confidence``), not a fitted
calibrator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ragkit.embed import Embedder
from ragkit.errors import ConfigError
from ragkit.records import Answer, AnswerStatus, Citation, Hit
from ragkit.sparse import BM25Encoder
from ragkit.text import split_sentences


def relevance_confidence(best_cosine: float, term_coverage: float) -> float:
    """A probability-like score that the evidence answers the question (logistic in both signals).

    A hand-set baseline until a fitted calibrator replaces it: the centre (cosine 0.55, half the question's
    terms covered) separated answerable from unanswerable questions on the demo corpus with all-MiniLM-L6-v2.
    """
    z = 14.0 * (best_cosine - 0.55) + 2.0 * (term_coverage - 0.5)
    return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class _Sentence:
    hit: Hit
    start: int  # offsets into the hit's document
    end: int
    text: str


def _is_statement(sentence: str) -> bool:
    """Headings and labels ("Parental leave") are not answers: keep sentences of four or more words, or that end
    like a sentence."""
    return len(sentence.split()) >= 4 or sentence.rstrip()[-1:] in ".!?。！？"


class ExtractiveAnswerer:
    """Answers from the top hits without an LLM: selects sentences, cites them, or declines."""

    def __init__(
        self,
        embedder: Embedder,
        encoder: BM25Encoder,
        *,
        evidence: int = 5,
        max_sentences: int = 3,
        threshold: float = 0.5,
    ) -> None:
        if evidence < 1 or max_sentences < 1:
            raise ConfigError(f"evidence and max_sentences must be at least 1, got {evidence} and {max_sentences}")
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, got {threshold}")
        self._embedder = embedder
        self._encoder = encoder
        self._evidence = evidence
        self._max_sentences = max_sentences
        self._threshold = threshold

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        top = list(hits[: self._evidence])
        sentences = [
            _Sentence(hit, hit.start + a, hit.start + b, hit.text[a:b])
            for hit in top
            for a, b in split_sentences(hit.text)
            if _is_statement(hit.text[a:b])
        ]
        if not sentences:
            return self._decline(question, top, 0.0)
        vectors = self._embedder.embed_documents([s.text for s in sentences])
        cosines = vectors @ self._embedder.embed_query(question)
        question_terms = self._encoder.query_terms(question)
        covered = set().union(*(self._encoder.query_terms(hit.text) for hit in top))
        coverage = len(question_terms & covered) / len(question_terms) if question_terms else 0.0
        confidence = relevance_confidence(float(cosines.max()), coverage)
        if confidence < self._threshold:
            return self._decline(question, top, confidence)

        # Rank sentences by meaning, nudged towards those that contain the question's own terms.
        sentence_coverage = np.array(
            [len(question_terms & self._encoder.query_terms(s.text)) / max(len(question_terms), 1) for s in sentences]
        )
        scores = cosines + 0.25 * sentence_coverage
        best = float(scores.max())
        order = [int(i) for i in np.argsort(-scores) if scores[i] >= best - 0.15][: self._max_sentences]
        citations = tuple(
            Citation(number, s.hit.chunk_id, s.hit.source, s.start, s.end, s.text)
            for number, s in enumerate((sentences[i] for i in order), start=1)
        )
        text = " ".join(f"{citation.quote} [{citation.number}]" for citation in citations)
        return Answer(question, AnswerStatus.ANSWERED, text, round(confidence, 4), citations, tuple(top))

    def _decline(self, question: str, top: list[Hit], confidence: float) -> Answer:
        if top:
            nearby = ", ".join(dict.fromkeys(hit.source for hit in top[:3]))
            text = f"The knowledge base does not answer this question. The closest material is in: {nearby}."
        else:
            text = "The knowledge base does not answer this question: nothing related was found."
        return Answer(question, AnswerStatus.NO_ANSWER, text, round(confidence, 4), (), tuple(top))
