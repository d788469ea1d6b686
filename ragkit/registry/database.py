"""The registry's SQLite database, shared by its parts, and how they read and write it from several threads.

The registry is the knowledge base's source of truth (see ``ragkit.registry``); its parts — documents and chunks,
the near-duplicate store, the BM25 statistics — each own their tables and write inside the same transactions.

Writes go through one connection, one transaction at a time (``transaction()`` holds a lock while it runs). Reads
go through a connection of their own thread: in WAL mode a reader sees only committed transactions, never half of a
write, and never waits for the writer. So a ``KnowledgeBase`` can be searched from many threads while one writes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ragkit.errors import KnowledgeBaseError

META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class Database:
    """A SQLite file in WAL mode with full fsync: writes in ``transaction()``, reads through ``execute`` on the
    calling thread's own connection; named values in a ``meta`` table, where a part created it (``META_SCHEMA``)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=FULL")
        self._writer.execute("PRAGMA foreign_keys=ON")
        self._writing = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._opened = threading.Lock()
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)

    def create(self, schema: str) -> None:
        """Create a part's tables and indexes (statements that are no-ops when they exist)."""
        with self._writing:
            self._writer.executescript(schema)

    def execute(self, sql: str, parameters: object = ()) -> sqlite3.Cursor:
        """A read, on this thread's connection (it sees every committed write)."""
        reader = getattr(self._local, "connection", None)
        if reader is None:
            with self._opened:
                if self._closed:
                    raise KnowledgeBaseError(f"the registry {self._path} is closed")
                reader = self._local.connection = self._connect()
                self._readers.append(reader)
        return reader.execute(sql, parameters)

    def transaction(self) -> Transaction:
        return Transaction(self._writer, self._writing)

    def get_meta(self, key: str) -> str | None:
        row = self.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def close(self) -> None:
        with self._writing, self._opened:
            self._closed = True
            for connection in [*self._readers, self._writer]:
                connection.close()
            self._readers.clear()


class Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on an exception; with ``lock`` held throughout, so one
    thread writes at a time."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock | None = None) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            if self._lock is not None:
                self._lock.release()
