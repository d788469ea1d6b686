"""The modes of the vector index, and the checks of a Qdrant cluster's settings: the part of ``ragkit.settings`` that
``IndexConfig`` is made of (``ragkit.settings`` imports them from here; like it, this imports only the errors).

``IndexConfig``'s cluster settings, all None (the server's default) unless set, and only for a ``qdrant`` index.
When the collection is created: ``shards`` (Qdrant's ``shard_number``), ``replication_factor``,
``write_consistency_factor`` (how many replicas must acknowledge a write; at most the replication factor) and
``payload_indexes``: (metadata field, :class:`PayloadSchema`) pairs for the fields filters name (``doc_id`` is always
indexed). On every request: ``read_consistency`` (how many replicas answer a read — a number, ``majority``,
``quorum`` or ``all``; None answers from any one replica, so reads survive a replica down), ``write_ordering``
(:class:`WriteOrdering`) and ``timeout_s``, the client's request timeout.
"""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import Any

from ragkit.errors import ConfigError


class IndexKind(str, Enum):
    """Where vectors live: ``edge`` (Qdrant's engine in-process, inside the folder) or a ``qdrant`` server."""

    EDGE = "edge"
    QDRANT = "qdrant"


class DenseStorage(str, Enum):
    """Where dense vectors live. ``memory``: float32 vectors in RAM, the HNSW graph built and searched on them.
    ``int8`` (the default): an int8 scalar-quantized copy in RAM that the HNSW graph is built and searched on, the
    candidates rescored with the float32 originals, which are memory-mapped and read into the page cache when the
    index opens. ``disk-int8``: the same, but the originals stay on disk until a query rescores with them — the least
    RAM (4 bytes × dimension per chunk less), at the price of disk reads on the queries after an open."""

    MEMORY = "memory"
    INT8 = "int8"
    DISK_INT8 = "disk-int8"

    @property
    def quantized(self) -> bool:
        return self is not DenseStorage.MEMORY


class WriteOrdering(str, Enum):
    """How a Qdrant cluster orders writes to a shard's replicas: ``weak`` (the default: may be reordered, fastest),
    ``medium`` (through a dynamically chosen leader) or ``strong`` (through the permanent leader: consistent, but
    refused while that peer is down)."""

    WEAK = "weak"
    MEDIUM = "medium"
    STRONG = "strong"


class PayloadSchema(str, Enum):
    """The type of a Qdrant payload index on a metadata field that filters name."""

    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"
    TEXT = "text"


# How requests are sent rather than what is stored: stored as the knowledge base's defaults, but a process that opens
# it with other values uses its own (one web worker's timeout need not be the nightly build's).
REQUEST_SETTINGS = ("timeout_s", "read_consistency", "write_ordering", "api_key_env")


def check_cluster_settings(config: Any) -> None:
    """Check an ``IndexConfig``'s cluster settings (its kind and write ordering already parsed), normalising
    ``read_consistency`` and ``payload_indexes``; a ConfigError names the bad value."""
    for name in ("shards", "replication_factor", "write_consistency_factor"):
        value = getattr(config, name)
        if value is not None and (not _is_int(value) or value < 1):
            raise ConfigError(f"{name} must be a whole number of at least 1 (or None), got {value!r}")
    replicas, acknowledging = config.replication_factor, config.write_consistency_factor
    if acknowledging is not None and replicas is not None and acknowledging > replicas:
        raise ConfigError(f"write_consistency_factor {acknowledging} exceeds replication_factor {replicas}: a write "
                          "cannot wait for more replicas than there are")
    object.__setattr__(config, "read_consistency", _read_consistency(config.read_consistency, replicas))
    timeout = config.timeout_s
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(f"timeout_s must be a positive number of seconds (or None), got {timeout!r}")
    object.__setattr__(config, "payload_indexes", _payload_indexes(config.payload_indexes))
    if config.kind is IndexKind.EDGE:
        defaults = {f.name: f.default for f in fields(config)}
        server_only = [name for name in _SERVER_ONLY if getattr(config, name) != defaults[name]]
        if server_only:
            raise ConfigError(f"{', '.join(server_only)} apply to a Qdrant server; this index is edge (in-process): "
                              "use IndexConfig('qdrant', URL, ...) or leave them out")


_SERVER_ONLY = ("shards", "replication_factor", "write_consistency_factor", "read_consistency", "write_ordering",
                "timeout_s", "payload_indexes")
_READ_CONSISTENCY = ("majority", "quorum", "all")
_SCHEMAS = tuple(schema.value for schema in PayloadSchema)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_consistency(value: Any, replicas: int | None) -> int | str | None:
    """None, a number of replicas, or one of ``_READ_CONSISTENCY``; a ConfigError names anything else."""
    if value is None:
        return None
    if _is_int(value):
        if value < 1 or (replicas is not None and value > replicas):
            bound = f"1 to replication_factor {replicas}" if replicas is not None else "at least 1"
            raise ConfigError(f"read_consistency {value} must be {bound} replicas")
        return value
    if isinstance(value, str) and value.lower() in _READ_CONSISTENCY:
        return value.lower()
    raise ConfigError(f"read_consistency must be None, a number of replicas or one of "
                      f"{', '.join(_READ_CONSISTENCY)}; got {value!r}")


def _payload_indexes(value: Any) -> tuple[tuple[str, str], ...]:
    """(field, schema) pairs sorted by field, from a mapping or pairs (JSON gives lists); schemas as plain strings."""
    pairs = list(value.items()) if isinstance(value, dict) else value
    if not isinstance(pairs, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pairs):
        raise ConfigError(f"payload_indexes maps metadata fields to index types, such as {{'team': 'keyword'}}; "
                          f"got {value!r}")
    found: dict[str, str] = {}
    for name, schema in pairs:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ConfigError(f"payload_indexes: {name!r} is not a metadata field name")
        if name in found:
            raise ConfigError(f"payload_indexes names the field {name!r} twice")
        if schema not in _SCHEMAS:
            raise ConfigError(f"unknown index type for payload field {name!r}: {schema!r}; choose one of: "
                              f"{', '.join(_SCHEMAS)}")
        found[name] = PayloadSchema(schema).value
        if name == "doc_id" and found[name] != PayloadSchema.KEYWORD.value:  # ragkit's own keyword index
            raise ConfigError(f"payload_indexes: doc_id is always a keyword index, got {schema!r}")
    return tuple(sorted(found.items()))
