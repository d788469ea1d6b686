"""The vector-index contract: dense and BM25 sparse vectors of each chunk in one collection.

Two implementations satisfy it: ``EdgeIndex`` (Qdrant's engine in-process, the embedded default) and
``QdrantIndex`` (a Qdrant server or cluster through ``qdrant-client``). Retrieval code only sees this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Protocol, Sequence, Union

from ragkit.filters import Condition
from ragkit.settings import EngineFusion

# Dense storage "int8" and "disk-int8", shared by both backends: int8 scalar quantization (clipped at this quantile),
# and every dense query takes twice its limit of int8 candidates and rescores them with the float32 originals.
INT8_QUANTILE = 0.99
RESCORE_OVERSAMPLING = 2.0


class VectorName(str, Enum):
    """The named vectors every point carries."""

    DENSE = "dense"
    SPARSE = "bm25"


@dataclass(frozen=True)
class SparseVector:
    """Term ids (hashed tokens) and their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class IndexPoint:
    """One chunk as the index stores it; ``id`` is the chunk id (a UUID string)."""

    id: str
    dense: Sequence[float]
    sparse: SparseVector
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexQuery:
    """Nearest neighbours of ``vector`` under the named vector ``using``, among points matching ``conditions``."""

    using: VectorName
    vector: Union[Sequence[float], SparseVector]
    limit: int
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class FusionQuery:
    """Several queries fused inside the index (Qdrant prefetch + fusion); each part keeps its own limit."""

    parts: tuple[IndexQuery, ...]
    method: EngineFusion
    limit: int
    rrf_k: int = 60
    weights: tuple[float, ...] | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class ScoredId:
    id: str
    score: float


class VectorIndex(Protocol):
    """Stores chunk points and answers batches of nearest-neighbour queries."""

    def upsert(self, points: Sequence[IndexPoint]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def search(self, queries: Sequence[IndexQuery | FusionQuery]) -> list[list[ScoredId]]:
        """One ranked list per query, best first, in the order of ``queries``."""
        ...

    def update_sparse(self, vectors: Sequence[tuple[str, SparseVector]]) -> None:
        """Replace the BM25 vectors of existing points (after the average chunk length changed)."""
        ...

    def set_payload(self, doc_id: str, payload: Mapping[str, Any]) -> None:
        """Replace the payload of every point of a document (after its metadata changed)."""
        ...

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """The dense vectors of these points (those that exist)."""
        ...

    def ids(self) -> set[str]:
        """Every point id, for consistency checks against the registry."""
        ...

    def flush(self) -> None: ...

    def optimize(self) -> None:
        """Build search indexes (HNSW) for what was written; a server does this in the background."""
        ...

    def close(self) -> None: ...
