"""Registries written by earlier versions of ragkit, brought to the current layout when they are opened.

Each migration checks whether it applies and runs in one transaction, so an interrupted one runs again in full.
"""

from __future__ import annotations

from ragkit.registry.database import SQLITE, RegistryDatabase
from ragkit.registry.duplicates import BAND_SHIFT, BUCKET_MASK


def migrate(database: RegistryDatabase) -> None:
    """Every migration that applies, oldest first (a PostgreSQL registry was created in the current layout)."""
    if database.dialect is SQLITE:
        _lsh_band_keys(database)


def _lsh_band_keys(database: RegistryDatabase) -> None:
    """LSH band rows from the first layout (three rows and two indexes per band, ≈ 4 KB per document) become one
    (key, signature id) entry per band in a clustered table."""
    if not database.execute("SELECT 1 FROM sqlite_schema WHERE name = 'lsh_buckets'").fetchone():
        return
    with database.transaction() as db:
        db.execute(
            "INSERT INTO minhash(doc_id, signature, band_keys) SELECT s.doc_id, s.signature, "
            f"(SELECT json_group_array((band << {BAND_SHIFT}) | (bucket & {BUCKET_MASK})) FROM lsh_buckets l "
            "WHERE l.doc_id = s.doc_id) FROM signatures s"
        )
        db.execute("INSERT OR IGNORE INTO lsh(key, sig) "
                   "SELECT j.value, m.id FROM minhash m, json_each(m.band_keys) j")
        db.execute("DROP TABLE lsh_buckets")
        db.execute("DROP TABLE signatures")
