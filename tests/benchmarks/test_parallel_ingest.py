"""benchmarks/parallel_ingest.py: builds of one folder with 1 and 2 worker processes, on small data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*arguments: str) -> list[dict]:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "parallel_ingest.py"), *arguments, "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_each_worker_count_builds_the_same_folder_and_the_summary_compares_them():
    *rows, summary = _run("--path", str(ROOT / "examples" / "docs"), "--workers", "1,2", "--repeats", "2")
    assert [(row["repeat"], row["workers"]) for row in rows] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert {(row["added"], row["skipped"]) for row in rows} == {(6, 0)}
    assert len({row["chunks_embedded"] for row in rows}) == 1  # every build did the same work
    assert {"parse", "embed"} <= set(rows[0]["stage_seconds"])
    assert summary["files"] == 6 and summary["repeats"] == 2
    assert summary["speedup_workers_2"] == round(summary["median_s_workers_1"] / summary["median_s_workers_2"], 3)


def test_a_beir_corpus_is_written_as_files_first(datasets_dir):
    *rows, summary = _run("--beir", str(datasets_dir / "scifact_beir"), "--files", "8", "--workers", "1,2")
    assert [row["added"] for row in rows] == [8, 8]
    assert summary["files"] == 8 and summary["input"].endswith("scifact_beir: first 8 documents as files")
