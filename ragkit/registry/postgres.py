"""The registry on PostgreSQL: the same tables and statements as the embedded SQLite file, through psycopg 3.

Server mode keeps one knowledge base's registry in one PostgreSQL schema. Reads run in autocommit on a connection
per thread, so each statement sees the transactions committed before it and never waits for a writer (MVCC). Writes
are the registry's transactions, on one writer connection, one at a time (as on SQLite). Creating the tables takes a
transaction-scoped advisory lock, so that two connections creating the same schema at once do not race.

The statements are the SQLite ones: ``?`` parameters become ``%s`` here, once per statement text. A server that
cannot be reached (stopped, restarted, a broken network) is a ``RegistryUnavailable``; the next call connects again.
Passwords are never part of the URL: libpq reads ``$PGPASSWORD`` (or ``~/.pgpass``, ``$PGSERVICE``) itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
import time
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from ragkit.errors import (
    ConfigError,
    KnowledgeBaseError,
    KnowledgeBaseLocked,
    MissingExtraError,
    RegistryUnavailable,
)
from ragkit.registry.database import POSTGRESQL, Cursor, NamedValues

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_LOCK_CLASS = 0x7261676B  # "ragk": the first key of ragkit's advisory locks; the second is the knowledge base's
_CREATE = 2  # what the lock guards, mixed into the second key
_WRITE = 1
# Whether a session still holds a knowledge base's writer lock (pg_locks names two-key advisory locks' keys
# classid and objid, with objsubid 2).
_HOLDS = ("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = ? AND classid::bigint = ? "
          "AND objid::bigint = ? AND objsubid = 2 AND granted")


def check_url(url: str) -> str:
    """``url`` if it is a PostgreSQL URL without a password; else a ``ConfigError`` that says what to do."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"a registry URL starts with postgresql://, got {redact(url)!r}")
    if parts.password is not None:
        raise ConfigError(f"the registry URL {redact(url)} holds a password; remove it and set $PGPASSWORD (or a "
                          "~/.pgpass file): secrets are read from the environment, never from settings")
    return url


def check_name(name: str) -> str:
    """A knowledge base's name: its PostgreSQL schema."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"a knowledge base's name is 1–63 lower-case letters, digits and _ (not first a digit), "
                          f"got {name!r}")
    return name


def redact(url: str) -> str:
    """A URL as messages show it: without user information's password, and without its query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _key(name: str, purpose: int) -> int:
    """The second key of an advisory lock: 31 bits of a hash of the schema and what the lock guards."""
    digest = hashlib.sha256(f"{name}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class _Writing:
    """A transaction's statements on the writer connection, in the registry's ``?`` dialect."""

    def __init__(self, connection: Any, translate: Any) -> None:
        self._connection = connection
        self._translate = translate

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        return self._connection.execute(self._translate(sql), tuple(parameters))

    def executemany(self, sql: str, seq_of_parameters: Any) -> None:
        rows = [tuple(row) for row in seq_of_parameters]
        if rows:
            with self._connection.cursor() as cursor:
                cursor.executemany(self._translate(sql), rows)


class PostgresDatabase(NamedValues):
    """One knowledge base's schema on a PostgreSQL server (see the module docstring)."""

    dialect = POSTGRESQL

    def __init__(self, url: str, name: str, *, connect_timeout: float = 10.0) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise MissingExtraError("psycopg", "server", "a registry on PostgreSQL") from exc
        self._psycopg = psycopg
        self._url = check_url(url)
        self.name = check_name(name)
        self.where = f"{redact(url)} (schema {name})"
        self._timeout = connect_timeout
        self._writing = threading.RLock()
        self._writer: Any = None
        self._local = threading.local()
        self._readers: list[Any] = []
        self._opened = threading.Lock()
        self._closed = False
        self._statements: dict[str, str] = {}
        self._lock_holder: int | None = None  # the backend of the writer lock's session, while a write holds it
        self._create(f'CREATE SCHEMA IF NOT EXISTS "{name}"')

    # -- connections ---------------------------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            connection = self._psycopg.connect(
                self._url, autocommit=True, connect_timeout=max(1, int(self._timeout)),
                application_name=f"ragkit {socket.gethostname()}:{os.getpid()}")
            connection.execute(f'SET search_path TO "{self.name}"')
            return connection
        except self._psycopg.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: Exception) -> KnowledgeBaseError:
        """A psycopg error as a ragkit one: an unreachable server, or what the server refused."""
        said = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, (self._psycopg.OperationalError, self._psycopg.InterfaceError)):
            return RegistryUnavailable(
                f"the registry at {self.where} cannot be reached ({said}); check that the server runs and "
                "accepts this user ($PGPASSWORD), then retry: the next write finishes any write this one interrupted")
        return KnowledgeBaseError(f"the registry at {self.where} refused a statement: {said}")

    def _live_writer(self) -> Any:
        if self._closed:
            raise KnowledgeBaseError(f"the registry {self.where} is closed")
        if self._writer is None or self._writer.closed or self._writer.broken:
            self._writer = self._connect()
        return self._writer

    def _reader(self) -> Any:
        reader = getattr(self._local, "connection", None)
        if reader is None or reader.closed or reader.broken:
            with self._opened:
                if self._closed:
                    raise KnowledgeBaseError(f"the registry {self.where} is closed")
            reader = self._local.connection = self._connect()
            with self._opened:
                self._readers.append(reader)
        return reader

    def _sql(self, sql: str) -> str:
        translated = self._statements.get(sql)
        if translated is None:
            translated = self._statements[sql] = sql.replace("%", "%%").replace("?", "%s")
        return translated

    # -- the registry's interface --------------------------------------------------------------------------

    def _create(self, script: str) -> None:
        """DDL in one transaction, one process at a time (``IF NOT EXISTS`` races between processes otherwise)."""
        with self._writing:
            connection = self._live_writer()
            try:
                with connection.transaction():
                    connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _key(self.name, _CREATE)))
                    connection.execute(script)
            except self._psycopg.Error as exc:
                raise self._error(exc) from exc

    def create(self, schema: str) -> None:
        self._create(self.dialect.ddl(schema))

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        """A read in its own snapshot; a connection that broke since the last read is replaced once."""
        for attempt in (0, 1):
            reader = self._reader()
            try:
                return reader.execute(self._sql(sql), tuple(parameters))
            except self._psycopg.Error as exc:
                if attempt == 0 and (reader.broken or reader.closed):
                    continue
                raise self._error(exc) from exc
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Writing]:
        """A write; while a ``WriterLock`` is held, it starts only if that lock still is."""
        with self._writing:
            connection = self._checked_writer()
            try:
                with connection.transaction():
                    yield _Writing(connection, self._sql)
            except self._psycopg.Error as exc:
                raise self._error(exc) from exc

    def _checked_writer(self) -> Any:
        """The writer connection, tried with a first statement (a connection that broke since the last write — a
        restarted server — is replaced once): that the writer lock is still held, if one is."""
        for attempt in (0, 1):
            connection = self._live_writer()
            try:
                holder = self._lock_holder
                if holder is None:
                    connection.execute("SELECT 1")
                elif connection.execute(self._sql(_HOLDS), (holder, _LOCK_CLASS, self.lock_key(_WRITE))
                                        ).fetchone() is None:
                    raise RegistryUnavailable(
                        f"the writer lock of {self.where} was lost (the server restarted, or the connection broke), "
                        "so this write stopped; retry: the next write finishes what it left")
                return connection
            except self._psycopg.Error as exc:
                if attempt == 0 and (connection.broken or connection.closed):
                    continue
                raise self._error(exc) from exc
        raise AssertionError("unreachable")

    def lock_key(self, purpose: int) -> int:
        return _key(self.name, purpose)

    def writer_lock(self, timeout: float) -> WriterLock:
        return WriterLock(self, timeout)

    def close(self) -> None:
        with self._writing, self._opened:
            self._closed = True
            for connection in [*self._readers, self._writer]:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.close()
            self._readers.clear()


class WriterLock:
    """One writer at a time per knowledge base, across processes and machines: a session-level advisory lock, held by
    a connection of its own while a write runs. A second writer waits up to ``timeout`` seconds, then gets
    ``KnowledgeBaseLocked`` naming the holder. A writer that dies takes its connection with it, and the server
    releases the lock; a writer whose lock connection broke (the server restarted) can no longer commit, since each
    registry transaction checks that the lock is still held. Readers never take it."""

    def __init__(self, database: PostgresDatabase, timeout: float) -> None:
        if timeout < 0:
            raise ConfigError(f"lock_timeout is seconds to wait for another writer, at least 0; got {timeout!r}")
        self._database = database
        self._timeout = timeout
        self._keys = (_LOCK_CLASS, database.lock_key(_WRITE))
        self._connection: Any = None
        self._depth = 0

    def _live(self) -> Any:
        connection = self._connection
        if connection is None or connection.closed or connection.broken:
            connection = self._connection = self._database._connect()
        return connection

    def try_acquire(self) -> bool:
        """Take the lock if no other writer holds it; whether this one now does."""
        if self._depth:
            self._depth += 1
            return True
        psycopg = self._database._psycopg
        for attempt in (0, 1):  # a connection that broke since the last write (a restarted server) is replaced once
            connection = self._live()
            try:
                taken = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", self._keys).fetchone()[0]
                break
            except psycopg.Error as exc:
                if attempt == 0 and (connection.broken or connection.closed):
                    continue
                raise self._database._error(exc) from exc
        if taken:
            self._depth = 1
            self._database._lock_holder = connection.info.backend_pid
        return bool(taken)

    def acquire(self) -> None:
        deadline = time.monotonic() + self._timeout
        while not self.try_acquire():
            left = deadline - time.monotonic()
            if left <= 0:
                raise KnowledgeBaseLocked(
                    f"knowledge base {self._database.where} is being written by {self._holder()}; a knowledge base "
                    f"takes one writer at a time (waited {self._timeout:g} s): retry when it is done, or connect with "
                    "a longer lock_timeout")
            time.sleep(min(0.2, left))

    def _holder(self) -> str:
        """Who holds the lock, as pg_stat_activity knows them ("ragkit host:pid")."""
        with contextlib.suppress(Exception):
            row = self._live().execute(
                "SELECT a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.classid::bigint = %s AND l.objid::bigint = %s "
                "AND l.objsubid = 2 AND l.granted", self._keys).fetchone()
            if row:
                return f"{row[0] or 'a client'}" + (f" from {row[1]}" if row[1] else "")
        return "another process"

    def release(self) -> None:
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth:
            return
        self._database._lock_holder = None
        with contextlib.suppress(Exception):  # a broken connection has released it already
            self._connection.execute("SELECT pg_advisory_unlock(%s, %s)", self._keys)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def close(self) -> None:
        self._depth = min(self._depth, 1)
        self.release()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
