"""What adding a few new documents costs next to building the whole knowledge base, with its entity graph.

    python benchmarks/incremental_graph.py --beir "$RAGKIT_DATASETS/hotpotqa_dev/derived_beir_distractor103" --json

A knowledge base (with its entity graph) is built from all but ``fraction`` of a BEIR corpus; then the held-out
documents are added. Rebuilding from scratch costs about the first build plus the addition (each document's work
is independent), so ``add_s / (build_s + add_s)`` is the share of a full rebuild that the update costs.
Re-extracting the whole graph afterwards (``rebuild_graph``) times the extraction the build did, so
``build_s / (build_s - extract_s)`` estimates how much the graph lengthens a build.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from _common import emit, parser

from ragkit import Document, GraphKind, KBConfig, KnowledgeBase
from ragkit.eval.beir import load_beir


def measure_incremental(corpus: Sequence[Document], *, fraction: float = 0.01, seed: int = 0,
                        config: KBConfig | None = None) -> dict:
    documents = list(corpus)
    random.Random(seed).shuffle(documents)
    held_out = max(1, round(fraction * len(documents)))
    first, added = documents[held_out:], documents[:held_out]
    config = config or KBConfig(graph="embedded")
    with tempfile.TemporaryDirectory(prefix="ragkit-incremental-") as scratch:
        with KnowledgeBase.open(Path(scratch) / "kb", config) as kb:
            kb.search("warm up the models", k=1)
            started = time.perf_counter()
            kb.ingest(first, batch_size=256)
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            report = kb.ingest(added, batch_size=256)
            add_s = time.perf_counter() - started
            stats = kb.stats()
            graph = kb.graph.stats() if config.graph.kind.value != "none" else {}
            started = time.perf_counter()
            if graph:
                kb.rebuild_graph(batch_size=256)
            extract_s = time.perf_counter() - started
    return {
        "documents": len(documents),
        "added_documents": held_out,
        "chunks": stats["chunks"],
        "build_s": round(build_s, 2),
        "add_s": round(add_s, 2),
        "add_share_of_rebuild": round(add_s / (build_s + add_s), 4),
        "chunks_embedded_by_add": report.chunks_embedded,
        "graph": graph,
        "graph_extraction_s": round(extract_s, 2) if graph else None,
        "graph_extraction_chunks_per_s": round(stats["chunks"] / extract_s, 1) if graph else None,
        # the build did this extraction once; without it the build would have taken build_s - extract_s
        "build_over_build_without_graph": round(build_s / max(build_s - extract_s, 1e-9), 2) if graph else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--fraction", type=float, default=0.01, help="share of documents added (default 0.01)")
    arguments.add_argument("--seed", type=int, default=0)
    arguments.add_argument("--graph", default=GraphKind.EMBEDDED.value, choices=[k.value for k in GraphKind])
    args = arguments.parse_args(argv)
    corpus = list(load_beir(args.beir, args.split).corpus.values())
    result = measure_incremental(corpus, fraction=args.fraction, seed=args.seed, config=KBConfig(graph=args.graph))
    return emit({"input": args.beir, **result})


if __name__ == "__main__":
    sys.exit(main())
