"""A Qdrant server or cluster (or qdrant-client's local mode) behind the same index contract."""

from __future__ import annotations

from typing import Any, Sequence

from ragkit.errors import IncompatibleKnowledgeBase, IndexBackendError
from ragkit.index.base import IndexPoint, IndexQuery, ScoredId, SparseVector, VectorName

_SCROLL_PAGE = 10_000
_UPSERT_BATCH = 256


class QdrantIndex:
    """One collection on a Qdrant server reached through ``qdrant_client.QdrantClient``; created on first use."""

    def __init__(self, client: Any, collection: str, dimension: int) -> None:
        from qdrant_client import models

        self._models = models
        self._client = client
        self._collection = collection
        try:
            exists = client.collection_exists(collection)
            if not exists:
                client.create_collection(
                    collection,
                    vectors_config={
                        VectorName.DENSE.value: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={
                        VectorName.SPARSE.value: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                )
                return
            params = client.get_collection(collection).config.params
        except Exception as exc:
            raise IndexBackendError(f"Qdrant collection '{collection}' could not be opened or created: {exc}") from exc
        dense = params.vectors.get(VectorName.DENSE.value) if isinstance(params.vectors, dict) else None
        if dense is None or dense.size != dimension or VectorName.SPARSE.value not in (params.sparse_vectors or {}):
            raise IncompatibleKnowledgeBase(
                f"Qdrant collection '{collection}' exists but does not hold {dimension}-d '{VectorName.DENSE.value}' "
                f"and sparse '{VectorName.SPARSE.value}' vectors; choose another collection name"
            )

    def _vector(self, vector: Sequence[float] | SparseVector) -> Any:
        if isinstance(vector, SparseVector):
            return self._models.SparseVector(indices=list(vector.indices), values=list(vector.values))
        return [float(x) for x in vector]

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        structs = [
            self._models.PointStruct(
                id=point.id,
                vector={VectorName.DENSE.value: self._vector(point.dense), VectorName.SPARSE.value: self._vector(point.sparse)},
                payload=dict(point.payload),
            )
            for point in points
        ]
        for start in range(0, len(structs), _UPSERT_BATCH):
            self._client.upsert(self._collection, points=structs[start : start + _UPSERT_BATCH], wait=True)

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            selector = self._models.PointIdsList(points=list(ids))
            self._client.delete(self._collection, points_selector=selector, wait=True)

    def search(self, queries: Sequence[IndexQuery]) -> list[list[ScoredId]]:
        requests = [
            self._models.QueryRequest(
                query=self._vector(query.vector), using=query.using.value, limit=query.limit, with_payload=False
            )
            for query in queries
        ]
        responses = self._client.query_batch_points(self._collection, requests=requests)
        return [[ScoredId(str(point.id), float(point.score)) for point in response.points] for response in responses]

    def ids(self) -> set[str]:
        found: set[str] = set()
        offset = None
        while True:
            records, offset = self._client.scroll(
                self._collection, limit=_SCROLL_PAGE, offset=offset, with_payload=False, with_vectors=False
            )
            found.update(str(record.id) for record in records)
            if offset is None:
                return found

    def flush(self) -> None:
        """Server writes are acknowledged with ``wait=True``; nothing is buffered here."""

    def close(self) -> None:
        self._client.close()
