"""Chunkers: split one document into chunks that map back to exact character offsets."""

from ragkit.chunkers.base import Chunker, chunks_from_spans
from ragkit.chunkers.fixed import FixedChunker

__all__ = ["Chunker", "FixedChunker", "chunks_from_spans"]
