"""Files and folders: globs, include/exclude patterns, size caps, and a parser chosen by content type.

A ``FileItem`` is fingerprinted by a hash of its bytes and parsed only when that fingerprint is new. A
``FileConnector`` over a folder is synced: files it owns that have vanished are removed from the knowledge base.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from ragkit.connectors.documents import ParseOptions
from ragkit.connectors.records import Rejected
from ragkit.connectors.sniff import FileType, sniff
from ragkit.connectors.text import parse_markdown, parse_text

from ragkit.errors import ConfigError, IngestError, SkipCode
from ragkit.records import Document, storable_text

DEFAULT_MAX_BYTES = 64 * 1024 * 1024

_TEXT_PARSERS = {FileType.TEXT: parse_text, FileType.CSV: parse_text, FileType.JSON: parse_text,
                 FileType.JSONL: parse_text, FileType.MARKDOWN: parse_markdown}

_UNSUPPORTED = {
    FileType.LEGACY_OFFICE: (SkipCode.UNSUPPORTED_TYPE,
                             "a legacy binary Office file (.doc/.xls/.ppt); save it as .docx/.xlsx/.pptx"),
    FileType.ZIP: (SkipCode.UNSUPPORTED_TYPE, "a zip archive; unpack it and ingest the folder"),
    FileType.BINARY: (SkipCode.BINARY, "a binary file of no supported type (it contains NUL bytes)"),
}


@dataclass(frozen=True)
class FileItem:
    """One file on disk, parsed by content type: text and Markdown natively, the rest through unstructured."""

    path: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    options: ParseOptions = ParseOptions()

    @property
    def source(self) -> str:
        return storable_text(str(self.path))

    def _read(self) -> bytes:
        try:
            info = self.path.stat()
            if not stat.S_ISREG(info.st_mode):  # reading a FIFO or a device would block or never end
                raise IngestError(self.source, "is not a regular file (a pipe, socket or device); only files are "
                                  "read", SkipCode.SPECIAL_FILE)
            size = info.st_size
            if size > self.max_bytes:
                raise IngestError(
                    self.source,
                    f"is {_human(size)}, over the {_human(self.max_bytes)} size cap; raise max_bytes to ingest it",
                    SkipCode.TOO_LARGE,
                )
            with self.path.open("rb") as handle:
                return handle.read(self.max_bytes + 1)
        except OSError as exc:
            raise IngestError(
                self.source, f"cannot be read ({exc.strerror or exc}); check it exists and is readable",
                SkipCode.UNREADABLE
            ) from exc

    def fingerprint(self) -> str:
        """A hash of the bytes and of the parse options (turning OCR on re-parses the file)."""
        return hashlib.sha256(self._read() + self.options.output_key().encode("utf-8")).hexdigest()

    def load(self) -> Document:
        data = self._read()
        kind = sniff(data[:4096], self.path.suffix, data)
        if kind in _UNSUPPORTED:
            code, reason = _UNSUPPORTED[kind]
            raise IngestError(self.source, f"is {reason}", code)
        modified = datetime.fromtimestamp(self.path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
        metadata = {"file_name": storable_text(self.path.name), "file_type": kind.value, "size": len(data),
                    "modified": modified}
        if kind in _TEXT_PARSERS:
            return _TEXT_PARSERS[kind](self.source, data, metadata)
        from ragkit.connectors.documents import parse_document

        return parse_document(self.source, data, kind, metadata, self.options)


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a glob over '/'-separated relative paths: ``**`` spans folders, ``*`` and ``?`` do not.

    A pattern without '/' matches a file name at any depth (as in .gitignore).
    """
    if "/" not in pattern:
        pattern = "**/" + pattern
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (close := pattern.find("]", i + 1)) != -1:
            body = pattern[i + 1 : close]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _has_magic(text: str) -> bool:
    return any(ch in text for ch in "*?[")


@dataclass(frozen=True)
class FileConnector:
    """The files under ``root`` that match ``include`` and not ``exclude`` (globs relative to ``root``).

    Hidden files and folders are skipped unless ``hidden``; symbolic links — to folders or to files, which may lie
    outside ``root`` — are followed only with ``follow_symlinks`` (loops are detected), and a symlinked file is
    otherwise reported as skipped; files over ``max_bytes`` are reported, not read.
    """

    root: Path
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    options: ParseOptions = ParseOptions()
    hidden: bool = False
    follow_symlinks: bool = False
    chunker: str | None = None
    _include: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _exclude: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ConfigError(f"max_bytes must be positive, got {self.max_bytes}")
        object.__setattr__(self, "root", Path(self.root).expanduser().absolute())
        object.__setattr__(self, "_include", tuple(glob_regex(p) for p in self.include))
        object.__setattr__(self, "_exclude", tuple(glob_regex(p) for p in self.exclude))

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], **options: Any) -> FileConnector:
        """A file, a folder, or a glob such as ``docs/**/*.pdf`` (split into a folder and an include pattern)."""
        text = os.fspath(path)
        if not _has_magic(text):
            return cls(Path(text), **options)
        parts = Path(text).parts
        first_magic = next(i for i, part in enumerate(parts) if _has_magic(part))
        root = Path(*parts[:first_magic]) if first_magic else Path(".")
        pattern = "/".join(parts[first_magic:])
        return cls(root, include=(pattern, *options.pop("include", ())), **options)

    @property
    def sync_prefix(self) -> str:
        root = storable_text(str(self.root))
        return root + os.sep if self.root.is_dir() else root

    def owns(self, source: str) -> bool:
        """Whether ``source`` is a file this connector would ingest if it existed."""
        if self.root.is_file() or not self.root.is_dir():
            return source == storable_text(str(self.root))
        if not source.startswith(self.sync_prefix):
            return False
        relative = source[len(self.sync_prefix) :].replace(os.sep, "/")
        if not self.hidden and any(part.startswith(".") for part in relative.split("/")):
            return False
        if self._include and not any(p.match(relative) for p in self._include):
            return False
        return not any(p.match(relative) for p in self._exclude)

    def items(self) -> Iterator[FileItem | Rejected]:
        if not self.root.is_dir():  # a single file, or a missing path that is reported as unreadable
            yield FileItem(self.root, self.max_bytes, self.options)
            return
        visited: set[tuple[int, int]] = set()
        for folder, subfolders, names in os.walk(self.root, followlinks=self.follow_symlinks):
            if self.follow_symlinks:
                stat = os.stat(folder)
                if (stat.st_dev, stat.st_ino) in visited:  # a symlink loop leads back here
                    subfolders[:] = []
                    continue
                visited.add((stat.st_dev, stat.st_ino))
            subfolders[:] = sorted(name for name in subfolders if self.hidden or not name.startswith("."))
            for name in sorted(names):
                path = Path(folder) / name
                source = storable_text(str(path))
                if not self.owns(source):
                    continue
                if path.is_symlink() and not self.follow_symlinks:
                    yield Rejected(source, f"is a symbolic link (to {storable_text(os.readlink(path))}); symlinked "
                                   "files are read only with follow_symlinks=True", SkipCode.SYMLINK)
                else:
                    yield FileItem(path, self.max_bytes, self.options)
