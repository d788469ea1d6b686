"""The entity graph: extraction (spaCy), resolution, storage (embedded SQLite or Neo4j), multi-hop ranking and
exploration."""

from __future__ import annotations

from pathlib import Path

from ragkit.settings import GraphConfig, GraphKind
from ragkit.graph.explore import Community, EntityInfo, GraphView
from ragkit.graph.extract import (DocumentGraph, Extractor, LacExtractor, Mention, Relation, SpacyExtractor,
                                  make_extractor)
from ragkit.graph.rank import GraphRanker, GraphRanking, personalized_pagerank
from ragkit.graph.resolve import normalize_name, resolve_aliases
from ragkit.graph.store import EmbeddedGraphStore, GraphStore

GRAPH_FILE = "graph.sqlite"


def open_graph_store(settings: GraphConfig, directory: Path) -> GraphStore:
    """The store the settings name: SQLite inside ``directory``, or a Neo4j server."""
    if settings.kind is GraphKind.EMBEDDED:
        return EmbeddedGraphStore(directory / GRAPH_FILE)
    from ragkit.graph.neo4j_store import Neo4jGraphStore

    uri, database, auth = settings.connection()
    return Neo4jGraphStore(uri, auth, database, namespace=settings.namespace)


__all__ = [
    "Community", "DocumentGraph", "EmbeddedGraphStore", "EntityInfo", "Extractor", "GraphRanker", "GraphRanking",
    "GraphStore", "GraphView", "LacExtractor", "Mention", "Relation", "SpacyExtractor", "make_extractor",
    "normalize_name", "open_graph_store", "personalized_pagerank", "resolve_aliases",
]
