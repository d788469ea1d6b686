"""``KnowledgeBase``: a whole knowledge base, in one directory or on servers — ingest, search, ask, delete.

A façade: each method checks that the knowledge base is open and hands the work to the part that owns it — the
write path (``ragkit.ingest``), the retriever (``ragkit.retrieve``), the answerer (``ragkit.answer``), the registry
(``ragkit.registry``), the entity graph (``ragkit.graph``). ``open`` (a folder) and ``connect`` (servers) assemble
those parts (``ragkit.assemble``).
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Mapping, Protocol, Sequence, TypeVar

from ragkit.answer import Calibrator, ChatModel, key_phrases
from ragkit.answer.calibrator import CALIBRATOR_FILE
from ragkit.answer.conversation import Chat, Turn, contextual_query, conversation
from ragkit.answer.themes import themes_answer
from ragkit.assemble import CALIBRATOR_KEY, Parts, assemble, folder_settings, server_settings
from ragkit.embed import Embedder
from ragkit.errors import ConfigError, KnowledgeBaseError, LLMError
from ragkit.graph import GraphStore, GraphView
from ragkit.index import VectorIndex
from ragkit.ingest import Ingestible
from ragkit.lock import DirectoryLock
from ragkit.progress import ProgressCallback, progress_display
from ragkit.records import Answer, Document, Hit, IngestReport, storable_text
from ragkit.registry import REGISTRY_FILE, DocumentRow, Registry
from ragkit.retrieve import SearchResult, checked_k, checked_text
from ragkit.servers import ServerSettings
from ragkit.settings import (
    IngestLimits,
    KBConfig,
    RetrievalConfig,
    SearchMode,
    parse_enum,
)
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
            if self.path is not None:
                check_free_space(self.path, self._limits.min_free_disk_mb)
            try:
                with self._lock.writing():  # in server mode: the knowledge base's one writer, across processes
                    return method(self, *args, **kwargs)
            except Exception as exc:
                if self.path is not None and is_disk_full(exc):
                    raise disk_full(self.path, exc) from exc
                raise

    return one_at_a_time  # type: ignore[return-value]


class _WriteLock(Protocol):
    def writing(self) -> ContextManager[None]: ...

    def close(self) -> None: ...


class KnowledgeBase:
    """A knowledge base: a registry (the source of truth), a Qdrant index, its settings and, optionally, an entity
    graph — in one directory (embedded), or on servers (PostgreSQL, Qdrant, Neo4j) that many processes share.

    Open an embedded one with ``KnowledgeBase.open(path)``: one process holds it at a time. Connect to one on servers
    with ``KnowledgeBase.connect(registry=…, index=…)``: any number of processes search and ask at once, and write one
    at a time. Use it as a context manager or call ``close()``.

    Threads may share one: searches, asks and reads run concurrently and see only finished writes; writes (``ingest``,
    ``delete``, ``optimize``, ``refresh_bm25``, ``rebuild_graph``, ``repair``, ``close``) run one at a time, the others
    waiting their turn.
    """

    def __init__(self, path: Path | None, config: KBConfig, lock: _WriteLock, parts: Parts,
                 limits: IngestLimits = IngestLimits(), where: str | None = None) -> None:
        self.path = path  # None on servers
        self.where = where or str(path)  # for messages: the folder, or the registry's URL and schema
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
            config, embedder = folder_settings(directory, config, embedder)
            own = directory / CALIBRATOR_FILE  # written by `ragkit calibrate`; else the calibrator ragkit ships
            calibrator = Calibrator.load(own) if own.exists() else None
            parts = assemble(directory, config, embedder, index, retrieval, graph, limits,
                              lambda encoder: Registry(directory / REGISTRY_FILE, encoder), calibrator)
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

    @classmethod
    def connect(
        cls,
        registry: str | None = None,
        index: str | None = None,
        graph: str | None = None,
        *,
        name: str | None = None,
        settings: str | os.PathLike[str] | None = None,
        config: KBConfig | None = None,
        embedder: Embedder | None = None,
        retrieval: RetrievalConfig | None = None,
        limits: IngestLimits | None = None,
        lock_timeout: float = 60.0,
    ) -> KnowledgeBase:
        """Connect to the knowledge base ``name`` on servers, creating it on first use: its registry in PostgreSQL
        (``registry``, a ``postgresql://`` URL), its vectors in Qdrant (``index``, a server URL — or a folder for
        qdrant-client's local mode, one process) and its entity graph, if any, in Neo4j (``graph``, a ``bolt://``
        URL). Each one left out comes from ``$RAGKIT_REGISTRY``, ``$RAGKIT_INDEX``, ``$RAGKIT_GRAPH``,
        ``$RAGKIT_NAME``, then from the TOML file ``settings`` (or ``$RAGKIT_SETTINGS``); see ``ServerSettings``.
        Passwords come from the environment only (``$PGPASSWORD``, ``$QDRANT_API_KEY``, ``$NEO4J_PASSWORD``).

        Any number of processes, on any machines, may connect at once: searches and asks never wait for a writer and
        see only finished writes. Writes take the knowledge base's writer lock in PostgreSQL for their duration: a
        second writer waits up to ``lock_timeout`` seconds, then gets ``KnowledgeBaseLocked``; a writer that dies
        loses the lock with its connection, and the next write finishes what it left. The settings, the BM25
        statistics and the calibrator live in the registry. ``config``, ``embedder``, ``retrieval`` and ``limits``
        are as for ``open`` (the index and graph sections of ``config`` are pointed at these servers).
        """
        from ragkit.registry.postgres import PostgresDatabase

        servers = ServerSettings.resolve(registry, index, graph, name, settings)
        limits = limits or IngestLimits()
        database = PostgresDatabase(servers.registry, servers.name)
        try:
            lock = database.writer_lock(lock_timeout)
            config, embedder = server_settings(database, servers, config, embedder)
            stored = database.get_meta(CALIBRATOR_KEY)
            calibrator = Calibrator.from_json(stored, database.where) if stored else None
            parts = assemble(None, config, embedder, None, retrieval, None, limits,
                              lambda encoder: Registry(database, encoder), calibrator)
        except BaseException:
            database.close()
            raise
        kb = cls(None, config, lock, parts, limits, where=database.where)
        try:
            if lock.try_acquire():  # no writer at work: finish what a crashed one left (else that writer will)
                try:
                    kb._writer.recover()
                finally:
                    lock.release()
        except BaseException:
            kb.close()
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
            if self._graph is not None:
                self._graph.close()
        finally:
            self._lock.close()
            self._registry.close()

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
        """Use another calibrator (and its threshold) for this session; ``save_calibrator`` stores one instead."""
        self._answerer.calibrator = calibrator
        self._answerer.threshold = calibrator.threshold

    @_writes
    def save_calibrator(self, calibrator: Calibrator) -> str:
        """Store ``calibrator`` as this knowledge base's own and use it from now on (``ragkit calibrate`` does); where
        it was written. On servers it lives in the registry: other processes use it once they connect again."""
        if self.path is not None:
            calibrator.save(self.path / CALIBRATOR_FILE)
            where = str(self.path / CALIBRATOR_FILE)
        else:
            self._registry.database.set_meta(CALIBRATOR_KEY, calibrator.to_json())
            where = f"{self.where}, meta {CALIBRATOR_KEY}"
        self.calibrator = calibrator
        return where

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
            raise ConfigError(f"knowledge base {self.where} has no entity graph; create it with "
                              "KBConfig(graph='embedded')" + (" (or connect with graph='bolt://…')"
                                                              if self.path is None else ""))
        return self._graph.view

    def stats(self) -> dict[str, Any]:
        self._check_open()
        where = {"path": str(self.path)} if self.path is not None else {"registry": self.where}
        return {**where, "embedder": self.config.embedder, "index": self.config.index.kind.value,
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
            how = "KnowledgeBase.open" if self.path is not None else "KnowledgeBase.connect"
            raise KnowledgeBaseError(f"knowledge base {self.where} is closed; open it again with {how}")
