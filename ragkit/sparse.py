"""BM25 as sparse vectors: documents carry the term-frequency part, the query carries IDF.

The document side is the BM25 saturation term (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25
and Beyond", 2009, eq. 3.15):

    w(t, d) = tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl))

and each query term is weighted by ``idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` (the Lucene form), so the
dot product the index computes is the BM25 score. N and n_t come from the registry, which counts them in the same
transactions that add and remove chunks: IDF is exact after any add, update or delete, on every backend. (Qdrant's
own IDF modifier keeps counting deleted points until segments are vacuumed, and is per shard on a cluster.)

Tokenizing (lower-casing, stop words, Snowball stemming) and hashing terms to ids is done by the Rust BM25 of
``qdrant-edge-py``, the same tokenizer Qdrant uses server-side, so both deployments share term ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol, Sequence

import numpy as np

from ragkit.errors import ConfigError
from ragkit.index.base import SparseVector
from ragkit.settings import BM25Config, BM25Tokenizer

# Saturation used only to read term frequencies back from the tokenizer (see ``term_frequencies``).
_PROBE_K = 100.0


def bm25_idf(document_frequency: int, documents: int) -> float:
    """Lucene's BM25 IDF: never negative, unlike the original Robertson–Spärck Jones form."""
    return math.log(1.0 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def bm25_weights(tf: np.ndarray, doc_len: float, avg_len: float, k1: float, b: float) -> np.ndarray:
    """The BM25 term-frequency weights of one document (a pure function of its term counts)."""
    norm = k1 * (1.0 - b + b * doc_len / avg_len)
    return tf * (k1 + 1.0) / (tf + norm)


@dataclass(frozen=True)
class TermCounts:
    """A document's hashed term ids with their counts; ``length`` is the number of terms counted."""

    indices: tuple[int, ...]
    counts: np.ndarray

    @property
    def length(self) -> int:
        return int(self.counts.sum())


class BM25Encoder:
    """Encodes documents and queries as sparse BM25 vectors with a fixed average length per knowledge base."""

    def __init__(self, config: BM25Config | None = None) -> None:
        import qdrant_edge as qe

        config = config or BM25Config()
        try:
            # b = 0 makes the tokenizer's weight a function of tf alone, which term_frequencies() inverts.
            kind = (qe.TokenizerType.Multilingual if config.tokenizer is BM25Tokenizer.MULTILINGUAL
                    else qe.TokenizerType.Word)
            self._probe = qe.Bm25(qe.Bm25Config(language=config.language, k=_PROBE_K, b=0.0, tokenizer=kind))
        except ValueError as exc:
            raise ConfigError(f"BM25 language '{config.language}' is not supported: {exc}") from exc
        self.config = config
        self.k1 = config.k1
        self.b = config.b

    def term_counts(self, text: str) -> TermCounts:
        vector = self._probe.embed_document(text)
        weights = np.asarray(vector.values, dtype=np.float64)
        counts = np.rint(weights * _PROBE_K / (_PROBE_K + 1.0 - weights))
        return TermCounts(tuple(vector.indices), counts)

    def encode_document(self, terms: TermCounts, avg_len: float) -> SparseVector:
        weights = bm25_weights(terms.counts, terms.length, avg_len, self.k1, self.b)
        return SparseVector(terms.indices, tuple(float(w) for w in weights))

    @staticmethod
    def encode_query(terms: Iterable[int], document_frequencies: Mapping[int, int], documents: int) -> SparseVector:
        """The query's distinct terms (``query_terms``) that occur in the corpus, each weighted by its IDF."""
        indices = sorted(t for t in set(terms) if document_frequencies.get(t, 0) > 0)
        return SparseVector(tuple(indices), tuple(bm25_idf(document_frequencies[t], documents) for t in indices))

    def query_terms(self, text: str) -> frozenset[int]:
        return frozenset(self.term_counts(text).indices)

    def average_length(self, terms: Sequence[TermCounts]) -> float:
        """The mean document length of a sample, floored at 1 so an all-stop-word sample cannot divide by zero."""
        if not terms:
            return 1.0
        return max(1.0, float(np.mean([t.length for t in terms])))


class CorpusStatistics(Protocol):
    """What weighs a query's terms against a corpus: its BM25 ``encoder`` (tokenizing, k1), the number of chunks and
    in how many of them each term occurs. ``ragkit.registry.BM25Statistics`` keeps a knowledge base's."""

    encoder: BM25Encoder

    def chunk_count(self) -> int: ...

    def document_frequencies(self, terms: Sequence[int]) -> Mapping[int, int]: ...
