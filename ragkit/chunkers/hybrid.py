"""Structure-first chunking: sections under their headings, tables by rows, then size.

The document's elements (from the parser) are grouped into sections under a heading path; consecutive blocks of a
section share a chunk while they fit in ``max_size`` tokens. A block too large on its own is split: a table by rows
with its header row carried in the chunk's context, code by lines, prose by sentence-snapped windows (or
semantically, given a ``SemanticChunker``). Chunks under ``min_size`` tokens are merged with the next one when the
result fits. Every chunk's heading path is in its metadata and, with ``embed_headings``, in its context — the text
that is embedded with it. Documents without elements are split into paragraphs at blank lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ragkit.chunkers.base import Span, TokenIndex, chunks_from_spans
from ragkit.chunkers.fixed import token_windows
from ragkit.chunkers.semantic import SemanticChunker
from ragkit.embed import TokenSpans
from ragkit.errors import ConfigError
from ragkit.records import Chunk, Document, Element, ElementKind

_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\n[ \t]*\n|\s*\Z)", re.DOTALL)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    path: tuple[str, ...]
    page: int | None
    header: str = ""  # a table header repeated for a continuation piece


def paragraphs(text: str) -> list[Element]:
    """Blank-line separated paragraphs as text elements (for documents whose parser gave no structure)."""
    return [Element(ElementKind.TEXT, m.start(), m.end()) for m in _PARAGRAPH.finditer(text)]


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    prefix = []
    for x, y in zip(a, b):
        if x != y:
            break
        prefix.append(x)
    return tuple(prefix)


class HybridChunker:
    """Chunks that follow the document's structure, between ``min_size`` and ``max_size`` tokens."""

    def __init__(self, token_spans: TokenSpans, *, max_size: int = 256, min_size: int = 64, overlap: int = 0,
                 embed_headings: bool = True, semantic: SemanticChunker | None = None) -> None:
        if not 1 <= min_size <= max_size:
            raise ConfigError(f"need 1 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}")
        if not 0 <= overlap < max_size:
            raise ConfigError(f"overlap must be at least 0 and below max_size {max_size}, got {overlap}")
        self._token_spans = token_spans
        self.max_size = max_size
        self.min_size = min_size
        self.overlap = overlap
        self.embed_headings = embed_headings
        self._semantic = semantic

    def chunk(self, document: Document) -> list[Chunk]:
        text = document.text
        tokens = self._token_spans(text)
        index = TokenIndex(tokens)
        pieces: list[_Piece] = []
        for path, blocks in self._sections(document):
            pieces.extend(self._section_pieces(document, tokens, index, path, blocks))
        pieces = self._merge_small(pieces, index)
        spans = []
        for piece in pieces:
            context_parts = [" > ".join(piece.path)] if self.embed_headings and piece.path else []
            if piece.header:
                context_parts.append(piece.header)
            metadata = {"heading_path": list(piece.path)}
            if piece.page is not None:
                metadata["page"] = piece.page
            spans.append(Span(piece.start, piece.end, "\n".join(context_parts), metadata))
        return chunks_from_spans(document, spans)

    def _sections(self, document: Document) -> list[tuple[tuple[str, ...], list[Element]]]:
        """(heading path, elements) per section; a section's heading is its first element."""
        elements = list(document.elements) or paragraphs(document.text)
        sections: list[tuple[tuple[str, ...], list[Element]]] = []
        stack: list[tuple[int, str]] = []
        blocks: list[Element] = []
        path: tuple[str, ...] = ()
        for element in elements:
            if element.kind is ElementKind.TITLE:
                if blocks:
                    sections.append((path, blocks))
                depth = element.depth if element.depth is not None else 0
                while stack and stack[-1][0] >= depth:
                    stack.pop()
                title = " ".join(document.text[element.start : element.end].split())
                stack.append((depth, title))
                path = tuple(t for _, t in stack)
                blocks = [element]
            else:
                blocks.append(element)
        if blocks:
            sections.append((path, blocks))
        return sections

    def _section_pieces(self, document: Document, tokens, index: TokenIndex, path: tuple[str, ...],
                        blocks: list[Element]) -> list[_Piece]:
        pieces: list[_Piece] = []
        group: list[Element] = []

        def flush() -> None:
            if group:
                pieces.append(_Piece(group[0].start, group[-1].end, path, group[0].page))
                group.clear()

        for block in blocks:
            if index.count(block.start, block.end) > self.max_size:
                flush()
                pieces.extend(self._split_block(document, tokens, index, path, block))
            elif group and index.count(group[0].start, block.end) > self.max_size:
                flush()
                group.append(block)
            else:
                group.append(block)
        flush()
        return pieces

    def _split_block(self, document: Document, tokens, index: TokenIndex, path: tuple[str, ...],
                     block: Element) -> list[_Piece]:
        text = document.text
        if block.kind is ElementKind.TABLE:
            return self._split_table(text, index, path, block)
        if block.kind is ElementKind.CODE:
            return self._split_lines(text, index, path, block)
        if self._semantic is not None and block.kind is ElementKind.TEXT:
            part = Document(document.source, text[block.start : block.end])
            return [_Piece(block.start + c.start, block.start + c.end, path, block.page)
                    for c in self._semantic.chunk(part)]
        windows = token_windows(text, tokens, self.max_size, self.overlap, block.start, block.end)
        return [_Piece(a, b, path, block.page) for a, b in windows]

    def _lines(self, text: str, block: Element) -> list[tuple[int, int]]:
        spans, position = [], block.start
        for line in text[block.start : block.end].split("\n"):
            if line.strip():
                spans.append((position, position + len(line)))
            position += len(line) + 1
        return spans

    def _split_lines(self, text: str, index: TokenIndex, path: tuple[str, ...], block: Element,
                     header: str = "", header_tokens: int = 0) -> list[_Piece]:
        """Consecutive lines up to the size budget; a single over-long line is cut by tokens."""
        pieces: list[_Piece] = []
        budget = self.max_size - header_tokens
        start = end = None
        for a, b in self._lines(text, block):
            if index.count(a, b) > budget:  # one enormous line (a row with a whole paragraph in a cell)
                if start is not None:
                    pieces.append(_Piece(start, end, path, block.page, header))
                    start = None
                tokens = index.tokens[index.first_at_or_after(a) : index.first_at_or_after(b)]
                pieces.extend(_Piece(x, y, path, block.page, header)
                              for x, y in token_windows(text, list(tokens), budget, 0, a, b))
                continue
            if start is not None and index.count(start, b) > budget:
                pieces.append(_Piece(start, end, path, block.page, header))
                start = None
            start = a if start is None else start
            end = b
        if start is not None:
            pieces.append(_Piece(start, end, path, block.page, header))
        return pieces

    def _split_table(self, text: str, index: TokenIndex, path: tuple[str, ...], block: Element) -> list[_Piece]:
        lines = self._lines(text, block)
        header_lines = lines[:2] if len(lines) > 1 and _TABLE_RULE.match(text[lines[1][0] : lines[1][1]]) else lines[:1]
        header = "\n".join(text[a:b] for a, b in header_lines)
        header_tokens = index.count(header_lines[0][0], header_lines[-1][1])
        if header_tokens > self.max_size // 2:  # a header that large is content, not a label to repeat
            return self._split_lines(text, index, path, block)
        pieces = self._split_lines(text, index, path, block, header, header_tokens)
        # The first piece holds the header itself; only continuations need it repeated.
        return [replace(pieces[0], header=""), *pieces[1:]] if pieces else pieces

    def _merge_small(self, pieces: list[_Piece], index: TokenIndex) -> list[_Piece]:
        merged: list[_Piece] = []
        for piece in pieces:
            if merged and not piece.header and not merged[-1].header:
                last = merged[-1]
                small = index.count(last.start, last.end) < self.min_size or \
                    index.count(piece.start, piece.end) < self.min_size
                if small and index.count(last.start, piece.end) <= self.max_size:
                    merged[-1] = _Piece(last.start, piece.end, _common_prefix(last.path, piece.path), last.page)
                    continue
            merged.append(piece)
        return merged
