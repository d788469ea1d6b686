"""The entity graph: extraction (spaCy, LAC), resolution, storage (embedded SQLite or Neo4j), multi-hop ranking,
communities and exploration; ``EntityGraph`` holds one knowledge base's graph as a unit."""

from __future__ import annotations

from ragkit.graph.explore import Community, EntityInfo, GraphView
from ragkit.graph.extract import (
                                  DocumentGraph,
                                  Extractor,
                                  LacExtractor,
                                  Mention,
                                  Relation,
                                  SpacyExtractor,
                                  make_extractor,
)
from ragkit.graph.maintain import GRAPH_FILE, EntityGraph, open_graph_store
from ragkit.graph.rank import GraphRanker, GraphRanking, personalized_pagerank
from ragkit.graph.resolve import normalize_name, resolve_aliases
from ragkit.graph.store import EmbeddedGraphStore, GraphStore

__all__ = [
    "GRAPH_FILE", "Community", "DocumentGraph", "EmbeddedGraphStore", "EntityGraph", "EntityInfo", "Extractor",
    "GraphRanker", "GraphRanking", "GraphStore", "GraphView", "LacExtractor", "Mention", "Relation", "SpacyExtractor",
    "make_extractor", "normalize_name", "open_graph_store", "personalized_pagerank", "resolve_aliases",
]
