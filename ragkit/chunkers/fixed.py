"""Fixed-size windows counted in the embedder's own tokens, so no chunk is silently truncated by the model."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from ragkit.chunkers.base import chunks_from_spans
from ragkit.embed import TokenSpans
from ragkit.errors import ConfigError
from ragkit.records import Chunk, Document


def word_starts(tokens: list[tuple[int, int]]) -> list[int]:
    """Indices of tokens that begin a word: the first token and every token preceded by a gap (whitespace).

    Cutting only there keeps words whole, so a chunk re-tokenizes to exactly the tokens it was counted with
    (cutting "inter|nationalization" would turn "##nationalization" into more tokens than counted).
    """
    return [i for i, (start, _) in enumerate(tokens) if i == 0 or start > tokens[i - 1][1]]


class FixedChunker:
    """Windows of at most ``size`` tokens, cut between words, overlapping by up to ``overlap`` tokens."""

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
        return chunks_from_spans(document, [(tokens[a][0], tokens[b - 1][1]) for a, b in self.windows(tokens)])

    def windows(self, tokens: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Half-open token ranges [first, end) of the chunks."""
        starts = word_starts(tokens)
        windows: list[tuple[int, int]] = []
        first = 0
        while first < len(tokens):
            limit = first + self.size
            if limit >= len(tokens):
                windows.append((first, len(tokens)))
                break
            # The last word start that keeps the window within size; a single word longer than the window
            # (or unspaced text such as Chinese) is cut at the token limit.
            at = bisect_right(starts, limit) - 1
            end = starts[at] if starts[at] > first else limit
            windows.append((first, end))
            # The next window starts at the first word start within `overlap` tokens before the end.
            at = bisect_left(starts, max(end - self.overlap, first + 1))
            first = starts[at] if at < len(starts) and starts[at] < end else end
        return windows
