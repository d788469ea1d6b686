"""Fusion inside the engine, metadata filters before ranking, and their agreement across index backends."""

from __future__ import annotations

import pytest
from support import expected_hybrid_order

from ragkit import ConfigError, Document, IndexConfig, IndexKind, KBConfig, KnowledgeBase, RetrievalConfig

DOCS = [
    Document("hr/leave.md", "Employees get 25 days of paid vacation per year.", {"team": "hr", "year": 2024,
                                                                              "modified": "2024-03-01T00:00:00+00:00"}),
    Document("hr/leave-2020.md", "Employees got 20 days of paid vacation per year in 2020.",
             {"team": "hr", "year": 2020, "modified": "2020-02-01T00:00:00+00:00"}),
    Document("it/laptops.md", "Laptops are replaced every three years; vacation mode turns off sync.",
             {"team": "it", "year": 2023, "modified": "2023-06-15T00:00:00+00:00"}),
    Document("it/vpn.md", "The VPN must be on when working remotely, also during vacation.",
             {"team": "it", "year": 2022, "modified": "2022-01-10T00:00:00+00:00"}),
]


@pytest.fixture(params=["edge", "qdrant"])
def kb(request, tmp_path, embedder):
    config = None
    if request.param == "qdrant":
        config = KBConfig(index=IndexConfig(IndexKind.QDRANT, ":memory:", "filters"))
    with KnowledgeBase.open(tmp_path / "kb", config, embedder=embedder) as knowledge_base:
        knowledge_base.ingest(DOCS)
        yield knowledge_base


def _sources(result) -> list[str]:
    return [hit.source for hit in result]


def test_filters_apply_inside_the_index_before_ranking(kb):
    assert set(_sources(kb.search("vacation", k=10, filter={"team": "it"}))) == {"it/laptops.md", "it/vpn.md"}
    assert _sources(kb.search("vacation days", k=10, filter={"source": "hr/leave-2020.md"})) == ["hr/leave-2020.md"]
    assert set(_sources(kb.search("vacation", k=10, filter={"year": {"gte": 2023}}))) == {"hr/leave.md",
                                                                                        "it/laptops.md"}
    recent = kb.search("vacation", k=10, filter={"modified": {"gte": "2023-01-01T00:00:00+00:00"}})
    assert set(_sources(recent)) == {"hr/leave.md", "it/laptops.md"}
    assert set(_sources(kb.search("vacation", k=10, mode="sparse", filter={"team": ["hr", "it"], "year": 2022}))) == \
        {"it/vpn.md"}
    # A filter that excludes the best match still returns k results from what is left (not post-filtering).
    assert len(kb.search("paid vacation days per year", k=2, filter={"team": "it"})) == 2


def test_jupyter_shows_a_search_as_a_table(kb):
    result = kb.search("paid vacation days", k=3)
    rows = result._repr_markdown_().splitlines()
    assert len(rows) == 2 + len(result) and rows[0].startswith("| # | score | source |")
    first = result[0]
    assert rows[2].startswith(f"| 1 | {first.score:.4f} | {first.source} | ") and "dense #" in rows[2]


def test_metadata_changes_reach_the_index(kb):
    kb.ingest(Document("it/vpn.md", DOCS[3].text, {**DOCS[3].metadata, "team": "security"}))
    assert "it/vpn.md" not in _sources(kb.search("VPN", k=10, filter={"team": "it"}))
    assert _sources(kb.search("VPN", k=10, filter={"team": "security"})) == ["it/vpn.md"]


def test_engine_rrf_matches_reciprocal_rank_fusion_of_the_retrievers(kb):
    query = "vacation days per year"
    rankings = {mode: [hit.chunk_id for hit in kb.search(query, k=50, mode=mode)] for mode in ("dense", "sparse")}
    assert rankings["dense"] != rankings["sparse"]  # the retrievers disagree, so the fusion decides
    assert [hit.chunk_id for hit in kb.search(query, k=4)] == expected_hybrid_order(kb, query)[:4]


def test_the_order_of_tied_hits_does_not_depend_on_where_the_documents_live(tmp_path, embedder):
    """Chunk ids hash the source path; RRF ties (rank 1 + rank 2 = rank 2 + rank 1) must not be decided by them.

    The queries give no two hits the same BM25 or cosine score: the engine ranks equal scores in an arbitrary order,
    which changes the RRF sums themselves (docs/limits.md) — a different matter from breaking a tie of the sums."""
    orders = []
    for folder in ("a", "checkout-elsewhere"):
        with KnowledgeBase.open(tmp_path / folder, embedder=embedder) as kb:
            kb.ingest([Document(f"/{folder}/{d.source}", d.text, d.metadata) for d in DOCS])
            ranked = [kb.search(query, k=4) for query in ("paid vacation days", "remote work laptops",
                                                          "vacation days per year", "days of paid vacation")]
            assert any(len({round(hit.score, 6) for hit in result}) < len(result) for result in ranked)  # ties
            orders.append([[hit.source.removeprefix(f"/{folder}/") for hit in result] for result in ranked])
    assert orders[0] == orders[1]


def test_dbsf_and_weights_change_the_fusion(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(DOCS)
    dense_heavy = RetrievalConfig(weights=(1.0, 0.0))
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder, retrieval=dense_heavy) as kb:
        fused = kb.search("working from home safely", k=4)
        dense = kb.search("working from home safely", k=4, mode="dense")
        assert [h.chunk_id for h in fused] == [h.chunk_id for h in dense]
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder, retrieval=RetrievalConfig(fusion="dbsf")) as kb:
        result = kb.search("paid vacation days", k=4)
        assert result[0].source.startswith("hr/") and len(result) == 4


def test_bad_filters_and_retrieval_settings_are_refused(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        with pytest.raises(ConfigError, match="range filter on 'year' takes gt, gte, lt, lte"):
            kb.search("x", filter={"year": {"from": 2020}})
        with pytest.raises(ConfigError, match="needs finite numbers or ISO-8601 dates"):
            kb.search("x", filter={"year": {"gte": "last year"}})
        with pytest.raises(ConfigError, match="lists no values"):
            kb.search("x", filter={"team": []})
    with pytest.raises(ConfigError, match="unknown fusion 'max'; choose one of: rrf, dbsf"):
        RetrievalConfig(fusion="max")
    with pytest.raises(ConfigError, match="weights are"):
        RetrievalConfig(weights=(1.0,))
