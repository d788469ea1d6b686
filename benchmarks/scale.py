"""Build time, peak memory, disk and query latency at 100k–1M chunks on one machine.

    python benchmarks/scale.py --beir "$RAGKIT_DATASETS/scifact_beir" --chunks 100000 --json

Chunks are realistic text — sentences of a BEIR corpus recombined into passages, so term statistics look like real
ones — but their dense vectors come from a cheap random projection of hashed words instead of a neural model
(embedding a million chunks on a CPU takes hours; the index does not care where vectors come from). Everything else
is the real pipeline: cleaning, duplicate keys, chunking, BM25, the registry and the Qdrant index.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from _common import emit, parser

from ragkit import ChunkingConfig, DenseStorage, Document, IndexConfig, KBConfig, KnowledgeBase
from ragkit.eval.beir import load_beir
from ragkit.eval.chunking import disk_bytes
from ragkit.eval.metrics import percentile
from ragkit.settings import CONFIG_FILE
from ragkit.text import split_sentences

_WORD = re.compile(r"\S+")
# Each synthetic passage is one chunk: fixed windows as long as MiniLM reads, no overlap.
BULK_CHUNKING = ChunkingConfig("fixed", size=254, overlap=0)


class ProjectionEmbedder:
    """Benchmark-only: a fixed random projection of hashed word counts to 384 dimensions (no model, no meaning
    beyond word overlap). Tokens are whitespace-separated words."""

    name = "benchmark:hashed-projection-384"
    dimension = 384
    max_tokens = 254

    def __init__(self, seed: int = 0, buckets: int = 4096) -> None:
        self._projection = np.random.default_rng(seed).standard_normal((buckets, self.dimension)).astype(np.float32)
        self._buckets = buckets

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in _WORD.finditer(text)]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        counts = np.zeros((len(texts), self._buckets), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                counts[row, zlib.crc32(word.encode()) % self._buckets] += 1.0
        vectors = counts @ self._projection
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def synthetic_passages(corpus: Sequence[Document], count: int, seed: int = 0) -> Iterator[Document]:
    """``count`` passages of 3–8 sentences drawn from the corpus's sentences (each passage is one chunk), made
    lazily so a million of them never sit in memory at once."""
    sentences = _sentences(corpus)
    rng = random.Random(seed)
    for i in range(count):
        yield Document(f"synthetic-{i}", " ".join(rng.sample(sentences, rng.randint(3, 8))))


def warm_up_queries(corpus: Sequence[Document], count: int = 20, seed: int = 1) -> list[str]:
    """``count`` sentences of the corpus, asked before the timed queries."""
    sentences = _sentences(corpus)
    return random.Random(seed).sample(sentences, min(count, len(sentences)))


def _sentences(corpus: Sequence[Document]) -> list[str]:
    return [d.text[a:b] for d in corpus for a, b in split_sentences(d.text) if 40 < b - a < 400]


_WATCH = """
import select, sys
path, peak = f"/proc/{sys.argv[1]}/status", 0
while True:
    try:
        with open(path) as status:
            peak = max([peak] + [int(line.split()[1]) for line in status if line.startswith("RssAnon:")])
    except OSError:
        break
    if select.select([sys.stdin], [], [], 0.2)[0]:  # a line on stdin: stop
        break
print(peak)
"""


class AnonymousMemoryPeak:
    """The largest ``RssAnon`` of this process (Linux): memory the process owns. Peak RSS also counts the pages of
    memory-mapped files — the engine maps its segments — which are page cache the kernel can drop under pressure.
    Sampled five times a second by a child process: the engine holds the GIL while it builds an index, so a thread
    here would miss exactly the peak."""

    def __init__(self) -> None:
        self.peak_kb: int | None = None
        self._watcher: subprocess.Popen | None = None

    def __enter__(self) -> AnonymousMemoryPeak:
        if Path(f"/proc/{os.getpid()}/status").exists():
            self._watcher = subprocess.Popen([sys.executable, "-c", _WATCH, str(os.getpid())],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *_: object) -> None:
        if self._watcher is not None:
            output, _ = self._watcher.communicate("stop\n")
            self.peak_kb = int(output) if output.strip().isdigit() and int(output) > 0 else None


def measure_scale(corpus: Sequence[Document], queries: Sequence[str], chunks: int, *, batch: int = 2000,
                  folder: str | Path | None = None, index: IndexConfig | None = None) -> dict:
    with AnonymousMemoryPeak() as anonymous:
        result = _measure_scale(corpus, queries, chunks, batch=batch, folder=folder, index=index or IndexConfig())
    peak = anonymous.peak_kb
    return {**result, "peak_rss_anon_mb": round(peak / 1024, 1) if peak is not None else None}


def _measure_scale(corpus: Sequence[Document], queries: Sequence[str], chunks: int, *, batch: int,
                   folder: str | Path | None, index: IndexConfig) -> dict:
    embedder = ProjectionEmbedder()
    config = KBConfig(embedder=embedder.name, chunking=BULK_CHUNKING, index=index)
    passages = synthetic_passages(corpus, chunks)
    with tempfile.TemporaryDirectory(prefix="ragkit-scale-") as scratch:
        path = Path(folder or scratch) / f"kb-{chunks}"
        built = None if (path / CONFIG_FILE).exists() else _build(path, config, embedder, passages, batch)
        # Queries are timed as an application meets them: in a knowledge base it has just opened (a kept one must
        # have been built with these settings), after a few other queries (corpus sentences — the timed queries
        # twice would time pages their own first pass read).
        opening = time.perf_counter()
        with KnowledgeBase.open(path, config, embedder=embedder) as kb:
            open_s = time.perf_counter() - opening
            stats = kb.stats()
            for query in warm_up_queries(corpus):
                kb.search(query, k=10)
            latencies = []
            for query in queries:
                began = time.perf_counter()
                kb.search(query, k=10)
                latencies.append((time.perf_counter() - began) * 1000.0)
        disk = disk_bytes(path)
    ingest_s, build_s = built or (None, None)
    return {
        "chunks": stats["chunks"],
        "documents": stats["documents"],
        "reused_build": built is None,
        "build_s": round(build_s, 1) if built else None,
        "ingest_s": round(ingest_s, 1) if built else None,
        "optimize_s": round(build_s - ingest_s, 1) if built else None,
        "chunks_per_s": round(stats["chunks"] / build_s, 1) if built else None,
        "open_s": round(open_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "disk_mb": round(disk / 2**20, 1),
        "hybrid_p50_ms": round(percentile(latencies, 50), 2),
        "hybrid_p95_ms": round(percentile(latencies, 95), 2),
        "queries": len(latencies),
        "vectors": "random projection of hashed words (benchmark only)",
        "dense_storage": index.dense_storage.value,
    }


def _build(path: Path, config: KBConfig, embedder: ProjectionEmbedder, passages: Iterator[Document],
           batch: int) -> tuple[float, float]:
    """Build the knowledge base as a bulk load: many ingest calls, one final index build (the index also builds
    each 256 MB as it fills). Returns the seconds of ingest and of the whole build."""
    started = time.perf_counter()
    with KnowledgeBase.open(path, config, embedder=embedder) as kb:
        done = 0
        while part := list(itertools.islice(passages, batch)):
            kb.ingest(part, batch_size=500, optimize=False)
            done += len(part)
            if done % 100_000 < batch:  # a long build shows where it is and what it holds so far
                print(f"scale: {done:,} passages in {time.perf_counter() - started:.0f} s, peak RSS "
                      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", file=sys.stderr,
                      flush=True)
        ingest_s = time.perf_counter() - started
        kb.optimize()
    return ingest_s, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--chunks", type=int, default=100_000)
    arguments.add_argument("--queries", type=int, default=200)
    arguments.add_argument("--keep", help="build in this folder (default: a temporary one); if it already holds the "
                           "knowledge base of this size, time its queries again without rebuilding")
    arguments.add_argument("--dense-storage", choices=[s.value for s in DenseStorage], default=DenseStorage.INT8.value)
    args = arguments.parse_args(argv)
    dataset = load_beir(args.beir, args.split)
    queries = list(dataset.queries.values())[: args.queries]
    result = measure_scale(list(dataset.corpus.values()), queries, args.chunks, folder=args.keep,
                           index=IndexConfig(dense_storage=args.dense_storage))
    return emit({"input": args.beir, **result})


if __name__ == "__main__":
    sys.exit(main())
