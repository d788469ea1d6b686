"""Rows from a SQL query through SQLAlchemy: text columns become the document, others its metadata.

A row's source is ``sql:<name>:<id>``, so re-running the connector updates changed rows, skips unchanged ones and
removes rows that the query no longer returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from ragkit.connectors.records import Rejected, record_document

from ragkit.errors import ConfigError, MissingExtraError
from ragkit.records import Document


@dataclass(frozen=True)
class SQLConnector:
    """Documents from the rows of ``query`` (bound ``params``) on a database URL or SQLAlchemy engine."""

    database: Any
    query: str
    text_columns: Sequence[str]
    id_column: str
    metadata_columns: Sequence[str] = ()
    name: str = "sql"
    params: Mapping[str, Any] = field(default_factory=dict)
    chunker: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.text_columns, str):
            object.__setattr__(self, "text_columns", (self.text_columns,))
        if not self.text_columns or not self.id_column:
            raise ConfigError("SQLConnector needs text_columns and an id_column that identifies each row")
        if ":" in self.name:
            raise ConfigError(f"the connector name {self.name!r} must not contain ':'")

    @property
    def sync_prefix(self) -> str:
        return f"sql:{self.name}:"

    def owns(self, source: str) -> bool:
        return source.startswith(self.sync_prefix)

    def items(self) -> Iterator[Document | Rejected]:
        try:
            import sqlalchemy
        except ImportError as exc:
            raise MissingExtraError("sqlalchemy", "sql", "Reading rows from a database") from exc
        engine = sqlalchemy.create_engine(self.database) if isinstance(self.database, str) else self.database
        base = {"connector": self.name}
        with engine.connect() as connection:
            result = connection.execute(sqlalchemy.text(self.query), dict(self.params))
            columns = set(result.keys())
            missing = [c for c in (self.id_column, *self.text_columns, *self.metadata_columns) if c not in columns]
            if missing:
                raise ConfigError(f"the query returns no column {', '.join(map(repr, missing))}; it has: "
                                  f"{', '.join(sorted(columns))}")
            for row in result.mappings():
                key = row[self.id_column]
                source = f"{self.sync_prefix}{key}"
                if key is None:
                    yield Rejected(source, f"has no value in its id column {self.id_column!r}")
                    continue
                yield record_document(source, row, self.text_columns, self.metadata_columns, base)
        if isinstance(self.database, str):
            engine.dispose()
