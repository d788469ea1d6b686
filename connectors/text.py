"""Plain text and Markdown, parsed natively (no extra dependency): decoding, and Markdown's structure as elements."""

from __future__ import annotations

import re
from typing import Any, Mapping

from ragkit.connectors.sniff import text_encoding

from ragkit.errors import IngestError, SkipCode
from ragkit.records import Document, ElementKind

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([\w+-]*)")
_LIST = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])[ \t]+\S")
_TABLE_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$")


def decode_text(source: str, data: bytes) -> tuple[str, str]:
    """(text, encoding): BOM or UTF-16 pattern first, then strict UTF-8, then charset detection."""
    if not data.strip(b" \t\r\n\x00"):
        raise IngestError(source, "is empty; there is no text to index", SkipCode.EMPTY)
    encoding = text_encoding(data[:4096])
    if encoding is None and b"\x00" in data[:8192]:
        raise IngestError(source, "looks like a binary file (it contains NUL bytes), not text", SkipCode.BINARY)
    try:
        return data.decode(encoding or "utf-8"), encoding or "utf-8"
    except UnicodeDecodeError as exc:
        error = exc
    if encoding is not None and encoding.startswith("utf-16") and len(data) % 2:
        try:  # one stray byte after the last whole UTF-16 code unit: a truncated or padded file
            return data[:-1].decode(encoding), encoding
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    guess = from_bytes(data).best()
    if guess is None or guess.encoding is None:
        named = (encoding or "utf-8").upper().replace("-SIG", "").replace("UTF-16-", "UTF-16 ")
        raise IngestError(
            source,
            f"is not valid {named} (byte 0x{data[error.start]:02x} at offset {error.start}) and its encoding could "
            "not be detected; re-save it as UTF-8",
            SkipCode.ENCODING,
        )
    return str(guess), guess.encoding


def parse_text(source: str, data: bytes, metadata: Mapping[str, Any]) -> Document:
    text, encoding = decode_text(source, data)
    return Document(source, text, {**metadata, "encoding": encoding})


def parse_markdown(source: str, data: bytes, metadata: Mapping[str, Any]) -> Document:
    """Markdown as elements: headings (ATX and setext) with their depth, paragraphs, list items, tables, code."""
    text, encoding = decode_text(source, data)
    return Document.from_elements(source, markdown_parts(text), {**metadata, "encoding": encoding})


def markdown_parts(text: str) -> list[tuple[str, ElementKind, dict[str, Any]]]:
    parts: list[tuple[str, ElementKind, dict[str, Any]]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    block: list[str] = []
    kind = ElementKind.TEXT

    def flush() -> None:
        nonlocal block
        if block:
            # A paragraph's or list item's line breaks are soft (Markdown renders them as spaces); a table's are rows.
            separator = "\n" if kind is ElementKind.TABLE else " "
            parts.append((separator.join(line.strip() for line in block).strip(), kind, {}))
        block = []

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker, language, body = fence.group(1), fence.group(2), []
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith(marker):
                body.append(lines[i])
                i += 1
            parts.append(("\n".join(body), ElementKind.CODE, {"language": language} if language else {}))
        elif heading := _ATX.match(line):
            flush()
            parts.append((heading.group(2), ElementKind.TITLE, {"depth": len(heading.group(1)) - 1}))
        elif block and kind is ElementKind.TEXT and len(block) == 1 and _SETEXT.match(line):
            title = block[0].strip()
            block = []
            parts.append((title, ElementKind.TITLE, {"depth": 0 if line.strip()[0] == "=" else 1}))
        elif not line.strip():
            flush()
        elif _LIST.match(line):
            flush()
            kind = ElementKind.LIST_ITEM
            block = [line.strip()]
        elif "|" in line and (kind is ElementKind.TABLE
                              or (i + 1 < len(lines) and _TABLE_DELIMITER.match(lines[i + 1]))):
            if kind is not ElementKind.TABLE:
                flush()
                kind = ElementKind.TABLE
            block.append(line.strip())
        else:
            if kind is ElementKind.TABLE:
                flush()
            if not block:
                kind = ElementKind.TEXT
            block.append(line)
        i += 1
    flush()
    return parts
