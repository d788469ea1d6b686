"""What ``pip install ragkit`` (the core, no extras) costs on a fresh virtual environment with an empty pip cache.

    python benchmarks/install_size.py a6d703b HEAD --json

For each git revision: the seconds ``pip install`` took, the size of the environment, how many distributions it
holds and whether torch and sentence-transformers came along. Downloads come from the package index, so the seconds
depend on the network; the sizes do not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Sequence

from _common import emit, parser

REPOSITORY = Path(__file__).resolve().parents[1]
_PROBE = ("import importlib.metadata as m, importlib.util as u, json; print(json.dumps({'distributions': "
          "len(list(m.distributions())), 'torch': u.find_spec('torch') is not None, 'sentence_transformers': "
          "u.find_spec('sentence_transformers') is not None}))")


def _git(*argv: str) -> bytes:
    return subprocess.run(["git", "-C", str(REPOSITORY), *argv], check=True, capture_output=True).stdout


def measure(revision: str) -> dict:
    commit = _git("rev-parse", "--short", revision).decode().strip()
    with tempfile.TemporaryDirectory(prefix="ragkit-install-") as scratch:
        source, venv = Path(scratch) / "src", Path(scratch) / "venv"
        archive = Path(scratch) / "src.tar"
        archive.write_bytes(_git("archive", "--prefix=src/", revision))
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        environment = {**os.environ, "PIP_CACHE_DIR": str(Path(scratch) / "cache")}
        started = time.perf_counter()
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)], check=True, env=environment)
        seconds = time.perf_counter() - started
        size = sum(path.stat().st_size for path in venv.rglob("*") if path.is_file() and not path.is_symlink())
        probe = subprocess.run([str(venv / "bin" / "python"), "-c", _PROBE], check=True, capture_output=True,
                               text=True)
    return {"revision": revision, "commit": commit, "install_s": round(seconds, 1),
            "environment_mb": round(size / 2**20), **json.loads(probe.stdout)}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0], beir=False)
    arguments.add_argument("revisions", nargs="*", default=["HEAD"], help="git revisions to install (default HEAD)")
    args = arguments.parse_args(argv)
    return emit([measure(revision) for revision in args.revisions])


if __name__ == "__main__":
    sys.exit(main())
