"""The embedded default: Qdrant's own engine running in-process (``qdrant-edge-py``), stored in one folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ragkit.errors import IndexBackendError, KnowledgeBaseLocked
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
# Dense-vector bytes per indexed segment. The edge engine runs its optimizers only when asked, so a bulk load would
# otherwise grow one unindexed segment to the whole collection, and indexing it maps the old and the new copy at
# once (10.5 GB peak RSS at 1M chunks). Indexing every 256 MB of vectors, and capping merges at that size, keeps the
# peak near one segment's worth (at 1M chunks 2.6 GB with the originals on disk, 3.75 GB with them cached; README,
# *Against LlamaIndex, and at scale*).
_SEGMENT_BYTES = 256 * 2**20


class EdgeIndex:
    """A Qdrant edge shard with a cosine dense vector and an IDF-weighted sparse vector per point."""

    def __init__(self, path: Path, dimension: int, storage: DenseStorage = DenseStorage.INT8, *,
                 segment_bytes: int = _SEGMENT_BYTES) -> None:
        import qdrant_edge as qe

        self._qe = qe
        # With int8 vectors every dense query asks for rescoring: the engine's automatic choice skips it for on-disk
        # originals (recall@10 0.955 instead of 1.0 on tests/test_index_storage.py's data).
        self._dense_params = None
        placement = {}
        if storage.quantized:
            self._dense_params = qe.SearchParams(
                quantization=qe.QuantizationSearchParams(rescore=True, oversampling=RESCORE_OVERSAMPLING))
            # Cached: the originals are mapped and read in when a segment loads; Cold: read as queries touch them
            # (1M chunks, reopened, `eval scale`: hybrid p95 36 ms Cached, 177 ms Cold).
            placement = {
                "memory": qe.Memory.Cached if storage is DenseStorage.INT8 else qe.Memory.Cold,
                "quantization_config": qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=INT8_QUANTILE,
                                                                   memory=qe.Memory.Pinned),
            }
        config = qe.EdgeConfig(
            vectors={VectorName.DENSE.value: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine,
                                                                 **placement)},
            sparse_vectors={VectorName.SPARSE.value: qe.EdgeSparseVectorParams()},  # IDF comes with the query
            optimizers=qe.EdgeOptimizersConfig(max_segment_size=max(1, segment_bytes // 1024)),  # in KB
        )
        self._segment_points = max(1, segment_bytes // (4 * dimension))
        self._unindexed = 0
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
                {VectorName.DENSE.value: self._vector(point.dense),
                 VectorName.SPARSE.value: self._vector(point.sparse)},
                dict(point.payload),
            )
            for point in points
        ]
        self._shard.update(qe.UpdateOperation.upsert_points(records))
        self._unindexed += len(records)
        if self._unindexed >= self._segment_points:
            self.optimize()

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._shard.update(self._qe.UpdateOperation.delete_points(list(ids)))

    def _filter(self, conditions: Sequence[Condition]) -> object | None:
        qe = self._qe
        if not conditions:
            return None
        must = []
        for c in conditions:
            key = payload_key(c.key)
            if isinstance(c, Match):
                match = qe.MatchValue(c.values[0]) if len(c.values) == 1 else qe.MatchAny(list(c.values))
                must.append(qe.FieldCondition(key=key, match=match))
            else:
                kind = qe.RangeDateTime if c.dates else qe.RangeFloat
                must.append(qe.FieldCondition(key=key, range=kind(gte=c.gte, gt=c.gt, lte=c.lte, lt=c.lt)))
        return qe.Filter(must=must)

    def _nearest(self, query: IndexQuery) -> object:
        return self._qe.Query.Nearest(self._vector(query.vector), using=query.using.value)

    def _params(self, query: IndexQuery) -> object | None:
        return self._dense_params if query.using is VectorName.DENSE else None

    def _request(self, query: IndexQuery | FusionQuery) -> object:
        qe = self._qe
        if isinstance(query, IndexQuery):
            return qe.QueryRequest(limit=query.limit, query=self._nearest(query), filter=self._filter(query.conditions),
                                   params=self._params(query), with_payload=False)
        prefetches = [qe.Prefetch(limit=part.limit, query=self._nearest(part), filter=self._filter(part.conditions),
                                  params=self._params(part))
                      for part in query.parts]
        if query.method is EngineFusion.RRF:
            fusion = qe.Fusion.Rrf(k=query.rrf_k, weights=list(query.weights) if query.weights else None)
        else:
            fusion = qe.Fusion.Dbsf()
        return qe.QueryRequest(limit=query.limit, prefetches=prefetches, query=fusion,
                               filter=self._filter(query.conditions), with_payload=False)

    def search(self, queries: Sequence[IndexQuery | FusionQuery]) -> list[list[ScoredId]]:
        results = self._shard.query_batch(self._qe.QueryBatchRequest([self._request(q) for q in queries]))
        return [[ScoredId(str(point.id), float(point.score)) for point in points] for points in results]

    def update_sparse(self, vectors: Sequence[tuple[str, SparseVector]]) -> None:
        if vectors:
            qe = self._qe
            points = [qe.PointVectors(i, {VectorName.SPARSE.value: self._vector(v)}) for i, v in vectors]
            self._shard.update(qe.UpdateOperation.update_vectors(points))

    def set_payload(self, doc_id: str, payload: Mapping[str, Any]) -> None:
        qe = self._qe
        selector = qe.Filter(must=[qe.FieldCondition(key="doc_id", match=qe.MatchValue(doc_id))])
        self._shard.update(qe.UpdateOperation.overwrite_payload_by_filter(selector, dict(payload)))

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        records = self._shard.retrieve(list(ids), with_payload=False, with_vector=[VectorName.DENSE.value])
        return {str(r.id): list(r.vector[VectorName.DENSE.value]) for r in records}

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

    def optimize(self) -> None:
        """Run Qdrant's segment optimizers in-process (a server runs them in the background): segments past the
        indexing threshold get their HNSW graph. Without it, search scans vectors — 48 ms at 40k points here, against
        a few ms once indexed. Also runs by itself after every segment's worth of upserts."""
        self._shard.optimize()
        self._unindexed = 0

    def close(self) -> None:
        self._shard.close()
