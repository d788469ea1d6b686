"""The Qdrant server code path, ready for a server and a cluster: the cluster settings are validated, stored, and sent
as the server's API documents them; the index contract holds on local mode and on a real server ($QDRANT_URL)."""

from __future__ import annotations

import json
import socket
from collections import Counter
from contextlib import closing
from typing import Any

import pytest
from qdrant_client import QdrantClient, models

from ragkit import ConfigError, IndexBackendError, IndexConfig, KBConfig
from ragkit.index import IndexPoint, IndexQuery, QdrantIndex, SparseVector, VectorName
from ragkit.index.qdrant import cluster_peers
from ragkit.settings import DenseStorage

IDS = [f"00000000-0000-0000-0000-00000000000{i}" for i in range(4)]
CLUSTER = IndexConfig("qdrant", "http://qdrant:6333", shards=4, replication_factor=2, write_consistency_factor=2,
                      read_consistency="majority", write_ordering="strong", timeout_s=5,
                      payload_indexes={"team": "keyword", "year": "integer"})
# The same settings without sharding or replicas, which a single server cannot honour above one peer.
CLUSTER_FREE = IndexConfig("qdrant", "u", read_consistency="all", write_ordering="medium",
                           payload_indexes={"team": "keyword", "year": "integer", "modified": "datetime"})
WRITES = ("upsert", "delete", "update_vectors", "overwrite_payload", "create_payload_index")
READS = ("query_batch_points", "retrieve", "scroll")


class Recording:
    """The real client, every method call noted with its keyword arguments and forwarded unchanged."""

    def __init__(self, client: QdrantClient) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.client, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return found(*args, **kwargs)

        return call

    def kwargs(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for called, kwargs in self.calls if called == name]


def _points(payloads: list[dict[str, Any]] | None = None) -> list[IndexPoint]:
    payloads = payloads or [{"doc_id": "a" if n < 2 else "b", "meta": {"team": "it", "year": 2020 + n}}
                            for n in range(len(IDS))]
    return [IndexPoint(i, [1.0, float(n)], SparseVector((n + 1,), (1.0,)), payloads[n]) for n, i in enumerate(IDS)]


# -- the settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "message"), [
    ({"shards": 0}, "shards must be a whole number of at least 1 .* got 0"),
    ({"replication_factor": 2.5}, "replication_factor must be a whole number .* got 2.5"),
    ({"replication_factor": 2, "write_consistency_factor": 3}, "write_consistency_factor 3 exceeds replication_"),
    ({"read_consistency": "one"}, "read_consistency must be None, a number .* majority, quorum, all; got 'one'"),
    ({"read_consistency": 3, "replication_factor": 2}, "read_consistency 3 must be 1 to replication_factor 2"),
    ({"write_ordering": "fast"}, "unknown write ordering 'fast'; choose one of: weak, medium, strong"),
    ({"timeout_s": -1}, "timeout_s must be a positive number of seconds .* got -1"),
    ({"payload_indexes": {"team": "geo"}}, "index type for payload field 'team': 'geo'; choose one of: keyword"),
    ({"payload_indexes": [("team", "keyword"), ("team", "text")]}, "names the field 'team' twice"),
    ({"payload_indexes": {"doc_id": "integer"}}, "doc_id is always a keyword index"),
    ({"payload_indexes": "team"}, "payload_indexes maps metadata fields to index types"),
])
def test_cluster_settings_are_validated_naming_the_value(given, message):
    with pytest.raises(ConfigError, match=message):
        IndexConfig("qdrant", "http://qdrant:6333", **given)


def test_cluster_settings_belong_to_a_qdrant_index():
    with pytest.raises(ConfigError, match="shards, payload_indexes apply to a Qdrant server; this index is edge"):
        IndexConfig(shards=2, payload_indexes={"team": "keyword"})


def test_cluster_settings_are_stored_and_read_back_and_old_files_still_load():
    config = KBConfig(index=CLUSTER)
    stored = json.loads(json.dumps(config.to_json()))
    assert stored["index"]["payload_indexes"] == [["team", "keyword"], ["year", "integer"]]
    assert stored["index"]["write_ordering"] == "strong"
    assert KBConfig.from_json(stored) == config
    assert hash(config.index) == hash(KBConfig.from_json(stored).index)
    before = json.loads(json.dumps(KBConfig(index=IndexConfig("qdrant", "http://qdrant:6333")).to_json()))
    for name in ("shards", "replication_factor", "write_consistency_factor", "read_consistency", "write_ordering",
                 "timeout_s", "payload_indexes"):
        del before["index"][name]  # written before the settings existed: the server's defaults
    assert KBConfig.from_json(before).index == IndexConfig("qdrant", "http://qdrant:6333")
    # A mapping and pairs in another order are the same settings.
    assert IndexConfig("qdrant", "u", payload_indexes=[("year", "integer"), ("team", "keyword")]) == \
        IndexConfig("qdrant", "u", payload_indexes={"team": "keyword", "year": "integer"})


# -- what the server code path sends (local mode answers) ---------------------------------------------------------


def test_the_collection_is_created_with_the_cluster_settings_and_payload_indexes():
    client = Recording(QdrantClient(location=":memory:"))
    QdrantIndex(client, "c", 2, settings=CLUSTER)
    [created] = client.kwargs("create_collection")
    assert (created["shard_number"], created["replication_factor"], created["write_consistency_factor"]) == (4, 2, 2)
    indexed = {kwargs["field_name"]: kwargs["field_schema"] for kwargs in client.kwargs("create_payload_index")}
    # doc_id always (set_payload selects by it), and the metadata fields where filters look for them.
    assert indexed == {"doc_id": models.PayloadSchemaType.KEYWORD, "meta.team": models.PayloadSchemaType.KEYWORD,
                       "meta.year": models.PayloadSchemaType.INTEGER}
    # Local mode records the vectors (it ignores shards, replicas, quantization and payload indexes).
    params = client.client.get_collection("c").config.params
    assert params.vectors[VectorName.DENSE.value].size == 2 and VectorName.SPARSE.value in params.sparse_vectors


def test_writes_wait_with_the_ordering_and_reads_ask_the_consistency():
    client = Recording(QdrantClient(location=":memory:"))
    index = QdrantIndex(client, "c", 2, settings=CLUSTER)
    _exercise(index)
    for name in WRITES:
        assert client.kwargs(name), name
        for kwargs in client.kwargs(name):
            assert (kwargs["wait"], kwargs["ordering"]) == (True, models.WriteOrdering.STRONG), name
    for name in READS:
        assert client.kwargs(name), name
        assert all(kwargs["consistency"] == models.ReadConsistencyType.MAJORITY for kwargs in client.kwargs(name))


def test_by_default_reads_ask_any_replica_and_writes_are_weakly_ordered():
    client = Recording(QdrantClient(location=":memory:"))
    index = QdrantIndex(client, "c", 2, settings=IndexConfig("qdrant", ":memory:", read_consistency=2))
    index.ids()
    assert client.kwargs("scroll")[0]["consistency"] == 2
    client = Recording(QdrantClient(location=":memory:"))
    index = QdrantIndex(client, "c", 2)  # no settings: the server's defaults
    _exercise(index)
    assert all(kwargs["consistency"] is None for name in READS for kwargs in client.kwargs(name))
    assert all(kwargs["ordering"] == models.WriteOrdering.WEAK for name in WRITES for kwargs in client.kwargs(name))
    assert client.kwargs("create_collection")[0]["shard_number"] is None


def test_local_mode_is_one_peer():
    assert QdrantIndex(QdrantClient(location=":memory:"), "c", 2).peers() == 1


def test_an_unreachable_server_is_an_index_backend_error_that_says_what_to_do():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = QdrantClient(url=f"http://127.0.0.1:{port}", check_compatibility=False, timeout=2)
    with pytest.raises(IndexBackendError, match=rf"opening or creating the collection failed on collection 'c' at "
                                                rf"http://127.0.0.1:{port}: .*check that the server is running"):
        QdrantIndex(client, "c", 2)


def test_a_server_that_does_not_answer_in_time_names_the_timeout_setting():
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = QdrantClient(url=url, check_compatibility=False, timeout=1)
        with pytest.raises(IndexBackendError, match="did not answer in time; raise IndexConfig.timeout_s"):
            QdrantIndex(client, "c", 2)


# -- the contract, on local mode and on a real server --------------------------------------------------------------


def _exercise(index: QdrantIndex) -> None:
    """Every operation of the index contract, checking what a caller sees."""
    index.upsert(_points())
    assert index.ids() == set(IDS)
    dense, sparse = index.search([IndexQuery(VectorName.DENSE, [1.0, 0.0], 2),
                                  IndexQuery(VectorName.SPARSE, SparseVector((2,), (1.0,)), 5)])
    assert [p.id for p in dense] == IDS[:2]
    assert [p.id for p in sparse] == [IDS[1]]
    index.update_sparse([(IDS[3], SparseVector((2,), (3.0,)))])
    [sparse] = index.search([IndexQuery(VectorName.SPARSE, SparseVector((2,), (1.0,)), 5)])
    assert [p.id for p in sparse] == [IDS[3], IDS[1]]
    index.set_payload("b", {"doc_id": "b", "meta": {"team": "ops", "year": 2030}})
    from ragkit.filters import parse_filter

    [ops] = index.search([IndexQuery(VectorName.DENSE, [1.0, 0.0], 5, parse_filter({"team": "ops"}))])
    assert {p.id for p in ops} == set(IDS[2:])
    assert index.dense_vectors([IDS[1]]) == {IDS[1]: pytest.approx([2 ** -0.5, 2 ** -0.5])}  # stored normalised
    index.delete([IDS[1]])
    assert index.ids() == {IDS[0], IDS[2], IDS[3]}


def test_the_index_contract_holds(qdrant_target):
    with closing(qdrant_target.client()) as client:
        index = QdrantIndex(client, qdrant_target.collection, 2, DenseStorage.MEMORY, settings=CLUSTER_FREE)
        _exercise(index)
        assert index.peers() >= 1



@pytest.mark.qdrant_server
def test_a_server_keeps_the_payload_indexes_and_the_quantization(qdrant_server):
    with closing(qdrant_server.client()) as client:
        QdrantIndex(client, qdrant_server.collection, 2, DenseStorage.INT8, settings=CLUSTER_FREE)
        info = client.get_collection(qdrant_server.collection)
    kinds = {key: schema.data_type for key, schema in info.payload_schema.items()}
    assert kinds == {"doc_id": models.PayloadSchemaType.KEYWORD, "meta.team": models.PayloadSchemaType.KEYWORD,
                     "meta.year": models.PayloadSchemaType.INTEGER, "meta.modified": models.PayloadSchemaType.DATETIME}
    scalar = info.config.quantization_config.scalar
    assert (scalar.type, scalar.always_ram) == (models.ScalarType.INT8, True)
    # Reopened, the collection is used as it is: no index is created twice.
    with closing(Recording(qdrant_server.client())) as client:
        QdrantIndex(client, qdrant_server.collection, 2, DenseStorage.INT8, settings=CLUSTER_FREE)
        assert client.kwargs("create_payload_index") == [] and client.kwargs("create_collection") == []


@pytest.mark.qdrant_server
def test_a_cluster_spreads_shards_and_replicas_over_its_peers(qdrant_server):
    with closing(qdrant_server.client()) as client:
        peers = cluster_peers(client)
        if peers < 2:
            pytest.skip(f"the server at {qdrant_server.location} reports {peers} peer; the cluster test needs more")
        settings = IndexConfig("qdrant", qdrant_server.location, shards=2 * peers, replication_factor=2,
                               write_consistency_factor=2, read_consistency="all", write_ordering="strong")
        index = QdrantIndex(client, qdrant_server.collection, 2, DenseStorage.MEMORY, settings=settings)
        assert index.peers() == peers
        points = [IndexPoint(f"00000000-0000-0000-0000-{n:012d}", [1.0, float(n)], SparseVector((n + 1,), (1.0,)),
                          {"doc_id": str(n % 7)}) for n in range(200)]
        index.upsert(points)  # each batch returns once both replicas of its shards acknowledged it
        assert index.ids() == {p.id for p in points}
        layout = client.collection_cluster_info(qdrant_server.collection)
        params = client.get_collection(qdrant_server.collection).config.params
    assert (params.shard_number, params.replication_factor, params.write_consistency_factor) == (2 * peers, 2, 2)
    assert layout.shard_count == 2 * peers
    replicas = [(s.shard_id, layout.peer_id, s.state) for s in layout.local_shards] + \
               [(s.shard_id, s.peer_id, s.state) for s in layout.remote_shards]
    assert Counter(shard for shard, _, _ in replicas) == {shard: 2 for shard in range(2 * peers)}
    assert all(state == models.ReplicaState.ACTIVE for _, _, state in replicas)
    assert len({(shard, peer) for shard, peer, _ in replicas}) == len(replicas)  # two peers per shard


def test_the_recording_proxy_forwards_to_the_real_engine():
    """The proxy above notes calls and changes nothing: the same index answers the same through it."""
    plain, recorded = QdrantIndex(QdrantClient(location=":memory:"), "c", 2), \
        QdrantIndex(Recording(QdrantClient(location=":memory:")), "c", 2)
    for index in (plain, recorded):
        index.upsert(_points())
    query = [IndexQuery(VectorName.DENSE, [0.3, 1.0], 4)]
    assert plain.search(query) == recorded.search(query)
