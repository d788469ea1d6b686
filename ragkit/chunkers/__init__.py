"""Chunkers: split one document into chunks that map back to exact character offsets.

``fixed`` cuts token windows at sentence or word boundaries; ``semantic`` breaks where consecutive sentences
drift apart in meaning; ``hybrid`` follows the document's headings, tables and lists first. All count in the
embedder's own tokens and respect a hard maximum.
"""

from __future__ import annotations

from ragkit.chunkers.base import Chunker, Span, TokenIndex, chunks_from_spans
from ragkit.chunkers.fixed import FixedChunker, token_windows
from ragkit.chunkers.hybrid import HybridChunker
from ragkit.chunkers.semantic import SemanticChunker
from ragkit.embed import Embedder
from ragkit.errors import ConfigError
from ragkit.settings import ChunkerKind, ChunkingConfig

__all__ = [
    "Chunker",
    "ChunkerKind",
    "FixedChunker",
    "HybridChunker",
    "SemanticChunker",
    "Span",
    "TokenIndex",
    "chunks_from_spans",
    "make_chunker",
    "token_windows",
]


def make_chunker(config: ChunkingConfig, embedder: Embedder, kind: ChunkerKind | None = None) -> Chunker:
    """The configured chunker (or one of another ``kind``) counting in ``embedder``'s tokens — semantic chunking
    also embeds with it — refused when its chunks could be longer than the embedder reads."""
    if config.size > embedder.max_tokens:
        raise ConfigError(
            f"chunk size {config.size} exceeds the {embedder.max_tokens} tokens that {embedder.name} reads; the rest "
            f"of each chunk would be silently cut off. Use a chunk size <= {embedder.max_tokens}."
        )
    kind = kind or config.kind
    if kind is ChunkerKind.FIXED:
        return FixedChunker(embedder.token_spans, size=config.size, overlap=config.overlap)
    if kind is ChunkerKind.SEMANTIC:
        return SemanticChunker(embedder, embedder.token_spans, max_size=config.size, min_size=config.min_size,
                               percentile=config.semantic_percentile)
    return HybridChunker(embedder.token_spans, max_size=config.size, min_size=config.min_size,
                         overlap=config.overlap, embed_headings=config.embed_headings)
