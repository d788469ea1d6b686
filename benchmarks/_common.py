"""What the benchmark scripts share: their common arguments and how they report.

Each script prints its result as JSON, one object per line, like ``ragkit eval … --json``; ``record.py`` runs such a
command and keeps what it printed, with the command, the date and the machine, under ``results/``.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, is_dataclass
from enum import Enum
from typing import Any


def parser(description: str, *, beir: bool = True) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes: ``--beir`` and ``--split`` (when it reads a BEIR
    folder) and ``--json``."""
    made = argparse.ArgumentParser(description=description)
    if beir:
        made.add_argument("--beir", required=True, help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/")
        made.add_argument("--split", default="test")
    made.add_argument("--json", action="store_true", help="print JSON, one object per line (the default too)")
    return made


def plain(value: Any) -> Any:
    """Records, enums and mappings as JSON-ready values (a non-finite float becomes null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def emit(result: Any) -> int:
    """Print ``result`` as JSON (a list as JSON Lines); the exit code."""
    data = plain(result)
    for line in data if isinstance(data, list) else [data]:
        print(json.dumps(line, ensure_ascii=False))
    return 0
