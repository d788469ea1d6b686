"""Run a benchmark command and keep what it printed: ``results/NAME.json`` holds the command, the date, the machine
and the JSON the command wrote, which the benchmark pages quote.

    python benchmarks/record.py results/retrieval-hotpotqa.json -- \\
        ragkit eval retrieval --beir "$RAGKIT_DATASETS/hotpotqa_dev/derived_beir_distractor103" --mode hybrid --json

Paths under ``$RAGKIT_DATASETS`` are written as ``$RAGKIT_DATASETS/…``, so no machine's folders end up in the
results. The command's standard error passes through (progress), and its exit status is this script's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine()}


def portable(value: Any, datasets: list[str]) -> Any:
    """``value`` with the datasets folder (any of its spellings) written as ``$RAGKIT_DATASETS`` in every string."""
    if isinstance(value, str):
        for spelling in datasets:
            value = value.replace(spelling, "$RAGKIT_DATASETS")
        return value
    if isinstance(value, dict):
        return {key: portable(item, datasets) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item, datasets) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the results file to write (relative to benchmarks/ unless absolute)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command, which prints JSON lines")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        return done.returncode
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    given = os.environ.get("RAGKIT_DATASETS", "").rstrip("/")
    datasets = sorted({given, str(Path(given).resolve())}, key=len, reverse=True) if given else []
    record = {"command": shlex.join(command), "date": datetime.date.today().isoformat(), "machine": machine(),
              "wall_s": round(seconds, 1), "result": lines[0] if len(lines) == 1 else lines}
    out = args.out if args.out.is_absolute() else Path(__file__).resolve().parent / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(portable(record, datasets), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
