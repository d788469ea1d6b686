"""The registry: the knowledge base's source of truth, in one database — a SQLite file (embedded) or a PostgreSQL
schema (server mode) — split by concern over one connection.

- ``documents``: documents and chunks, and the states of the three-step write (``ragkit.registry.documents``);
- ``duplicates``: MinHash signatures and LSH bands, for near-duplicate detection against what is indexed;
- ``bm25``: the corpus statistics BM25 needs (chunk count, average length, document frequencies);
- migrations bring registries written by earlier versions to the current layout on open.

Every write is one transaction of ``documents``, which updates the other two inside it.
"""

from __future__ import annotations

from pathlib import Path

from ragkit.registry.bm25 import BM25Statistics
from ragkit.registry.database import META_SCHEMA, Database, RegistryDatabase, Transaction
from ragkit.registry.documents import (
    DELETING,
    PENDING,
    READY,
    DocumentRow,
    DocumentStore,
    DocumentWrite,
    PendingWork,
    StoredChunk,
    embed_hash,
)
from ragkit.registry.documents import SCHEMA as DOCUMENTS_SCHEMA
from ragkit.registry.duplicates import DuplicateIndex, band_keys
from ragkit.registry.migrations import migrate
from ragkit.sparse import BM25Encoder

REGISTRY_FILE = "registry.sqlite"


class Registry:
    """The parts of one registry, opened together over one connection: a SQLite file at ``location``, or a
    database already opened (``ragkit.registry.postgres.PostgresDatabase``)."""

    def __init__(self, location: Path | RegistryDatabase, encoder: BM25Encoder | None = None) -> None:
        self.database: RegistryDatabase = Database(location) if isinstance(location, Path) else location
        self.database.create(META_SCHEMA)
        self.database.create(DOCUMENTS_SCHEMA)  # before the tables that reference it (PostgreSQL checks)
        self.bm25 = BM25Statistics(self.database, encoder or BM25Encoder())
        self.duplicates = DuplicateIndex(self.database)
        self.documents = DocumentStore(self.database, self.bm25, self.duplicates)
        migrate(self.database)

    def close(self) -> None:
        self.database.close()


__all__ = [
    "DELETING",
    "PENDING",
    "READY",
    "REGISTRY_FILE",
    "BM25Statistics",
    "Database",
    "DocumentRow",
    "DocumentStore",
    "DocumentWrite",
    "DuplicateIndex",
    "PendingWork",
    "Registry",
    "RegistryDatabase",
    "StoredChunk",
    "Transaction",
    "band_keys",
    "embed_hash",
]
