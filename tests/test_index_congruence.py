"""The in-process engine and the Qdrant server code path (qdrant-client local mode speaks the server's API)
return the same rankings for the same knowledge base."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient
from support import TOPICS, write_corpus

from ragkit import IndexKind, IndexSettings, KBConfig, KnowledgeBase, SearchMode
from ragkit.index import IndexPoint, IndexQuery, QdrantIndex, SparseVector, VectorName

QUERIES = ["paid vacation days", "hotel costs per night", "page escalation to the team lead",
           "password rules", "receipts within 30 days", "security keys for production"]


def test_edge_and_qdrant_server_path_agree(tmp_path, embedder):
    extras = {f"extra{i}.txt": "Planning note about the travel portal" + " and vacation" * i + " days." * (i % 3)
              for i in range(1, 13)}
    docs = write_corpus(tmp_path / "docs", {**TOPICS, **extras})
    server_config = KBConfig(index=IndexSettings(IndexKind.QDRANT, str(tmp_path / "qdrant-local"), "congruence"))
    with KnowledgeBase.open(tmp_path / "edge", embedder=embedder) as edge, \
            KnowledgeBase.open(tmp_path / "server", server_config, embedder=embedder) as server:
        edge.ingest(docs)
        server.ingest(docs)
        for query in QUERIES:
            for mode in SearchMode:
                a, b = _tie_groups(edge.search(query, k=8, mode=mode)), _tie_groups(server.search(query, k=8, mode=mode))
                assert [score for score, _ in a] == pytest.approx([score for score, _ in b], rel=1e-4), (query, mode)
                # Engines may order exact ties differently, and a tie at the cut-off may keep different members.
                assert [ids for _, ids in a[:-1]] == [ids for _, ids in b[:-1]], (query, mode)
        assert server.check() == {"missing_from_index": 0, "unknown_in_index": 0}


def _tie_groups(hits) -> list[tuple[float, frozenset[str]]]:
    """Hits grouped by equal score, best first."""
    groups: dict[float, set[str]] = {}
    for hit in hits:
        groups.setdefault(round(hit.score, 5), set()).add(hit.chunk_id)
    return [(score, frozenset(ids)) for score, ids in groups.items()]


def test_qdrant_index_refuses_an_incompatible_collection():
    client = QdrantClient(location=":memory:")
    QdrantIndex(client, "c", dimension=4)
    from ragkit import IncompatibleKnowledgeBase

    with pytest.raises(IncompatibleKnowledgeBase, match="'c' exists but does not hold 8-d"):
        QdrantIndex(client, "c", dimension=8)


def test_qdrant_index_contract_roundtrip():
    index = QdrantIndex(QdrantClient(location=":memory:"), "c", dimension=2)
    ids = ["00000000-0000-0000-0000-00000000000" + str(i) for i in range(3)]
    index.upsert([IndexPoint(i, [1.0, float(n)], SparseVector((n + 1,), (1.0,))) for n, i in enumerate(ids)])
    assert index.ids() == set(ids)
    dense, sparse = index.search([IndexQuery(VectorName.DENSE, [1.0, 0.0], 2), IndexQuery(VectorName.SPARSE, SparseVector((2,), (1.0,)), 5)])
    assert [p.id for p in dense] == ids[:2]
    assert [p.id for p in sparse] == [ids[1]]
    index.delete([ids[1]])
    assert index.ids() == {ids[0], ids[2]}
