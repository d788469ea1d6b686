"""Files and folders on disk: plain text and Markdown, decoded strictly so bad bytes are reported, not guessed."""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ragkit.errors import IngestError, SkipCode
from ragkit.records import Document

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown", ".rst"})

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class FileItem:
    """One file, fingerprinted by a hash of its bytes and parsed only when its fingerprint is new."""

    path: Path

    @property
    def source(self) -> str:
        return str(self.path)

    def _read(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise IngestError(
                self.source, f"cannot be read ({exc.strerror or exc}); check it exists and is readable", SkipCode.UNREADABLE
            ) from exc

    def fingerprint(self) -> str:
        return hashlib.sha256(self._read()).hexdigest()

    def load(self) -> Document:
        suffix = self.path.suffix.lower()
        if suffix not in TEXT_SUFFIXES:
            raise IngestError(
                self.source,
                f"unsupported file type '{suffix or '(none)'}'; readable types: {', '.join(sorted(TEXT_SUFFIXES))}",
                SkipCode.UNSUPPORTED_TYPE,
            )
        text = decode_text(self.source, self._read())
        metadata = {"file_name": self.path.name, "file_type": suffix.lstrip(".")}
        return Document(self.source, text, metadata)


def decode_text(source: str, data: bytes) -> str:
    """Decode by BOM, else strict UTF-8; an IngestError names the offending byte otherwise."""
    if not data.strip():
        raise IngestError(source, "is empty; there is no text to index", SkipCode.EMPTY)
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    if encoding == "utf-8" and b"\x00" in data[:8192]:
        raise IngestError(source, "looks like a binary file (it contains NUL bytes), not text", SkipCode.BINARY)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(
            source,
            f"is not valid {encoding} text (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8",
            SkipCode.ENCODING,
        ) from exc


@dataclass(frozen=True)
class FolderScan:
    """What a path holds: the files to ingest and, for a folder, the prefix whose removed files get deleted."""

    items: tuple[FileItem, ...]
    sync_prefix: str | None


def scan(path: str | os.PathLike[str]) -> FolderScan:
    """The files under ``path`` (hidden files and folders skipped, symlinked folders not followed), sorted."""
    root = Path(path).expanduser().absolute()
    if root.is_file() or not root.exists():
        return FolderScan((FileItem(root),), None)
    files = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        files.extend(Path(folder) / name for name in sorted(names) if not name.startswith("."))
    return FolderScan(tuple(FileItem(file) for file in files), str(root) + os.sep)
