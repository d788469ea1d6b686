"""Retrieval: dense and BM25 candidates fused inside the index, hydrated from the registry, optionally reranked.

One index round trip per query: the dense and BM25 queries (for each hit's per-retriever rank and score) and, in
hybrid mode, the fused query (Qdrant prefetch + RRF or DBSF) travel in one batch. Metadata filters go into every
query, so they apply before ranking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Mapping

from ragkit.embed import Embedder
from ragkit.errors import ConfigError
from ragkit.filters import document_payload, matches, parse_filter
from ragkit.fusion import reciprocal_rank_fusion
from ragkit.graph.rank import GraphRanker
from ragkit.graph.themes import Themes
from ragkit.index.base import FusionQuery, IndexQuery, ScoredId, VectorIndex, VectorName
from ragkit.records import GraphEvidence, Hit, RetrieverScore, markdown_cell, shown_source
from ragkit.registry import BM25Statistics, DocumentStore
from ragkit.rerank import Reranker, make_reranker
from ragkit.settings import RetrievalConfig, SearchMode, parse_enum

MAX_HITS = 10_000  # the most hits one search returns (and ``ask`` judges)


def checked_k(k: Any) -> int:
    """``k`` as the number of hits to return, or a ConfigError that names it."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise ConfigError(f"k is the number of hits, a whole number from 1 to {MAX_HITS}; got {k!r}")
    if not 1 <= k <= MAX_HITS:
        raise ConfigError(f"k must be between 1 and {MAX_HITS}, got {k}")
    return k


def checked_text(text: Any, what: str) -> str:
    """A query or question as text: a non-empty string of valid Unicode, or a ConfigError that says what is wrong."""
    if not isinstance(text, str):
        raise ConfigError(f"the {what} must be text, got {type(text).__name__}")
    if not text.strip():
        raise ConfigError(f"the {what} is empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(f"the {what} is not valid Unicode: it holds {text[exc.start]!r} at position {exc.start} "
                          "(a lone surrogate, as undecodable bytes become); pass text decoded as UTF-8") from None
    return text


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

    def _repr_markdown_(self) -> str:
        """How Jupyter shows the hits: rank, score, source, where each retriever ranked it, and its text's start."""
        rows = ["| # | score | source | found by | text |", "|---|---|---|---|---|"]
        for rank, hit in enumerate(self.hits, start=1):
            found = ", ".join(f"{name} #{score.rank}" for name, score in hit.found_by.items())
            text = " ".join(hit.text.split())[:100]
            rows.append(f"| {rank} | {hit.score:.4f} | {markdown_cell(shown_source(hit.source))} | {found} | "
                        f"{markdown_cell(text)} |")
        return "\n".join(rows)


class Retriever:
    """Runs the retrievers a mode asks for, fuses them in the index, and hydrates and reranks the hits."""

    def __init__(self, index: VectorIndex, documents: DocumentStore, bm25: BM25Statistics, embedder: Embedder,
                 config: RetrievalConfig = RetrievalConfig(), graph: GraphRanker | None = None,
                 themes: Themes | None = None) -> None:
        self._index = index
        self._documents = documents
        self._bm25 = bm25
        self._embedder = embedder
        self.config = config
        self._graph = graph
        self._themes = themes
        self._reranker: Reranker | None = make_reranker(config.reranker)

    def search(self, query: str, k: int = 10, mode: SearchMode | str = SearchMode.HYBRID,
               filter: Mapping[str, Any] | None = None) -> SearchResult:
        mode = parse_enum(SearchMode, mode, "search mode")
        k = checked_k(k)
        query = checked_text(query, "query")
        conditions = parse_filter(filter)
        config = self.config
        keep = max(k, config.rerank_depth) if self._reranker else k  # the reranker reorders more than it returns
        if mode is SearchMode.GLOBAL:
            return self._global(query, k, conditions)
        graph = mode is SearchMode.GRAPH
        if graph:
            if self._graph is None:
                raise ConfigError("this knowledge base has no entity graph; create it with "
                                  "KBConfig(graph='embedded') (or 'neo4j') to use mode 'graph'")
            mode, keep = SearchMode.HYBRID, max(keep, config.candidates)
        depth = keep if mode is not SearchMode.HYBRID else max(2 * keep, config.candidates)
        timings: dict[str, float] = {}

        started = time.perf_counter()
        queries: dict[str, IndexQuery | FusionQuery] = {}
        if mode in (SearchMode.DENSE, SearchMode.HYBRID):
            vector = self._embedder.embed_query(query).tolist()
            queries[SearchMode.DENSE.value] = IndexQuery(VectorName.DENSE, vector, depth, conditions)
        if mode in (SearchMode.SPARSE, SearchMode.HYBRID):
            sparse = self._bm25.query_vector(query)
            if sparse.indices:  # no query term occurs in the corpus: BM25 has nothing to say
                queries[SearchMode.SPARSE.value] = IndexQuery(VectorName.SPARSE, sparse, depth, conditions)
        if mode is SearchMode.HYBRID and len(queries) == 2:
            parts = (queries[SearchMode.DENSE.value], queries[SearchMode.SPARSE.value])
            queries["fused"] = FusionQuery(parts, config.fusion, keep, config.rrf_k, config.weights, conditions)
        timings["embed"] = _ms_since(started)

        started = time.perf_counter()
        rankings = dict(zip(queries, self._index.search(list(queries.values()))))
        timings["retrieve"] = _ms_since(started)

        started = time.perf_counter()
        found_by = _provenance({name: ranked for name, ranked in rankings.items() if name != "fused"})
        if "fused" in rankings:  # exact ties of the fused scores (common with RRF) go to the closer vector, then
            # to the better BM25 score, then to the id — so the order does not depend on the engine or on ids,
            # which hash the source path
            rankings["fused"] = sorted(rankings["fused"], key=lambda p: (
                -round(p.score, 6), *(-_score(found_by, p.id, name) for name in (SearchMode.DENSE, SearchMode.SPARSE)),
                p.id))
        final = rankings.get("fused") or next(iter(rankings.values()), [])
        fused = [(point.id, point.score) for point in final[:keep]]
        timings["fuse"] = _ms_since(started)  # assembly here; the fusion itself ran inside "retrieve"

        evidence: Mapping[str, GraphEvidence] = {}
        if graph and self._graph is not None:
            started = time.perf_counter()
            fused, evidence = self._graph_fuse(query, fused, found_by, conditions)
            timings["graph"] = _ms_since(started)

        started = time.perf_counter()
        stored = self._documents.chunks([chunk_id for chunk_id, _ in fused], visible=True)
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
                graph=evidence.get(chunk_id),
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

    def _global(self, query: str, k: int, conditions: tuple) -> SearchResult:
        """One hit per community of the entity graph — the chunk of its most representative sentence — best
        community first; the community (id, size, top entities, sentences) is in ``hit.metadata["community"]``."""
        if self._themes is None:
            raise ConfigError("mode 'global' summarizes the entity graph's communities; this knowledge base has no "
                              "entity graph — create it with KBConfig(graph='embedded') (or 'neo4j')")
        started = time.perf_counter()
        ranked = self._themes.rank(query)
        timings = {"global": _ms_since(started)}
        started = time.perf_counter()
        stored = self._documents.chunks(list(dict.fromkeys(c.sentences[0][0] for c, _ in ranked)), visible=True)
        hits: list[Hit] = []
        seen: set[str] = set()
        for rank, (community, score) in enumerate(ranked, start=1):
            chunk_id = community.sentences[0][0]
            found = stored.get(chunk_id)
            if found is None or chunk_id in seen or (conditions and not matches(
                    conditions, document_payload(found.chunk.doc_id, found.source, found.metadata))):
                continue
            seen.add(chunk_id)
            summary = {"id": community.id, "size": community.size, "entities": list(community.entities),
                       "names": list(community.names),
                       "sentences": [text for *_, text in community.sentences],
                       "spans": [[chunk, start, end] for chunk, start, end, _ in community.sentences]}
            hits.append(Hit(chunk_id, found.chunk.doc_id, found.source, found.chunk.text, found.chunk.start,
                            found.chunk.end, score, {"global": RetrieverScore(rank, score)},
                            {**found.metadata, **found.chunk.metadata, "community": summary}))
            if len(hits) == k:
                break
        timings["hydrate"] = _ms_since(started)
        return SearchResult(query, tuple(hits), timings)

    def _graph_fuse(self, query: str, hybrid: list[tuple[str, float]], found_by: dict[str, dict[str, RetrieverScore]],
                    conditions: tuple) -> tuple[list[tuple[str, float]], Mapping[str, GraphEvidence]]:
        """The hybrid ranking fused (RRF) with the graph walk's; records each chunk's graph rank in ``found_by``."""
        assert self._graph is not None
        ranking = self._graph.rank(query, [chunk_id for chunk_id, _ in hybrid], self._bm25.chunk_count())
        walked = list(ranking.chunks)
        if conditions:  # the walk leaves the index, so the filter is checked here
            stored = self._documents.chunks([chunk_id for chunk_id, _ in walked], visible=True)
            walked = [(c, s) for c, s in walked if c in stored and matches(
                conditions, document_payload(stored[c].chunk.doc_id, stored[c].source, stored[c].metadata))]
        for rank, (chunk_id, score) in enumerate(walked, start=1):
            found_by.setdefault(chunk_id, {})["graph"] = RetrieverScore(rank, score)
        fused = reciprocal_rank_fusion({"hybrid": [c for c, _ in hybrid], "graph": [c for c, _ in walked]},
                                       k=self.config.rrf_k)
        return fused[: len(hybrid)], ranking.evidence


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


def _score(found_by: Mapping[str, Mapping[str, RetrieverScore]], chunk_id: str, retriever: SearchMode) -> float:
    found = found_by.get(chunk_id, {}).get(retriever.value)
    return float("-inf") if found is None else found.score


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
