"""The registry's SQLite connection, shared by its parts, and how they write: one transaction at a time.

The registry is the knowledge base's source of truth (see ``ragkit.registry``); its parts — documents and chunks,
the near-duplicate store, the BM25 statistics — each own their tables and write inside the same transactions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class Database:
    """One SQLite connection in WAL mode with full fsync and foreign keys; reads through ``execute``, writes inside
    ``transaction()``; a small ``meta`` table of named values."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def create(self, schema: str) -> None:
        """Create a part's tables and indexes (statements that are no-ops when they exist)."""
        self._db.executescript(schema)

    def execute(self, sql: str, parameters: object = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, parameters)

    def transaction(self) -> Transaction:
        return Transaction(self._db)

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def close(self) -> None:
        self._db.close()


class Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
