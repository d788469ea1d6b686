"""Where the entity graph lives: a small ``GraphStore`` protocol, and the embedded store (SQLite in the knowledge-base
folder). ``ragkit.graph.neo4j_store`` implements the same protocol on a Neo4j server.

The graph is the union of per-document contributions (``DocumentGraph``): replacing or deleting a document swaps
exactly its mentions and relations, and an entity exists while at least one mention names it. So after any
sequence of writes the store holds what a rebuild from the final corpus would.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from ragkit.graph.extract import DocumentGraph, Mention, Relation
from ragkit.registry.database import Database


class GraphStore(Protocol):
    """Writes replace whole documents; reads return mentions and relations (everything else is derived)."""

    def replace(self, graphs: Sequence[DocumentGraph]) -> None:
        """Store these documents' contributions in place of whatever they contributed before."""
        ...

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove these documents' contributions (and the entities nothing mentions any more)."""
        ...

    def mentions(self, *, entities: Sequence[str] | None = None, chunks: Sequence[str] | None = None) -> list[Mention]:
        """Mentions of these entities, or in these chunks, or (neither given) all of them."""
        ...

    def relations(self, entities: Sequence[str] | None = None) -> list[Relation]:
        """Relations with an end among ``entities``, each once (all relations when None)."""
        ...

    def chunk_counts(self, entities: Sequence[str]) -> dict[str, int]:
        """For each of these entities that exists, how many chunks mention it."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS mentions (
    doc_id TEXT NOT NULL, chunk_id TEXT NOT NULL, entity TEXT NOT NULL, surface TEXT NOT NULL, label TEXT NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, sentence_start INTEGER NOT NULL, sentence_end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mentions_by_entity ON mentions(entity, chunk_id);
CREATE INDEX IF NOT EXISTS mentions_by_chunk ON mentions(chunk_id);
CREATE INDEX IF NOT EXISTS mentions_by_doc ON mentions(doc_id);
CREATE TABLE IF NOT EXISTS relations (
    doc_id TEXT NOT NULL, chunk_id TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, label TEXT NOT NULL,
    weight REAL NOT NULL, sentence_start INTEGER NOT NULL, sentence_end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS relations_by_source ON relations(source);
CREATE INDEX IF NOT EXISTS relations_by_target ON relations(target);
CREATE INDEX IF NOT EXISTS relations_by_doc ON relations(doc_id);
"""
_MENTION_COLUMNS = "entity, surface, label, chunk_id, start, end, sentence_start, sentence_end"
_RELATION_COLUMNS = "source, target, label, chunk_id, sentence_start, sentence_end, weight"


class EmbeddedGraphStore:
    """The graph in one SQLite file; every write is one transaction, reads see only committed ones (and may come
    from several threads: see ``ragkit.registry.database``)."""

    def __init__(self, path: str | Path) -> None:
        self._db = Database(Path(path))
        self._db.create(_SCHEMA)

    def replace(self, graphs: Sequence[DocumentGraph]) -> None:
        with self._db.transaction() as db:
            self._delete(db, [graph.doc_id for graph in graphs])
            db.executemany(
                f"INSERT INTO mentions(doc_id, {_MENTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(g.doc_id, m.entity, m.surface, m.label, m.chunk_id, m.start, m.end, m.sentence_start,
                  m.sentence_end) for g in graphs for m in g.mentions],
            )
            db.executemany(
                f"INSERT INTO relations(doc_id, {_RELATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(g.doc_id, r.source, r.target, r.label, r.chunk_id, r.sentence_start, r.sentence_end, r.weight)
                 for g in graphs for r in g.relations],
            )

    def delete(self, doc_ids: Sequence[str]) -> None:
        with self._db.transaction() as db:
            self._delete(db, doc_ids)

    @staticmethod
    def _delete(db: sqlite3.Connection, doc_ids: Sequence[str]) -> None:
        db.executemany("DELETE FROM mentions WHERE doc_id = ?", [(d,) for d in doc_ids])
        db.executemany("DELETE FROM relations WHERE doc_id = ?", [(d,) for d in doc_ids])

    def mentions(self, *, entities: Sequence[str] | None = None, chunks: Sequence[str] | None = None) -> list[Mention]:
        if entities is None and chunks is None:
            rows: Iterable[tuple] = self._db.execute(f"SELECT {_MENTION_COLUMNS} FROM mentions")
        else:
            column, values = ("entity", entities) if entities is not None else ("chunk_id", chunks)
            rows = self._select(f"SELECT {_MENTION_COLUMNS} FROM mentions WHERE {column} IN ({{marks}})", values)
        return [Mention(*row) for row in rows]

    def relations(self, entities: Sequence[str] | None = None) -> list[Relation]:
        if entities is None:
            return [Relation(*row) for row in self._db.execute(f"SELECT {_RELATION_COLUMNS} FROM relations")]
        rows: dict[int, tuple] = {}  # by rowid: a relation with both ends in the set comes back once
        for column in ("source", "target"):
            for rowid, *row in self._select(f"SELECT rowid, {_RELATION_COLUMNS} FROM relations "
                                            f"WHERE {column} IN ({{marks}})", entities):
                rows[rowid] = tuple(row)
        return [Relation(*row) for row in rows.values()]

    def chunk_counts(self, entities: Sequence[str]) -> dict[str, int]:
        rows = self._select("SELECT entity, COUNT(DISTINCT chunk_id) FROM mentions WHERE entity IN ({marks}) "
                            "GROUP BY entity", entities)
        return dict(rows)

    def _select(self, sql: str, values: Sequence[str]) -> list[tuple]:
        found: list[tuple] = []
        values = list(dict.fromkeys(values))
        for begin in range(0, len(values), 500):
            batch = values[begin : begin + 500]
            found.extend(self._db.execute(sql.format(marks=",".join("?" * len(batch))), batch).fetchall())
        return found

    def close(self) -> None:
        self._db.close()

