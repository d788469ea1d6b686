"""One process at a time per knowledge-base directory, enforced with an OS file lock.

``flock`` locks vanish when their process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import ContextManager

from ragkit.errors import KnowledgeBaseLocked


class DirectoryLock:
    """An exclusive, non-blocking lock on ``<directory>/.lock``; the holder's pid is written into the file."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / ".lock"
        self._handle: int | None = None

    def acquire(self) -> None:
        handle = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(handle)
            if holder == str(os.getpid()):
                raise KnowledgeBaseLocked(
                    f"knowledge base {self._path.parent} is already open in this process; use that KnowledgeBase "
                    "object (it may be shared between threads), or close it first (kb.close(), or a with block)"
                ) from None
            raise KnowledgeBaseLocked(
                f"knowledge base {self._path.parent} is open in another process (pid {holder}). An embedded "
                "knowledge base is opened by one process at a time: close it there (kb.close()) or wait for it to "
                "finish, then retry."
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode("ascii"), 0)
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None

    close = release

    def writing(self) -> ContextManager[None]:
        """Held from open to close, so a write needs nothing more."""
        return contextlib.nullcontext()
