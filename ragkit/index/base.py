"""The vector-index contract: dense and BM25 sparse vectors of each chunk in one collection.

Two implementations satisfy it: ``EdgeIndex`` (Qdrant's engine in-process, the embedded default) and
``QdrantIndex`` (a Qdrant server or cluster through ``qdrant-client``). Retrieval code only sees this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Protocol, Sequence, Union


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
    """Nearest neighbours of ``vector`` under the named vector ``using``."""

    using: VectorName
    vector: Union[Sequence[float], SparseVector]
    limit: int


@dataclass(frozen=True)
class ScoredId:
    id: str
    score: float


class VectorIndex(Protocol):
    """Stores chunk points and answers batches of nearest-neighbour queries."""

    def upsert(self, points: Sequence[IndexPoint]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def search(self, queries: Sequence[IndexQuery]) -> list[list[ScoredId]]:
        """One ranked list per query, best first, in the order of ``queries``."""
        ...

    def ids(self) -> set[str]:
        """Every point id, for consistency checks against the registry."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
