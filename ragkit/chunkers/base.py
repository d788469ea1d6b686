"""The chunker protocol and the helpers chunkers share: spans to ``Chunk`` records, and token counting."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

from ragkit.records import Chunk, Document, chunk_id_for


class Chunker(Protocol):
    """Splits one document into chunks; ``document.text[c.start:c.end] == c.text`` for every chunk."""

    def chunk(self, document: Document) -> list[Chunk]: ...


@dataclass(frozen=True)
class Span:
    """Where a chunk lies in its document, plus what is embedded with it and what is known about it."""

    start: int
    end: int
    context: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


def chunks_from_spans(document: Document, spans: Sequence[Span | tuple[int, int]]) -> list[Chunk]:
    """Chunk records for spans of ``document.text``; spans holding only whitespace are skipped."""
    seen: Counter[tuple[str, str]] = Counter()
    chunks = []
    for span in spans:
        span = span if isinstance(span, Span) else Span(*span)
        text = document.text[span.start : span.end]
        if not text.strip():
            continue
        occurrence = seen[(span.context, text)]
        seen[(span.context, text)] += 1
        chunk_id = chunk_id_for(document.id, text, occurrence, span.context)
        chunks.append(Chunk(chunk_id, document.id, len(chunks), span.start, span.end, text, span.context,
                            dict(span.metadata)))
    return chunks


class TokenIndex:
    """A document's tokens (character spans), to count tokens in any character range in O(log n)."""

    def __init__(self, tokens: Sequence[tuple[int, int]]) -> None:
        self.tokens = tokens
        self._starts = [start for start, _ in tokens]

    def first_at_or_after(self, position: int) -> int:
        """Index of the first token that starts at or after ``position``."""
        return bisect_left(self._starts, position)

    def count(self, start: int, end: int) -> int:
        """Tokens that start inside [start, end)."""
        return self.first_at_or_after(end) - self.first_at_or_after(start)
