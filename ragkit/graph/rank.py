"""Multi-hop retrieval over the entity graph: personalized PageRank seeded by the query's entities and the top
hybrid hits, then fused with the hybrid ranking.

The walk runs on the neighbourhood of the seeds — their chunks, the entities those chunks mention, and those
entities' chunks — with entity–chunk edges (mentions) and entity–entity edges (relations). It finds the second
passage of a bridge question: the query names a film, the film's passage names its director, the director's passage
holds the answer. HippoRAG (Gutiérrez et al., NeurIPS 2024) seeds PageRank with query entities; HippoRAG 2 (2025)
also seeds passages, which keeps the walk near what dense retrieval already found.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from ragkit.graph.extract import CO_OCCURS, Extractor
from ragkit.graph.store import GraphStore
from ragkit.records import GraphEdge, GraphEvidence

_OPENING = 2  # a mention starting here opens its document: usually the title, what the document is about

if TYPE_CHECKING:
    from scipy import sparse


def personalized_pagerank(adjacency: sparse.spmatrix, reset: np.ndarray, damping: float = 0.5,
                          iterations: int = 100, tolerance: float = 1e-10) -> np.ndarray:
    """The stationary distribution of a walk that follows an edge (chosen by weight) with probability ``damping``
    and jumps back to ``reset`` otherwise; nodes without edges send their walkers back to ``reset``."""
    from scipy import sparse  # imported on first use: keeps scipy out of ``import ragkit``

    adjacency = sparse.csr_matrix(adjacency, dtype=np.float64)
    reset = np.asarray(reset, dtype=np.float64)
    reset = reset / reset.sum()
    out = np.asarray(adjacency.sum(axis=1)).ravel()
    transition = (sparse.diags(np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)) @ adjacency).T.tocsr()
    dangling = out == 0
    scores = reset.copy()
    for _ in range(iterations):
        updated = (1.0 - damping) * reset + damping * (transition @ scores + scores[dangling].sum() * reset)
        converged = np.abs(updated - scores).sum() < tolerance
        scores = updated
        if converged:
            break
    return scores


@dataclass(frozen=True)
class _Edge:
    edge: GraphEdge
    weight: float


@dataclass(frozen=True)
class GraphRanking:
    """Chunks ranked by the walk (best first, with their scores), the query entities found, and per chunk why."""

    chunks: tuple[tuple[str, float], ...]
    query_entities: Mapping[str, float]
    evidence: Mapping[str, GraphEvidence]


class GraphRanker:
    """Ranks chunks for a query by personalized PageRank over a ``GraphStore``.

    ``seed_hits``: how many top hybrid hits seed the walk; ``entity_mass``: the share of the restart probability on
    the query's entities (the rest on the seed hits); ``hub_fraction``: entities named in more than this share of all
    chunks (and at least 20) are not expanded, since they connect everything; ``topic_weight``: how much more the edge
    between a chunk and the entity its document opens with (its title, in most collections: what it is about) weighs
    than an ordinary mention — it leads the walk from a passage that names a person to that person's own page.

    With one seed hit the walk's second-best chunk is the one the graph reaches from the top hit, not the hybrid
    runner-up: on HotpotQA that lifts recall@2, where more seeds only lifted recall@5 (README, "multi-hop").
    """

    def __init__(self, store: GraphStore, extractor: Extractor, *, damping: float = 0.7, seed_hits: int = 1,
                 entity_mass: float = 0.5, hub_fraction: float = 0.05, topic_weight: float = 3.0) -> None:
        self.store = store
        self.extractor = extractor
        self.damping = damping
        self.seed_hits = seed_hits
        self.entity_mass = entity_mass
        self.hub_fraction = hub_fraction
        self.topic_weight = topic_weight

    def link(self, query: str, total_chunks: int) -> dict[str, float]:
        """Entities the query names, weighted by specificity (log inverse chunk frequency); where candidate phrases
        overlap, the longest known one wins."""
        phrases = self.extractor.query_phrases(query)
        counts = self.store.chunk_counts([key for key, _, _ in phrases])
        known = sorted((p for p in phrases if p[0] in counts), key=lambda p: (p[1] - p[2], p[1], p[0]))
        taken: set[int] = set()
        linked: dict[str, float] = {}
        for key, start, end in known:
            if taken.isdisjoint(range(start, end)):
                taken.update(range(start, end))
                linked[key] = math.log(1.0 + total_chunks / counts[key])
        return linked

    def rank(self, query: str, hybrid: Sequence[str], total_chunks: int) -> GraphRanking:
        """Chunks ranked by a walk from the query's entities and the first ``seed_hits`` of ``hybrid`` (chunk ids)."""
        seeds = self.link(query, max(total_chunks, 1))
        seed_chunks = list(hybrid[: self.seed_hits])
        hub = max(20, int(self.hub_fraction * total_chunks))
        counts = self.store.chunk_counts(list(seeds))
        first = self.store.mentions(entities=[e for e in seeds if counts.get(e, 0) <= hub]) if seeds else []
        near_chunks = dict.fromkeys([*seed_chunks, *(m.chunk_id for m in first)])
        around = self.store.mentions(chunks=list(near_chunks)) if near_chunks else []
        entities = dict.fromkeys([*seeds, *(m.entity for m in around)])
        counts.update(self.store.chunk_counts([e for e in entities if e not in counts]))
        second = self.store.mentions(entities=[e for e in entities if counts.get(e, 0) <= hub and e not in seeds])
        # an entity named several times in a chunk is what the chunk is about: its edge weighs more
        mentions: Counter[tuple[str, str]] = Counter()
        for m in {*first, *around, *second}:
            mentions[m.entity, m.chunk_id] += self.topic_weight if m.start <= _OPENING else 1.0
        if not mentions:
            return GraphRanking((), seeds, {})
        relations = self._relations(list(entities))

        entity_ids = sorted({e for e, _ in mentions} | set(seeds))
        chunk_ids = sorted({c for _, c in mentions} | set(seed_chunks))
        node = {key: i for i, key in enumerate(entity_ids)}
        node.update({chunk: len(entity_ids) + i for i, chunk in enumerate(chunk_ids)})
        rows, cols, weights = [], [], []
        for (entity, chunk), count in sorted(mentions.items()):  # a fixed order: the same sums on every store
            rows.append(node[entity])
            cols.append(node[chunk])
            weights.append(float(count))
        for (a, b), edge in sorted(relations.items()):
            if a in node and b in node:
                rows.append(node[a])
                cols.append(node[b])
                weights.append(math.log1p(edge.weight))
        from scipy import sparse

        size = len(node)
        upper = sparse.coo_matrix((weights, (rows, cols)), shape=(size, size))
        adjacency = (upper + upper.T).tocsr()

        reset = np.zeros(size)
        entity_mass = self.entity_mass if seeds and seed_chunks else (1.0 if seeds else 0.0)
        if seeds:
            total = sum(seeds.values()) or 1.0
            for entity, weight in seeds.items():
                reset[node[entity]] += entity_mass * weight / total
        if seed_chunks:
            total = sum(1.0 / r for r in range(1, len(seed_chunks) + 1))
            for rank, chunk in enumerate(seed_chunks, start=1):
                reset[node[chunk]] += (1.0 - entity_mass) / rank / total
        scores = personalized_pagerank(adjacency, reset, self.damping)
        offset = len(entity_ids)
        # rounded so that float noise cannot reorder ties; ties go to the better hybrid rank (chunk ids, the last
        # resort, hash the source path)
        position = {chunk: i for i, chunk in enumerate(hybrid)}
        ranked = sorted(((chunk_ids[i - offset], round(float(scores[i]), 12)) for i in range(offset, size)
                         if scores[i] > 0), key=lambda pair: (-pair[1], position.get(pair[0], len(position)), pair[0]))
        in_chunk: dict[str, set[str]] = defaultdict(set)
        for entity, chunk in mentions:
            in_chunk[chunk].add(entity)
        starts = {e for c in seed_chunks for e in in_chunk.get(c, ())}
        evidence = _evidence([c for c, _ in ranked], in_chunk, seeds, starts, relations,
                             {e: float(scores[node[e]]) for e in entity_ids})
        return GraphRanking(tuple(ranked), seeds, evidence)

    def _relations(self, entities: Sequence[str]) -> dict[tuple[str, str], _Edge]:
        """Relations among ``entities``, merged per unordered pair."""
        inside = set(entities)
        merged: dict[tuple[str, str], dict[tuple[str, str, str], list]] = defaultdict(
            lambda: defaultdict(lambda: [0.0, set()]))
        for relation in self.store.relations(entities):
            if relation.source in inside and relation.target in inside:
                pair = (min(relation.source, relation.target), max(relation.source, relation.target))
                entry = merged[pair][(relation.label, relation.source, relation.target)]
                entry[0] += relation.weight
                entry[1].add(relation.chunk_id)
        found = {}
        for pair, labels in merged.items():
            # a verb says more than co-occurrence: prefer it as the edge's label when there is one
            label, source, target = max(labels, key=lambda name: (name[0] != CO_OCCURS, labels[name][0], name))
            stated_in = tuple(sorted(set().union(*(v[1] for v in labels.values()))))
            found[pair] = _Edge(GraphEdge(source, label, target, stated_in), sum(v[0] for v in labels.values()))
        return found


def _evidence(chunks: Sequence[str], in_chunk: Mapping[str, set[str]], seeds: Mapping[str, float],
              starts: set[str], relations: Mapping[tuple[str, str], _Edge],
              entity_score: Mapping[str, float]) -> dict[str, GraphEvidence]:
    """For each chunk, the shortest relation path (at most two edges) from a query entity — or, failing that, from an
    entity of a top hybrid hit — to an entity the chunk mentions."""
    neighbours: dict[str, list[str]] = defaultdict(list)
    for a, b in relations:
        neighbours[a].append(b)
        neighbours[b].append(a)
    paths: dict[str, tuple[str, tuple[str, ...]]] = {}
    for origin in (sorted(seeds, key=lambda e: -seeds[e]), sorted(starts - set(seeds))):
        frontier = [(e, (e,)) for e in origin if e not in paths]
        for e, walk in frontier:
            paths[e] = (e, walk)
        for _ in range(2):
            following = []
            for e, walk in frontier:
                for n in sorted(neighbours.get(e, ()), key=lambda x: -entity_score.get(x, 0.0)):
                    if n not in paths:
                        paths[n] = (walk[0], walk + (n,))
                        following.append((n, walk + (n,)))
            frontier = following
    evidence = {}
    for chunk in chunks:
        reachable = [e for e in in_chunk.get(chunk, ()) if e in paths]
        if not reachable:
            continue
        end = min(reachable, key=lambda e: (len(paths[e][1]), -entity_score.get(e, 0.0), e))
        start, walk = paths[end]
        edges = tuple(relations[(min(a, b), max(a, b))].edge for a, b in zip(walk, walk[1:]))
        evidence[chunk] = GraphEvidence(start, edges, end)
    return evidence
