"""A knowledge base's entity graph as one unit: the store it lives in, the extractor that fills it, the walk that
ranks chunks over it, and the communities (themes) derived from it — which every write makes stale.

The write path calls ``write`` and ``delete`` inside step 2 of its three-step write (beside the vector index), so
a crash is finished on reopen like the index; everything else reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from ragkit.embed import Embedder
from ragkit.graph.explore import GraphView
from ragkit.graph.extract import Extractor, make_extractor
from ragkit.graph.rank import GraphRanker
from ragkit.graph.store import EmbeddedGraphStore, GraphStore
from ragkit.graph.themes import Themes
from ragkit.records import Chunk
from ragkit.settings import GraphConfig, GraphKind

GRAPH_FILE = "graph.sqlite"

SentenceText = Callable[[str, int, int], str]
"""The text at document offsets ``start:end`` of the document that holds a chunk: (chunk id, start, end) → text."""


def open_graph_store(config: GraphConfig, directory: Path | None) -> GraphStore:
    """The store the settings name: SQLite inside ``directory``, or a Neo4j server."""
    if config.kind is GraphKind.EMBEDDED:
        assert directory is not None, "server mode keeps the graph in Neo4j"
        return EmbeddedGraphStore(directory / GRAPH_FILE)
    from ragkit.graph.neo4j_store import Neo4jGraphStore

    uri, database, auth = config.connection()
    return Neo4jGraphStore(uri, auth, database, namespace=config.namespace)


class EntityGraph:
    """The graph of one knowledge base: ``write`` / ``delete`` keep it equal to what a rebuild would make (a
    document's contribution depends on that document alone), ``view`` explores it, ``ranker`` walks it in
    ``graph`` mode, ``themes`` ranks its communities in ``global`` mode."""

    def __init__(self, store: GraphStore, extractor: Extractor, embedder: Embedder,
                 sentence_text: SentenceText) -> None:
        self.store = store
        self.extractor = extractor
        self.view = GraphView(store, sentence_text)
        self.ranker = GraphRanker(store, extractor)
        self.themes = Themes(self.view.communities, embedder)

    @classmethod
    def open(cls, config: GraphConfig, directory: Path | None, embedder: Embedder, sentence_text: SentenceText,
             store: GraphStore | None = None) -> EntityGraph:
        """The graph the settings name, or ``store`` if one was passed; the extractor loads its model on first use."""
        return cls(store or open_graph_store(config, directory), make_extractor(config.model), embedder,
                   sentence_text)

    def write(self, documents: Sequence[tuple[str, Sequence[Chunk]]]) -> None:
        """Extract these documents' entities and relations and store them in place of what they contributed."""
        if documents:
            self.store.replace(self.extractor.extract(documents))
            self.themes.invalidate()  # communities are recomputed on the next global query

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove these documents' contributions (and the entities nothing mentions any more)."""
        if doc_ids:
            self.store.delete(doc_ids)
            self.themes.invalidate()

    def names(self, phrases: Sequence[str]) -> list[str]:
        """The graph's most common names of the entities these phrases name (unknown phrases are left out)."""
        found = (self.view.entity(phrase) for phrase in phrases)
        return [info.name for info in found if info is not None]

    def close(self) -> None:
        self.store.close()
