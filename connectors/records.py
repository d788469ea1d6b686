"""Records: CSV, JSON and JSON Lines files where each record becomes a document.

A record's source is ``<file>#<id>`` (the id field, or the record's position), so re-ingesting the file updates
changed records, skips unchanged ones and removes records that disappeared from it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ragkit.connectors.text import decode_text

from ragkit.errors import ConfigError, IngestError, SkipCode
from ragkit.records import Document

_FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Rejected:
    """A source item that could not become a document; ingest reports it as skipped with the reason."""

    source: str
    reason: str
    code: SkipCode = SkipCode.INVALID

    def fingerprint(self) -> str:
        raise IngestError(self.source, self.reason, self.code)

    def load(self) -> Document:
        raise IngestError(self.source, self.reason, self.code)


def field_value(record: Mapping[str, Any], path: str) -> Any:
    """A field by name, or by a dotted path into nested objects ("author.name")."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def record_document(source: str, record: Mapping[str, Any], text_fields: Sequence[str],
                    metadata_fields: Sequence[str], base: Mapping[str, Any]) -> Document | Rejected:
    """One record as a document: its text fields joined by blank lines, the chosen fields as metadata."""
    texts = [field_value(record, name) for name in text_fields]
    text = "\n\n".join(str(value) for value in texts if value not in (None, ""))
    if not text.strip():
        fields = ", ".join(repr(name) for name in text_fields)
        return Rejected(source, f"has no text in {fields}", SkipCode.EMPTY)
    metadata = {**base, **{name: field_value(record, name) for name in metadata_fields}}
    return Document(source, text, metadata)


@dataclass(frozen=True)
class RecordsConnector:
    """Documents from the records of a CSV, JSON (an array of objects) or JSON Lines file."""

    path: Path
    text_fields: Sequence[str]
    id_field: str | None = None
    metadata_fields: Sequence[str] = ()
    format: str | None = None
    chunker: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path).expanduser().absolute())
        if isinstance(self.text_fields, str):
            object.__setattr__(self, "text_fields", (self.text_fields,))
        if not self.text_fields:
            raise ConfigError("RecordsConnector needs at least one text field")
        kind = self.format or _FORMATS.get(self.path.suffix.lower())
        if kind not in ("csv", "json", "jsonl"):
            raise ConfigError(f"cannot tell the record format of {self.path}; pass format='csv', 'json' or 'jsonl'")
        object.__setattr__(self, "format", kind)

    @property
    def sync_prefix(self) -> str:
        return f"{self.path}#"

    def owns(self, source: str) -> bool:
        return source.startswith(self.sync_prefix)

    def items(self) -> Iterator[Document | Rejected]:
        try:
            text, _ = decode_text(str(self.path), self.path.read_bytes())
        except OSError as exc:
            yield Rejected(str(self.path), f"cannot be read ({exc.strerror or exc})", SkipCode.UNREADABLE)
            return
        except IngestError as exc:
            yield Rejected(str(self.path), exc.reason, exc.code)
            return
        base = {"file_name": self.path.name, "file_type": self.format}
        for position, record in self._records(text):
            key = record.get(self.id_field) if self.id_field and isinstance(record, Mapping) else None
            source = f"{self.sync_prefix}{key if key not in (None, '') else position}"
            if isinstance(record, Rejected):
                yield Rejected(source, record.reason)
            elif not isinstance(record, Mapping):
                yield Rejected(source, f"is a JSON {type(record).__name__}, not an object with fields")
            elif self.id_field and key in (None, ""):
                yield Rejected(source, f"has no value in its id field {self.id_field!r}")
            else:
                yield record_document(source, record, self.text_fields, self.metadata_fields,
                                      {**base, "record": str(key if key is not None else position)})

    def _records(self, text: str) -> Iterator[tuple[int, Any]]:
        if self.format == "csv":
            dialect = csv.excel_tab if self.path.suffix.lower() == ".tsv" else csv.excel
            yield from enumerate(csv.DictReader(io.StringIO(text), dialect=dialect), start=1)
        elif self.format == "jsonl":
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, Rejected("", f"line {number} is not valid JSON ({exc.msg})")
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield 0, Rejected("", f"is not valid JSON ({exc.msg} at line {exc.lineno})")
                return
            if not isinstance(data, list):
                yield 0, Rejected("", "is a JSON document that is not an array of records")
                return
            yield from enumerate(data, start=1)

