"""The near-duplicate store: each document's MinHash signature and LSH band keys, and the lookups the cleaning
stage's ``DuplicateFinder`` makes against everything already indexed (``ragkit.cleaning.DuplicateStore``).

A band key is one integer — the band's number in the high bits, 48 bits of its hash below — in a clustered
``(key, signature id)`` table: ≈ 1.9 KB per document at 32 bands. A shared key makes two documents candidates,
which their signatures then confirm or reject, so a rare truncation collision costs one comparison, never a wrong
result.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Sequence

import numpy as np

from ragkit.cleaning import DedupKeys
from ragkit.registry.database import Database

SCHEMA = """
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
"""
BAND_SHIFT = 48
BUCKET_MASK = (1 << BAND_SHIFT) - 1
_DELETING = "deleting"


def band_keys(bands: Sequence[int]) -> list[int]:
    """One integer per LSH band: the band's number in the high bits, 48 bits of its hash below."""
    return [(band << BAND_SHIFT) | (bucket & BUCKET_MASK) for band, bucket in enumerate(bands)]


class DuplicateIndex:
    """Signatures and band keys of the registry's documents; a document's row goes when the document does."""

    def __init__(self, database: Database) -> None:
        self._database = database
        database.create(SCHEMA)

    def source_with_text_hash(self, text_hash: str, exclude_doc_id: str) -> str | None:
        """A live document whose cleaned text has this hash (an exact duplicate), other than ``exclude_doc_id``."""
        row = self._database.execute(
            "SELECT source FROM documents WHERE text_hash = ? AND doc_id != ? AND state != ? LIMIT 1",
            (text_hash, exclude_doc_id, _DELETING),
        ).fetchone()
        return row[0] if row else None

    def near_candidates(self, bands: Sequence[int], exclude_doc_id: str) -> list[tuple[str, np.ndarray]]:
        """(source, MinHash signature) of live documents that share at least one LSH band value."""
        keys = band_keys(bands)
        rows = self._database.execute(
            "SELECT DISTINCT d.source, m.signature FROM lsh l JOIN minhash m ON m.id = l.sig "
            f"JOIN documents d ON d.doc_id = m.doc_id WHERE l.key IN ({','.join('?' * len(keys))}) "
            "AND m.doc_id != ? AND d.state != ?",
            [*keys, exclude_doc_id, _DELETING],
        ).fetchall()
        return [(source, np.frombuffer(signature, dtype=np.uint32)) for source, signature in rows]

    @staticmethod
    def store(db: sqlite3.Connection, doc_id: str, keys: DedupKeys) -> None:
        """Replace a document's signature and band keys, in the caller's transaction."""
        db.execute("DELETE FROM minhash WHERE doc_id = ?", (doc_id,))  # its trigger drops the bands
        band_values = band_keys(keys.bands)
        sig = db.execute("INSERT INTO minhash(doc_id, signature, band_keys) VALUES (?, ?, ?)",
                         (doc_id, keys.signature.tobytes(), json.dumps(band_values))).lastrowid
        db.executemany("INSERT OR IGNORE INTO lsh(key, sig) VALUES (?, ?)", [(key, sig) for key in band_values])
