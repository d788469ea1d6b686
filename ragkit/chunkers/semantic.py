"""Semantic chunking: break where the meaning of consecutive sentences shifts, within hard size bounds.

Each sentence is embedded together with its neighbours (a window of ``buffer`` sentences each side, as in Greg
Kamradt's "5 levels of text splitting" and LlamaIndex's SemanticSplitterNodeParser); a breakpoint goes where the
cosine distance between consecutive windows exceeds the ``percentile``-th percentile of the document's distances.
Unlike the splitters users complain about (llama_index #12270, #17098), chunks never exceed ``max_size`` tokens —
an oversized segment is split again at its largest internal distance — and segments under ``min_size`` tokens are
merged into the neighbour they are closer to.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ragkit.chunkers.base import Span, TokenIndex, chunks_from_spans
from ragkit.chunkers.fixed import token_windows
from ragkit.embed import Embedder, TokenSpans
from ragkit.errors import ConfigError
from ragkit.records import Chunk, Document
from ragkit.text import split_sentences


def breakpoints(distances: np.ndarray, percentile: float) -> list[int]:
    """Indices i where the distance between sentence i and i+1 is above the percentile threshold."""
    if len(distances) == 0:
        return []
    threshold = float(np.percentile(distances, percentile))
    return [i for i, d in enumerate(distances) if d > threshold]


class SemanticChunker:
    """Chunks whose boundaries follow topic shifts between sentences, between ``min_size`` and ``max_size`` tokens."""

    def __init__(self, embedder: Embedder, token_spans: TokenSpans, *, max_size: int = 256, min_size: int = 32,
                 percentile: float = 90.0, buffer: int = 1) -> None:
        if not 1 <= min_size <= max_size:
            raise ConfigError(f"need 1 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}")
        if not 0.0 < percentile < 100.0:
            raise ConfigError(f"percentile must be between 0 and 100, got {percentile}")
        if buffer < 0:
            raise ConfigError(f"buffer must be at least 0, got {buffer}")
        self._embedder = embedder
        self._token_spans = token_spans
        self.max_size = max_size
        self.min_size = min_size
        self.percentile = percentile
        self.buffer = buffer

    def chunk(self, document: Document) -> list[Chunk]:
        text = document.text
        tokens = self._token_spans(text)
        index = TokenIndex(tokens)
        sentences = split_sentences(text)
        if len(sentences) < 3:
            return chunks_from_spans(document, token_windows(text, tokens, self.max_size, 0))
        windows = [
            text[sentences[max(0, i - self.buffer)][0] : sentences[min(len(sentences) - 1, i + self.buffer)][1]]
            for i in range(len(sentences))
        ]
        vectors = self._embedder.embed_documents(windows)
        distances = 1.0 - np.sum(vectors[:-1] * vectors[1:], axis=1)
        cuts = breakpoints(distances, self.percentile)
        segments = self._segments(len(sentences), cuts)
        sizes = [index.count(sentences[a][0], sentences[b - 1][1]) for a, b in segments]
        segments = self._split_oversized(segments, sizes, distances, sentences, index)
        segments = self._merge_small(segments, distances, sentences, index)
        spans: list[Span] = []
        for a, b in segments:
            start, end = sentences[a][0], sentences[b - 1][1]
            if index.count(start, end) > self.max_size:  # one sentence longer than a chunk: fixed windows
                spans.extend(Span(x, y) for x, y in token_windows(text, tokens, self.max_size, 0, start, end))
            else:
                spans.append(Span(start, end))
        return chunks_from_spans(document, spans)

    @staticmethod
    def _segments(count: int, cuts: Sequence[int]) -> list[tuple[int, int]]:
        bounds = [0, *(cut + 1 for cut in cuts), count]
        return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]

    def _split_oversized(self, segments, sizes, distances, sentences, index) -> list[tuple[int, int]]:
        result: list[tuple[int, int]] = []
        stack = list(reversed(list(zip(segments, sizes))))
        while stack:
            (a, b), size = stack.pop()
            if size <= self.max_size or b - a == 1:
                result.append((a, b))
                continue
            cut = a + int(np.argmax(distances[a : b - 1])) + 1  # split at the largest shift inside
            left = (a, cut), index.count(sentences[a][0], sentences[cut - 1][1])
            right = (cut, b), index.count(sentences[cut][0], sentences[b - 1][1])
            stack.extend([right, left])
        return result

    def _merge_small(self, segments, distances, sentences, index) -> list[tuple[int, int]]:
        segments = list(segments)

        def size(segment: tuple[int, int]) -> int:
            return index.count(sentences[segment[0]][0], sentences[segment[1] - 1][1])

        i = 0
        while i < len(segments) and len(segments) > 1:
            a, b = segments[i]
            if size((a, b)) >= self.min_size:
                i += 1
                continue
            # Candidates: the previous segment (joined across distance a-1) and the next (across b-1).
            options = []
            if i > 0 and size((segments[i - 1][0], b)) <= self.max_size:
                options.append((distances[a - 1], i - 1))
            if i + 1 < len(segments) and size((a, segments[i + 1][1])) <= self.max_size:
                options.append((distances[b - 1], i + 1))
            if not options:
                i += 1
                continue
            _, neighbour = min(options)
            low, high = min(i, neighbour), max(i, neighbour)
            segments[low : high + 1] = [(segments[low][0], segments[high][1])]
            i = low
        return segments
