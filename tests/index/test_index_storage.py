"""Dense storage in the embedded index: int8 vectors in RAM with cached or on-disk originals rank like float32 vectors
in RAM, and a large load is indexed segment by segment instead of as one segment at the end."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from ragkit import KBConfig, KnowledgeBase
from ragkit.errors import ConfigError
from ragkit.index import EdgeIndex, IndexPoint, IndexQuery, SparseVector, VectorName
from ragkit.records import Document
from ragkit.settings import CONFIG_FILE, DenseStorage, IndexConfig

pytestmark = pytest.mark.integration  # thousands of points through the real engine, segment by segment

DIMENSION = 384
SEGMENT_BYTES = 12 * 2**20  # 8,192 vectors of 384 floats: above the engine's indexing threshold, so each gets HNSW


def _clustered(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((500, DIMENSION)).astype(np.float32)
    vectors = centers[rng.integers(0, len(centers), count)] + 0.6 * rng.standard_normal((count, DIMENSION))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    vectors = _clustered(25_000)
    rng = np.random.default_rng(1)
    queries = vectors[rng.integers(0, len(vectors), 40)] + 0.02 * rng.standard_normal((40, DIMENSION))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    return vectors, queries, exact


@pytest.mark.parametrize("storage", list(DenseStorage))
def test_dense_storage_finds_the_exact_neighbours_segment_by_segment(tmp_path, data, storage):
    vectors, queries, exact = data
    ids = [str(uuid.UUID(int=i)) for i in range(len(vectors))]
    index = EdgeIndex(tmp_path, DIMENSION, storage, segment_bytes=SEGMENT_BYTES)
    for start in range(0, len(vectors), 500):
        index.upsert([IndexPoint(ids[i], vectors[i].tolist(), SparseVector((1,), (1.0,)))
                      for i in range(start, min(len(vectors), start + 500))])
    filled = sorted(p.name for p in (tmp_path / "segments").iterdir())
    index.optimize()
    # Three full segments were indexed as they filled (plus the open one), and the final optimize did not merge
    # them back into one: no step ever rewrites the whole collection.
    assert len(filled) >= 4
    assert len(list((tmp_path / "segments").iterdir())) >= 4
    results = index.search([IndexQuery(VectorName.DENSE, query.tolist(), 10) for query in queries])
    recall = np.mean([len({ids[j] for j in truth} & {p.id for p in found}) / 10
                      for truth, found in zip(exact, results)])
    # int8 scores alone reach 0.955 on this data; rescoring the candidates with the originals restores 1.0.
    assert recall >= 0.99, (storage, recall)
    assert index.ids() == set(ids)
    index.close()
    # The placement of the originals reaches the engine: read in when a segment loads (int8), or left on disk.
    placement = json.loads((tmp_path / "edge_config.json").read_text())["vectors"][VectorName.DENSE.value]
    expected = {DenseStorage.MEMORY: None, DenseStorage.INT8: "cached", DenseStorage.DISK_INT8: "cold"}[storage]
    assert placement.get("memory") == expected


def test_dense_storage_is_recorded_and_old_knowledge_bases_keep_memory(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "new", embedder=embedder) as kb:
        assert kb.config.index.dense_storage is DenseStorage.INT8
    stored = json.loads((tmp_path / "new" / CONFIG_FILE).read_text())
    assert stored["index"]["dense_storage"] == "int8"
    # A knowledge base written before the option existed was built with float32 vectors in RAM.
    del stored["index"]["dense_storage"]
    (tmp_path / "new" / CONFIG_FILE).write_text(json.dumps(stored))
    with KnowledgeBase.open(tmp_path / "new", embedder=embedder) as kb:
        assert kb.config.index.dense_storage is DenseStorage.MEMORY
    config = KBConfig(embedder=embedder.name, index=IndexConfig(dense_storage="memory"))
    with KnowledgeBase.open(tmp_path / "ram", config, embedder=embedder) as kb:
        kb.ingest([Document("policy", "The travel policy allows 30 vacation days.")])
        assert kb.search("vacation days", k=1)[0].text.startswith("The travel policy")
    with pytest.raises(ConfigError, match="unknown dense storage 'gpu'; choose one of: memory, int8, disk-int8"):
        IndexConfig(dense_storage="gpu")
