"""Global questions ("what are the main themes of …") answered from the entity graph's communities, without an LLM.

GraphRAG (Edge et al., 2024) answers them by summarizing every community with an LLM and map-reducing over the
summaries. Here a community's summary is extractive — its most mentioned entities and the sentences that name the
most of them (``GraphView.communities``) — and a query ranks the communities by two rankings fused with RRF: how
close the summary is to the query (embedding cosine) and how large the community is. A generic question ("what are
the main themes?") is close to no community in particular, so size decides; "what are the themes around radium?"
brings the community that summary is about to the top. Each community answers with one passage, so the hits are
one per theme rather than ten passages about the biggest one.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ragkit.embed import Embedder
from ragkit.fusion import reciprocal_rank_fusion
from ragkit.graph.explore import Community
from ragkit.records import Answer, AnswerStatus, Citation, Hit


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


def themes_answer(question: str, hits: Sequence[Hit]) -> Answer:
    """An extractive answer to a global question from ``global`` hits: one line per theme — its top entities and
    its most representative sentence, cited. Confidence is 1.0 when the graph has themes and 0.0 when it has none
    (``no_answer``): a summary of what the knowledge base holds is not a claim the calibrator can judge."""
    if not hits:
        return Answer(question, AnswerStatus.NO_ANSWER, "The knowledge base's entity graph has no themes yet: it "
                      "needs documents that name related people, places or organizations.", 0.0, (), ())
    lines, citations = [], []
    for number, hit in enumerate(hits, start=1):
        community = hit.metadata["community"]
        chunk_id, start, end = community["spans"][0]
        sentence = community["sentences"][0]
        names = community.get("names") or community["entities"]
        lines.append(f"{number}. {', '.join(names[:5])}: {sentence} [{number}]")
        citations.append(Citation(number, chunk_id, hit.source, start, end, sentence))
    text = "The main themes, the closest to the question and the largest first:\n" + "\n".join(lines)
    return Answer(question, AnswerStatus.ANSWERED, text, 1.0, tuple(citations), tuple(hits),
                  signals={"themes": float(len(hits))}, generator="extractive (graph communities)")
