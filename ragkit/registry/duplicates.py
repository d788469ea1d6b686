"""The near-duplicate store: each document's MinHash signature and LSH band keys, and the lookups the cleaning
stage's ``DuplicateFinder`` makes against everything already indexed (``ragkit.cleaning.DuplicateStore``).

A band key is one integer — the band's number in the high bits, 48 bits of its hash below — in a clustered
``(key, signature id)`` table: ≈ 1.9 KB per document at 32 bands. A shared key makes two documents candidates,
which their signatures then confirm or reject, so a rare truncation collision costs one comparison, never a wrong
result.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from ragkit.cleaning import DedupKeys
from ragkit.registry.database import RegistryDatabase, Writing

SCHEMA = """
CREATE TABLE IF NOT EXISTS minhash (
    id        {id},
    doc_id    TEXT NOT NULL UNIQUE REFERENCES documents(doc_id) ON DELETE CASCADE,
    signature {blob} NOT NULL,
    band_keys TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lsh (
    key {bigint} NOT NULL,
    sig {bigint} NOT NULL,
    PRIMARY KEY (key, sig)
){without_rowid};
"""
# A document's band rows go with its signature row — deleted by the document's cascade too — by the keys it lists.
TRIGGERS = {
    "sqlite": """
CREATE TRIGGER IF NOT EXISTS minhash_gone AFTER DELETE ON minhash BEGIN
    DELETE FROM lsh WHERE sig = OLD.id AND key IN (SELECT value FROM json_each(OLD.band_keys));
END;
""",
    "postgresql": """
CREATE OR REPLACE FUNCTION minhash_gone() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM lsh WHERE sig = OLD.id
        AND key IN (SELECT value::bigint FROM json_array_elements_text(OLD.band_keys::json));
    RETURN OLD;
END $$;
CREATE OR REPLACE TRIGGER minhash_gone AFTER DELETE ON minhash FOR EACH ROW EXECUTE FUNCTION minhash_gone();
""",
}
BAND_SHIFT = 48
BUCKET_MASK = (1 << BAND_SHIFT) - 1
_DELETING = "deleting"


def band_keys(bands: Sequence[int]) -> list[int]:
    """One integer per LSH band: the band's number in the high bits, 48 bits of its hash below."""
    return [(band << BAND_SHIFT) | (bucket & BUCKET_MASK) for band, bucket in enumerate(bands)]


class DuplicateIndex:
    """Signatures and band keys of the registry's documents; a document's row goes when the document does."""

    def __init__(self, database: RegistryDatabase) -> None:
        self._database = database
        database.create(SCHEMA + TRIGGERS[database.dialect.name])

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
    def store(db: Writing, doc_id: str, keys: DedupKeys) -> None:
        """Replace a document's signature and band keys, in the caller's transaction."""
        db.execute("DELETE FROM minhash WHERE doc_id = ?", (doc_id,))  # its trigger drops the bands
        band_values = band_keys(keys.bands)
        db.execute("INSERT INTO minhash(doc_id, signature, band_keys) VALUES (?, ?, ?)",
                   (doc_id, keys.signature.tobytes(), json.dumps(band_values)))
        # Looked up rather than RETURNING: SQLite has that clause only since 3.35, and the embedded path must keep
        # running on the SQLite it ran on (sqlite3's lastrowid has no PostgreSQL equivalent).
        [(sig,)] = db.execute("SELECT id FROM minhash WHERE doc_id = ?", (doc_id,)).fetchall()
        db.executemany("INSERT INTO lsh(key, sig) VALUES (?, ?) ON CONFLICT DO NOTHING",
                       [(key, sig) for key in band_values])
