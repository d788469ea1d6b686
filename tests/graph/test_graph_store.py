"""The graph store contract, run against every ``GraphStore``: the embedded SQLite store and the Neo4j store on a
real server. Both must hold exactly the union of the current document contributions and answer alike."""

from __future__ import annotations

import itertools
import sys
import uuid
from dataclasses import astuple, replace
from typing import Callable, Iterable, Iterator

import neo4j
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragkit.errors import IndexBackendError, MissingExtraError
from ragkit.graph.extract import DocumentGraph, Mention, Relation
from ragkit.graph.neo4j_store import Neo4jGraphStore
from ragkit.graph.store import EmbeddedGraphStore, GraphStore

StoreFactory = Callable[[], GraphStore]


def _mention(entity: str, chunk: str, start: int, label: str = "PERSON", surface: str | None = None) -> Mention:
    sentence = start - start % 100
    return Mention(entity, surface or entity.title(), label, chunk, start, start + len(entity), sentence, sentence + 90)


def _relation(source: str, target: str, chunk: str, sentence: int, label: str = "co-occurs",
              weight: float = 1.0) -> Relation:
    return Relation(source, target, label, chunk, sentence, sentence + 90, weight)


CURIE = DocumentGraph(
    "curie",
    (_mention("marie curie", "curie#0", 0), _mention("pierre curie", "curie#0", 20),
     _mention("sorbonne", "curie#1", 100, "ORG"), _mention("paris", "curie#1", 120, "GPE"),
     _mention("marie curie", "curie#1", 140, surface="Curie")),
    (_relation("marie curie", "pierre curie", "curie#0", 0), _relation("marie curie", "sorbonne", "curie#1", 100),
     _relation("marie curie", "paris", "curie#1", 100), _relation("paris", "sorbonne", "curie#1", 100),
     _relation("marie curie", "sorbonne", "curie#1", 100, "teach at")),
)
PARIS = DocumentGraph(
    "paris",
    (_mention("paris", "paris#0", 0, "GPE"), _mention("france", "paris#0", 30, "GPE"),
     _mention("sorbonne", "paris#0", 50, "ORG")),
    (_relation("france", "paris", "paris#0", 0), _relation("paris", "sorbonne", "paris#0", 0)),
)
# Overlapping chunks state the same sentence twice: identical mention and relation rows must both be kept.
NOBEL = DocumentGraph(
    "nobel",
    (_mention("nobel prize", "nobel#0", 0, "EVENT"), _mention("marie curie", "nobel#0", 20),
     _mention("marie curie", "nobel#0", 20), _mention("pierre curie", "nobel#1", 120)),
    (_relation("marie curie", "nobel prize", "nobel#0", 0), _relation("marie curie", "nobel prize", "nobel#0", 0),
     _relation("nobel prize", "pierre curie", "nobel#1", 100, "award", 0.5)),
)
DOCS = (CURIE, PARIS, NOBEL)
ENTITIES = sorted({m.entity for g in DOCS for m in g.mentions})
CHUNKS = sorted({m.chunk_id for g in DOCS for m in g.mentions})


def _sorted(records: Iterable[Mention | Relation]) -> list[tuple]:
    return sorted(astuple(record) for record in records)


def _mentions(graphs: Iterable[DocumentGraph], keep: Callable[[Mention], bool] = lambda m: True) -> list[tuple]:
    return _sorted(m for g in graphs for m in g.mentions if keep(m))


def _relations(graphs: Iterable[DocumentGraph], keep: Callable[[Relation], bool] = lambda r: True) -> list[tuple]:
    return _sorted(r for g in graphs for r in g.relations if keep(r))


def _contents(store: GraphStore) -> tuple[list[tuple], list[tuple]]:
    return _sorted(store.mentions()), _sorted(store.relations())


# --- the stores ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def neo4j_driver(request) -> Iterator[neo4j.Driver]:
    """One driver for the module's Neo4j stores (the server starts only if a Neo4j test runs)."""
    server = request.getfixturevalue("neo4j_server")
    with neo4j.GraphDatabase.driver(server.uri, auth=server.auth) as driver:
        yield driver


def _drop_namespaces(driver: neo4j.Driver, namespaces: list[str]) -> None:
    driver.execute_query("MATCH (n:Entity|Chunk) WHERE n.ns IN $namespaces DETACH DELETE n", namespaces=namespaces)


def _neo4j_nodes(driver: neo4j.Driver, namespace: str) -> int:
    return driver.execute_query("MATCH (n:Entity|Chunk {ns: $ns}) RETURN count(n) AS n", ns=namespace).records[0]["n"]


@pytest.fixture(params=["embedded", pytest.param("neo4j", marks=pytest.mark.integration)])
def new_store(request, tmp_path) -> Iterator[StoreFactory]:
    """Makes empty stores of one kind: SQLite files in tmp_path, or fresh namespaces on the shared Neo4j server
    (removed at the end)."""
    stores: list[GraphStore] = []
    namespaces: list[str] = []
    counter = itertools.count()
    driver = request.getfixturevalue("neo4j_driver") if request.param == "neo4j" else None

    def make() -> GraphStore:
        if driver is None:
            store: GraphStore = EmbeddedGraphStore(tmp_path / f"graph-{next(counter)}.sqlite")
        else:
            namespaces.append(f"test-{uuid.uuid4().hex}")
            store = Neo4jGraphStore.from_driver(driver, namespace=namespaces[-1])
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
    if driver is not None:
        _drop_namespaces(driver, namespaces)


@pytest.fixture
def store(new_store: StoreFactory) -> GraphStore:
    return new_store()


@pytest.fixture
def loaded(store: GraphStore) -> GraphStore:
    store.replace(DOCS)
    return store


# --- the contract -------------------------------------------------------------------------------------------------

def test_replace_then_read_back(loaded: GraphStore):
    assert _contents(loaded) == (_mentions(DOCS), _relations(DOCS))
    assert _sorted(loaded.mentions(entities=["paris", "nobel prize"])) == _mentions(
        DOCS, lambda m: m.entity in {"paris", "nobel prize"})
    assert _sorted(loaded.mentions(chunks=["curie#1", "nobel#0"])) == _mentions(
        DOCS, lambda m: m.chunk_id in {"curie#1", "nobel#0"})
    assert len(loaded.mentions(chunks=["nobel#0"])) == 3  # the repeated mention counts twice
    assert loaded.mentions(entities=["nobody"]) == [] and loaded.mentions(chunks=["no-chunk"]) == []


def test_relations_have_an_end_in_the_set_and_come_back_once(loaded: GraphStore):
    for wanted in (["sorbonne"], ["marie curie", "sorbonne"], ["paris", "france", "paris"], ENTITIES):
        expected = _relations(DOCS, lambda r: r.source in wanted or r.target in wanted)
        assert _sorted(loaded.relations(wanted)) == expected, wanted
    assert len(loaded.relations(["nobel prize"])) == 3  # the repeated relation counts twice
    assert loaded.relations(["nobody"]) == []


def test_chunk_counts_are_distinct_chunks_of_existing_entities(loaded: GraphStore):
    assert loaded.chunk_counts(ENTITIES + ["nobody"]) == {
        "marie curie": 3, "pierre curie": 2, "sorbonne": 2, "paris": 2, "france": 1, "nobel prize": 1}
    assert loaded.chunk_counts(["france", "france"]) == {"france": 1}


def test_replace_swaps_exactly_that_documents_rows(loaded: GraphStore):
    curie = DocumentGraph("curie", (_mention("marie curie", "curie#0", 0), _mention("warsaw", "curie#0", 40, "GPE")),
                          (_relation("marie curie", "warsaw", "curie#0", 0, "bear in"),))
    loaded.replace([curie])
    assert _contents(loaded) == (_mentions([curie, PARIS, NOBEL]), _relations([curie, PARIS, NOBEL]))
    assert loaded.chunk_counts(["marie curie", "warsaw", "sorbonne", "pierre curie"]) == {
        "marie curie": 2, "warsaw": 1, "sorbonne": 1, "pierre curie": 1}
    assert loaded.mentions(chunks=["curie#1"]) == []


def test_delete_removes_the_document_and_the_entities_only_it_mentioned(loaded: GraphStore):
    loaded.delete(["nobel", "not-a-document"])
    assert _contents(loaded) == (_mentions([CURIE, PARIS]), _relations([CURIE, PARIS]))
    counts = loaded.chunk_counts(ENTITIES)
    assert "nobel prize" not in counts and counts["marie curie"] == 2 and counts["pierre curie"] == 1
    assert loaded.relations(["nobel prize"]) == []
    loaded.delete(["curie", "paris"])
    assert _contents(loaded) == ([], []) and loaded.chunk_counts(ENTITIES) == {}


def test_an_empty_contribution_is_a_delete(loaded: GraphStore):
    loaded.replace([DocumentGraph("paris")])
    assert _contents(loaded) == (_mentions([CURIE, NOBEL]), _relations([CURIE, NOBEL]))
    assert "france" not in loaded.chunk_counts(["france"])


def test_writes_are_idempotent(new_store: StoreFactory):
    once, twice = new_store(), new_store()
    once.replace(DOCS)
    twice.replace(DOCS)
    twice.replace(DOCS)
    twice.replace([PARIS])
    twice.delete(["never-stored"])
    assert _contents(twice) == _contents(once)
    assert twice.chunk_counts(ENTITIES) == once.chunk_counts(ENTITIES)


def test_empty_inputs(store: GraphStore):
    for _ in range(2):  # on an empty store, then on a loaded one
        before = _contents(store)
        store.replace([])
        store.delete([])
        assert _contents(store) == before
        assert store.mentions(entities=[]) == [] and store.mentions(chunks=[]) == []
        assert store.relations([]) == [] and store.chunk_counts([]) == {}
        store.replace(DOCS)


def test_large_key_lists_are_batched(store: GraphStore):
    keys = [f"entity {i:04d}" for i in range(1200)]
    graph = DocumentGraph("big", tuple(_mention(key, f"big#{i % 7}", i * 100) for i, key in enumerate(keys)))
    store.replace([graph])
    assert len(store.mentions(entities=keys + keys[:10])) == 1200
    assert len(store.mentions(chunks=[f"big#{i}" for i in range(7)])) == 1200
    assert store.chunk_counts(keys) == dict.fromkeys(keys, 1)


def test_relations_of_a_large_entity_set_come_back_once(store: GraphStore):
    keys = [f"entity {i:04d}" for i in range(1200)]
    graph = DocumentGraph("big", tuple(_mention(key, "big#0", i * 100) for i, key in enumerate(keys)),
                          tuple(_relation(keys[-1 - i], keys[i], "big#0", 0) for i in range(600)))
    store.replace([graph])
    assert _sorted(store.relations(keys)) == _relations([graph])


# --- any history of writes leaves what a rebuild from the final documents would ---------------------------------

DOC_IDS = ["a", "b", "c", "d"]
POOL_ENTITIES = ["e0", "e1", "e2", "e3", "e4"]
POOL_CHUNKS = ["k0", "k1", "k2"]  # shared across documents on purpose


@st.composite
def _graphs(draw: st.DrawFn, doc_id: str) -> DocumentGraph:
    small = st.integers(0, 2)
    mentions = draw(st.lists(st.builds(Mention, st.sampled_from(POOL_ENTITIES), st.sampled_from(["X", "Y"]),
                                       st.sampled_from(["ORG", "PERSON"]), st.sampled_from(POOL_CHUNKS), small, small,
                                       small, small), max_size=6))
    relations = draw(st.lists(st.builds(Relation, st.sampled_from(POOL_ENTITIES), st.sampled_from(POOL_ENTITIES),
                                        st.sampled_from(["co-occurs", "found"]), st.sampled_from(POOL_CHUNKS), small,
                                        small, st.sampled_from([1.0, 0.5])), max_size=5))
    return DocumentGraph(doc_id, tuple(mentions), tuple(relations))


_OPERATIONS = st.lists(st.one_of(
    st.sets(st.sampled_from(DOC_IDS), max_size=3).flatmap(
        lambda ids: st.tuples(st.just("replace"), st.tuples(*[_graphs(doc_id) for doc_id in sorted(ids)]))),
    st.tuples(st.just("delete"), st.lists(st.sampled_from(DOC_IDS + ["unknown"]), max_size=3)),
), max_size=8)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operations=_OPERATIONS)
def test_any_history_equals_a_rebuild_from_the_final_documents(new_store: StoreFactory, operations):
    store, final = new_store(), {}
    for operation, argument in operations:
        if operation == "replace":
            store.replace(list(argument))
            final.update((graph.doc_id, graph) for graph in argument)
        else:
            store.delete(argument)
            for doc_id in argument:
                final.pop(doc_id, None)
    rebuilt = new_store()
    rebuilt.replace(list(final.values()))
    assert _contents(store) == _contents(rebuilt) == (_mentions(final.values()), _relations(final.values()))
    for entities in (POOL_ENTITIES[:1], POOL_ENTITIES[1:3], POOL_ENTITIES):
        assert _sorted(store.relations(entities)) == _sorted(rebuilt.relations(entities))
        assert _sorted(store.mentions(entities=entities)) == _sorted(rebuilt.mentions(entities=entities))
        assert store.chunk_counts(entities) == rebuilt.chunk_counts(entities)
    assert _sorted(store.mentions(chunks=POOL_CHUNKS[:2])) == _sorted(rebuilt.mentions(chunks=POOL_CHUNKS[:2]))


# --- congruence: the embedded and Neo4j stores answer alike ------------------------------------------------------

def test_embedded_and_neo4j_stores_agree(tmp_path, neo4j_driver):
    namespace = f"test-{uuid.uuid4().hex}"
    embedded = EmbeddedGraphStore(tmp_path / "graph.sqlite")
    server = Neo4jGraphStore.from_driver(neo4j_driver, namespace=namespace)
    try:
        for store in (embedded, server):
            store.replace(DOCS)
            store.replace([replace(CURIE, mentions=CURIE.mentions[:3], relations=CURIE.relations[:1])])
            store.delete(["paris"])
            store.replace([PARIS])
        for entities in ([], ["marie curie"], ["paris", "sorbonne"], ["nobel prize", "nobody"], ENTITIES):
            assert _sorted(server.mentions(entities=entities)) == _sorted(embedded.mentions(entities=entities))
            assert _sorted(server.relations(entities)) == _sorted(embedded.relations(entities))
            assert server.chunk_counts(entities) == embedded.chunk_counts(entities)
        for chunks in (["curie#1"], ["nobel#0", "paris#0", "none"], CHUNKS):
            assert _sorted(server.mentions(chunks=chunks)) == _sorted(embedded.mentions(chunks=chunks))
        assert _contents(server) == _contents(embedded)
    finally:
        embedded.close()
        _drop_namespaces(neo4j_driver, [namespace])


# --- Neo4j specifics ----------------------------------------------------------------------------------------------

def test_neo4j_namespaces_share_a_database_without_seeing_each_other(neo4j_server, neo4j_driver):
    first, second = f"test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    # One store opens (and closes) its own driver; the other shares the module's.
    one = Neo4jGraphStore(neo4j_server.uri, neo4j_server.auth, namespace=first)
    other = Neo4jGraphStore.from_driver(neo4j_driver, namespace=second)
    try:
        one.replace(DOCS)
        other.replace([PARIS])
        assert _contents(other) == (_mentions([PARIS]), _relations([PARIS]))
        other.delete(["paris"])
        assert _contents(one) == (_mentions(DOCS), _relations(DOCS))
        assert _neo4j_nodes(neo4j_driver, second) == 0
        untagged = neo4j_driver.execute_query(
            "MATCH (n {ns: $ns})-[r]-() WHERE r.ns <> $ns OR r.ns IS NULL RETURN count(r) AS n", ns=first)
        assert untagged.records[0]["n"] == 0
        one.delete([g.doc_id for g in DOCS])
        assert _neo4j_nodes(neo4j_driver, first) == 0  # no orphan entity or chunk nodes left behind
    finally:
        one.close()
        _drop_namespaces(neo4j_driver, [first, second])


def test_neo4j_driver_errors_name_the_server():
    store = Neo4jGraphStore("bolt://127.0.0.1:9", namespace="unreachable")  # nothing listens on the discard port
    try:
        with pytest.raises(IndexBackendError, match=r"(?s)bolt://127\.0\.0\.1:9.*Check that the server is running"):
            store.mentions()
    finally:
        store.close()


def test_neo4j_store_without_the_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "neo4j", None)
    with pytest.raises(MissingExtraError, match=r"ragkit\[neo4j\]"):
        Neo4jGraphStore("bolt://127.0.0.1:7687")
