"""A Qdrant server or cluster (or qdrant-client's local mode) behind the same index contract."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ragkit.errors import IncompatibleKnowledgeBase, IndexBackendError
from ragkit.filters import Condition, Match, payload_key
from ragkit.index.base import (
    INT8_QUANTILE,
    RESCORE_OVERSAMPLING,
    EngineFusion,
    FusionQuery,
    IndexPoint,
    IndexQuery,
    ScoredId,
    SparseVector,
    VectorName,
)
from ragkit.settings import DenseStorage

_SCROLL_PAGE = 10_000
_UPSERT_BATCH = 256


class QdrantIndex:
    """One collection on a Qdrant server reached through ``qdrant_client.QdrantClient``; created on first use."""

    def __init__(self, client: Any, collection: str, dimension: int,
                 storage: DenseStorage = DenseStorage.INT8) -> None:
        from qdrant_client import models

        self._models = models
        self._client = client
        self._collection = collection
        options = getattr(client, "init_options", {})
        local = options.get("location") == ":memory:" or options.get("path") is not None  # exact search, no HNSW
        self._dense_params = None  # as in the embedded index: int8 candidates always rescored with the originals
        on_disk, quantization = None, None
        if storage.quantized:
            if not local:  # local mode warns that it ignores search params
                self._dense_params = models.SearchParams(
                    quantization=models.QuantizationSearchParams(rescore=True, oversampling=RESCORE_OVERSAMPLING))
            on_disk = storage is DenseStorage.DISK_INT8  # int8: the originals stay in RAM for rescoring
            quantization = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=INT8_QUANTILE, always_ram=True))
        try:
            exists = client.collection_exists(collection)
            if not exists:
                client.create_collection(
                    collection,
                    vectors_config={
                        VectorName.DENSE.value: models.VectorParams(size=dimension, distance=models.Distance.COSINE,
                                                                    on_disk=on_disk)
                    },
                    sparse_vectors_config={VectorName.SPARSE.value: models.SparseVectorParams()},
                    quantization_config=quantization,
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
                vector={VectorName.DENSE.value: self._vector(point.dense),
                        VectorName.SPARSE.value: self._vector(point.sparse)},
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

    def _filter(self, conditions: Sequence[Condition]) -> Any:
        m = self._models
        if not conditions:
            return None
        must = []
        for c in conditions:
            key = payload_key(c.key)
            if isinstance(c, Match):
                match = m.MatchValue(value=c.values[0]) if len(c.values) == 1 else m.MatchAny(any=list(c.values))
                must.append(m.FieldCondition(key=key, match=match))
            else:
                kind = m.DatetimeRange if c.dates else m.Range
                must.append(m.FieldCondition(key=key, range=kind(gte=c.gte, gt=c.gt, lte=c.lte, lt=c.lt)))
        return m.Filter(must=must)

    def _params(self, query: IndexQuery) -> Any:
        return self._dense_params if query.using is VectorName.DENSE else None

    def _request(self, query: IndexQuery | FusionQuery) -> Any:
        m = self._models
        if isinstance(query, IndexQuery):
            return m.QueryRequest(query=self._vector(query.vector), using=query.using.value, limit=query.limit,
                                  filter=self._filter(query.conditions), params=self._params(query),
                                  with_payload=False)
        prefetch = [m.Prefetch(query=self._vector(part.vector), using=part.using.value, limit=part.limit,
                               filter=self._filter(part.conditions), params=self._params(part))
                    for part in query.parts]
        if query.method is EngineFusion.RRF:
            fusion = m.RrfQuery(rrf=m.Rrf(k=query.rrf_k, weights=list(query.weights) if query.weights else None))
        else:
            fusion = m.FusionQuery(fusion=m.Fusion.DBSF)
        return m.QueryRequest(prefetch=prefetch, query=fusion, limit=query.limit,
                              filter=self._filter(query.conditions), with_payload=False)

    def search(self, queries: Sequence[IndexQuery | FusionQuery]) -> list[list[ScoredId]]:
        responses = self._client.query_batch_points(self._collection, requests=[self._request(q) for q in queries])
        return [[ScoredId(str(point.id), float(point.score)) for point in response.points] for response in responses]

    def update_sparse(self, vectors: Sequence[tuple[str, SparseVector]]) -> None:
        m = self._models
        points = [m.PointVectors(id=i, vector={VectorName.SPARSE.value: self._vector(v)}) for i, v in vectors]
        for start in range(0, len(points), _UPSERT_BATCH):
            self._client.update_vectors(self._collection, points=points[start : start + _UPSERT_BATCH], wait=True)

    def set_payload(self, doc_id: str, payload: Mapping[str, Any]) -> None:
        m = self._models
        selector = m.Filter(must=[m.FieldCondition(key="doc_id", match=m.MatchValue(value=doc_id))])
        self._client.overwrite_payload(self._collection, payload=dict(payload), points=selector, wait=True)

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        records = self._client.retrieve(self._collection, ids=list(ids), with_payload=False,
                                        with_vectors=[VectorName.DENSE.value])
        return {str(r.id): list(r.vector[VectorName.DENSE.value]) for r in records}

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

    def optimize(self) -> None:
        """Nothing to do: a Qdrant server optimizes in the background (local mode has no HNSW)."""

    def flush(self) -> None:
        """Server writes are acknowledged with ``wait=True``; nothing is buffered here."""

    def close(self) -> None:
        self._client.close()
