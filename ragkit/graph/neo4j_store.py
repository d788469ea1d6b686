"""The entity graph on a Neo4j server: the ``GraphStore`` protocol of ``ragkit.graph.store``, with the same answers
as the embedded SQLite store on the same writes.

Data model (every node and relationship carries ``ns``, the namespace, so knowledge bases can share a database)::

    (:Entity {ns, key})
    (:Chunk {ns, doc_id, id})
    (:Entity)-[:MENTIONED_IN {ns, doc_id, surface, label, start, end, sentence_start, sentence_end}]->(:Chunk)
    (:Entity)-[:RELATED {ns, doc_id, chunk_id, label, weight, sentence_start, sentence_end}]->(:Entity)

Nodes are MERGEd; mention and relation relationships are CREATEd after the document's old ones are deleted, so a
document that states the same thing twice keeps both rows, as the embedded store does. An entity node lives while
some relationship touches it; it *exists* for ``chunk_counts`` while some mention names it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence, TypeVar

from ragkit.errors import ConfigError, IndexBackendError, MissingExtraError
from ragkit.graph.extract import DocumentGraph, Mention, Relation

_T = TypeVar("_T")
_BATCH = 1000  # rows per UNWIND, and keys per read query

# Node key constraints are Enterprise-only; composite uniqueness constraints work on Community and give MERGE its
# lock and its index. A composite range index serves only lookups on all its properties, hence one index per lookup.
_SCHEMA = (
    "CREATE CONSTRAINT ragkit_entity_key IF NOT EXISTS FOR (e:Entity) REQUIRE (e.ns, e.key) IS UNIQUE",
    "CREATE CONSTRAINT ragkit_chunk_key IF NOT EXISTS FOR (c:Chunk) REQUIRE (c.ns, c.doc_id, c.id) IS UNIQUE",
    "CREATE INDEX ragkit_chunk_id IF NOT EXISTS FOR (c:Chunk) ON (c.ns, c.id)",
    "CREATE INDEX ragkit_chunk_doc IF NOT EXISTS FOR (c:Chunk) ON (c.ns, c.doc_id)",
    "CREATE INDEX ragkit_related_doc IF NOT EXISTS FOR ()-[r:RELATED]-() ON (r.ns, r.doc_id)",
)

_DELETE_CHUNKS = """
UNWIND $docs AS doc
MATCH (c:Chunk {ns: $ns, doc_id: doc})
OPTIONAL MATCH (e:Entity)-[:MENTIONED_IN]->(c)
WITH c, collect(e.key) AS keys
DETACH DELETE c
RETURN keys
"""
_DELETE_RELATIONS = """
UNWIND $docs AS doc
MATCH (a:Entity)-[r:RELATED {ns: $ns, doc_id: doc}]->(b:Entity)
DELETE r
RETURN [a.key, b.key] AS keys
"""
_DELETE_ORPHANS = """
UNWIND $keys AS key
MATCH (e:Entity {ns: $ns, key: key})
WHERE NOT EXISTS { (e)--() }
DELETE e
"""
_CREATE_MENTIONS = """
UNWIND $rows AS row
MERGE (e:Entity {ns: $ns, key: row.entity})
MERGE (c:Chunk {ns: $ns, doc_id: row.doc_id, id: row.chunk_id})
CREATE (e)-[:MENTIONED_IN {ns: $ns, doc_id: row.doc_id, surface: row.surface, label: row.label, start: row.start,
                           `end`: row.end, sentence_start: row.sentence_start, sentence_end: row.sentence_end}]->(c)
"""
_CREATE_RELATIONS = """
UNWIND $rows AS row
MERGE (a:Entity {ns: $ns, key: row.source})
MERGE (b:Entity {ns: $ns, key: row.target})
CREATE (a)-[:RELATED {ns: $ns, doc_id: row.doc_id, chunk_id: row.chunk_id, label: row.label, weight: row.weight,
                      sentence_start: row.sentence_start, sentence_end: row.sentence_end}]->(b)
"""

_MENTION_FIELDS = "e.key, m.surface, m.label, c.id, m.start, m.`end`, m.sentence_start, m.sentence_end"
_ALL_MENTIONS = f"MATCH (e:Entity {{ns: $ns}})-[m:MENTIONED_IN]->(c:Chunk) RETURN {_MENTION_FIELDS}"
_MENTIONS_OF_ENTITIES = f"""
UNWIND $keys AS key
MATCH (e:Entity {{ns: $ns, key: key}})-[m:MENTIONED_IN]->(c:Chunk)
RETURN {_MENTION_FIELDS}
"""
_MENTIONS_IN_CHUNKS = f"""
UNWIND $keys AS key
MATCH (c:Chunk {{ns: $ns, id: key}})<-[m:MENTIONED_IN]-(e:Entity)
RETURN {_MENTION_FIELDS}
"""
_RELATION_FIELDS = "a.key, b.key, r.label, r.chunk_id, r.sentence_start, r.sentence_end, r.weight"
_ALL_RELATIONS = f"MATCH (a:Entity {{ns: $ns}})-[r:RELATED]->(b:Entity) RETURN {_RELATION_FIELDS}"
_RELATIONS_FROM = f"""
UNWIND $keys AS key
MATCH (a:Entity {{ns: $ns, key: key}})-[r:RELATED]->(b:Entity)
RETURN {_RELATION_FIELDS}
"""
_RELATIONS_TO = f"""
UNWIND $keys AS key
MATCH (a:Entity)-[r:RELATED]->(b:Entity {{ns: $ns, key: key}})
RETURN {_RELATION_FIELDS}
"""
_CHUNK_COUNTS = """
UNWIND $keys AS key
MATCH (e:Entity {ns: $ns, key: key})-[:MENTIONED_IN]->(c:Chunk)
RETURN key, count(DISTINCT c.id)
"""


class Neo4jGraphStore:
    """The graph in a Neo4j database, under one namespace; every ``replace`` or ``delete`` is one transaction.

    Pass ``uri`` and ``auth`` to let the store open (and close) its own driver, or ``driver`` to share one you
    own (``uri`` then only names the server in error messages). Constraints and indexes are created on first use.
    """

    def __init__(self, uri: str, auth: tuple[str, str] | None = None, database: str | None = None,
                 namespace: str = "ragkit", driver: Any = None) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ConfigError(f"namespace must be a non-empty string, got {namespace!r}; pick one name per knowledge "
                              "base sharing the database")
        try:
            import neo4j
        except ImportError as exc:
            raise MissingExtraError("neo4j", "neo4j", "The Neo4j graph store") from exc
        self._errors: tuple[type[BaseException], ...] = (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError)
        self.uri = uri
        self.database = database
        self.namespace = namespace
        self._owns_driver = driver is None
        if driver is None:
            try:
                driver = neo4j.GraphDatabase.driver(uri, auth=auth)
            except (ValueError, *self._errors) as exc:
                raise ConfigError(f"cannot open a Neo4j driver for {uri!r}: {exc}. Use a bolt:// or neo4j:// URI "
                                  "and (user, password) auth") from exc
        self._driver = driver
        self._schema_ready = False

    @classmethod
    def from_driver(cls, driver: Any, *, database: str | None = None, namespace: str = "ragkit",
                    uri: str = "<shared driver>") -> Neo4jGraphStore:
        """A store on a driver the caller owns (and closes)."""
        return cls(uri, database=database, namespace=namespace, driver=driver)

    def replace(self, graphs: Sequence[DocumentGraph]) -> None:
        mentions = [{"doc_id": g.doc_id, "entity": m.entity, "surface": m.surface, "label": m.label,
                     "chunk_id": m.chunk_id, "start": m.start, "end": m.end, "sentence_start": m.sentence_start,
                     "sentence_end": m.sentence_end} for g in graphs for m in g.mentions]
        relations = [{"doc_id": g.doc_id, "source": r.source, "target": r.target, "label": r.label,
                      "chunk_id": r.chunk_id, "weight": float(r.weight), "sentence_start": r.sentence_start,
                      "sentence_end": r.sentence_end} for g in graphs for r in g.relations]

        def work(tx: Any) -> None:
            touched = self._delete_documents(tx, list(dict.fromkeys(g.doc_id for g in graphs)))
            for batch in _batches(mentions):
                tx.run(_CREATE_MENTIONS, ns=self.namespace, rows=batch).consume()
            for batch in _batches(relations):
                tx.run(_CREATE_RELATIONS, ns=self.namespace, rows=batch).consume()
            self._delete_orphans(tx, touched)

        if graphs:
            self._write("replacing documents", work)

    def delete(self, doc_ids: Sequence[str]) -> None:
        def work(tx: Any) -> None:
            self._delete_orphans(tx, self._delete_documents(tx, list(dict.fromkeys(doc_ids))))

        if doc_ids:
            self._write("deleting documents", work)

    def _delete_documents(self, tx: Any, doc_ids: list[str]) -> set[str]:
        """Drop these documents' chunks, mentions and relations; return the keys of the entities they touched."""
        touched: set[str] = set()
        for batch in _batches(doc_ids):
            for query in (_DELETE_CHUNKS, _DELETE_RELATIONS):
                for (keys,) in tx.run(query, ns=self.namespace, docs=batch).values():
                    touched.update(keys)
        return touched

    def _delete_orphans(self, tx: Any, keys: set[str]) -> None:
        for batch in _batches(sorted(keys)):
            tx.run(_DELETE_ORPHANS, ns=self.namespace, keys=batch).consume()

    def mentions(self, *, entities: Sequence[str] | None = None, chunks: Sequence[str] | None = None) -> list[Mention]:
        if entities is None and chunks is None:
            rows = self._read("reading mentions", _ALL_MENTIONS)
        elif entities is not None:
            rows = self._read("reading mentions", _MENTIONS_OF_ENTITIES, entities)
        else:
            rows = self._read("reading mentions", _MENTIONS_IN_CHUNKS, chunks)
        return [Mention(*row) for row in rows]

    def relations(self, entities: Sequence[str] | None = None) -> list[Relation]:
        if entities is None:
            return [Relation(*row) for row in self._read("reading relations", _ALL_RELATIONS)]
        wanted = set(entities)
        outgoing = self._read("reading relations", _RELATIONS_FROM, entities)
        incoming = self._read("reading relations", _RELATIONS_TO, entities)
        # A relation with both ends in the set comes back from both queries: keep it once, as an outgoing one.
        return [Relation(*row) for row in outgoing] + [Relation(*row) for row in incoming if row[0] not in wanted]

    def chunk_counts(self, entities: Sequence[str]) -> dict[str, int]:
        return dict(self._read("counting chunks", _CHUNK_COUNTS, entities))

    def close(self) -> None:
        if self._owns_driver:
            self._driver.close()

    def _read(self, what: str, query: str, keys: Sequence[str] | None = None) -> list[list[Any]]:
        """Rows of ``query``, in one read transaction; ``keys`` (deduplicated) go in batches as ``$keys``."""
        batches = [None] if keys is None else list(_batches(list(dict.fromkeys(keys))))

        def work(tx: Any) -> list[list[Any]]:
            rows: list[list[Any]] = []
            for batch in batches:
                rows.extend(tx.run(query, ns=self.namespace, keys=batch).values())
            return rows

        if not batches:
            return []
        return self._call(what, lambda session: session.execute_read(work))

    def _write(self, what: str, work: Callable[[Any], None]) -> None:
        self._call(what, lambda session: session.execute_write(work))

    def _call(self, what: str, action: Callable[[Any], _T]) -> _T:
        try:
            with self._driver.session(database=self.database) as session:
                if not self._schema_ready:
                    for statement in _SCHEMA:
                        session.run(statement).consume()
                    self._schema_ready = True
                return action(session)
        except self._errors as exc:
            database = self.database or "the default database"
            raise IndexBackendError(
                f"the Neo4j graph store at {self.uri} ({database}, namespace {self.namespace!r}) failed while {what}: "
                f"{type(exc).__name__}: {exc}. Check that the server is running and reachable at that URI, the "
                "credentials, that the database exists, and that the user may write to it and create constraints"
            ) from exc


def _batches(items: list[_T]) -> Iterator[list[_T]]:
    for begin in range(0, len(items), _BATCH):
        yield items[begin : begin + _BATCH]
