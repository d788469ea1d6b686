"""What a database layer costs the registry: its hot statements through the raw drivers (sqlite3, psycopg 3) and
through SQLAlchemy Core, on SQLite and on PostgreSQL.

    python benchmarks/registry_drivers.py --json

The statements are the registry's own: hydrating 10 hits (a join of chunks and documents by id), the document
frequencies of 8 query terms, and a write of 64 documents × 4 chunks in one transaction. SQLAlchemy runs them twice:
as the same SQL text (``exec_driver_sql``, its thinnest path) and as Core expressions (``select(...).where(
column.in_(...))``, how a Core code base would write them). The PostgreSQL server is ``--postgres URL``, else a
throwaway cluster the script starts (``tests/postgres_server.py``).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from _common import emit, parser

ROOT = Path(__file__).resolve().parents[1]
DOCS, CHUNKS_PER_DOC, HITS, TERMS = 2000, 4, 10, 8

SCHEMA = """
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL);
CREATE TABLE chunks (chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
                     state TEXT NOT NULL, metadata TEXT NOT NULL);
CREATE TABLE term_df (term BIGINT PRIMARY KEY, df BIGINT NOT NULL);
"""
HYDRATE = ('SELECT c.chunk_id, c.doc_id, substr(d.text, c.start + 1, c."end" - c.start), c.metadata, d.source '
           "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id IN ({marks}) AND c.state = 'ready'")
FREQUENCIES = "SELECT term, df FROM term_df WHERE term IN ({marks})"
INSERT_DOC = "INSERT INTO documents VALUES (?, ?, ?, ?) ON CONFLICT(doc_id) DO UPDATE SET text = excluded.text"
INSERT_CHUNK = ('INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(chunk_id) DO UPDATE SET start = '
                'excluded.start, "end" = excluded."end", state = excluded.state')


def _rows(count: int, seed: int) -> tuple[list[tuple], list[tuple]]:
    rng = random.Random(seed)
    docs, chunks = [], []
    for _ in range(count):
        doc_id = uuid.UUID(int=rng.getrandbits(128)).hex
        text = " ".join(rng.choice(["cell", "protein", "gene", "patients", "trial", "dose"]) for _ in range(200))
        docs.append((doc_id, f"scifact/{doc_id}", text, "{}"))
        for n in range(CHUNKS_PER_DOC):
            chunks.append((str(uuid.UUID(int=rng.getrandbits(128))), doc_id, n * 300, n * 300 + 300, "ready", "{}"))
    return docs, chunks


def _timed(run: Callable[[], Any], repeat: int) -> dict[str, float]:
    for _ in range(max(3, repeat // 20)):
        run()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 4), "p95_ms": round(samples[int(0.95 * len(samples))], 4)}


def _workload(execute: Callable[[str, Sequence], list], write: Callable[[list[tuple], list[tuple]], None],
              chunk_ids: list[str], terms: list[int], repeat: int) -> dict[str, dict[str, float]]:
    rng = random.Random(7)
    new_docs, new_chunks = _rows(64, seed=99)
    return {
        "hydrate_10_hits": _timed(lambda: execute(HYDRATE, rng.sample(chunk_ids, HITS)), repeat),
        "frequencies_8_terms": _timed(lambda: execute(FREQUENCIES, rng.sample(terms, TERMS)), repeat),
        "write_64_documents": _timed(lambda: write(new_docs, new_chunks), max(10, repeat // 20)),
    }


def _marks(sql: str, values: Sequence, mark: str = "?") -> str:
    return sql.format(marks=",".join([mark] * len(values)))


def sqlite_raw(path: Path, chunk_ids: list[str], terms: list[int], repeat: int) -> dict:
    reader, writer = sqlite3.connect(path), sqlite3.connect(path, isolation_level=None)

    def execute(sql: str, values: Sequence) -> list:
        return reader.execute(_marks(sql, values), list(values)).fetchall()

    def write(docs: list[tuple], chunks: list[tuple]) -> None:
        writer.execute("BEGIN IMMEDIATE")
        writer.executemany(INSERT_DOC, docs)
        writer.executemany(INSERT_CHUNK, chunks)
        writer.execute("COMMIT")

    try:
        return _workload(execute, write, chunk_ids, terms, repeat)
    finally:
        reader.close()
        writer.close()


def psycopg_raw(url: str, chunk_ids: list[str], terms: list[int], repeat: int) -> dict:
    import psycopg

    reader, writer = psycopg.connect(url, autocommit=True), psycopg.connect(url, autocommit=True)

    def execute(sql: str, values: Sequence) -> list:
        return reader.execute(_marks(sql, values, "%s"), list(values)).fetchall()

    def write(docs: list[tuple], chunks: list[tuple]) -> None:
        with writer.transaction(), writer.cursor() as cursor:
            cursor.executemany(INSERT_DOC.replace("?", "%s"), docs)
            cursor.executemany(INSERT_CHUNK.replace("?", "%s"), chunks)

    try:
        return _workload(execute, write, chunk_ids, terms, repeat)
    finally:
        reader.close()
        writer.close()


def sqlalchemy_text(url: str, chunk_ids: list[str], terms: list[int], repeat: int) -> dict:
    """The same SQL strings through SQLAlchemy's thinnest path (``exec_driver_sql``)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)  # reads run in the transaction SQLAlchemy begins, as its users' would
    mark = "?" if url.startswith("sqlite") else "%s"
    reader = engine.connect()

    def execute(sql: str, values: Sequence) -> list:
        return reader.exec_driver_sql(_marks(sql, values, mark), tuple(values)).fetchall()

    def write(docs: list[tuple], chunks: list[tuple]) -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql(INSERT_DOC.replace("?", mark), docs)
            connection.exec_driver_sql(INSERT_CHUNK.replace("?", mark), chunks)

    try:
        return _workload(execute, write, chunk_ids, terms, repeat)
    finally:
        reader.close()
        engine.dispose()


def sqlalchemy_core(url: str, chunk_ids: list[str], terms: list[int], repeat: int) -> dict:
    """The statements as SQLAlchemy Core expressions, compiled per dialect (with its statement cache)."""
    import sqlalchemy as sa

    dialect = sa.dialects.postgresql if url.startswith("postgresql") else sa.dialects.sqlite
    metadata = sa.MetaData()
    documents = sa.Table("documents", metadata, sa.Column("doc_id", sa.Text, primary_key=True),
                         sa.Column("source", sa.Text), sa.Column("text", sa.Text), sa.Column("metadata", sa.Text))
    chunks = sa.Table("chunks", metadata, sa.Column("chunk_id", sa.Text, primary_key=True),
                      sa.Column("doc_id", sa.Text), sa.Column("start", sa.Integer), sa.Column("end", sa.Integer),
                      sa.Column("state", sa.Text), sa.Column("metadata", sa.Text))
    term_df = sa.Table("term_df", metadata, sa.Column("term", sa.BigInteger, primary_key=True),
                       sa.Column("df", sa.BigInteger))
    engine = sa.create_engine(url)
    reader = engine.connect()
    hydrate = sa.select(chunks.c.chunk_id, chunks.c.doc_id,
                        sa.func.substr(documents.c.text, chunks.c.start + 1, chunks.c.end - chunks.c.start),
                        chunks.c.metadata, documents.c.source).join_from(chunks, documents,
                                                                         documents.c.doc_id == chunks.c.doc_id)

    def execute(sql: str, values: Sequence) -> list:
        if sql is HYDRATE:
            query = hydrate.where(chunks.c.chunk_id.in_(list(values)), chunks.c.state == "ready")
        else:
            query = sa.select(term_df.c.term, term_df.c.df).where(term_df.c.term.in_(list(values)))
        return reader.execute(query).fetchall()

    def write(docs: list[tuple], rows: list[tuple]) -> None:
        doc_insert = dialect.insert(documents)
        chunk_insert = dialect.insert(chunks)
        with engine.begin() as connection:
            connection.execute(doc_insert.on_conflict_do_update(index_elements=["doc_id"], set_={
                "text": doc_insert.excluded.text}), [dict(zip(documents.c.keys(), row)) for row in docs])
            connection.execute(chunk_insert.on_conflict_do_update(index_elements=["chunk_id"], set_={
                "start": chunk_insert.excluded.start, "end": chunk_insert.excluded.end,
                "state": chunk_insert.excluded.state}), [dict(zip(chunks.c.keys(), row)) for row in rows])

    try:
        return _workload(execute, write, chunk_ids, terms, repeat)
    finally:
        reader.close()
        engine.dispose()


def _load(execute_script: Callable[[str], None], insert: Callable[[str, list[tuple]], None]) -> tuple[list, list]:
    docs, chunks = _rows(DOCS, seed=1)
    execute_script(SCHEMA)
    insert(INSERT_DOC, docs)
    insert(INSERT_CHUNK, chunks)
    terms = random.Random(3).sample(range(1, 2**32), 20000)
    insert("INSERT INTO term_df VALUES (?, ?)", [(term, 1 + term % 50) for term in terms])
    return [row[0] for row in chunks], terms


@contextlib.contextmanager
def _postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_server import PostgresTestServer

    with PostgresTestServer() as server:
        yield server.url


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0], beir=False)
    arguments.add_argument("--postgres", help="a PostgreSQL URL to use (a scratch schema is created and dropped)")
    arguments.add_argument("--repeat", type=int, default=2000, help="timed reads per statement (default 2000)")
    args = arguments.parse_args(argv)
    results: dict[str, Any] = {"documents": DOCS, "chunks": DOCS * CHUNKS_PER_DOC, "repeat": args.repeat}
    with tempfile.TemporaryDirectory(prefix="ragkit-drivers-") as scratch:
        path = Path(scratch) / "registry.sqlite"
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            chunk_ids, terms = _load(db.executescript, lambda sql, rows: (db.executemany(sql, rows), db.commit()))
        results["sqlite"] = {"sqlite3": sqlite_raw(path, chunk_ids, terms, args.repeat),
                             "sqlalchemy_sql_text": sqlalchemy_text(f"sqlite:///{path}", chunk_ids, terms, args.repeat),
                             "sqlalchemy_core": sqlalchemy_core(f"sqlite:///{path}", chunk_ids, terms, args.repeat)}
    import psycopg

    with _postgres(args.postgres) as url, psycopg.connect(url, autocommit=True) as admin:
        schema = f"drivers_{uuid.uuid4().hex[:8]}"
        admin.execute(f"CREATE SCHEMA {schema}")
        scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        try:
            with psycopg.connect(scoped, autocommit=True) as db:
                def insert(sql: str, rows: list[tuple]) -> None:
                    with db.cursor() as cursor:
                        cursor.executemany(sql.replace("?", "%s"), rows)
                chunk_ids, terms = _load(lambda script: db.execute(script), insert)
            alchemy = scoped.replace("postgresql://", "postgresql+psycopg://", 1)
            results["postgresql"] = {"psycopg": psycopg_raw(scoped, chunk_ids, terms, args.repeat),
                                     "sqlalchemy_sql_text": sqlalchemy_text(alchemy, chunk_ids, terms, args.repeat),
                                     "sqlalchemy_core": sqlalchemy_core(alchemy, chunk_ids, terms, args.repeat)}
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return emit(results)


if __name__ == "__main__":
    sys.exit(main())
