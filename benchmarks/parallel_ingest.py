"""Build time of one folder with 1, 2, … worker processes parsing ahead of the embedder, in one run.

    python benchmarks/parallel_ingest.py --path "$RAGKIT_DATASETS/ingest_docs_unstructured" --workers 1,2 --json
    python benchmarks/parallel_ingest.py --beir "$RAGKIT_DATASETS/scifact_beir" --files 5000 --workers 1,2 --json

``--beir`` writes the first ``--files`` documents of a BEIR corpus as text files (title, blank line, text) into a
temporary folder first. Each build ingests the folder into a new knowledge base with the same loaded embedder; the
worker counts take turns, ``--repeats`` times, so a neighbour's load on a shared machine falls on each of them.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from _common import emit, parser

from ragkit import KnowledgeBase
from ragkit.embed import make_embedder
from ragkit.eval.beir import load_beir
from ragkit.settings import DEFAULT_EMBEDDER


def write_files(beir: str, split: str, count: int, folder: Path) -> Path:
    """The first ``count`` documents of a BEIR corpus as one text file each."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, document in enumerate(list(load_beir(beir, split).corpus.values())[:count]):
        (folder / f"{number:05d}.txt").write_text(document.text, encoding="utf-8")
    return folder


def build(folder: Path, workers: int, embedder, scratch: Path) -> dict:
    """One build of ``folder`` into a new knowledge base: its wall time and where the main process spent it."""
    with KnowledgeBase.open(scratch / f"kb-{workers}-{time.monotonic_ns()}", embedder=embedder) as kb:
        started = time.perf_counter()
        report = kb.ingest(folder, workers=workers)
        seconds = time.perf_counter() - started
    counts = report.counts()
    return {"workers": workers, "seconds": round(seconds, 2), "added": counts["added"],
            "skipped": counts["skipped"], "chunks_embedded": report.chunks_embedded,
            "docs_per_s": round(counts["added"] / seconds, 2),
            "chunks_per_s": round(report.chunks_embedded / seconds, 2),
            "stage_seconds": dict(report.stage_seconds)}


def compare(folder: Path, worker_counts: Sequence[int], repeats: int, embedder_name: str) -> list[dict]:
    embedder = make_embedder(embedder_name)
    embedder.embed_documents(["load the model outside the timings"])
    rows = []
    with tempfile.TemporaryDirectory(prefix="ragkit-parallel-") as scratch:
        for repeat in range(repeats):
            for workers in worker_counts:
                rows.append({"repeat": repeat, **build(folder, workers, embedder, Path(scratch))})
    summary: dict = {"input": str(folder), "files": sum(1 for p in folder.rglob("*") if p.is_file()),
                     "repeats": repeats}
    for workers in worker_counts:
        summary[f"median_s_workers_{workers}"] = statistics.median(
            row["seconds"] for row in rows if row["workers"] == workers)
    first = summary[f"median_s_workers_{worker_counts[0]}"]
    for workers in worker_counts[1:]:
        summary[f"speedup_workers_{workers}"] = round(first / summary[f"median_s_workers_{workers}"], 3)
    return [*rows, summary]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0], beir=False)
    arguments.add_argument("--path", help="a folder to build from")
    arguments.add_argument("--beir", help="or a BEIR folder whose first --files documents are written as files")
    arguments.add_argument("--split", default="test")
    arguments.add_argument("--files", type=int, default=5000, help="documents written as files (with --beir)")
    arguments.add_argument("--workers", default="1,2", help="comma-separated worker counts (default %(default)s)")
    arguments.add_argument("--repeats", type=int, default=1, help="builds per worker count (default %(default)s)")
    arguments.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    args = arguments.parse_args(argv)
    if bool(args.path) == bool(args.beir):
        arguments.error("give either --path or --beir")
    counts = [int(n) for n in args.workers.split(",")]
    if args.path:
        return emit(compare(Path(args.path), counts, args.repeats, args.embedder))
    with tempfile.TemporaryDirectory(prefix="ragkit-files-") as scratch:
        folder = write_files(args.beir, args.split, args.files, Path(scratch) / "files")
        rows = compare(folder, counts, args.repeats, args.embedder)
        rows[-1]["input"] = f"{args.beir}: first {args.files} documents as files"
        return emit(rows)


if __name__ == "__main__":
    sys.exit(main())
