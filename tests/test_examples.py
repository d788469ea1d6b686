"""The demo and the notebooks are run here, so they cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.integration  # runs the demo and the notebook in subprocesses

ROOT = Path(__file__).resolve().parent.parent


def test_demo_shows_every_status(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--kb", str(tmp_path / "demo.kb")],
        capture_output=True, text=True, timeout=600, check=True,
    )
    answers = [line for line in run.stdout.splitlines() if line.startswith("A (")]
    assert len(answers) == 10
    assert all(line.startswith("A (answered") for line in answers[:4])
    assert answers[4].startswith("A (partial") and answers[4].endswith("does not cover: Hyperion, drone.")
    assert answers[5].startswith("A (clarify") and "Which policy do you mean:" in answers[5]
    assert answers[6].startswith("A (partial") and answers[6].endswith("does not cover: revenue.")
    assert answers[7].startswith("A (no_answer")
    assert answers[8].startswith("A (answered") and "30 minutes" in answers[8]  # the follow-up, in its conversation
    assert answers[9].startswith("A (answered") and "vacation" in answers[9]  # the reply to the clarifying question
    assert "25 days" in answers[0] and "180 euros" in answers[1] and "15 minutes" in answers[2]
    assert "7.5 kilograms" in answers[3]
    assert "[1] handbook/vacation-and-leave.md" in run.stdout
    rerun = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--kb", str(tmp_path / "demo.kb")],
        capture_output=True, text=True, timeout=600, check=True,
    )
    assert "6 unchanged; 0 chunks embedded" in rerun.stdout


def test_quickstart_notebook_runs():
    notebook = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    resources = {"metadata": {"path": str(ROOT / "notebooks")}}
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources=resources).execute()
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "answered | Parents receive 16 weeks" in outputs
    assert "no_answer |" in outputs
    assert "answered | And what if they don't? How quickly must the on-call engineer" in outputs
