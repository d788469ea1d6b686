"""ragkit: build and query knowledge bases with hybrid retrieval, cited answers and honest no-answers."""

from ragkit.answer import Calibrator, LLMError, OpenAIChat
from ragkit.config import IndexKind, IndexSettings, KBConfig
from ragkit.embed import DEFAULT_EMBEDDER, Embedder, SentenceTransformerEmbedder
from ragkit.errors import (
    ConfigError,
    DatasetError,
    IncompatibleKnowledgeBase,
    IndexBackendError,
    IngestError,
    KnowledgeBaseError,
    KnowledgeBaseLocked,
    MissingExtraError,
    ModelLoadError,
    RagkitError,
)
from ragkit.kb import KnowledgeBase
from ragkit.records import (
    Answer,
    AnswerStatus,
    Chunk,
    Citation,
    Document,
    Hit,
    IngestReport,
    Outcome,
    RetrieverScore,
    SourceItem,
    SourceOutcome,
)
from ragkit.retrieve import RetrievalConfig, SearchMode, SearchResult

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EMBEDDER",
    "Answer",
    "AnswerStatus",
    "Calibrator",
    "Chunk",
    "Citation",
    "ConfigError",
    "DatasetError",
    "Document",
    "Embedder",
    "Hit",
    "IncompatibleKnowledgeBase",
    "IndexBackendError",
    "IndexKind",
    "IndexSettings",
    "IngestError",
    "IngestReport",
    "KBConfig",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "KnowledgeBaseLocked",
    "LLMError",
    "MissingExtraError",
    "ModelLoadError",
    "OpenAIChat",
    "Outcome",
    "RagkitError",
    "RetrievalConfig",
    "RetrieverScore",
    "SearchMode",
    "SearchResult",
    "SentenceTransformerEmbedder",
    "SourceItem",
    "SourceOutcome",
]
