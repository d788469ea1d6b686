"""The disk under a knowledge base: refuse to open or write it when too little space is left, and name a full disk
when it fills mid-write — instead of a raw SQLite error, or the index engine's SIGBUS on its mapped files."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from ragkit.errors import StorageFull


def check_free_space(directory: Path, min_free_mb: int) -> None:
    """A StorageFull error if the disk holding ``directory`` has less than ``min_free_mb`` MB free."""
    free = shutil.disk_usage(directory).free
    if free < min_free_mb * 2**20:
        raise StorageFull(f"the disk holding {directory} has {free / 2**20:.1f} MB free; opening or writing a "
                          f"knowledge base needs at least {min_free_mb} MB (IngestLimits.min_free_disk_mb), since its "
                          "index maps its write-ahead log. Free some space and retry; what was written before is "
                          "intact.")


def is_disk_full(error: BaseException) -> bool:
    """Whether an error from SQLite, the index engine or the file system means the disk is full."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error).lower()
    return "database or disk is full" in text or "no space left on device" in text or "disk quota exceeded" in text


def disk_full(directory: Path, error: BaseException) -> StorageFull:
    return StorageFull(f"the disk holding {directory} filled up while writing ({error}); the write was not finished, "
                       "and what was written before is intact. Free some space: reopening finishes or rolls back "
                       "the interrupted write.")
