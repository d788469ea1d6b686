"""A Qdrant server or cluster (or qdrant-client's local mode) behind the same index contract.

The cluster settings of ``IndexConfig`` go to the server as its API documents them: ``shard_number``,
``replication_factor`` and ``write_consistency_factor`` when the collection is created, every write with
``wait=True`` and the configured ``ordering``, every read with the configured ``consistency``. Local mode accepts and
ignores them, as it ignores quantization and payload indexes; search params are not sent to it at all (it warns).
"""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator, Mapping, Sequence

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
from ragkit.settings import DenseStorage, IndexConfig
from ragkit.settings_index import PayloadSchema

_SCROLL_PAGE = 10_000
_UPSERT_BATCH = 256
_DOC_ID = "doc_id"  # set_payload selects a document's points by it: always indexed


class QdrantIndex:
    """One collection on a Qdrant server reached through ``qdrant_client.QdrantClient``; created on first use.

    ``settings`` brings a cluster's settings (shards, replicas, consistency, write ordering, payload indexes); the
    collection name and dense storage are the positional arguments.
    """

    def __init__(self, client: Any, collection: str, dimension: int,
                 storage: DenseStorage = DenseStorage.INT8, *, settings: IndexConfig | None = None) -> None:
        from qdrant_client import models

        settings = settings or IndexConfig()  # the server's defaults
        self._models = models
        self._client = client
        self._collection = collection
        options = getattr(client, "init_options", {})
        self._local = _is_local(client)  # exact search, no HNSW
        # Local mode is a Python re-implementation that is not safe for a write and a search at once (numpy arrays
        # resized under a reader): its calls take turns. A server serves concurrent calls itself.
        self._turns: Any = threading.RLock() if self._local else nullcontext()
        self._where = options.get("url") or options.get("host") or options.get("path") or options.get("location")
        self._api_key_env = settings.api_key_env
        self._errors = _server_errors()
        self._ordering = models.WriteOrdering(settings.write_ordering.value)
        consistency = settings.read_consistency
        self._consistency = models.ReadConsistencyType(consistency) if isinstance(consistency, str) else consistency
        self._dense_params = None  # as in the embedded index: int8 candidates always rescored with the originals
        on_disk, quantization = None, None
        if storage.quantized:
            if not self._local:  # local mode warns that it ignores search params
                self._dense_params = models.SearchParams(
                    quantization=models.QuantizationSearchParams(rescore=True, oversampling=RESCORE_OVERSAMPLING))
            on_disk = storage is DenseStorage.DISK_INT8  # int8: the originals stay in RAM for rescoring
            quantization = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=INT8_QUANTILE, always_ram=True))
        wanted = {_DOC_ID: PayloadSchema.KEYWORD.value,
                  **{payload_key(name): schema for name, schema in settings.payload_indexes}}
        with self._calling("opening or creating the collection", open_errors=True):
            if client.collection_exists(collection):
                info = client.get_collection(collection)
            else:
                info = None
                client.create_collection(
                    collection,
                    vectors_config={
                        VectorName.DENSE.value: models.VectorParams(size=dimension, distance=models.Distance.COSINE,
                                                                    on_disk=on_disk)
                    },
                    sparse_vectors_config={VectorName.SPARSE.value: models.SparseVectorParams()},
                    quantization_config=quantization,
                    shard_number=settings.shards,
                    replication_factor=settings.replication_factor,
                    write_consistency_factor=settings.write_consistency_factor,
                )
        if info is not None:
            params = info.config.params
            dense = params.vectors.get(VectorName.DENSE.value) if isinstance(params.vectors, dict) else None
            if dense is None or dense.size != dimension or VectorName.SPARSE.value not in (params.sparse_vectors or {}):
                raise IncompatibleKnowledgeBase(
                    f"Qdrant collection '{collection}' exists but does not hold {dimension}-d "
                    f"'{VectorName.DENSE.value}' and sparse '{VectorName.SPARSE.value}' vectors; choose another "
                    "collection name"
                )
            wanted = {key: schema for key, schema in wanted.items() if key not in (info.payload_schema or {})}
        self._create_payload_indexes(wanted)

    def _create_payload_indexes(self, schemas: Mapping[str, str]) -> None:
        """Index these payload keys, so that filters on them need not scan (a server feature: local mode ignores it,
        and says so once, which we silence — it is the documented behaviour)."""
        with warnings.catch_warnings(), self._calling("creating payload indexes"):
            warnings.filterwarnings("ignore", message="Payload indexes have no effect in the local Qdrant")
            for key, schema in schemas.items():
                self._client.create_payload_index(self._collection, field_name=key,
                                                  field_schema=self._models.PayloadSchemaType(schema),
                                                  wait=True, ordering=self._ordering)

    @contextmanager
    def _calling(self, what: str, open_errors: bool = False) -> Iterator[None]:
        """Server and transport errors as an IndexBackendError that says what failed, where, and what to do."""
        try:
            with self._turns:
                yield
        except self._errors as exc:
            raise IndexBackendError(_failure(what, self._collection, self._where, self._api_key_env, exc)) from exc
        except Exception as exc:
            if not open_errors:
                raise
            raise IndexBackendError(f"Qdrant collection '{self._collection}' at {self._where} could not be opened "
                                    f"or created: {exc}") from exc

    def peers(self) -> int:
        """How many peers the Qdrant cluster has: 1 for a server without cluster mode, and for local mode."""
        with self._calling("reading the cluster status"):
            return cluster_peers(self._client)

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
            with self._calling("upserting points"):
                self._client.upsert(self._collection, points=structs[start : start + _UPSERT_BATCH], wait=True,
                                    ordering=self._ordering)

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            selector = self._models.PointIdsList(points=list(ids))
            with self._calling("deleting points"):
                self._client.delete(self._collection, points_selector=selector, wait=True, ordering=self._ordering)

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
        requests = [self._request(q) for q in queries]
        with self._calling("searching"):
            responses = self._client.query_batch_points(self._collection, requests=requests,
                                                        consistency=self._consistency)
        return [[ScoredId(str(point.id), float(point.score)) for point in response.points] for response in responses]

    def update_sparse(self, vectors: Sequence[tuple[str, SparseVector]]) -> None:
        m = self._models
        points = [m.PointVectors(id=i, vector={VectorName.SPARSE.value: self._vector(v)}) for i, v in vectors]
        for start in range(0, len(points), _UPSERT_BATCH):
            with self._calling("updating sparse vectors"):
                self._client.update_vectors(self._collection, points=points[start : start + _UPSERT_BATCH], wait=True,
                                            ordering=self._ordering)

    def set_payload(self, doc_id: str, payload: Mapping[str, Any]) -> None:
        m = self._models
        selector = m.Filter(must=[m.FieldCondition(key=_DOC_ID, match=m.MatchValue(value=doc_id))])
        with self._calling("setting a document's payload"):
            self._client.overwrite_payload(self._collection, payload=dict(payload), points=selector, wait=True,
                                           ordering=self._ordering)

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        with self._calling("reading dense vectors"):
            records = self._client.retrieve(self._collection, ids=list(ids), with_payload=False,
                                            with_vectors=[VectorName.DENSE.value], consistency=self._consistency)
        return {str(r.id): list(r.vector[VectorName.DENSE.value]) for r in records}

    def ids(self) -> set[str]:
        found: set[str] = set()
        offset = None
        while True:
            with self._calling("listing point ids"):
                records, offset = self._client.scroll(self._collection, limit=_SCROLL_PAGE, offset=offset,
                                                      with_payload=False, with_vectors=False,
                                                      consistency=self._consistency)
            found.update(str(record.id) for record in records)
            if offset is None:
                return found

    def optimize(self) -> None:
        """Nothing to do: a Qdrant server optimizes in the background (local mode has no HNSW)."""

    def flush(self) -> None:
        """Server writes are acknowledged with ``wait=True``; nothing is buffered here."""

    def close(self) -> None:
        self._client.close()


def cluster_peers(client: Any) -> int:
    """How many peers the Qdrant cluster behind ``client`` has (``GET /cluster``): 1 for a server without cluster
    mode, and for local mode, which has no cluster API."""
    if _is_local(client):
        return 1
    status = client.cluster_status()
    return len(status.peers) if getattr(status, "status", None) == "enabled" else 1


def _is_local(client: Any) -> bool:
    """Whether ``client`` runs qdrant-client's local mode (in memory or in a folder) rather than reaching a server."""
    options = getattr(client, "init_options", {})
    return options.get("location") == ":memory:" or options.get("path") is not None


def _server_errors() -> tuple[type[BaseException], ...]:
    """What a server or the network raises through qdrant-client: HTTP statuses, transport failures, gRPC errors."""
    import httpx
    from qdrant_client.http.exceptions import ApiException

    errors: tuple[type[BaseException], ...] = (ApiException, httpx.HTTPError, OSError)
    try:
        import grpc
    except ImportError:  # pragma: no cover - a dependency of qdrant-client
        return errors
    return (*errors, grpc.RpcError)


def _failure(what: str, collection: str, where: Any, api_key_env: str | None, exc: BaseException) -> str:
    """What failed, on which collection and server, why, and what to do."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    reason, status = str(exc), None
    if isinstance(exc, UnexpectedResponse):
        status = exc.status_code
        try:
            reason = f"HTTP {status}: {exc.structured()['status']['error']}"
        except (ValueError, KeyError, TypeError):
            reason = f"HTTP {status} {exc.reason_phrase}".strip()
    elif isinstance(exc, ResponseHandlingException):
        reason = f"{type(exc.source).__name__}: {exc.source}"
    if status in (401, 403):
        fix = (f"check the API key in ${api_key_env}" if api_key_env else
               "name the variable that holds the server's API key in IndexConfig.api_key_env")
    elif status == 404:
        fix = "the collection is gone from the server; ingest the sources again to rebuild it"
    elif status is not None:
        fix = "see the server's log for the cause"
    elif "timeout" in reason.lower() or "timed out" in reason.lower():
        fix = "the server did not answer in time; raise IndexConfig.timeout_s or check the server's load"
    else:
        fix = "check that the server is running and reachable from this machine"
    return f"Qdrant {what} failed on collection '{collection}' at {where}: {reason}; {fix}"
