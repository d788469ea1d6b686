"""Global questions ("what are the main themes of …") answered from the entity graph's communities, without an LLM.

GraphRAG (Edge et al., 2024) answers them by summarizing every community with an LLM and map-reducing over the
summaries. Here a community's summary is extractive — its most mentioned entities and the sentences that name the
most of them (``GraphView.communities``) — and a query ranks the communities by two rankings fused with RRF: how
close the summary is to the query (embedding cosine) and how large the community is. A generic question ("what are
the main themes?") is close to no community in particular, so size decides; "what are the themes around radium?"
brings the community that summary is about to the top. Each community answers with one passage, so the hits are
one per theme rather than ten passages about the biggest one; ``ragkit.answer.themes`` writes them up as the answer.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ragkit.embed import Embedder
from ragkit.fusion import reciprocal_rank_fusion
from ragkit.graph.explore import Community


class Themes:
    """The communities of a graph with their summary vectors, computed on first use and again after the graph
    changes (``invalidate``)."""

    def __init__(self, communities: Callable[[], Sequence[Community]], embedder: Embedder) -> None:
        self._communities = communities
        self._embedder = embedder
        self._cached: tuple[Sequence[Community], np.ndarray] | None = None

    def invalidate(self) -> None:
        self._cached = None

    @staticmethod
    def summary(community: Community) -> str:
        """What a community is about, as text: its top entities, then its representative sentences."""
        return "; ".join(community.names or community.entities) + ". " + " ".join(t for *_, t in community.sentences)

    def _load(self) -> tuple[Sequence[Community], np.ndarray]:
        if self._cached is None:
            communities = [c for c in self._communities() if c.sentences]
            vectors = (self._embedder.embed_documents([self.summary(c) for c in communities]) if communities
                       else np.zeros((0, 1), dtype=np.float32))
            self._cached = (communities, np.asarray(vectors, dtype=np.float32))
        return self._cached

    def rank(self, query: str) -> list[tuple[Community, float]]:
        """Communities for a query, best first, with their fused score."""
        communities, vectors = self._load()
        if not communities:
            return []
        query_vector = np.asarray(self._embedder.embed_query(query), dtype=np.float32)
        cosine = vectors @ query_vector / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query_vector) + 1e-12)
        by_relevance = [str(i) for i in sorted(range(len(communities)), key=lambda i: (-cosine[i], i))]
        by_size = [str(i) for i in sorted(range(len(communities)), key=lambda i: (-communities[i].size, i))]
        fused = reciprocal_rank_fusion({"relevance": by_relevance, "size": by_size})
        return [(communities[int(i)], score) for i, score in fused]
