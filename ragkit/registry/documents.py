"""Documents and chunks: the rows of the three-step write, whose states say what the vector index must still do.

The vector index only ever holds points the registry knows about. A write happens in three steps:

1. one transaction records the new state with every affected chunk marked ``pending`` (to index) or
   ``deleting`` (to remove from the index);
2. the index is updated and flushed;
3. one transaction marks the work done.

A crash anywhere leaves rows marked ``pending`` / ``deleting``; reopening finishes that work (``pending_work``),
so the index and the registry always agree again. Document text is stored once; chunk text is a slice of it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ragkit.cleaning import DedupKeys
from ragkit.records import Chunk, Document, element_from_json, element_to_json, stable_hash
from ragkit.registry.bm25 import BM25Statistics
from ragkit.registry.database import RegistryDatabase
from ragkit.registry.duplicates import DuplicateIndex
from ragkit.sparse import TermCounts

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id      TEXT PRIMARY KEY,
    source      TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    text        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    state       TEXT NOT NULL,
    updated_at  {real} NOT NULL,
    text_hash   TEXT,
    elements    TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS documents_by_text_hash ON documents(text_hash);
CREATE INDEX IF NOT EXISTS documents_unfinished ON documents(state) WHERE state != 'ready';
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id   TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal  {int} NOT NULL,
    start    {int} NOT NULL,
    "end"    {int} NOT NULL,
    n_terms  {int} NOT NULL,
    state    TEXT NOT NULL,
    context  TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{{}}',
    terms    {blob} NOT NULL DEFAULT {empty_blob},
    embed_hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_by_embed_hash ON chunks(embed_hash);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_unfinished ON chunks(state) WHERE state != 'ready';
"""

READY, PENDING, DELETING = "ready", "pending", "deleting"
# Written out as in the partial indexes' WHERE: SQLite uses a partial index only for a query that repeats its
# condition, so without it every lookup of unfinished rows scanned the whole table (and ingest slowed as it grew).
_UNFINISHED = "state != 'ready'"


@dataclass(frozen=True)
class DocumentRow:
    doc_id: str
    source: str
    fingerprint: str
    state: str


def embed_hash(chunk: Chunk) -> str:
    """A hash of what gets embedded: equal hashes, equal vectors."""
    return text_hash(chunk.embed_text)


def text_hash(text: str) -> str:
    """``embed_hash`` of a chunk whose embedded text is ``text``."""
    return stable_hash("embed", text)[:32]


@dataclass(frozen=True)
class DocumentWrite:
    """A document to store with its chunks, their BM25 terms and its duplicate-detection keys."""

    document: Document
    fingerprint: str
    chunks: Sequence[Chunk]
    terms: Sequence[TermCounts]
    keys: DedupKeys


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the registry knows it, with its document's source and metadata."""

    chunk: Chunk
    source: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class PendingWork:
    """Index work a crashed write left behind: chunks to (re)index, chunk ids to remove, and the documents being
    written (whose payloads may be stale)."""

    to_index: tuple[StoredChunk, ...]
    to_delete: tuple[str, ...]
    documents: tuple[Document, ...] = ()
    deleting_documents: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.to_index or self.to_delete or self.documents or self.deleting_documents)


class DocumentStore:
    """Documents and chunks in the registry; every method that writes is one transaction, which also updates the
    BM25 statistics and the near-duplicate store."""

    def __init__(self, database: RegistryDatabase, bm25: BM25Statistics, duplicates: DuplicateIndex) -> None:
        self._db = database
        self._bm25 = bm25
        self._duplicates = duplicates
        database.create(SCHEMA)

    # -- reading -------------------------------------------------------------------------------------------

    def document(self, source: str) -> DocumentRow | None:
        row = self._db.execute(
            "SELECT doc_id, source, fingerprint, state FROM documents WHERE source = ?", (source,)
        ).fetchone()
        return DocumentRow(*row) if row else None

    def find(self, source_or_doc_id: str) -> DocumentRow | None:
        row = self._db.execute(
            "SELECT doc_id, source, fingerprint, state FROM documents WHERE source = ? OR doc_id = ?",
            (source_or_doc_id, source_or_doc_id),
        ).fetchone()
        return DocumentRow(*row) if row else None

    def load_document(self, doc_id: str) -> Document | None:
        row = self._db.execute(
            "SELECT source, text, metadata, elements FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return None
        source, text, metadata, elements = row
        return Document(source, text, json.loads(metadata), tuple(element_from_json(e) for e in json.loads(elements)))

    def documents_under(self, prefix: str) -> list[DocumentRow]:
        """Documents whose source starts with ``prefix`` (a folder path ending in a separator)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute(
            "SELECT doc_id, source, fingerprint, state FROM documents WHERE source LIKE ? ESCAPE '\\'",
            (escaped + "%",),
        ).fetchall()
        return [DocumentRow(*row) for row in rows]

    def chunk_ids(self, doc_id: str) -> set[str]:
        rows = self._db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
        return {row[0] for row in rows}

    def all_chunk_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT chunk_id FROM chunks")}

    def chunks(self, chunk_ids: Sequence[str], *, visible: bool = False) -> dict[str, StoredChunk]:
        """The chunks with these ids (unknown ids are left out), text sliced from their document. ``visible``: only
        chunks whose write is done (``ready``) — what searches show, so a reader never meets half of a write (a
        pending chunk may already be in the index; a deleting one's offsets may point into its document's new
        text)."""
        found: dict[str, StoredChunk] = {}
        ready = f" AND c.state = '{READY}'" if visible else ""
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                'SELECT c.chunk_id, c.doc_id, c.ordinal, c.start, c."end", '
                'substr(d.text, c.start + 1, c."end" - c.start), c.context, c.metadata, d.source, d.metadata '
                f"FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id IN ({marks}){ready}",
                batch,
            ).fetchall()
            for chunk_id, doc_id, ordinal, begin, end, text, context, chunk_meta, source, doc_meta in rows:
                chunk = Chunk(chunk_id, doc_id, ordinal, begin, end, text, context, json.loads(chunk_meta))
                found[chunk_id] = StoredChunk(chunk, source, json.loads(doc_meta))
        return found

    def _in_state(self, table: str, state: str) -> list[str]:
        """Ids of the chunks or documents in an unfinished state (through the partial index)."""
        column = "chunk_id" if table == "chunks" else "doc_id"
        return [row[0] for row in self._db.execute(
            f"SELECT {column} FROM {table} WHERE {_UNFINISHED} AND state = ?", (state,))]

    def deleting_chunk_ids(self) -> list[str]:
        return self._in_state("chunks", DELETING)

    def pending_work(self) -> PendingWork:
        pending = self._in_state("chunks", PENDING)
        stored = self.chunks(pending)
        documents = tuple(d for doc_id in self._in_state("documents", PENDING)
                          if (d := self.load_document(doc_id)) is not None)
        return PendingWork(tuple(stored[chunk_id] for chunk_id in pending), tuple(self._in_state("chunks", DELETING)),
                           documents, tuple(self._in_state("documents", DELETING)))

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's current chunks (ready or pending), in order."""
        ids = [row[0] for row in self._db.execute(
            "SELECT chunk_id FROM chunks WHERE doc_id = ? AND state != ? ORDER BY ordinal", (doc_id, DELETING))]
        found = self.chunks(ids)
        return [found[chunk_id].chunk for chunk_id in ids if chunk_id in found]

    def iter_chunks(self, batch: int = 2000) -> Iterator[list[StoredChunk]]:
        """Every ready or pending chunk, in batches (for re-encoding the whole index)."""
        last = ""
        while True:
            rows = self._db.execute(
                "SELECT chunk_id FROM chunks WHERE state != ? AND chunk_id > ? ORDER BY chunk_id LIMIT ?",
                (DELETING, last, batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield list(self.chunks([row[0] for row in rows]).values())

    def stats(self) -> dict[str, int]:
        documents = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        unfinished = self._db.execute(f"SELECT COUNT(*) FROM chunks WHERE {_UNFINISHED}").fetchone()[0]
        chars = self._db.execute("SELECT COALESCE(SUM(length(text)), 0) FROM documents").fetchone()[0]
        return {"documents": documents, "chunks": chunks, "unfinished_chunks": unfinished, "characters": chars}

    def chunks_embedding(self, hashes: Sequence[str]) -> dict[str, str]:
        """For each embedded-text hash, a ready chunk that has it (its vector can be reused)."""
        found: dict[str, str] = {}
        for start in range(0, len(hashes), 500):
            batch = list(hashes[start : start + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT embed_hash, chunk_id FROM chunks WHERE embed_hash IN ({marks}) AND state = ?", [*batch, READY]
            ).fetchall()
            found.update(rows)
        return found

    # -- writing -------------------------------------------------------------------------------------------

    def begin_replace(self, writes: Iterable[DocumentWrite]) -> set[str]:
        """Step 1 of a write: store documents with their chunks (and BM25 term counts).

        Chunks whose id the document already had stay ``ready`` (only their offsets move); new ones are
        ``pending``; old ones that are gone become ``deleting``. Returns the ids of the pending chunks.
        Call only when ``pending_work()`` is empty, so that every existing chunk is in the index.
        """
        now = time.time()
        pending: set[str] = set()
        added: list[TermCounts] = []
        removed: list[str] = []
        with self._db.transaction() as db:
            for write in writes:
                document, chunks = write.document, write.chunks
                old = {row[0] for row in db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (document.id,))}
                db.execute(
                    "INSERT INTO documents(doc_id, source, fingerprint, text, metadata, state, updated_at, text_hash, "
                    "elements) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(doc_id) DO UPDATE SET "
                    "fingerprint = excluded.fingerprint, text = excluded.text, metadata = excluded.metadata, "
                    "state = excluded.state, updated_at = excluded.updated_at, text_hash = excluded.text_hash, "
                    "elements = excluded.elements",
                    (document.id, document.source, write.fingerprint, document.text,
                     json.dumps(dict(document.metadata), default=str), PENDING, now, write.keys.text_hash,
                     json.dumps([element_to_json(e) for e in document.elements], default=str)),
                )
                self._duplicates.store(db, document.id, write.keys)
                for chunk, terms in zip(chunks, write.terms):
                    state = READY if chunk.id in old else PENDING
                    if state == PENDING:
                        pending.add(chunk.id)
                        added.append(terms)
                    db.execute(
                        'INSERT INTO chunks(chunk_id, doc_id, ordinal, start, "end", n_terms, state, context, '
                        "metadata, terms, embed_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT(chunk_id) DO UPDATE SET "
                        'ordinal = excluded.ordinal, start = excluded.start, "end" = excluded."end", '
                        "n_terms = excluded.n_terms, state = excluded.state, metadata = excluded.metadata",
                        (chunk.id, document.id, chunk.ordinal, chunk.start, chunk.end, terms.length, state,
                         chunk.context, json.dumps(dict(chunk.metadata), default=str),
                         np.asarray(terms.indices, dtype=np.uint32).tobytes(), embed_hash(chunk)),
                    )
                gone = old - {chunk.id for chunk in chunks}
                removed.extend(gone)
                db.executemany("UPDATE chunks SET state = ? WHERE chunk_id = ?", [(DELETING, c) for c in gone])
            self._bm25.record(db, added=added, removed=removed)
        return pending

    def begin_delete(self, doc_ids: Sequence[str]) -> None:
        """Step 1 of a delete: mark the documents and all their chunks for removal."""
        with self._db.transaction() as db:
            for doc_id in doc_ids:
                live = [row[0] for row in db.execute(
                    "SELECT chunk_id FROM chunks WHERE doc_id = ? AND state != ?", (doc_id, DELETING))]
                self._bm25.record(db, removed=live)
                db.execute("UPDATE documents SET state = ? WHERE doc_id = ?", (DELETING, doc_id))
                db.execute("UPDATE chunks SET state = ? WHERE doc_id = ?", (DELETING, doc_id))

    def finish(self) -> None:
        """Step 3: the index now matches; drop deleted rows and mark everything ready."""
        with self._db.transaction() as db:
            db.execute(f"DELETE FROM chunks WHERE {_UNFINISHED} AND state = ?", (DELETING,))
            db.execute(f"DELETE FROM documents WHERE {_UNFINISHED} AND state = ?", (DELETING,))
            db.execute(f"UPDATE chunks SET state = ? WHERE {_UNFINISHED} AND state = ?", (READY, PENDING))
            db.execute(f"UPDATE documents SET state = ? WHERE {_UNFINISHED} AND state = ?", (READY, PENDING))
