"""The in-process engine and the Qdrant server code path (qdrant-client local mode speaks the server's API, and a
real server when $QDRANT_URL names one) return the same rankings for the same knowledge base."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient
from support import TOPICS, expected_hybrid_order, write_corpus

from ragkit import IndexConfig, IndexKind, KBConfig, KnowledgeBase
from ragkit.index import IndexPoint, IndexQuery, QdrantIndex, SparseVector, VectorName

QUERIES = ["paid vacation days", "hotel costs per night", "page escalation to the team lead",
           "password rules", "receipts within 30 days", "security keys for production"]


def test_edge_and_qdrant_server_path_agree(tmp_path, embedder, qdrant_target):
    extras = {f"extra{i}.txt": "Planning note about the travel portal" + " and vacation" * i + " days." * (i % 3)
              for i in range(1, 13)}
    docs = write_corpus(tmp_path / "docs", {**TOPICS, **extras})
    server_config = KBConfig(index=IndexConfig(IndexKind.QDRANT, qdrant_target.location, qdrant_target.collection))
    with KnowledgeBase.open(tmp_path / "edge", embedder=embedder) as edge, \
            KnowledgeBase.open(tmp_path / "server", server_config, embedder=embedder) as server:
        edge.ingest(docs)
        server.ingest(docs)
        for query in QUERIES:
            for mode in ("dense", "sparse"):
                a = _tie_groups(edge.search(query, k=8, mode=mode))
                b = _tie_groups(server.search(query, k=8, mode=mode))
                assert [score for score, _ in a] == pytest.approx([score for score, _ in b], rel=1e-4), (query, mode)
                # Engines may order exact ties differently, and a tie at the cut-off may keep different members.
                assert [ids for _, ids in a[:-1]] == [ids for _, ids in b[:-1]], (query, mode)
            # Hybrid: each backend fuses its own dense and BM25 rankings with Qdrant's RRF (ranks from 0). Across
            # backends the fused orders can differ only where float32 and float64 scores order near-ties apart.
            for kb in (edge, server):
                assert [h.chunk_id for h in kb.search(query, k=8)] == expected_hybrid_order(kb, query)[:8], query
        assert server.check() == {"missing_from_index": 0, "unknown_in_index": 0}


def _tie_groups(hits, tolerance: float = 1e-5) -> list[tuple[float, frozenset[str]]]:
    """Hits grouped by equal score (within a relative tolerance: the engines compute in float32), best first."""
    groups: list[tuple[float, set[str]]] = []
    for hit in hits:
        if groups and abs(groups[-1][0] - hit.score) <= tolerance * max(abs(hit.score), 1e-9):
            groups[-1][1].add(hit.chunk_id)
        else:
            groups.append((hit.score, {hit.chunk_id}))
    return [(score, frozenset(ids)) for score, ids in groups]


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
    dense, sparse = index.search([IndexQuery(VectorName.DENSE, [1.0, 0.0], 2),
                                  IndexQuery(VectorName.SPARSE, SparseVector((2,), (1.0,)), 5)])
    assert [p.id for p in dense] == ids[:2]
    assert [p.id for p in sparse] == [ids[1]]
    index.delete([ids[1]])
    assert index.ids() == {ids[0], ids[2]}
