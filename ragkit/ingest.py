"""The write path: everything that changes what a knowledge base holds.

A source becomes stored chunks in two stages. ``Preparer`` does what needs no storage — the ingest pipeline,
in order:

    load (the connector parses) → check the text → clean      in worker processes, ahead (ragkit.worker)
    → duplicate keys and check → chunk → BM25 terms             here, in input order

and ``Writer`` stores a batch of prepared documents in three steps (see ``ragkit.registry.documents``): the
registry marks the affected chunks pending / deleting; the vector index (and the entity graph beside it) is
updated and flushed; the registry marks the work done. Text already embedded is never embedded again. A crash at
any point leaves rows that say what to finish, and ``recover`` finishes it when the knowledge base is opened again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union

from ragkit.chunkers import Chunker, make_chunker
from ragkit.cleaning import Cleaner, DuplicateFinder
from ragkit.embed import Embedder
from ragkit.errors import ConfigError, IngestError, SkipCode
from ragkit.filters import document_payload
from ragkit.graph import EntityGraph
from ragkit.index import IndexPoint, VectorIndex
from ragkit.progress import Progress, ProgressCallback, Stage
from ragkit.records import (
    Chunk,
    Connector,
    Document,
    IngestReport,
    Outcome,
    SourceItem,
    SourceOutcome,
    SyncedConnector,
    storable_text,
)
from ragkit.registry import DocumentWrite, Registry, embed_hash
from ragkit.settings import ChunkerKind, IngestLimits, KBConfig, parse_enum
from ragkit.sparse import BM25Encoder, TermCounts
from ragkit.worker import LoadPool, LoadWorker, load_document

Ingestible = Union[str, os.PathLike, SourceItem, Connector]
"""What ``KnowledgeBase.ingest`` takes: a path (file, folder or glob), a ``Document`` or other source item, or a
connector."""


def expand(inputs: Ingestible | Iterable[Ingestible]
           ) -> tuple[list[tuple[SourceItem, ChunkerKind | None]], list[SyncedConnector]]:
    """The source items of the inputs (each with the chunker its connector asks for, if any), and the connectors
    whose vanished sources should be removed."""
    from ragkit.connectors.files import FileConnector

    if isinstance(inputs, (str, os.PathLike)) or hasattr(inputs, "fingerprint") or hasattr(inputs, "items"):
        inputs = [inputs]  # type: ignore[list-item]
    items: list[tuple[SourceItem, ChunkerKind | None]] = []
    synced: list[SyncedConnector] = []
    for entry in inputs:  # type: ignore[union-attr]
        if isinstance(entry, (str, os.PathLike)):
            entry = FileConnector.from_path(entry)
        if hasattr(entry, "items"):
            chunker = getattr(entry, "chunker", None)
            kind = parse_enum(ChunkerKind, chunker, "chunker") if chunker is not None else None
            items.extend((item, kind) for item in entry.items())
            if hasattr(entry, "sync_prefix") and hasattr(entry, "owns"):
                synced.append(entry)
        elif hasattr(entry, "fingerprint") and hasattr(entry, "load"):
            items.append((entry, None))
        else:
            raise ConfigError(f"cannot ingest {entry!r}: pass a path, a ragkit.Document, a source item or a connector")
    return items, synced


class Preparer:
    """Everything short of embedding and storing; a source it cannot use — or that would cost more than ``limits``
    allow — raises ``IngestError`` (a skip)."""

    def __init__(self, config: KBConfig, embedder: Embedder, chunker: Chunker, encoder: BM25Encoder,
                 duplicates: DuplicateFinder, limits: IngestLimits = IngestLimits()) -> None:
        self._config = config
        self._limits = limits
        self._cleaner = Cleaner(config.cleaning)
        self._workers: list[LoadWorker] = []  # started on first use, kept between ingests
        self._embedder = embedder
        self._chunkers: dict[ChunkerKind, Chunker] = {config.chunking.kind: chunker}
        self._encoder = encoder
        self.duplicates = duplicates

    def load(self, items: Sequence[SourceItem], workers: int = 1) -> Iterator[Document | IngestError]:
        """Each item's cleaned document, or why it is skipped, in order: loaded by ``workers`` child processes
        ahead of the caller when parse limits are set (``IngestLimits.isolated``), else here, one at a time."""
        if not self._limits.isolated:
            for item in items:
                try:
                    yield load_document(item, self._limits.max_document_characters, self._cleaner)
                except IngestError as exc:
                    yield exc
            return
        while len(self._workers) < workers:
            self._workers.append(LoadWorker(self._limits, self._cleaner))
        yield from LoadPool(self._workers[:workers], self._limits, self._cleaner).load(items)

    def prepare(self, document: Document, fingerprint: str, chunker: ChunkerKind | None = None) -> DocumentWrite:
        """Check a loaded, cleaned document for duplicates, chunk it and count its terms."""
        keys = self.duplicates.keys(document)
        self.duplicates.check(document, keys)
        chunks = self._chunker(chunker).chunk(document)
        if not chunks:
            raise IngestError(document.source, "has no text to index after parsing", SkipCode.EMPTY)
        if len(chunks) > self._limits.max_chunks_per_document:
            raise IngestError(document.source, f"makes {len(chunks):,} chunks, more than the "
                              f"{self._limits.max_chunks_per_document:,} a document may have "
                              "(IngestLimits.max_chunks_per_document); split it, or raise the limit",
                              SkipCode.TOO_LARGE)
        terms = [self._encoder.term_counts(chunk.embed_text) for chunk in chunks]
        self.duplicates.remember(document, keys)
        return DocumentWrite(document, fingerprint, chunks, terms, keys)

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        for worker in self._workers:
            worker.stop()

    def _chunker(self, kind: ChunkerKind | None) -> Chunker:
        """The knowledge base's chunker, or the one a connector asked for (built once)."""
        kind = kind or self._config.chunking.kind
        if kind not in self._chunkers:
            self._chunkers[kind] = make_chunker(self._config.chunking, self._embedder, kind)
        return self._chunkers[kind]


@dataclass(frozen=True)
class _Prepared:
    write: DocumentWrite
    outcome: Outcome


class Writer:
    """Adds, updates and removes documents in the registry, the vector index and the entity graph together."""

    def __init__(self, registry: Registry, index: VectorIndex, embedder: Embedder, preparer: Preparer,
                 graph: EntityGraph | None = None, check_space: Callable[[], None] = lambda: None) -> None:
        self._registry = registry
        self._documents = registry.documents
        self._bm25 = registry.bm25
        self._index = index
        self._embedder = embedder
        self._preparer = preparer
        self._graph = graph
        self._check_space = check_space  # before each batch: a full disk must not reach the index's mapped files

    def ingest(self, inputs: Ingestible | Iterable[Ingestible], *, batch_size: int = 64, optimize: bool = True,
               workers: int = 1, progress: ProgressCallback | None = None) -> IngestReport:
        """See ``KnowledgeBase.ingest``."""
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
            raise ConfigError(f"workers must be a whole number from 1 to 64, got {workers!r}")
        started = time.perf_counter()
        tracker = Progress(progress)
        self.finish_pending_work()
        first_build = self._bm25.chunk_count() == 0
        items, synced = expand(inputs)
        report: list[SourceOutcome] = []
        seen: dict[str, None] = {}  # sources in input order
        todo: list[tuple[SourceItem, ChunkerKind | None, str, Outcome]] = []
        for item, chunker in items:  # what each source needs: nothing (unchanged), or loading
            source = storable_text(item.source)
            if source in seen:
                continue
            seen[source] = None
            try:
                if source != item.source:
                    raise IngestError(source, "has a source name that is not valid Unicode; name it with decoded "
                                      "text", SkipCode.ENCODING)
                fingerprint = item.fingerprint()
                existing = self._documents.document(item.source)
                if existing is not None and existing.fingerprint == fingerprint:
                    chunks = len(self._documents.chunk_ids(existing.doc_id))
                    report.append(SourceOutcome(item.source, Outcome.UNCHANGED, chunks))
                    continue
                todo.append((item, chunker, fingerprint, Outcome.ADDED if existing is None else Outcome.UPDATED))
            except IngestError as exc:
                report.append(SourceOutcome(source, Outcome.SKIPPED, reason=exc.reason, code=exc.code))
        tracker.total(Stage.PARSE, len(todo))
        tracker.total(Stage.CHUNK, len(todo))
        embedded = self._load_and_write(todo, batch_size, workers, report, tracker)
        order = {source: position for position, source in enumerate(seen)}
        report.sort(key=lambda item: order[item.source])  # one line per source, in input order
        for connector in synced:
            gone = [
                row for row in self._documents.documents_under(connector.sync_prefix)
                if row.source not in seen and connector.owns(row.source)
            ]
            self._delete_documents([row.doc_id for row in gone])
            report.extend(SourceOutcome(row.source, Outcome.REMOVED) for row in gone)
        with tracker.timed(Stage.INDEX):
            # A first build fixed the average length from its first batch: make it exact while that is cheap.
            self.refresh_bm25(tolerance=0.0 if first_build else 0.1)
            if optimize:
                self._index.optimize()
        tracker.finish()
        return IngestReport(tuple(report), embedded, round(time.perf_counter() - started, 3), tracker.seconds())

    def _load_and_write(self, todo: Sequence[tuple[SourceItem, ChunkerKind | None, str, Outcome]], batch_size: int,
                        workers: int, report: list[SourceOutcome], tracker: Progress) -> int:
        """Load the sources (in worker processes, ahead), prepare them here, and write them in batches while the
        workers go on; how many texts were embedded."""
        embedded = 0
        batch: list[_Prepared] = []
        loaded = self._preparer.load([item for item, *_ in todo], workers)
        try:
            for item, chunker, fingerprint, outcome in todo:
                with tracker.timed(Stage.PARSE):  # the time spent waiting for the workers
                    document = next(loaded)
                tracker.advance(Stage.PARSE)
                try:
                    if isinstance(document, IngestError):
                        raise document
                    with tracker.timed(Stage.CHUNK):
                        batch.append(_Prepared(self._preparer.prepare(document, fingerprint, chunker), outcome))
                except IngestError as exc:
                    report.append(SourceOutcome(item.source, Outcome.SKIPPED, reason=exc.reason, code=exc.code))
                tracker.advance(Stage.CHUNK)
                if len(batch) >= batch_size:
                    embedded += self._write(batch, report, tracker)
                    batch = []
            if batch:
                embedded += self._write(batch, report, tracker)
        finally:
            loaded.close()
        return embedded

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove these documents in one transaction, then keep BM25 and the index in step. Call
        ``finish_pending_work`` first, before looking the documents up."""
        if doc_ids:
            self._delete_documents(doc_ids)
            self.refresh_bm25()
            self._index.optimize()

    def close(self) -> None:
        self._preparer.close()

    def recover(self) -> None:
        """Finish whatever an earlier crash interrupted: a write (so the index matches the registry again) and a
        BM25 refresh; otherwise a cheap check."""
        self.finish_pending_work()
        self.refresh_bm25()

    def refresh_bm25(self, tolerance: float = 0.1) -> bool:
        return self._bm25.refresh(self._index, self._documents, tolerance)

    def repair(self) -> dict[str, int]:
        """Remove index points of chunks the registry does not know, and index the registry's chunks the index
        lacks (from their stored text); how many of each."""
        self.finish_pending_work()
        in_index, in_registry = self._index.ids(), self._documents.all_chunk_ids()
        orphans, missing = sorted(in_index - in_registry), sorted(in_registry - in_index)
        self._index.delete(orphans)
        encoder = self._bm25.encoder
        stored = self._documents.chunks(missing).values()
        self._index_chunks([(s.chunk, encoder.term_counts(s.chunk.embed_text),
                             document_payload(s.chunk.doc_id, s.source, s.metadata)) for s in stored],
                           self._bm25.encoded_average() or 1.0)
        self._index.flush()
        return {"removed_from_index": len(orphans), "indexed_again": len(missing)}

    def rebuild_graph(self, batch_size: int = 64) -> None:
        """Extract every document's entities and relations again."""
        if self._graph is None:
            return
        self.finish_pending_work()
        rows = self._documents.documents_under("")
        for begin in range(0, len(rows), batch_size):
            self._graph.write([(row.doc_id, self._documents.document_chunks(row.doc_id))
                               for row in rows[begin : begin + batch_size]])

    # -- the three steps -----------------------------------------------------------------------------------

    def _write(self, batch: list[_Prepared], report: list[SourceOutcome], tracker: Progress) -> int:
        """Steps 1–3 of a write for a batch of prepared documents; how many texts were embedded."""
        self._check_space()
        avg_len = self._bm25.average_for([terms for prepared in batch for terms in prepared.write.terms])
        pending = self._documents.begin_replace(p.write for p in batch)  # step 1
        self._preparer.duplicates.forget_batch()  # the registry knows these documents now
        payloads = {p.write.document.id: _payload(p.write.document) for p in batch}
        to_index = [
            (chunk, terms, payloads[chunk.doc_id])
            for prepared in batch
            for chunk, terms in zip(prepared.write.chunks, prepared.write.terms)
            if chunk.id in pending
        ]
        embedded = self._index_chunks(to_index, avg_len, tracker)  # step 2
        with tracker.timed(Stage.INDEX):
            for prepared in batch:  # chunks an update kept still carry the old metadata
                if prepared.outcome is Outcome.UPDATED:
                    self._index.set_payload(prepared.write.document.id, payloads[prepared.write.document.id])
        if self._graph is not None:
            tracker.total(Stage.GRAPH, len(batch), add=True)
            with tracker.timed(Stage.GRAPH):
                self._write_graph([(p.write.document.id, p.write.chunks) for p in batch])
            tracker.advance(Stage.GRAPH, len(batch))
        with tracker.timed(Stage.INDEX):
            self._apply_deletions()  # the rest of step 2, and step 3
        report.extend(
            SourceOutcome(p.write.document.source, p.outcome, len(p.write.chunks),
                          elements=len(p.write.document.elements))
            for p in batch
        )
        return embedded

    def _index_chunks(self, chunks: Sequence[tuple[Chunk, TermCounts, Mapping[str, Any]]], avg_len: float,
                      tracker: Progress | None = None) -> int:
        """Embed chunks and upsert them with their BM25 vectors; each tuple is (chunk, term counts, payload).

        Text that is already indexed elsewhere (boilerplate, a moved section) reuses that chunk's vector, and text
        repeated within the batch is embedded once. Returns how many texts were embedded.
        """
        tracker = tracker or Progress()
        tracker.total(Stage.EMBED, len(chunks), add=True)
        tracker.total(Stage.INDEX, len(chunks), add=True)
        encoder = self._bm25.encoder
        with tracker.timed(Stage.EMBED):
            hashes = [embed_hash(chunk) for chunk, _, _ in chunks]
            known = self._documents.chunks_embedding(sorted(set(hashes)))
            stored = self._index.dense_vectors(list(known.values()))
            vectors = {h: stored[chunk_id] for h, chunk_id in known.items() if chunk_id in stored}
            missing = {h: chunk.embed_text for h, (chunk, _, _) in zip(hashes, chunks) if h not in vectors}
            vectors.update(zip(missing, self._embedder.embed_documents(list(missing.values()))))
        tracker.advance(Stage.EMBED, len(chunks))
        with tracker.timed(Stage.INDEX):
            points = [
                IndexPoint(chunk.id, vectors[h], encoder.encode_document(terms, avg_len), payload)
                for h, (chunk, terms, payload) in zip(hashes, chunks)
            ]
            self._index.upsert(points)
        tracker.advance(Stage.INDEX, len(chunks))
        return len(missing)

    def _write_graph(self, documents: Sequence[tuple[str, Sequence[Chunk]]]) -> None:
        if self._graph is not None:
            self._graph.write(documents)

    def _apply_deletions(self) -> None:
        self._index.delete(self._documents.deleting_chunk_ids())
        self._index.flush()
        self._documents.finish()

    def _delete_documents(self, doc_ids: Sequence[str]) -> None:
        if doc_ids:
            self._documents.begin_delete(doc_ids)
            if self._graph is not None:
                self._graph.delete(doc_ids)
            self._apply_deletions()

    def finish_pending_work(self) -> None:
        """Complete a write that an earlier crash interrupted, so the index matches the registry again."""
        work = self._documents.pending_work()
        if not work:
            return
        avg_len = self._bm25.encoded_average() or 1.0
        encoder = self._bm25.encoder
        payloads = {d.id: _payload(d) for d in work.documents}
        self._index_chunks(
            [(s.chunk, encoder.term_counts(s.chunk.embed_text), payloads[s.chunk.doc_id]) for s in work.to_index],
            avg_len,
        )
        for doc_id, payload in payloads.items():
            self._index.set_payload(doc_id, payload)
        if self._graph is not None:
            self._graph.delete(work.deleting_documents)
        self._write_graph([(d.id, self._documents.document_chunks(d.id)) for d in work.documents])
        self._apply_deletions()


def _payload(document: Document) -> dict[str, Any]:
    return document_payload(document.id, document.source, document.metadata)
