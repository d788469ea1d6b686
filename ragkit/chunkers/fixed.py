"""Fixed-size windows counted in the embedder's own tokens, so no chunk is silently truncated by the model.

Windows end at a sentence boundary when one lies in their second half, else between words; the next window starts
up to ``overlap`` tokens earlier, again at a sentence or word start.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from ragkit.chunkers.base import Span, TokenIndex, chunks_from_spans
from ragkit.embed import TokenSpans
from ragkit.errors import ConfigError
from ragkit.records import Chunk, Document
from ragkit.text import split_sentences


def word_starts(tokens: list[tuple[int, int]]) -> list[int]:
    """Indices of tokens that begin a word: the first token and every token preceded by a gap (whitespace).

    Cutting only there keeps words whole, so a chunk re-tokenizes to exactly the tokens it was counted with
    (cutting "inter|nationalization" would turn "##nationalization" into more tokens than counted).
    """
    return [i for i, (start, _) in enumerate(tokens) if i == 0 or start > tokens[i - 1][1]]


def _last_in(points: list[int], low: int, high: int) -> int | None:
    """The largest point in [low, high], or None."""
    at = bisect_right(points, high) - 1
    return points[at] if at >= 0 and points[at] >= low else None


def _first_in(points: list[int], low: int, high: int) -> int | None:
    """The smallest point in [low, high), or None."""
    at = bisect_left(points, low)
    return points[at] if at < len(points) and points[at] < high else None


def token_windows(text: str, tokens: list[tuple[int, int]], size: int, overlap: int,
                  start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of windows of at most ``size`` tokens over ``text[start:end]``, snapped to sentences."""
    end = len(text) if end is None else end
    index = TokenIndex(tokens)
    first_token, stop_token = index.first_at_or_after(start), index.first_at_or_after(end)
    if first_token >= stop_token:
        return []
    local = tokens[first_token:stop_token]
    words = word_starts(local)
    sentences = sorted({index.first_at_or_after(a) - first_token for a, _ in split_sentences(text, start, end)})
    windows = []
    first = 0
    while first < len(local):
        limit = first + size
        if limit >= len(local):
            windows.append((first, len(local)))
            break
        cut = _last_in(sentences, first + max(1, size // 2), limit) or _last_in(words, first + 1, limit) or limit
        windows.append((first, cut))
        low = max(cut - overlap, first + 1)
        first = _first_in(sentences, low, cut) or _first_in(words, low, cut) or cut
    return [(local[a][0], local[b - 1][1]) for a, b in windows]


class FixedChunker:
    """Windows of at most ``size`` tokens, overlapping by up to ``overlap`` tokens, cut between sentences or words."""

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
        spans = token_windows(document.text, tokens, self.size, self.overlap)
        return chunks_from_spans(document, [Span(a, b) for a, b in spans])
