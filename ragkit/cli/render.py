"""How the ``ragkit`` command prints results: a human form per kind of result, and JSON for ``--json``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from enum import Enum
from typing import Any, Mapping

from ragkit.build import BuildSummary
from ragkit.records import Answer, IngestReport
from ragkit.retrieve import SearchResult


def report(result: IngestReport) -> str:
    lines = []
    for item in result.items:
        if item.reason is not None:
            detail = f"{item.code.value if item.code else 'skipped'}: {item.reason}"
        else:
            detail = f"{item.chunks} chunks" + (f", {item.elements} elements" if item.elements else "")
        lines.append(f"{item.outcome.value:<9} {item.source}  ({detail})")
    counts = ", ".join(f"{n} {name}" for name, n in result.counts().items() if n)
    lines.append(f"{counts or 'nothing to do'}; {result.chunks_embedded} chunks embedded in {result.seconds:.1f}s")
    for code, entry in result.skipped_by_code().items():
        lines.append(f"  skipped as {code}: {entry['count']}, e.g. {entry['examples'][0]}")
    return "\n".join(lines)


def build(result: BuildSummary) -> str:
    def outcomes(counts: Mapping[str, int]) -> str:
        return ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "nothing to do"

    lines = [f"{result.path}: {outcomes(result.counts)}"]
    for source in result.sources:
        done = f"failed: {source.error}" if source.error else \
            f"{outcomes(source.counts)}; {source.chunks_embedded} chunks embedded in {source.seconds:.1f}s"
        lines.append(f"  {source.kind} {source.name}: {done}")
    if result.skipped_by_code:
        lines.append("skipped: " + ", ".join(f"{n} {code}" for code, n in result.skipped_by_code.items()))
    lines.extend(f"failed: {failure}" for failure in result.failed)
    lines.append(f"{result.documents} documents, {result.chunks} chunks; {result.chunks_embedded} chunks embedded in "
                 f"{result.seconds:.1f}s ({result.rate['chunks_per_s']} chunks/s, "
                 f"{result.rate['documents_per_s']} documents/s)")
    lines.append("time per stage: " + ", ".join(f"{stage} {s:.1f}s" for stage, s in result.stage_seconds.items()))
    return "\n".join(lines)


def search(result: SearchResult) -> str:
    lines = []
    for rank, hit in enumerate(result, start=1):
        found = ", ".join(f"{name} #{score.rank}" for name, score in hit.found_by.items())
        lines.append(f"{rank:>2}. {hit.score:.4f}  {hit.source} [{hit.start}:{hit.end}]  ({found})")
        lines.append("    " + " ".join(hit.text.split())[:200])
    return "\n".join(lines) or "no results"


def answer(result: Answer) -> str:
    lines = [f"[{result.status.value}, confidence {result.confidence:.2f}] {result.text}"]
    lines.extend(f"  [{c.number}] {c.source} [{c.start}:{c.end}]" for c in result.citations)
    if result.search_query:
        lines.append(f"  (retrieved with the conversation as: {result.search_query})")
    if result.rewritten_query:
        lines.append(f"  (retrieved again as: {result.rewritten_query})")
    return "\n".join(lines)


def rows(results: list[dict]) -> str:
    return "\n".join(json.dumps(row, ensure_ascii=False) for row in results)


def mapping(data: dict[str, Any]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in data.items())


def evaluation(results: list[dict]) -> str:
    columns = ["mode", "ndcg@10", "recall@5", "recall@100", "mrr@10", "query_p50_ms", "query_p95_ms"]
    table = [columns] + [[str(result[c]) for c in columns] for result in results]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in table]
    first = results[0] if results else {}
    lines.append(f"{first.get('docs')} docs, {first.get('chunks')} chunks, {first.get('queries')} queries, "
                 f"ingest {first.get('ingest_s')}s")
    return "\n".join(lines)


def error(exc: Exception, as_json: bool) -> str:
    """An error as ``--json`` prints it, or as a line for standard error."""
    if as_json:
        return json.dumps({"error": str(exc), "type": type(exc).__name__})
    return f"ragkit: error: {exc}"


def plain(value: Any) -> Any:
    """Records, enums and mappings as JSON-ready values; a number that is not finite (an AUROC without negatives)
    becomes null, which strict JSON readers accept and NaN they do not."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, SearchResult):
        return {"query": value.query, "hits": plain(list(value.hits)), "timings_ms": dict(value.timings_ms)}
    if isinstance(value, IngestReport):
        return {"counts": value.counts(), "skipped_by_code": value.skipped_by_code(), **plain(asdict(value))}
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
