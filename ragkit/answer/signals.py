"""Retrieval signals: how well what was recalled matches the question, as numbers a calibrator can weigh.

Every signal is computed from the question and the top hits alone (plus corpus term statistics), so the same
numbers come out whether the hits were found by dense, sparse, hybrid or graph retrieval:

- ``dense_top`` / ``dense_gap``: the best dense cosine among the hits, and its lead over the second best;
- ``sentence_cosine``: the best cosine between the question and one sentence of the evidence;
- ``sparse_top``: the best BM25 score as a fraction of the most the question's terms could score;
- ``coverage_top1`` / ``coverage_topk``: the share of the question's term weight (IDF) that the best hit, or any of
  the top hits, contains — a term the corpus has never seen weighs the most;
- ``unknown_terms``: the share of the question's term weight that occurs nowhere in the knowledge base;
- ``agreement``: the share of the top hits that both dense and sparse retrieval found;
- ``key_coverage``: the share of the question's key phrases (names, numbers, quoted words) stated in one hit;
- ``pairs_top1`` / ``pairs_topk``: the share of the question's adjacent content-word pairs ("dimensional
  biomaterials") that stand side by side in the best hit, or in any top hit — evidence that states the question's
  own phrases, not only its words;
- ``token_alignment``: how closely one hit's words, in context, match each of the question's words (BERTScore
  recall: for every question token the best cosine to a token of the hit's evidence sentences, weighted by the
  IDF of its word), for the best-aligned hit. Only embedders that expose token vectors give it;
- ``title_named``: whether the question names what the top hits' documents are about — a title, without its
  parenthetical ("Keith Bostic" for the article *Keith Bostic (American football)*) — counting up to two documents
  (a comparison names both). Only corpora whose documents have titles give it anything but 0;
- ``rerank_top`` / ``rerank_gap``: the reranker's best score among the hits and its lead over the second, when the
  knowledge base reranks (``RetrievalConfig(reranker=...)``).

A signal that is not given counts as average in the calibrator (``Calibrator.probability``), so a calibrator fitted
without a reranker still works with one — and ``ragkit calibrate`` on a knowledge base that reranks weighs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ragkit.answer.lexicon import ENGLISH, Lexicon
from ragkit.answer.question import is_content_word, key_phrases, titles_named, word_pairs
from ragkit.records import Hit
from ragkit.sparse import BM25Encoder, CorpusStatistics, bm25_idf

FEATURES = ("dense_top", "dense_gap", "sentence_cosine", "sparse_top", "coverage_top1", "coverage_topk",
            "unknown_terms", "agreement", "key_coverage", "pairs_top1", "pairs_topk", "token_alignment",
            "title_named", "rerank_top", "rerank_gap")

# The direction in which each signal should move confidence: more of it means more likely answerable, except for
# words the corpus has never seen. A fitted weight pointing the other way is a quirk of the fitting data.
DIRECTIONS = {name: (-1.0 if name == "unknown_terms" else 1.0) for name in FEATURES}

_WORDS = re.compile(r"\w+")



@dataclass(frozen=True)
class Signals:
    """The signals of one question against its evidence, and which key phrases the evidence does not state."""

    values: Mapping[str, float]
    key_phrases: tuple[str, ...]
    missing: tuple[str, ...]  # key phrases no hit states, and content words the knowledge base never uses
    unknown_words: tuple[str, ...]  # question words that occur nowhere in the knowledge base


@dataclass(frozen=True)
class TokenAlignment:
    """The question's tokens (character spans) and, per hit, each token's best cosine to a token of that hit's
    evidence: what ``token_alignment`` is computed from."""

    spans: Sequence[tuple[int, int]]
    best: Sequence[np.ndarray]  # one array per hit, one value per span


def compute_signals(question: str, hits: Sequence[Hit], *, stats: CorpusStatistics, sentence_cosine: float,
                    alignment: TokenAlignment | None = None, lexicon: Lexicon = ENGLISH) -> Signals:
    """The signals of ``hits`` (best first) for ``question``, weighing terms by the corpus ``stats``;
    ``sentence_cosine`` and ``alignment`` are computed by the caller, who embeds the evidence sentences anyway;
    ``lexicon`` says which words are names and topics."""
    encoder = stats.encoder
    terms = sorted(encoder.query_terms(question))
    frequencies, chunks = stats.document_frequencies(terms), stats.chunk_count()
    idf = {t: bm25_idf(frequencies.get(t, 0), max(chunks, 1)) for t in terms}
    total = sum(idf.values())
    hit_terms = [encoder.query_terms(hit.text) for hit in hits]

    def coverage(covered: set[int] | frozenset[int]) -> float:
        return sum(w for t, w in idf.items() if t in covered) / total if total else 0.0

    dense = sorted((hit.found_by["dense"].score for hit in hits if "dense" in hit.found_by), reverse=True)
    sparse = max((hit.found_by["sparse"].score for hit in hits if "sparse" in hit.found_by), default=0.0)
    known = [t for t in terms if frequencies.get(t, 0) > 0]
    ceiling = (encoder.k1 + 1.0) * sum(idf[t] for t in known)
    both = [hit for hit in hits[:5] if "dense" in hit.found_by and "sparse" in hit.found_by]
    phrases = key_phrases(question, lexicon)
    phrase_terms = {phrase: encoder.query_terms(phrase) for phrase in phrases}
    stated = [p for p in phrases if any(phrase_terms[p] <= seen for seen in hit_terms) and phrase_terms[p]]
    missing = [p for p in phrases if p not in stated]
    unknown_words = [
        word for word in dict.fromkeys(re.findall(r"\w+", question))
        if (ids := encoder.query_terms(word)) and all(frequencies.get(t, 0) == 0 for t in ids)
    ]
    pairs = word_pairs(question, lexicon)
    pair_share = [len(pairs & word_pairs(hit.text, lexicon)) / len(pairs) for hit in hits] if pairs else []
    values = {
        "dense_top": dense[0] if dense else 0.0,
        "dense_gap": dense[0] - dense[1] if len(dense) > 1 else 0.0,
        "sentence_cosine": sentence_cosine,
        "sparse_top": min(sparse / ceiling, 1.0) if ceiling > 0 else 0.0,
        "coverage_top1": coverage(hit_terms[0]) if hit_terms else 0.0,
        "coverage_topk": coverage(set().union(*hit_terms)) if hit_terms else 0.0,
        "unknown_terms": sum(w for t, w in idf.items() if frequencies.get(t, 0) == 0) / total if total else 0.0,
        "agreement": len(both) / min(len(hits), 5) if hits else 0.0,
        "key_coverage": len(stated) / len(phrases) if phrases else 1.0,
        "pairs_top1": pair_share[0] if pair_share else 0.0,
        "pairs_topk": max(pair_share, default=0.0),
        "title_named": min(len(titles_named(question, hits[:5])), 2) / 2,
    }
    reranked = sorted((hit.found_by["rerank"].score for hit in hits if "rerank" in hit.found_by), reverse=True)
    if reranked:
        values["rerank_top"] = reranked[0]
        values["rerank_gap"] = reranked[0] - reranked[1] if len(reranked) > 1 else 0.0
    if alignment is not None:
        aligned = _token_alignment(question, alignment, encoder, idf)
        if aligned is not None:
            values["token_alignment"] = aligned
    content = [w for w in unknown_words if is_content_word(w, lexicon) and not any(w in phrase for phrase in missing)]
    return Signals({name: float(np.round(value, 6)) for name, value in values.items()}, tuple(phrases),
                   tuple(missing + content), tuple(unknown_words))


def _token_alignment(question: str, alignment: TokenAlignment, encoder: BM25Encoder,
                     idf: Mapping[int, float]) -> float | None:
    """The IDF-weighted mean of the question tokens' best cosines, for the best-aligned hit; a token weighs what
    its word does (a word with no BM25 term, such as "the", weighs nothing). None if no token carries weight."""
    words = [(m.start(), m.end(), max((idf.get(t, 0.0) for t in encoder.query_terms(m.group(0))), default=0.0))
             for m in _WORDS.finditer(question)]
    weights = np.array([next((w for a, b, w in words if a <= start < b), 0.0) for start, _ in alignment.spans])
    scores = [float(best[:n] @ weights[:n] / weights[:n].sum())
              for best in alignment.best if weights[: (n := min(len(best), len(weights)))].sum() > 0]
    return max(scores, default=None)
