"""Retrieval: dense and BM25 candidates from the index, fused by reciprocal rank, hydrated from the registry,
optionally reranked."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Iterator, Mapping

from ragkit.config import parse_enum
from ragkit.embed import Embedder
from ragkit.errors import ConfigError
from ragkit.fusion import reciprocal_rank_fusion
from ragkit.index.base import IndexQuery, ScoredId, VectorIndex, VectorName
from ragkit.records import Hit, RetrieverScore
from ragkit.registry import Registry
from ragkit.rerank import Reranker
from ragkit.sparse import BM25Encoder


class SearchMode(str, Enum):
    """Which retrievers run: ``dense`` (embeddings), ``sparse`` (BM25), or ``hybrid`` (both, fused)."""

    DENSE = "dense"
    SPARSE = "sparse"
    HYBRID = "hybrid"


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
    """Runs the retrievers a mode asks for in one index round trip and fuses their rankings."""

    def __init__(
        self,
        index: VectorIndex,
        registry: Registry,
        embedder: Embedder,
        encoder: BM25Encoder,
        *,
        rrf_k: int = 60,
        min_candidates: int = 50,
        reranker: Reranker | None = None,
        rerank_depth: int = 30,
    ) -> None:
        if rrf_k < 0:
            raise ConfigError(f"rrf_k must be non-negative, got {rrf_k}")
        if rerank_depth < 1:
            raise ConfigError(f"rerank_depth must be at least 1, got {rerank_depth}")
        self._index = index
        self._registry = registry
        self._embedder = embedder
        self._encoder = encoder
        self._rrf_k = rrf_k
        self._min_candidates = min_candidates
        self._reranker = reranker
        self._rerank_depth = rerank_depth

    def search(self, query: str, k: int = 10, mode: SearchMode | str = SearchMode.HYBRID) -> SearchResult:
        mode = parse_enum(SearchMode, mode, "search mode")
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if not query.strip():
            raise ConfigError("the query is empty")
        timings: dict[str, float] = {}
        keep = max(k, self._rerank_depth) if self._reranker else k  # the reranker reorders more than it returns
        depth = keep if mode is not SearchMode.HYBRID else max(2 * keep, self._min_candidates)
        queries: dict[str, IndexQuery] = {}
        started = time.perf_counter()
        if mode in (SearchMode.DENSE, SearchMode.HYBRID):
            vector = self._embedder.embed_query(query)
            queries[SearchMode.DENSE.value] = IndexQuery(VectorName.DENSE, vector.tolist(), depth)
        if mode in (SearchMode.SPARSE, SearchMode.HYBRID):
            queries[SearchMode.SPARSE.value] = IndexQuery(VectorName.SPARSE, self._encoder.encode_query(query), depth)
        timings["embed"] = _ms_since(started)

        started = time.perf_counter()
        # Break exact ties by id so that results are reproducible and equal across index backends.
        rankings = {
            name: sorted(points, key=lambda p: (-round(p.score, 6), p.id))
            for name, points in zip(queries, self._index.search(list(queries.values())))
        }
        timings["retrieve"] = _ms_since(started)

        started = time.perf_counter()
        found_by = _provenance(rankings)
        if mode is SearchMode.HYBRID:
            fused = reciprocal_rank_fusion({name: [p.id for p in ranked] for name, ranked in rankings.items()}, k=self._rrf_k)
        else:
            fused = [(p.id, p.score) for p in next(iter(rankings.values()), [])]
        fused = fused[:keep]
        timings["fuse"] = _ms_since(started)

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
                found_by=found_by[chunk_id],
                metadata={**stored[chunk_id].metadata, **stored[chunk_id].chunk.metadata},
            )
            for chunk_id, score in fused
            if chunk_id in stored
        )
        timings["hydrate"] = _ms_since(started)
        if self._reranker is not None and hits:
            started = time.perf_counter()
            depth = self._rerank_depth  # beyond it, candidates keep their fused order
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
