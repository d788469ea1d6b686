"""Loading sources in a worker process, so that a parser that hangs or swells can be stopped.

Parsing PDF and Office files runs third-party code (unstructured, pdfminer, lxml) on untrusted input: a crafted file
can make it run for hours or eat all memory. ``LoadWorker`` runs each source's ``load()`` — and the cleaning of what
it loaded — in a child process under a deadline (``IngestLimits.parse_timeout_s``) and a memory cap
(``parse_memory_mb``); a source that exceeds either is skipped with the reason, the child is replaced, and the ingest
goes on. ``LoadPool`` keeps several such children busy ahead of the process that embeds and writes, and hands their
documents back in input order.

The child is a fresh interpreter (``ragkit.worker.main``), not a fork — the parent may hold threads and model
weights — nor multiprocessing's spawn, which would run the caller's own script again in the child. Requests and
replies are pickles on two pipes of their own (a parser printing to standard output cannot garble them). A source
that cannot travel to another process — it holds a connection, or its class lives in the caller's ``__main__`` — is
loaded here, without those bounds.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, Iterator, Mapping, Protocol, Sequence, Union

from ragkit.errors import IngestError, SkipCode
from ragkit.records import Document, SourceItem, storable_text
from ragkit.settings import IngestLimits


class Cleaning(Protocol):
    """What cleans a loaded document (``ragkit.cleaning.Cleaner``); it travels to the child with each request."""

    def clean(self, document: Document) -> Document: ...


def check_size(source: str, document: Document, max_characters: int) -> None:
    """An IngestError if the document has more text than a document may have."""
    if len(document.text) > max_characters:
        raise IngestError(source, f"has {len(document.text):,} characters of text, more than the {max_characters:,} "
                          "a document may have (IngestLimits.max_document_characters); split it, or raise the limit",
                          SkipCode.TOO_LARGE)


def load_document(item: SourceItem, max_characters: int, cleaner: Cleaning | None = None) -> Document:
    """``item.load()``, checked to be usable text of a size a document may have, and cleaned; IngestError if not."""
    document = item.load()
    check_size(item.source, document, max_characters)
    if document.source != item.source:
        raise IngestError(item.source, f"its loader returned a document for another source ({document.source})")
    for what, value in [("text", document.text), ("metadata", dict(document.metadata))]:
        if not _valid_unicode(value):
            raise IngestError(item.source, f"holds {what} that is not valid Unicode (a lone surrogate, as "
                              "undecodable bytes become); decode it before ingesting", SkipCode.ENCODING)
    return cleaner.clean(document) if cleaner is not None else document


def _valid_unicode(value: Any) -> bool:
    """Whether every string in ``value`` (nested in lists and mappings, keys included) encodes as UTF-8."""
    if isinstance(value, str):
        return storable_text(value) == value
    if isinstance(value, Mapping):
        return all(_valid_unicode(key) and _valid_unicode(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return all(_valid_unicode(item) for item in value)
    return True


def _serve(requests: Connection, replies: Connection) -> None:
    """The child: load and clean each source it is sent and send back the document or why it was skipped."""
    while True:
        try:
            item, max_characters, cleaner = requests.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        try:
            reply: tuple = ("document", load_document(item, max_characters, cleaner))
        except IngestError as exc:
            reply = ("skipped", exc.reason, exc.code)
        except MemoryError:
            reply = ("memory",)
        except Exception as exc:  # noqa: BLE001 - a parser's own failure becomes a skip, as it would in-process
            reply = ("failed", f"{type(exc).__name__}: {exc}")
        try:
            replies.send(reply)
        except MemoryError:
            replies.send(("memory",))


_CHILD = "import sys; from ragkit.worker import main; main(sys.argv[1:])"


class LoadWorker:
    """Loads (and cleans) sources in one child process (started on first use, replaced after a timeout or a
    crash)."""

    def __init__(self, limits: IngestLimits, cleaner: Cleaning | None = None) -> None:
        self._limits = limits
        self._cleaner = cleaner
        self._process: subprocess.Popen | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None

    def load(self, item: SourceItem) -> Document:
        """The item's document, loaded and cleaned — in the child where the item can be sent there; IngestError
        when it is skipped."""
        request = self._request(item)
        if request is None:
            return load_document(item, self._limits.max_document_characters, self._cleaner)
        return self._in_child(item.source, request)

    def travels(self, item: SourceItem) -> bool:
        """Whether the item can be loaded in the child (it pickles, and its class can be imported there)."""
        return self._request(item) is not None

    def _request(self, item: SourceItem) -> bytes | None:
        if isinstance(item, Document) or os.name != "posix" or type(item).__module__ == "__main__":
            return None
        try:
            return pickle.dumps((item, self._limits.max_document_characters, self._cleaner))
        except Exception:  # noqa: BLE001 - not every source can travel to another process
            return None

    def _in_child(self, source: str, request: bytes) -> Document:
        if self._process is None or self._process.poll() is not None:
            self._start()
        assert self._requests is not None and self._replies is not None
        timeout = self._limits.parse_timeout_s
        try:
            self._requests.send_bytes(request)
            answered = self._replies.poll(timeout)
            reply = self._replies.recv() if answered else None
        except (EOFError, OSError):
            code = self._process.poll() if self._process is not None else None
            self.stop()
            raise IngestError(source, f"crashed the parser (exit status {code}); the file may be damaged, or need more "
                              "memory than IngestLimits.parse_memory_mb allows", SkipCode.PARSE_ERROR) from None
        if reply is None:
            self.stop()
            raise IngestError(source, f"took more than {timeout:g} s to load and was stopped "
                              "(IngestLimits.parse_timeout_s); raise the limit to give it longer", SkipCode.TIMEOUT)
        kind, *details = reply
        if kind == "document":
            return details[0]
        if kind == "skipped":
            raise IngestError(source, details[0], details[1])
        if kind == "memory":
            self.stop()  # a child that ran out of memory may be left in a bad state
            raise IngestError(source, f"needs more than {self._limits.parse_memory_mb:,} MB to load "
                              "(IngestLimits.parse_memory_mb); raise the limit to parse it", SkipCode.TOO_LARGE)
        raise IngestError(source, f"could not be parsed ({details[0]})", SkipCode.PARSE_ERROR)

    def _start(self) -> None:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        memory = str(self._limits.parse_memory_mb or 0)
        environment = {**os.environ, "UNSTRUCTURED_DISABLE_NOTICE": "1"}
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(request_read), str(reply_write), memory],
                pass_fds=(request_read, reply_write), stdin=subprocess.DEVNULL, env=environment)
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._requests = Connection(request_write, readable=False)
        self._replies = Connection(reply_read, writable=False)

    def stop(self) -> None:
        """End the child (a new one starts on the next load)."""
        for connection in (self._requests, self._replies):
            if connection is not None:
                connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=30)
        self._process = self._requests = self._replies = None


Loaded = Union[Document, IngestError]
"""What loading one source gave: its cleaned document, or why it is skipped."""


class LoadPool:
    """Loads sources in ``len(workers)`` child processes at once, ahead of the caller, who gets them in input order.

    Each child is a ``LoadWorker`` driven by a thread of this process (which waits on the child's pipe, so it holds
    no CPU): every source keeps its own deadline and memory cap. At most ``ahead`` sources are loaded beyond the one
    the caller is waiting for, which bounds the memory of documents waiting their turn. A source that cannot travel
    to a child is loaded by the caller's own thread when its turn comes (it may hold a connection bound to it).
    """

    def __init__(self, workers: Sequence[LoadWorker], limits: IngestLimits, cleaner: Cleaning | None,
                 ahead: int = 32) -> None:
        self._workers = workers
        self._limits = limits
        self._cleaner = cleaner
        self._ahead = max(ahead, len(workers))

    def load(self, items: Sequence[SourceItem]) -> Iterator[Loaded]:
        """Each item's document (or the IngestError that skips it), in the order of ``items``."""
        state = _PoolState(items, self._ahead)
        threads = [threading.Thread(target=state.drive, args=(worker,), daemon=True, name=f"ragkit-load-{n}")
                   for n, worker in enumerate(self._workers)]
        for thread in threads:
            thread.start()
        finished = False
        try:
            for position, item in enumerate(items):
                result = state.take(position)
                if result is _HERE:
                    try:
                        result = load_document(item, self._limits.max_document_characters, self._cleaner)
                    except IngestError as exc:
                        result = exc
                if isinstance(result, BaseException) and not isinstance(result, IngestError):
                    raise result
                yield result
            finished = True
        finally:
            state.stop()
            if not finished:  # the caller gave up (an error, Ctrl-C): end the loads in progress
                for worker in self._workers:
                    worker.stop()
            for thread in threads:
                thread.join(timeout=30)


_HERE = object()  # the item does not travel: the caller loads it


class _PoolState:
    """The items, who has taken which, and the results waiting for the caller — under one condition variable."""

    def __init__(self, items: Sequence[SourceItem], ahead: int) -> None:
        self._items = items
        self._ahead = ahead
        self._next = 0
        self._consumed = 0
        self._results: dict[int, object] = {}
        self._stopped = False
        self._changed = threading.Condition()

    def drive(self, worker: LoadWorker) -> None:
        """A thread's loop: take the next item while the caller is not too far behind, load it in the child."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopped or self._next >= len(self._items)
                                       or self._next < self._consumed + self._ahead)
                if self._stopped or self._next >= len(self._items):
                    return
                position, self._next = self._next, self._next + 1
            item = self._items[position]
            try:
                result: object = worker.load(item) if worker.travels(item) else _HERE
            except IngestError as exc:
                result = exc
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
                result = exc
            with self._changed:
                self._results[position] = result
                self._changed.notify_all()

    def take(self, position: int) -> object:
        with self._changed:
            self._changed.wait_for(lambda: position in self._results)
            self._consumed = position + 1
            self._changed.notify_all()
            return self._results.pop(position)

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()


def main(arguments: list[str]) -> None:
    """The child process: serve loads on the pipes whose descriptors it is given, under a memory cap in MB (0: none)."""
    requests = Connection(int(arguments[0]), writable=False)
    replies = Connection(int(arguments[1]), readable=False)
    memory_mb = int(arguments[2])
    if memory_mb:
        import resource

        cap = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    _serve(requests, replies)
