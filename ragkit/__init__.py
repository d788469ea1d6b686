"""ragkit: build and query knowledge bases with hybrid retrieval, cited answers and honest no-answers.

Everything a user touches is importable from here: ``KnowledgeBase``, the records it takes and returns, the
settings, the protocols of the parts that can be swapped, and the errors.
"""

from __future__ import annotations

import warnings
from typing import Any

from ragkit.answer import Calibrator, Chat, ChatModel, OpenAIChat, Turn
from ragkit.chunkers import Chunker
from ragkit.embed import Embedder, SentenceTransformerEmbedder, TokenEmbedder, make_embedder
from ragkit.errors import (
    ConfigError,
    DatasetError,
    IncompatibleKnowledgeBase,
    IndexBackendError,
    IngestError,
    KnowledgeBaseError,
    KnowledgeBaseLocked,
    LLMError,
    MissingExtraError,
    ModelLoadError,
    RagkitError,
    RegistryUnavailable,
    SkipCode,
    StorageFull,
)
from ragkit.filters import Match, Range
from ragkit.graph import Community, DocumentGraph, EntityInfo, GraphStore, GraphView, Mention, Relation
from ragkit.index import FusionQuery, IndexPoint, IndexQuery, ScoredId, SparseVector, VectorIndex, VectorName
from ragkit.kb import Ingestible, KnowledgeBase
from ragkit.progress import ProgressCallback, ProgressEvent, Stage
from ragkit.records import (
    Answer,
    AnswerStatus,
    Chunk,
    Citation,
    Connector,
    Document,
    Element,
    ElementKind,
    GraphEdge,
    GraphEvidence,
    GraphPath,
    Hit,
    IngestReport,
    Outcome,
    RetrieverScore,
    SourceItem,
    SourceOutcome,
    SyncedConnector,
)
from ragkit.rerank import Reranker
from ragkit.retrieve import SearchResult
from ragkit.servers import ServerSettings
from ragkit.settings import (
    DEFAULT_EMBEDDER,
    BM25Config,
    BM25Tokenizer,
    ChunkerKind,
    ChunkingConfig,
    CleaningConfig,
    DenseStorage,
    EngineFusion,
    GraphConfig,
    GraphKind,
    IndexConfig,
    IndexKind,
    IngestLimits,
    KBConfig,
    Language,
    RetrievalConfig,
    SearchMode,
)
from ragkit.settings_index import PayloadSchema, WriteOrdering

__version__ = "0.1.0"

# Renamed to follow one naming rule (``*Config``); the old names still work, with a warning.
_RENAMED = {"IndexSettings": "IndexConfig", "GraphSettings": "GraphConfig"}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        warnings.warn(f"ragkit.{name} is now ragkit.{_RENAMED[name]}", DeprecationWarning, stacklevel=2)
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module 'ragkit' has no attribute {name!r}")


__all__ = [
    "DEFAULT_EMBEDDER",
    "Answer",
    "AnswerStatus",
    "BM25Config",
    "BM25Tokenizer",
    "Calibrator",
    "Chat",
    "ChatModel",
    "Chunk",
    "Chunker",
    "ChunkerKind",
    "ChunkingConfig",
    "Citation",
    "CleaningConfig",
    "Community",
    "ConfigError",
    "Connector",
    "DatasetError",
    "DenseStorage",
    "Document",
    "DocumentGraph",
    "Element",
    "ElementKind",
    "Embedder",
    "EngineFusion",
    "EntityInfo",
    "FusionQuery",
    "GraphConfig",
    "GraphEdge",
    "GraphPath",
    "GraphEvidence",
    "GraphKind",
    "GraphStore",
    "GraphView",
    "Hit",
    "IncompatibleKnowledgeBase",
    "IndexBackendError",
    "IndexConfig",
    "IndexKind",
    "IndexPoint",
    "IndexQuery",
    "IngestError",
    "IngestLimits",
    "IngestReport",
    "Ingestible",
    "KBConfig",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "KnowledgeBaseLocked",
    "LLMError",
    "Language",
    "Match",
    "Mention",
    "MissingExtraError",
    "ModelLoadError",
    "OpenAIChat",
    "Outcome",
    "ProgressCallback",
    "ProgressEvent",
    "RagkitError",
    "Range",
    "RegistryUnavailable",
    "Relation",
    "Reranker",
    "RetrievalConfig",
    "RetrieverScore",
    "PayloadSchema",
    "ScoredId",
    "SearchMode",
    "ServerSettings",
    "SearchResult",
    "SentenceTransformerEmbedder",
    "SkipCode",
    "WriteOrdering",
    "Stage",
    "SourceItem",
    "SourceOutcome",
    "StorageFull",
    "SparseVector",
    "SyncedConnector",
    "TokenEmbedder",
    "Turn",
    "VectorIndex",
    "VectorName",
    "make_embedder",
]
