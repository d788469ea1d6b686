"""``ragkit eval chunking``: which chunker lets retrieval find the answer in long documents.

Each SQuAD-format article becomes one long document (its paragraphs joined by blank lines). An answerable question
counts as found at k when one of its top-k chunks contains one of its answer texts. Reported per chunker: answer
recall@1 and @5, chunk count, the knowledge base's size on disk, chunking time and throughput (semantic chunking's
sentence embeddings included).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ragkit.chunkers import make_chunker
from ragkit.embed import Embedder, make_embedder
from ragkit.errors import DatasetError, RagkitError
from ragkit.kb import KnowledgeBase
from ragkit.progress import Progress, ProgressCallback, Stage
from ragkit.records import Document
from ragkit.settings import DEFAULT_EMBEDDER, ChunkerKind, ChunkingConfig, KBConfig, SearchMode, parse_enum


@dataclass(frozen=True)
class AnswerQuestion:
    question: str
    answers: tuple[str, ...]


def load_squad(path: str | Path, limit: int | None = None) -> tuple[list[Document], list[AnswerQuestion]]:
    """One document per article (the first ``limit`` articles), and their answerable questions (unanswerable
    ones have no answer text to find)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"][:limit]
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path} is not a SQuAD-format JSON file: {exc}") from exc
    documents, questions = [], []
    for article in data:
        title = article.get("title", f"article-{len(documents)}")
        documents.append(Document(title, "\n\n".join(p["context"] for p in article["paragraphs"]), {"title": title}))
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", []) if a["text"].strip()))
                if answers and not qa.get("is_impossible"):
                    questions.append(AnswerQuestion(qa["question"], answers))
    return documents, questions


def parse_chunker_spec(spec: str) -> tuple[ChunkerKind, int]:
    """"fixed:128" → (fixed, 128); a bare name uses 250 tokens."""
    name, _, size = spec.partition(":")
    return parse_enum(ChunkerKind, name.strip(), "chunker"), int(size) if size else 250


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (the index preallocates sparse files; their apparent size misleads)."""
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def evaluate_chunking(documents: Sequence[Document], questions: Sequence[AnswerQuestion], specs: Sequence[str], *,
                      mode: SearchMode = SearchMode.HYBRID, embedder: Embedder | None = None,
                      bm25_tokenizer: str = "word", progress: ProgressCallback | None = None) -> list[dict]:
    embedder = embedder or make_embedder(DEFAULT_EMBEDDER)
    results = []
    tracker = Progress(progress)
    tracker.total(Stage.SEARCH, len(specs) * len(questions))
    for spec in specs:
        kind, size = parse_chunker_spec(spec)
        config = KBConfig(embedder=embedder.name, chunking=ChunkingConfig(kind, size, overlap=min(32, size // 4)),
                          bm25={"tokenizer": bm25_tokenizer})
        row: dict = {"chunker": kind.value, "size": size}
        try:
            chunker = make_chunker(config.chunking, embedder)
        except RagkitError as exc:
            results.append({**row, "error": str(exc)})
            continue
        started = time.perf_counter()
        chunk_count = sum(len(chunker.chunk(document)) for document in documents)
        chunk_seconds = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="ragkit-chunking-") as scratch:
            with KnowledgeBase.open(Path(scratch) / "kb", config, embedder=embedder) as kb:
                kb.ingest(documents)
                found = {1: 0, 5: 0}
                for question in questions:
                    texts = [hit.text for hit in kb.search(question.question, k=5, mode=mode)]
                    tracker.advance(Stage.SEARCH)
                    for k in found:
                        found[k] += any(answer in text for text in texts[:k] for answer in question.answers)
                index_bytes = disk_bytes(Path(scratch) / "kb")
        results.append({
            **row,
            "recall@1": round(found[1] / len(questions), 4),
            "recall@5": round(found[5] / len(questions), 4),
            "chunks": chunk_count,
            "kb_disk_mb": round(index_bytes / 2**20, 2),
            "chunk_seconds": round(chunk_seconds, 2),
            "chunks_per_s": round(chunk_count / chunk_seconds, 1) if chunk_seconds else None,
            "questions": len(questions),
            "mode": mode.value,
        })
    tracker.finish()
    return results
