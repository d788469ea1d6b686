"""``ragkit eval ingest``: time each ingest stage on real inputs, so it is visible which one bounds ingest.

Parsing, cleaning, duplicate keys, chunking and BM25 counting run on every input; embedding runs on a sample of
the chunks and is extrapolated to all of them (embedding a large corpus in full takes minutes per thousand chunks).
"""

from __future__ import annotations

import random
import time
from typing import Sequence

from ragkit.chunkers import FixedChunker
from ragkit.cleaning import Cleaner, DuplicateFinder
from ragkit.embed import Embedder, make_embedder
from ragkit.errors import IngestError
from ragkit.progress import Progress, ProgressCallback, Stage
from ragkit.records import SourceItem
from ragkit.settings import KBConfig
from ragkit.sparse import BM25Encoder

STAGES = ("read", "parse", "clean", "dedup_keys", "chunk", "bm25_terms")


class _NoStore:
    """Duplicate keys are computed but not looked up: the profile measures work per document, not the corpus."""

    def source_with_text_hash(self, text_hash: str, exclude_doc_id: str) -> None:
        return None

    def near_candidates(self, bands: Sequence[int], exclude_doc_id: str) -> list:
        return []


def _size(item: SourceItem) -> int:
    path = getattr(item, "path", None)
    if path is not None:
        try:
            return path.stat().st_size
        except OSError:
            return 0
    text = getattr(item, "text", "")
    return len(text.encode("utf-8"))


def profile_ingest(items: Sequence[SourceItem], *, config: KBConfig | None = None,
                   embedder: Embedder | None = None, embed_sample: int = 256, seed: int = 0,
                   progress: ProgressCallback | None = None) -> dict:
    config = config or KBConfig()
    embedder = embedder or make_embedder(config.embedder)
    cleaner = Cleaner(config.cleaning)
    finder = DuplicateFinder(config.cleaning, _NoStore())
    chunker = FixedChunker(embedder.token_spans, size=config.chunking.size, overlap=config.chunking.overlap)
    encoder = BM25Encoder(config.bm25)
    embedder.token_spans("load the model and its tokenizer outside the timings")
    embedder.embed_documents(["warm up"])
    seconds = dict.fromkeys(STAGES, 0.0)
    texts: list[str] = []
    parsed = skipped = size = 0
    tracker = Progress(progress)
    tracker.total(Stage.PARSE, len(items))
    for item in items:
        tracker.advance(Stage.PARSE)
        try:
            started = time.perf_counter()
            item.fingerprint()
            middle = time.perf_counter()
            document = item.load()
            after_parse = time.perf_counter()
            seconds["read"] += middle - started
            seconds["parse"] += after_parse - middle
            document = cleaner.clean(document)
            after_clean = time.perf_counter()
            seconds["clean"] += after_clean - after_parse
            finder.keys(document)
            after_keys = time.perf_counter()
            seconds["dedup_keys"] += after_keys - after_clean
            chunks = chunker.chunk(document)
            after_chunk = time.perf_counter()
            seconds["chunk"] += after_chunk - after_keys
            for chunk in chunks:
                encoder.term_counts(chunk.text)
            seconds["bm25_terms"] += time.perf_counter() - after_chunk
        except IngestError:
            skipped += 1
            continue
        parsed += 1
        size += _size(item)
        texts.extend(chunk.text for chunk in chunks)
    tracker.finish()
    sample = random.Random(seed).sample(texts, min(embed_sample, len(texts)))
    started = time.perf_counter()
    embedder.embed_documents(sample)
    embed_rate = len(sample) / (time.perf_counter() - started) if sample else 0.0
    seconds["embed (estimated)"] = len(texts) / embed_rate if embed_rate else 0.0
    parse_clean = seconds["read"] + seconds["parse"] + seconds["clean"]
    total = sum(seconds.values())
    return {
        "documents": parsed,
        "skipped": skipped,
        "megabytes": round(size / 2**20, 2),
        "chunks": len(texts),
        "seconds": {stage: round(value, 3) for stage, value in seconds.items()},
        "share": {stage: round(value / total, 3) if total else 0.0 for stage, value in seconds.items()},
        "parse_clean_docs_per_s": round(parsed / parse_clean, 1) if parse_clean else None,
        "parse_clean_mb_per_s": round(size / 2**20 / parse_clean, 2) if parse_clean else None,
        "embed_chunks_per_s": round(embed_rate, 1),
        "embed_sample": len(sample),
        "bottleneck": max(seconds, key=seconds.get) if total else None,
    }
