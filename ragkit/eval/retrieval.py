"""``ragkit eval retrieval``: build a throwaway knowledge base from a BEIR folder and score every query."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Sequence

from ragkit.embed import Embedder
from ragkit.eval.beir import BeirDataset
from ragkit.eval.metrics import evaluate_run, percentile
from ragkit.kb import KnowledgeBase
from ragkit.progress import Progress, ProgressCallback, Stage
from ragkit.settings import KBConfig, RetrievalConfig, SearchMode


def doc_ranking(sources: Sequence[str], limit: int) -> list[str]:
    """Documents in order of their best chunk (MaxP), at most ``limit``."""
    return list(dict.fromkeys(sources))[:limit]


class RetrievalEvaluation(list):  # type: ignore[type-arg]
    """``evaluate_retrieval``'s result: a list with one dict of metrics per mode (as JSON writes it), shown as a
    table in Jupyter."""

    COLUMNS = ("mode", "ndcg@10", "mrr@10", "recall@5", "recall@100", "query_p50_ms")

    def _repr_markdown_(self) -> str:
        rows = ["| " + " | ".join(self.COLUMNS) + " |", "|" + "---|" * len(self.COLUMNS)]
        rows += ["| " + " | ".join(str(result.get(column, "")) for column in self.COLUMNS) + " |" for result in self]
        if self:
            first = self[0]
            rows.append(f"\n{first.get('queries')} queries, {first.get('docs')} documents in {first.get('chunks')} "
                        f"chunks; embedder {first.get('embedder')}")
        return "\n".join(rows)


def evaluate_retrieval(
    dataset: BeirDataset,
    modes: Sequence[SearchMode],
    *,
    kb_dir: str | Path | None = None,
    config: KBConfig | None = None,
    embedder: Embedder | None = None,
    depth: int = 100,
    retrieval: RetrievalConfig | None = None,
    progress: ProgressCallback | None = None,
) -> RetrievalEvaluation:
    """One result per mode: the metrics of ``evaluate_run`` plus corpus size, ingest time and query latency.

    ``kb_dir`` keeps the built knowledge base (and reuses it if it exists); by default a temporary one is used.
    """
    with tempfile.TemporaryDirectory(prefix="ragkit-eval-") as scratch:
        path = Path(kb_dir) if kb_dir is not None else Path(scratch) / "kb"
        retrieval = retrieval or RetrievalConfig()
        with KnowledgeBase.open(path, config, embedder=embedder, retrieval=retrieval) as kb:
            started = time.perf_counter()
            report = kb.ingest(list(dataset.corpus.values()), batch_size=256, progress=progress)
            ingest_s = time.perf_counter() - started
            chunks = kb.stats()["chunks"]
            graph = kb.graph.stats() if kb.config.graph.kind.value != "none" else None
            results = RetrievalEvaluation()
            tracker = Progress(progress)
            tracker.total(Stage.SEARCH, len(modes) * len(dataset.queries))
            for mode in modes:
                run: dict[str, list[str]] = {}
                latencies = []
                for query_id, text in dataset.queries.items():
                    started = time.perf_counter()
                    result = kb.search(text, k=2 * depth, mode=mode)
                    latencies.append((time.perf_counter() - started) * 1000.0)
                    tracker.advance(Stage.SEARCH)
                    run[query_id] = doc_ranking([hit.source for hit in result], depth)
                results.append({
                    "mode": mode.value,
                    "embedder": kb.config.embedder,
                    "chunker": kb.config.chunking.kind.value,
                    "fusion": retrieval.fusion.value,
                    "reranker": str(retrieval.reranker or "none"),
                    **evaluate_run(run, dataset.qrels),
                    "docs": len(dataset.corpus),
                    "chunks": chunks,
                    "queries": len(dataset.queries),
                    "ingest_s": round(ingest_s, 2),
                    "chunks_embedded": report.chunks_embedded,
                    **({"graph": graph} if graph else {}),
                    "query_p50_ms": round(percentile(latencies, 50), 2),
                    "query_p95_ms": round(percentile(latencies, 95), 2),
                })
            tracker.finish()
    return results
