"""What long commands show while they work: a live bar on a terminal, clean lines when piped, nothing with --quiet,
and the same --json either way; and the events a Python caller gets."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from support import write_corpus

from ragkit import KnowledgeBase, Stage

pytestmark = pytest.mark.integration  # the real embedder, in a subprocess

ROOT = Path(__file__).resolve().parents[2]


def _ragkit(*argv: str, terminal: bool = False) -> tuple[int, str, str]:
    """Run ``python -m ragkit`` with standard error on a pseudo-terminal (80 × 24) or a pipe."""
    command = [sys.executable, "-m", "ragkit", *argv]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not terminal:
        run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
        return run.returncode, run.stdout, run.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                               env=environment)
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        shown.extend(data)
    os.close(master)
    out = process.stdout.read().decode()
    return process.wait(timeout=60), out, shown.decode(errors="replace")


def test_a_terminal_gets_bars_with_rate_and_eta(tmp_path):
    docs = write_corpus(tmp_path / "docs")
    code, out, terminal = _ragkit("ingest", str(docs), "--kb", str(tmp_path / "kb"), "--workers", "2", terminal=True)
    assert code == 0 and "4 added" in out
    assert "\r" in terminal and "\x1b[A" in terminal  # redrawn in place, one line per stage
    for stage, total in (("parse", "4/4"), ("embed", "4/4"), ("index", "4/4")):
        assert f"{stage:<6}: 100%" in terminal and total in terminal
    assert "sources/s" in terminal and "chunks/s" in terminal and "<00:00" in terminal  # rate and ETA
    assert "ragkit:" not in out and "%|" not in out  # the output is the report alone


def test_piped_output_gets_plain_lines_and_json_stays_clean(tmp_path):
    docs = write_corpus(tmp_path / "docs")
    code, out, err = _ragkit("ingest", str(docs), "--kb", str(tmp_path / "kb"), "--json")
    assert code == 0
    assert json.loads(out)["counts"]["added"] == 4  # --json: one object, nothing else on standard output
    lines = err.splitlines()
    assert "\r" not in err and "\x1b" not in err
    assert "ragkit: parse 4/4 sources" in "\n".join(lines) and lines[-1].startswith("ragkit: index 4/4 chunks")
    assert all(line.startswith("ragkit: ") for line in lines)

    (docs / "vacation.md").write_text("Employees receive 28 days of paid vacation per year.")
    code, out, err = _ragkit("ingest", str(docs), "--kb", str(tmp_path / "kb"), "--quiet")
    assert code == 0 and err == "" and "1 updated" in out


def test_python_callers_get_structured_events(tmp_path, counting):
    docs = write_corpus(tmp_path / "docs")
    events = []
    with KnowledgeBase.open(tmp_path / "kb", embedder=counting) as kb:
        report = kb.ingest(docs, progress=events.append, workers=2)
    last = {event.stage: event for event in events if event.finished}
    assert set(last) == {Stage.PARSE, Stage.CHUNK, Stage.EMBED, Stage.INDEX}
    assert (last[Stage.PARSE].done, last[Stage.PARSE].total) == (4, 4)
    assert last[Stage.EMBED].done == last[Stage.EMBED].total == len(counting.embedded) == 4
    dones = [event.done for event in events if event.stage is Stage.PARSE]
    assert dones == sorted(dones) and dones[0] == 0
    assert set(report.stage_seconds) == {"parse", "chunk", "embed", "index"}
    assert report.stage_seconds["embed"] > 0
