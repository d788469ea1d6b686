"""Records and rows as documents: a CSV file, a JSON Lines file and the rows of a SQL query, each record one document.

Run from the repository root:  python examples/records_and_sql.py [--kb DIR]

A record's source is ``<file>#<id>`` (a row's, ``sql:<name>:<id>``), so ingesting again updates changed records,
skips unchanged ones and removes records that disappeared. The SQL part needs ``pip install -e '.[sql]'``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from pathlib import Path

from ragkit.connectors import RecordsConnector, SQLConnector

from ragkit import KnowledgeBase

DATA = Path(__file__).resolve().parent / "data"

PRODUCTS = [
    (1, "Atlas arm", "A six-axis robot arm with a 7.5 kilogram payload for assembly lines.", "robotics"),
    (2, "Hyperion drone", "An inspection drone that flies 40 minutes on one charge and maps roofs in 3D.", "aerial"),
    (3, "Tern gripper", "A soft gripper for fruit and other fragile goods; it fits the Atlas arm.", "robotics"),
]


def shop_database(folder: Path) -> str:
    """A small SQLite shop, as any SQL database would hold it; its SQLAlchemy URL."""
    path = folder / "shop.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name TEXT, description TEXT, "
                   "category TEXT)")
        db.executemany("INSERT OR REPLACE INTO products VALUES (?, ?, ?, ?)", PRODUCTS)
    return f"sqlite:///{path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default="records.kb", help="knowledge-base directory (default: ./records.kb)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch, KnowledgeBase.open(args.kb) as kb:
        sources = [
            RecordsConnector(DATA / "faq.csv", text_fields=["question", "answer"], id_field="id",
                             metadata_fields=["team"]),
            RecordsConnector(DATA / "tickets.jsonl", text_fields=["subject", "body"], id_field="id",
                             metadata_fields=["team"]),
            SQLConnector(shop_database(Path(scratch)), "SELECT id, name, description, category FROM products",
                         text_columns=["name", "description"], id_column="id", metadata_columns=["category"],
                         name="shop"),
        ]
        report = kb.ingest(sources)
        print("ingested:", report.counts())
        for query, where in [("how long does the drone fly", None), ("my expense report was rejected", None),
                             ("robot gripper", {"category": "robotics"})]:
            best = kb.search(query, k=1, filter=where)[0]
            source = best.source.removeprefix(f"{DATA.parent}/")  # examples/data/… as a path from here
            print(f"{query!r} -> {source}: {' '.join(best.text.split())[:90]}")


if __name__ == "__main__":
    main()
