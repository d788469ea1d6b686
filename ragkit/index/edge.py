"""The embedded default: Qdrant's own engine running in-process (``qdrant-edge-py``), stored in one folder."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ragkit.errors import IndexBackendError, KnowledgeBaseLocked
from ragkit.index.base import IndexPoint, IndexQuery, ScoredId, SparseVector, VectorName

_SCROLL_PAGE = 10_000


class EdgeIndex:
    """A Qdrant edge shard with a cosine dense vector and an IDF-weighted sparse vector per point."""

    def __init__(self, path: Path, dimension: int) -> None:
        import qdrant_edge as qe

        self._qe = qe
        config = qe.EdgeConfig(
            vectors={VectorName.DENSE.value: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)},
            sparse_vectors={VectorName.SPARSE.value: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        try:
            if (path / "edge_config.json").exists():
                self._shard = qe.EdgeShard.load(str(path), config)
            else:
                self._shard = qe.EdgeShard.create(str(path), config)
        except Exception as exc:
            if "WouldBlock" in str(exc):
                raise KnowledgeBaseLocked(f"the index at {path} is open in another process") from exc
            raise IndexBackendError(f"could not open the Qdrant edge index at {path}: {exc}") from exc

    def _vector(self, vector: Sequence[float] | SparseVector) -> object:
        if isinstance(vector, SparseVector):
            return self._qe.SparseVector(indices=list(vector.indices), values=list(vector.values))
        return [float(x) for x in vector]

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        if not points:
            return
        qe = self._qe
        records = [
            qe.Point(
                point.id,
                {VectorName.DENSE.value: self._vector(point.dense), VectorName.SPARSE.value: self._vector(point.sparse)},
                dict(point.payload),
            )
            for point in points
        ]
        self._shard.update(qe.UpdateOperation.upsert_points(records))

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._shard.update(self._qe.UpdateOperation.delete_points(list(ids)))

    def search(self, queries: Sequence[IndexQuery]) -> list[list[ScoredId]]:
        qe = self._qe
        requests = [
            qe.QueryRequest(
                limit=query.limit,
                query=qe.Query.Nearest(self._vector(query.vector), using=query.using.value),
                with_payload=False,
            )
            for query in queries
        ]
        results = self._shard.query_batch(qe.QueryBatchRequest(requests))
        return [[ScoredId(str(point.id), float(point.score)) for point in points] for points in results]

    def ids(self) -> set[str]:
        found: set[str] = set()
        offset = None
        while True:
            request = self._qe.ScrollRequest(offset=offset, limit=_SCROLL_PAGE, with_payload=False)
            records, offset = self._shard.scroll(request)
            found.update(str(record.id) for record in records)
            if offset is None:
                return found

    def flush(self) -> None:
        self._shard.flush()

    def close(self) -> None:
        self._shard.close()
