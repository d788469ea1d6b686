"""Chunkers: split one document into chunks that map back to exact character offsets.

``fixed`` cuts token windows at sentence or word boundaries; ``semantic`` breaks where consecutive sentences
drift apart in meaning; ``hybrid`` follows the document's headings, tables and lists first. All count in the
embedder's own tokens and respect a hard maximum.
"""

from __future__ import annotations

from typing import Any

from ragkit.chunkers.base import Chunker, ChunkerKind, Span, TokenIndex, chunks_from_spans
from ragkit.chunkers.fixed import FixedChunker, token_windows
from ragkit.chunkers.hybrid import HybridChunker
from ragkit.chunkers.semantic import SemanticChunker

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


def make_chunker(kind: ChunkerKind, embedder: Any, *, size: int, overlap: int, min_size: int,
                 percentile: float, embed_headings: bool) -> Chunker:
    """The chunker of ``kind`` counting in ``embedder``'s tokens (semantic chunking also embeds with it)."""
    if kind is ChunkerKind.FIXED:
        return FixedChunker(embedder.token_spans, size=size, overlap=overlap)
    if kind is ChunkerKind.SEMANTIC:
        return SemanticChunker(embedder, embedder.token_spans, max_size=size, min_size=min_size, percentile=percentile)
    return HybridChunker(embedder.token_spans, max_size=size, min_size=min_size, overlap=overlap,
                         embed_headings=embed_headings)
