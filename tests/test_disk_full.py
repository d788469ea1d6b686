"""A full disk, for real: a small tmpfs mounted in a user namespace (``unshare``), no root needed. Opening a
knowledge base with 1 MB free killed the process with SIGBUS in the index engine, and a write that filled the disk
raised a raw ``sqlite3.OperationalError``; both are now a ``StorageFull`` that says what to do, and the knowledge
base stays consistent."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ragkit import IngestLimits, KnowledgeBase, StorageFull
from ragkit.storage import check_free_space, is_disk_full

pytestmark = pytest.mark.integration  # a file system of its own, the real embedder, subprocesses

SCENARIO = r'''
import json, os, random, sys
from pathlib import Path
from ragkit import Document, IngestLimits, KnowledgeBase, RagkitError

root, stage = Path(sys.argv[1]), sys.argv[2]
kb_dir = root / "kb"

def fill(leave_mb):
    st = os.statvfs(root)
    with open(root / "filler", "ab") as handle:
        handle.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave_mb * 2**20))

def report(**fields):
    print(json.dumps(fields), flush=True)

if stage == "build":
    with KnowledgeBase.open(kb_dir) as kb:
        kb.ingest([Document(f"d{i}", f"Note {i}: the cafeteria opens at {i}:30 and parking is free.")
                   for i in range(20)])
    report(built=True)
elif stage == "open-full":
    fill(1)
    try:
        KnowledgeBase.open(kb_dir)
        report(opened=True)
    except RagkitError as exc:
        report(error=type(exc).__name__, message=str(exc))
    (root / "filler").unlink()
elif stage == "write-full":
    limits = IngestLimits(min_free_disk_mb=1)  # let the write start: the disk fills during it
    with KnowledgeBase.open(kb_dir, limits=limits) as kb:
        fill(3)
        try:
            rng = random.Random(0)  # distinct texts, so that none is skipped as a near-duplicate
            words = [f"w{n}" for n in range(5000)]
            kb.ingest([Document(f"e{i}", " ".join(rng.choice(words) for _ in range(4000))) for i in range(300)])
            report(ingested=True)
        except RagkitError as exc:
            report(error=type(exc).__name__, message=str(exc))
        (root / "filler").unlink()
elif stage == "reopen":
    with KnowledgeBase.open(kb_dir) as kb:
        report(check=kb.check(), documents=kb.stats()["documents"], unfinished=kb.stats()["unfinished_chunks"],
               found=kb.search("when does the cafeteria open", k=1)[0].source.startswith("d"))
'''


def _in_small_disk(tmp_path: Path, stages: list[str]) -> list[dict]:
    """Run the scenario's stages, one process each, on a 200 MB tmpfs that only they can see."""
    assert shutil.which("unshare"), "unshare (util-linux) is needed to mount a small file system for this test"
    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "scenario.py").write_text(SCENARIO)
    runs = " && ".join(f"{sys.executable} {tmp_path / 'scenario.py'} {disk} {stage}" for stage in stages)
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "bash", "-c",
                           f"mount -t tmpfs -o size=200m tmpfs {disk} && {runs}"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"status {done.returncode} (-7 or 135: SIGBUS)\n{done.stderr[-3000:]}"
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_opening_on_a_full_disk_is_a_clear_error_not_sigbus(tmp_path):
    built, opened, reopened = _in_small_disk(tmp_path, ["build", "open-full", "reopen"])
    assert built == {"built": True}
    assert opened["error"] == "StorageFull" and "MB free" in opened["message"]
    assert "min_free_disk_mb" in opened["message"]
    assert reopened["check"] == {"missing_from_index": 0, "unknown_in_index": 0} and reopened["documents"] == 20


def test_a_write_that_fills_the_disk_is_a_clear_error_and_loses_nothing(tmp_path):
    built, written, reopened = _in_small_disk(tmp_path, ["build", "write-full", "reopen"])
    assert written["error"] == "StorageFull" and "filled up while writing" in written["message"]
    assert reopened["check"] == {"missing_from_index": 0, "unknown_in_index": 0} and reopened["unfinished"] == 0
    assert reopened["documents"] >= 20 and reopened["found"]  # the first twenty are intact


def test_the_free_space_check_and_the_errors_it_recognises(tmp_path):
    check_free_space(tmp_path, 1)
    with pytest.raises(StorageFull, match="needs at least 99999999 MB"):
        check_free_space(tmp_path, 99_999_999)
    assert is_disk_full(OSError(28, "No space left on device"))
    assert is_disk_full(Exception("sqlite3.OperationalError: database or disk is full"))
    assert not is_disk_full(OSError(2, "No such file or directory"))
    with pytest.raises(StorageFull):
        KnowledgeBase.open(tmp_path / "kb", limits=IngestLimits(min_free_disk_mb=99_999_999))
