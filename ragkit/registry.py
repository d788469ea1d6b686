"""The registry: a SQLite database of documents and chunks that is the knowledge base's source of truth.

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
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ragkit.cleaning import DedupKeys
from ragkit.records import Chunk, Document, element_from_json, element_to_json, stable_hash
from ragkit.sparse import TermCounts

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id      TEXT PRIMARY KEY,
    source      TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    text        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    state       TEXT NOT NULL,
    updated_at  REAL NOT NULL,
    text_hash   TEXT,
    elements    TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS documents_by_text_hash ON documents(text_hash);
CREATE INDEX IF NOT EXISTS documents_unfinished ON documents(state) WHERE state != 'ready';
CREATE TABLE IF NOT EXISTS minhash (
    id        INTEGER PRIMARY KEY,
    doc_id    TEXT NOT NULL UNIQUE REFERENCES documents(doc_id) ON DELETE CASCADE,
    signature BLOB NOT NULL,
    band_keys TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lsh (
    key INTEGER NOT NULL,
    sig INTEGER NOT NULL,
    PRIMARY KEY (key, sig)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS minhash_gone AFTER DELETE ON minhash BEGIN
    DELETE FROM lsh WHERE sig = OLD.id AND key IN (SELECT value FROM json_each(OLD.band_keys));
END;
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id   TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal  INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    end      INTEGER NOT NULL,
    n_terms  INTEGER NOT NULL,
    state    TEXT NOT NULL,
    context  TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    terms    BLOB NOT NULL DEFAULT x'',
    embed_hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_by_embed_hash ON chunks(embed_hash);
CREATE TABLE IF NOT EXISTS term_df (term INTEGER PRIMARY KEY, df INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS corpus_totals (id INTEGER PRIMARY KEY CHECK (id = 1), chunks INTEGER NOT NULL,
                                          terms INTEGER NOT NULL);
INSERT OR IGNORE INTO corpus_totals(id, chunks, terms) VALUES (1, 0, 0);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_unfinished ON chunks(state) WHERE state != 'ready';
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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


_BAND_SHIFT = 48
_BUCKET_MASK = (1 << _BAND_SHIFT) - 1


def band_keys(bands: Sequence[int]) -> list[int]:
    """One integer per LSH band: the band's number in the high bits, 48 bits of its hash below. A shared key makes
    two documents candidates, which their signatures then confirm or reject, so a rare truncation collision costs
    one comparison, never a wrong result."""
    return [(band << _BAND_SHIFT) | (bucket & _BUCKET_MASK) for band, bucket in enumerate(bands)]


def embed_hash(chunk: Chunk) -> str:
    """A hash of what gets embedded: equal hashes, equal vectors."""
    return stable_hash("embed", chunk.embed_text)[:32]


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


class Registry:
    """Documents and chunks in SQLite; every method that writes is one transaction."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._migrate_lsh()

    def _migrate_lsh(self) -> None:
        """Move LSH band rows from the first layout (three rows and two indexes per band, ≈ 4 KB per document) to
        one (key, signature id) entry per band in a clustered table."""
        if not self._db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'lsh_buckets'").fetchone():
            return
        with self._transaction() as db:
            db.execute(
                "INSERT INTO minhash(doc_id, signature, band_keys) SELECT s.doc_id, s.signature, "
                f"(SELECT json_group_array((band << {_BAND_SHIFT}) | (bucket & {_BUCKET_MASK})) FROM lsh_buckets l "
                "WHERE l.doc_id = s.doc_id) FROM signatures s"
            )
            db.execute("INSERT OR IGNORE INTO lsh(key, sig) "
                       "SELECT j.value, m.id FROM minhash m, json_each(m.band_keys) j")
            db.execute("DROP TABLE lsh_buckets")
            db.execute("DROP TABLE signatures")

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> Transaction:
        return Transaction(self._db)

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

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]:
        """The chunks with these ids (unknown ids are left out), text sliced from their document."""
        found: dict[str, StoredChunk] = {}
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                "SELECT c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, "
                "substr(d.text, c.start + 1, c.end - c.start), c.context, c.metadata, d.source, d.metadata "
                f"FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id IN ({marks})",
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

    def iter_chunks(self, batch: int = 2000):
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

    def term_counts(self) -> tuple[int, int]:
        """(number of chunks, total BM25 terms) over the ready and pending chunks — kept as running totals, since
        every BM25 query needs them."""
        row = self._db.execute("SELECT chunks, terms FROM corpus_totals WHERE id = 1").fetchone()
        return int(row[0]), int(row[1])

    def stats(self) -> dict[str, int]:
        documents = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        unfinished = self._db.execute(f"SELECT COUNT(*) FROM chunks WHERE {_UNFINISHED}").fetchone()[0]
        chars = self._db.execute("SELECT COALESCE(SUM(length(text)), 0) FROM documents").fetchone()[0]
        return {"documents": documents, "chunks": chunks, "unfinished_chunks": unfinished, "characters": chars}

    def source_with_text_hash(self, text_hash: str, exclude_doc_id: str) -> str | None:
        row = self._db.execute(
            "SELECT source FROM documents WHERE text_hash = ? AND doc_id != ? AND state != ? LIMIT 1",
            (text_hash, exclude_doc_id, DELETING),
        ).fetchone()
        return row[0] if row else None

    def near_candidates(self, bands: Sequence[int], exclude_doc_id: str) -> list[tuple[str, np.ndarray]]:
        """(source, MinHash signature) of documents that share at least one LSH band value."""
        keys = band_keys(bands)
        rows = self._db.execute(
            "SELECT DISTINCT d.source, m.signature FROM lsh l JOIN minhash m ON m.id = l.sig "
            f"JOIN documents d ON d.doc_id = m.doc_id WHERE l.key IN ({','.join('?' * len(keys))}) "
            "AND m.doc_id != ? AND d.state != ?",
            [*keys, exclude_doc_id, DELETING],
        ).fetchall()
        return [(source, np.frombuffer(signature, dtype=np.uint32)) for source, signature in rows]

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -- writing -------------------------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def begin_replace(self, writes: Iterable[DocumentWrite]) -> set[str]:
        """Step 1 of a write: store documents with their chunks (and BM25 term counts).

        Chunks whose id the document already had stay ``ready`` (only their offsets move); new ones are
        ``pending``; old ones that are gone become ``deleting``. Returns the ids of the pending chunks.
        Call only when ``pending_work()`` is empty, so that every existing chunk is in the index.
        """
        now = time.time()
        pending: set[str] = set()
        df_delta: Counter[int] = Counter()
        totals = [0, 0]  # change in (chunks, terms)
        with self._transaction() as db:
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
                db.execute("DELETE FROM minhash WHERE doc_id = ?", (document.id,))  # its trigger drops the bands
                keys = band_keys(write.keys.bands)
                sig = db.execute("INSERT INTO minhash(doc_id, signature, band_keys) VALUES (?, ?, ?)",
                                 (document.id, write.keys.signature.tobytes(), json.dumps(keys))).lastrowid
                db.executemany("INSERT OR IGNORE INTO lsh(key, sig) VALUES (?, ?)", [(key, sig) for key in keys])
                for chunk, terms in zip(chunks, write.terms):
                    state = READY if chunk.id in old else PENDING
                    if state == PENDING:
                        pending.add(chunk.id)
                        df_delta.update(terms.indices)
                        totals[0] += 1
                        totals[1] += terms.length
                    db.execute(
                        "INSERT INTO chunks(chunk_id, doc_id, ordinal, start, end, n_terms, state, context, metadata, "
                        "terms, embed_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(chunk_id) DO UPDATE SET "
                        "ordinal = excluded.ordinal, start = excluded.start, end = excluded.end, "
                        "n_terms = excluded.n_terms, state = excluded.state, metadata = excluded.metadata",
                        (chunk.id, document.id, chunk.ordinal, chunk.start, chunk.end, terms.length, state,
                         chunk.context, json.dumps(dict(chunk.metadata), default=str),
                         np.asarray(terms.indices, dtype=np.uint32).tobytes(), embed_hash(chunk)),
                    )
                gone = old - {chunk.id for chunk in chunks}
                removed, count, length = self._terms_of(db, gone)
                df_delta.subtract(removed)
                totals[0] -= count
                totals[1] -= length
                db.executemany("UPDATE chunks SET state = ? WHERE chunk_id = ?", [(DELETING, c) for c in gone])
            self._apply_df(db, df_delta, totals)
        return pending

    @staticmethod
    def _terms_of(db: sqlite3.Connection, chunk_ids: Iterable[str]) -> tuple[Counter[int], int, int]:
        """How many of these chunks contain each term, how many chunks there are, and their total length."""
        found: Counter[int] = Counter()
        count = length = 0
        for chunk_id in chunk_ids:
            row = db.execute("SELECT terms, n_terms FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()
            if row:
                found.update(np.frombuffer(row[0], dtype=np.uint32).tolist())
                count += 1
                length += row[1]
        return found, count, length

    @staticmethod
    def _apply_df(db: sqlite3.Connection, delta: Counter[int], totals: Sequence[int]) -> None:
        changes = [(term, change) for term, change in delta.items() if change]
        db.executemany("INSERT INTO term_df(term, df) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
                       changes)
        db.execute("DELETE FROM term_df WHERE df <= 0")
        db.execute("UPDATE corpus_totals SET chunks = chunks + ?, terms = terms + ? WHERE id = 1", tuple(totals))

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

    def document_frequencies(self, terms: Sequence[int]) -> dict[int, int]:
        """In how many indexed chunks each term occurs (terms in none are left out)."""
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        rows = self._db.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", list(terms)).fetchall()
        return dict(rows)

    def begin_delete(self, doc_ids: Sequence[str]) -> None:
        """Step 1 of a delete: mark the documents and all their chunks for removal."""
        with self._transaction() as db:
            for doc_id in doc_ids:
                live = [row[0] for row in db.execute(
                    "SELECT chunk_id FROM chunks WHERE doc_id = ? AND state != ?", (doc_id, DELETING))]
                removed, count, length = self._terms_of(db, live)
                self._apply_df(db, Counter({t: -n for t, n in removed.items()}), (-count, -length))
                db.execute("UPDATE documents SET state = ? WHERE doc_id = ?", (DELETING, doc_id))
                db.execute("UPDATE chunks SET state = ? WHERE doc_id = ?", (DELETING, doc_id))

    def finish(self) -> None:
        """Step 3: the index now matches; drop deleted rows and mark everything ready."""
        with self._transaction() as db:
            db.execute(f"DELETE FROM chunks WHERE {_UNFINISHED} AND state = ?", (DELETING,))
            db.execute(f"DELETE FROM documents WHERE {_UNFINISHED} AND state = ?", (DELETING,))
            db.execute(f"UPDATE chunks SET state = ? WHERE {_UNFINISHED} AND state = ?", (READY, PENDING))
            db.execute(f"UPDATE documents SET state = ? WHERE {_UNFINISHED} AND state = ?", (READY, PENDING))


class Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
