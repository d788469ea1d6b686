"""Retrieval: dense and BM25 candidates fused inside the index, hydrated from the registry, optionally reranked.

One index round trip per query: the dense and BM25 queries (for each hit's per-retriever rank and score) and, in
hybrid mode, the fused query (Qdrant prefetch + RRF or DBSF) travel in one batch. Metadata filters go into every
query, so they apply before ranking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Iterator, Mapping

from ragkit.config import parse_enum
from ragkit.embed import Embedder
from ragkit.errors import ConfigError
from ragkit.filters import parse_filter
from ragkit.index.base import EngineFusion, FusionQuery, IndexQuery, ScoredId, VectorIndex, VectorName
from ragkit.records import Hit, RetrieverScore
from ragkit.registry import Registry
from ragkit.rerank import Reranker, make_reranker
from ragkit.sparse import BM25Encoder


class SearchMode(str, Enum):
    """Which retrievers run: ``dense`` (embeddings), ``sparse`` (BM25), or ``hybrid`` (both, fused)."""

    DENSE = "dense"
    SPARSE = "sparse"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class RetrievalConfig:
    """Query-time settings (not stored with the knowledge base).

    ``fusion``: ``rrf`` (weighted reciprocal rank, constant ``rrf_k``) or ``dbsf`` (distribution-based score fusion:
    scores normalised by mean ± 3 std, then summed), both computed inside Qdrant. ``weights`` are (dense, sparse).
    ``candidates``: how many each retriever contributes in hybrid mode (at least twice the hits asked for).
    ``reranker``: a spec or instance (see ``ragkit.rerank``) reordering the top ``rerank_depth`` fused hits.
    """

    fusion: EngineFusion = EngineFusion.RRF
    rrf_k: int = 60
    weights: tuple[float, float] | None = None
    candidates: int = 50
    reranker: Any = None
    rerank_depth: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "fusion", parse_enum(EngineFusion, self.fusion, "fusion"))
        if self.rrf_k < 1:
            raise ConfigError(f"rrf_k must be at least 1, got {self.rrf_k}")
        if self.weights is not None and (len(self.weights) != 2 or min(self.weights) < 0):
            raise ConfigError(f"weights are (dense, sparse), both non-negative; got {self.weights}")
        if self.candidates < 1 or self.rerank_depth < 1:
            raise ConfigError(f"candidates and rerank_depth must be at least 1, got {self.candidates}, "
                              f"{self.rerank_depth}")


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits, best first, and where the time went (milliseconds per stage)."""

    query: str
    hits: tuple[Hit, ...]
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, index: int) -> Hit:
        return self.hits[index]


class Retriever:
    """Runs the retrievers a mode asks for, fuses them in the index, and hydrates and reranks the hits."""

    def __init__(self, index: VectorIndex, registry: Registry, embedder: Embedder, encoder: BM25Encoder,
                 config: RetrievalConfig = RetrievalConfig()) -> None:
        self._index = index
        self._registry = registry
        self._embedder = embedder
        self._encoder = encoder
        self.config = config
        self._reranker: Reranker | None = make_reranker(config.reranker)

    def search(self, query: str, k: int = 10, mode: SearchMode | str = SearchMode.HYBRID,
               filter: Mapping[str, Any] | None = None) -> SearchResult:
        mode = parse_enum(SearchMode, mode, "search mode")
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if not query.strip():
            raise ConfigError("the query is empty")
        conditions = parse_filter(filter)
        config = self.config
        keep = max(k, config.rerank_depth) if self._reranker else k  # the reranker reorders more than it returns
        depth = keep if mode is not SearchMode.HYBRID else max(2 * keep, config.candidates)
        timings: dict[str, float] = {}

        started = time.perf_counter()
        queries: dict[str, IndexQuery | FusionQuery] = {}
        if mode in (SearchMode.DENSE, SearchMode.HYBRID):
            vector = self._embedder.embed_query(query).tolist()
            queries[SearchMode.DENSE.value] = IndexQuery(VectorName.DENSE, vector, depth, conditions)
        if mode in (SearchMode.SPARSE, SearchMode.HYBRID):
            terms = sorted(self._encoder.query_terms(query))
            chunks, _ = self._registry.term_counts()
            sparse = self._encoder.encode_query(terms, self._registry.document_frequencies(terms), chunks)
            if sparse.indices:  # no query term occurs in the corpus: BM25 has nothing to say
                queries[SearchMode.SPARSE.value] = IndexQuery(VectorName.SPARSE, sparse, depth, conditions)
        if mode is SearchMode.HYBRID and len(queries) == 2:
            parts = (queries[SearchMode.DENSE.value], queries[SearchMode.SPARSE.value])
            queries["fused"] = FusionQuery(parts, config.fusion, keep, config.rrf_k, config.weights, conditions)
        timings["embed"] = _ms_since(started)

        started = time.perf_counter()
        rankings = dict(zip(queries, self._index.search(list(queries.values()))))
        if "fused" in rankings:  # exact ties in the fused scores are broken by id, so results are reproducible
            rankings["fused"] = sorted(rankings["fused"], key=lambda p: (-round(p.score, 6), p.id))
        timings["retrieve"] = _ms_since(started)

        started = time.perf_counter()
        found_by = _provenance({name: ranked for name, ranked in rankings.items() if name != "fused"})
        final = rankings.get("fused") or next(iter(rankings.values()), [])
        fused = [(point.id, point.score) for point in final[:keep]]
        timings["fuse"] = _ms_since(started)  # assembly here; the fusion itself ran inside "retrieve"

        started = time.perf_counter()
        stored = self._registry.chunks([chunk_id for chunk_id, _ in fused])
        hits = tuple(
            Hit(
                chunk_id=chunk_id,
                doc_id=stored[chunk_id].chunk.doc_id,
                source=stored[chunk_id].source,
                text=stored[chunk_id].chunk.text,
                start=stored[chunk_id].chunk.start,
                end=stored[chunk_id].chunk.end,
                score=score,
                found_by=found_by.get(chunk_id, {}),
                metadata={**stored[chunk_id].metadata, **stored[chunk_id].chunk.metadata},
            )
            for chunk_id, score in fused
            if chunk_id in stored
        )
        timings["hydrate"] = _ms_since(started)
        if self._reranker is not None and hits:
            started = time.perf_counter()
            depth = config.rerank_depth  # beyond it, candidates keep their fused order
            hits = rerank(self._reranker, query, hits[:depth]) + hits[depth:]
            timings["rerank"] = _ms_since(started)
        return SearchResult(query, hits[:k], timings)


def rerank(reranker: Reranker, query: str, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
    """Hits reordered by the reranker's scores, which become their score and their ``found_by["rerank"]``."""
    scores = reranker.score(query, [hit.text for hit in hits])
    order = sorted(range(len(hits)), key=lambda i: (-float(scores[i]), i))
    return tuple(
        replace(hits[i], score=float(scores[i]),
                found_by={**hits[i].found_by, "rerank": RetrieverScore(rank, float(scores[i]))})
        for rank, i in enumerate(order, start=1)
    )


def _provenance(rankings: Mapping[str, list[ScoredId]]) -> dict[str, dict[str, RetrieverScore]]:
    found: dict[str, dict[str, RetrieverScore]] = {}
    for name, ranked in rankings.items():
        for rank, point in enumerate(ranked, start=1):
            found.setdefault(point.id, {})[name] = RetrieverScore(rank, point.score)
    return found


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
