"""Content-type detection from a file's bytes, with its extension only as a tie-breaker.

Magic numbers decide binary formats (PDF, the zip-based Office formats, legacy OLE Office); text is decoded and
looked at (HTML, e-mail headers); the extension only separates kinds of plain text (Markdown, CSV, JSON).
No libmagic: the rules below are short, portable and tested.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from enum import Enum


class FileType(str, Enum):
    PDF = "pdf"
    DOCX = "docx"
    PPTX = "pptx"
    XLSX = "xlsx"
    HTML = "html"
    EML = "eml"
    MARKDOWN = "markdown"
    TEXT = "text"
    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"
    LEGACY_OFFICE = "legacy_office"
    ZIP = "zip"
    BINARY = "binary"


_ZIP_MEMBERS = (("word/document.xml", FileType.DOCX), ("ppt/presentation.xml", FileType.PPTX),
                ("xl/workbook.xml", FileType.XLSX))
_TEXT_SUFFIXES = {".md": FileType.MARKDOWN, ".markdown": FileType.MARKDOWN, ".csv": FileType.CSV,
                  ".tsv": FileType.CSV, ".json": FileType.JSON, ".jsonl": FileType.JSONL, ".ndjson": FileType.JSONL,
                  ".html": FileType.HTML, ".htm": FileType.HTML, ".xhtml": FileType.HTML, ".eml": FileType.EML}
_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:[ \t]?\S?")
_MAIL_HEADERS = {"from", "to", "subject", "date", "received", "message-id", "mime-version", "return-path", "cc"}


def text_encoding(head: bytes) -> str | None:
    """The encoding a BOM announces, UTF-16 recognised by its NUL pattern, or None."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    sample = head[:512]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) == 0:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4 and sample[1::2].count(0) == 0:
        return "utf-16-be"
    return None


def sniff(head: bytes, suffix: str, data: bytes | None = None) -> FileType:
    """The type of a file from its first bytes (``head``, a few KB), its suffix, and for zips its whole content."""
    suffix = suffix.lower()
    if b"%PDF-" in head[:1024]:
        return FileType.PDF
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return FileType.LEGACY_OFFICE
    if head.startswith(b"PK\x03\x04"):
        if data is not None:
            try:
                names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
            except zipfile.BadZipFile:
                return FileType.ZIP
            for member, kind in _ZIP_MEMBERS:
                if member in names:
                    return kind
        return FileType.ZIP
    encoding = text_encoding(head)
    if encoding is None and b"\x00" in head:
        return FileType.BINARY
    text = head.decode(encoding or "utf-8", errors="replace")
    if encoding is not None:
        head = text.encode("utf-8")
    if _HTML_START.match(head) or (suffix in (".html", ".htm", ".xhtml") and "<" in text):
        return FileType.HTML
    if _looks_like_mail(text):
        return FileType.EML
    return _TEXT_SUFFIXES.get(suffix, FileType.TEXT)


def _looks_like_mail(text: str) -> bool:
    """RFC 5322 headers at the top: at least two known header names before the first blank line."""
    names = set()
    for line in text.lstrip().split("\n")[:40]:
        line = line.rstrip("\r")
        if not line:
            break
        if line[:1] in " \t":
            continue  # a folded header continues the previous one
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(":", 1)[0].lower())
    return len(names & _MAIL_HEADERS) >= 2
