"""The registry: the knowledge base's source of truth, in one SQLite database, split by concern over one connection.

- ``documents``: documents and chunks, and the states of the three-step write (``ragkit.registry.documents``);
- ``duplicates``: MinHash signatures and LSH bands, for near-duplicate detection against what is indexed;
- ``bm25``: the corpus statistics BM25 needs (chunk count, average length, document frequencies);
- migrations bring registries written by earlier versions to the current layout on open.

Every write is one transaction of ``documents``, which updates the other two inside it.
"""

from __future__ import annotations

from pathlib import Path

from ragkit.registry.bm25 import BM25Statistics
from ragkit.registry.database import META_SCHEMA, Database, Transaction
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
from ragkit.registry.duplicates import DuplicateIndex, band_keys
from ragkit.registry.migrations import migrate
from ragkit.sparse import BM25Encoder

REGISTRY_FILE = "registry.sqlite"


class Registry:
    """The parts of one registry, opened together over one connection."""

    def __init__(self, path: Path, encoder: BM25Encoder | None = None) -> None:
        self.database = Database(path)
        self.database.create(META_SCHEMA)
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
    "StoredChunk",
    "Transaction",
    "band_keys",
    "embed_hash",
]
