"""How the code reads: lint-clean, and no module longer than one sitting's read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINTED = ["ragkit", "connectors", "benchmarks", "tests", "examples"]
LONGEST = 450  # lines: a file you can read in one sitting (../shared/STYLE.md, convention 9)


def test_the_code_is_lint_clean():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", *LINTED],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_module_is_longer_than_a_sitting():
    lengths = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
               for folder in ("ragkit", "connectors") for path in (ROOT / folder).rglob("*.py")}
    assert {path: n for path, n in lengths.items() if n > LONGEST} == {}
