"""The one exception tree of ragkit.

Every error ragkit raises on purpose is a ``RagkitError``; its message names the bad value or file and what to
do about it. Expected outcomes (a question the knowledge base cannot answer) are typed results, not exceptions.

    RagkitError
    ├── ConfigError            a bad argument or configuration value
    ├── MissingExtraError      an optional dependency is not installed (also an ImportError)
    ├── ModelLoadError         model weights could not be found or loaded
    ├── KnowledgeBaseError     the knowledge-base directory itself
    │   ├── KnowledgeBaseLocked    another process holds the knowledge base
    │   ├── IncompatibleKnowledgeBase  opened with settings that contradict how it was built
    │   ├── StorageFull            the disk that holds it is (almost) full
    │   └── RegistryUnavailable    the registry's database server cannot be reached
    ├── IngestError            one input could not be read or parsed (the batch goes on)
    ├── IndexBackendError      the vector index (Qdrant) failed
    ├── LLMError               the optional chat-completions endpoint failed or answered nonsense
    └── DatasetError           an evaluation dataset is missing or malformed
"""

from __future__ import annotations

from enum import Enum


class RagkitError(Exception):
    """Base class of every error ragkit raises on purpose."""


class ConfigError(RagkitError, ValueError):
    """A bad argument or configuration value."""


class MissingExtraError(RagkitError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed. "
            f"Install it with: pip install 'ragkit[{extra}]'"
        )
        self.package = package
        self.extra = extra


class ModelLoadError(RagkitError):
    """Model weights could not be found or loaded."""


class KnowledgeBaseError(RagkitError):
    """A problem with the knowledge-base directory itself."""


class KnowledgeBaseLocked(KnowledgeBaseError):
    """Another process holds the knowledge base."""


class IncompatibleKnowledgeBase(KnowledgeBaseError):
    """The knowledge base was built with settings that contradict the ones given now."""


class StorageFull(KnowledgeBaseError):
    """The disk that holds the knowledge base is (almost) full; what was written before stays consistent."""


class RegistryUnavailable(KnowledgeBaseError):
    """The registry's database server cannot be reached (stopped, restarting, a broken network); a write it
    interrupted is finished by the next write."""


class SkipCode(str, Enum):
    """Why a source was skipped; the ingest report counts skips per code."""

    UNREADABLE = "unreadable"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    BINARY = "binary"
    ENCODING = "encoding"
    PARSE_ERROR = "parse_error"
    ENCRYPTED = "encrypted"
    NEEDS_OCR = "needs_ocr"
    MISSING_DEPENDENCY = "missing_dependency"
    LOW_INFORMATION = "low_information"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    TIMEOUT = "timeout"
    FORBIDDEN = "forbidden"
    SYMLINK = "symlink"
    SPECIAL_FILE = "special_file"
    INVALID = "invalid"


class IngestError(RagkitError):
    """One input could not be read, parsed or accepted; ingest records it as skipped, with a code, and goes on."""

    def __init__(self, source: str, reason: str, code: SkipCode = SkipCode.INVALID) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.code = code


class IndexBackendError(RagkitError):
    """The vector index backend failed."""


class LLMError(RagkitError):
    """The chat-completions endpoint could not be reached or answered with something that is not a completion."""


class DatasetError(RagkitError):
    """An evaluation dataset is missing or malformed."""
