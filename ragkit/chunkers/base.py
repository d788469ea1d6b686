"""The chunker protocol and the one helper every chunker uses to turn spans into ``Chunk`` records."""

from __future__ import annotations

from collections import Counter
from typing import Protocol, Sequence

from ragkit.records import Chunk, Document, chunk_id_for


class Chunker(Protocol):
    """Splits one document into chunks; ``document.text[c.start:c.end] == c.text`` for every chunk."""

    def chunk(self, document: Document) -> list[Chunk]: ...


def chunks_from_spans(document: Document, spans: Sequence[tuple[int, int]]) -> list[Chunk]:
    """Build chunk records for character spans of ``document.text``, skipping spans that hold only whitespace."""
    seen: Counter[str] = Counter()
    chunks = []
    for start, end in spans:
        text = document.text[start:end]
        if not text.strip():
            continue
        occurrence = seen[text]
        seen[text] += 1
        chunk_id = chunk_id_for(document.id, text, occurrence)
        chunks.append(Chunk(chunk_id, document.id, len(chunks), start, end, text))
    return chunks
