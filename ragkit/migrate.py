"""Copying a knowledge base to another home — an embedded folder to servers (``ragkit migrate``), servers to a
folder, one server to another — without parsing or embedding anything again.

Every document is copied as the source's registry stores it: its parsed and cleaned text, metadata and elements,
under its source's fingerprint (so a later ``ingest`` of the same files finds them unchanged). The target cuts it
with its own settings — the source's, when the target is new — and takes each chunk's vector from the source's index
where the text is the same (always, for the same settings), embedding only what differs. The target's ordinary
write path stores them, in its three steps: an interrupted copy is finished by running it again, which skips what
was copied already.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from ragkit.answer.calibrator import CALIBRATOR_FILE
from ragkit.assemble import CALIBRATOR_KEY
from ragkit.errors import ConfigError, IncompatibleKnowledgeBase, IngestError
from ragkit.progress import ProgressCallback
from ragkit.records import Document, IngestReport
from ragkit.registry import DocumentRow
from ragkit.registry.documents import text_hash
from ragkit.settings import GraphKind, KBConfig

__all__ = ["copy_knowledge_base", "server_config"]


def copy_knowledge_base(source: Any, target: Any, *, batch_size: int = 64,
                        progress: ProgressCallback | None = None) -> IngestReport:
    """Copy every document of the knowledge base ``source`` into ``target`` (both open ``KnowledgeBase`` objects,
    with the same embedder), and the source's own calibrator if it has one; ``target``'s report of the copy."""
    if source.config.embedder != target.config.embedder:
        raise IncompatibleKnowledgeBase(
            f"cannot copy {source.where} (embedder {source.config.embedder}) into {target.where} (embedder "
            f"{target.config.embedder}): copy into a new knowledge base, which takes the source's settings")
    rows = source._registry.documents.documents_under("")
    items = [_StoredDocument(source, row) for row in rows]
    writer = target._writer
    embedder = writer._embedder
    writer._embedder = _CopiedVectors(embedder, source)  # vectors from the source for the texts it embedded
    try:
        report = target.ingest(items, batch_size=batch_size, progress=progress)
    finally:
        writer._embedder = embedder
    if _has_own_calibrator(source):
        target.save_calibrator(source.calibrator)
    return report


def server_config(config: KBConfig, graph_url: str | None) -> KBConfig:
    """An embedded knowledge base's settings for its copy on servers: the same, its entity graph (if any) in Neo4j
    (which needs ``graph_url``)."""
    if config.graph.kind is GraphKind.EMBEDDED:
        if not graph_url:
            raise ConfigError("this knowledge base has an entity graph: give the Neo4j server to keep it on "
                              "(--graph-url bolt://host:7687, or $RAGKIT_GRAPH)")
        return replace(config, graph=replace(config.graph, kind=GraphKind.NEO4J))
    return config


def _has_own_calibrator(kb: Any) -> bool:
    """Whether ``kb`` has a calibrator of its own (``ragkit calibrate``) rather than the one ragkit ships."""
    if kb.path is not None:
        return (kb.path / CALIBRATOR_FILE).exists()
    return kb._registry.database.get_meta(CALIBRATOR_KEY) is not None


class _StoredDocument:
    """A source item that loads a document from a knowledge base's registry, under its stored fingerprint."""

    def __init__(self, kb: Any, row: DocumentRow) -> None:
        self._kb = kb
        self._row = row
        self.source = row.source

    def fingerprint(self) -> str:
        return self._row.fingerprint

    def load(self) -> Document:
        document = self._kb._registry.documents.load_document(self._row.doc_id)
        if document is None:  # deleted from the source since the copy began
            raise IngestError(self.source, "was deleted from the knowledge base being copied")
        return document


class _CopiedVectors:
    """An embedder that answers with the source knowledge base's stored vectors for the texts it has embedded, and
    asks the real embedder for the rest."""

    def __init__(self, embedder: Any, source: Any) -> None:
        self._embedder = embedder
        self._source = source

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        documents = self._source._registry.documents
        hashes = [text_hash(text) for text in texts]
        known = documents.chunks_embedding(sorted(set(hashes)))
        stored = self._source._index.dense_vectors(list(known.values()))
        vectors: list[Any] = [stored.get(known.get(h, "")) for h in hashes]
        missing = [i for i, vector in enumerate(vectors) if vector is None]
        if missing:
            for i, vector in zip(missing, self._embedder.embed_documents([texts[i] for i in missing])):
                vectors[i] = vector
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._embedder.dimension)

