"""Fixed-size windows counted in the embedder's own tokens, so no chunk is silently truncated by the model."""

from __future__ import annotations

from ragkit.chunkers.base import chunks_from_spans
from ragkit.embed import TokenSpans
from ragkit.errors import ConfigError
from ragkit.records import Chunk, Document


class FixedChunker:
    """Windows of ``size`` tokens that overlap by ``overlap`` tokens."""

    def __init__(self, token_spans: TokenSpans, *, size: int = 256, overlap: int = 32) -> None:
        if size < 1:
            raise ConfigError(f"chunk size must be at least 1 token, got {size}")
        if not 0 <= overlap < size:
            raise ConfigError(f"chunk overlap must be at least 0 and below the size {size}, got {overlap}")
        self._token_spans = token_spans
        self.size = size
        self.overlap = overlap

    def chunk(self, document: Document) -> list[Chunk]:
        tokens = self._token_spans(document.text)
        spans = []
        step = self.size - self.overlap
        for first in range(0, len(tokens), step):
            last = min(first + self.size, len(tokens)) - 1
            spans.append((tokens[first][0], tokens[last][1]))
            if last == len(tokens) - 1:
                break
        return chunks_from_spans(document, spans)
