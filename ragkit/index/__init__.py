"""Vector indexes: one contract, satisfied in-process (Qdrant edge) and by a Qdrant server."""

from ragkit.index.base import (
    EngineFusion,
    FusionQuery,
    IndexPoint,
    IndexQuery,
    ScoredId,
    SparseVector,
    VectorIndex,
    VectorName,
)
from ragkit.index.edge import EdgeIndex
from ragkit.index.qdrant import QdrantIndex

__all__ = [
    "EdgeIndex",
    "EngineFusion",
    "FusionQuery",
    "IndexPoint",
    "IndexQuery",
    "QdrantIndex",
    "ScoredId",
    "SparseVector",
    "VectorIndex",
    "VectorName",
]
