"""Loading sources in a worker process, so that a parser that hangs or swells can be stopped.

Parsing PDF and Office files runs third-party code (unstructured, pdfminer, lxml) on untrusted input: a crafted file
can make it run for hours or eat all memory. ``LoadWorker`` runs each source's ``load()`` in a child process under a
deadline (``IngestLimits.parse_timeout_s``) and a memory cap (``parse_memory_mb``); a source that exceeds either is
skipped with the reason, the child is replaced, and the ingest goes on.

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
from multiprocessing.connection import Connection

from ragkit.errors import IngestError, SkipCode
from ragkit.records import Document, SourceItem
from ragkit.settings import IngestLimits


def check_size(source: str, document: Document, max_characters: int) -> None:
    """An IngestError if the document has more text than a document may have."""
    if len(document.text) > max_characters:
        raise IngestError(source, f"has {len(document.text):,} characters of text, more than the {max_characters:,} "
                          "a document may have (IngestLimits.max_document_characters); split it, or raise the limit",
                          SkipCode.TOO_LARGE)


def _serve(requests: Connection, replies: Connection) -> None:
    """The child: load each source it is sent and send back the document or why it was skipped."""
    while True:
        try:
            item, max_characters = requests.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        try:
            document = item.load()
            check_size(item.source, document, max_characters)
            reply: tuple = ("document", document)
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
    """Loads sources in one child process (started on first use, replaced after a timeout or a crash)."""

    def __init__(self, limits: IngestLimits) -> None:
        self._limits = limits
        self._process: subprocess.Popen | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None

    def load(self, item: SourceItem) -> Document:
        """``item.load()``, in the child where the item can be sent there; IngestError when it is skipped."""
        request = None
        if not isinstance(item, Document) and os.name == "posix" and type(item).__module__ != "__main__":
            try:
                request = pickle.dumps((item, self._limits.max_document_characters))
            except Exception:  # noqa: BLE001 - not every source can travel to another process
                request = None
        document = item.load() if request is None else self._in_child(item.source, request)
        check_size(item.source, document, self._limits.max_document_characters)
        return document

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
