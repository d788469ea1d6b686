"""The records that flow through the pipeline: frozen dataclasses whose ids derive from source and content."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ragkit.errors import SkipCode


def stable_hash(*parts: str) -> str:
    """A hex SHA-256 over parts separated by NUL, so ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def storable_text(text: str) -> str:
    """``text`` as valid Unicode: the lone surrogates Python keeps for bytes that are not UTF-8 (file names and
    command-line arguments on Linux) written out as ``\\xNN`` — so a source can be stored, shown and found again."""
    if not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return text
    return "".join(f"\\x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF
                   else f"\\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


@functools.lru_cache(maxsize=65_536)
def doc_id_for(source: str) -> str:
    """A document's id: one per source, so re-ingesting a changed file replaces it instead of adding a copy."""
    return stable_hash("doc", source)[:32]


def chunk_id_for(doc_id: str, text: str, occurrence: int, context: str = "") -> str:
    """A chunk's id, a UUID string as Qdrant requires.

    It depends on what gets embedded (context and text) and how many identical chunks precede it in the document,
    not on its offset, so an edit early in a document leaves the ids (and embeddings) of unchanged later chunks
    alone.
    """
    return str(uuid.UUID(stable_hash("chunk", doc_id, context, text, str(occurrence))[:32]))


class ElementKind(str, Enum):
    """The structural role of a span of a document, as parsers report it."""

    TITLE = "title"
    TEXT = "text"
    LIST_ITEM = "list_item"
    TABLE = "table"
    CODE = "code"
    CAPTION = "caption"
    FORMULA = "formula"
    HEADER = "header"
    FOOTER = "footer"


@dataclass(frozen=True)
class Element:
    """A structural span of ``Document.text``: a heading (``depth`` 0 is the top level), paragraph, table…

    ``metadata`` keeps what the parser knew beyond the text, such as a table's HTML (``text_as_html``).
    """

    kind: ElementKind
    start: int
    end: int
    page: int | None = None
    depth: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """One unit of source content — a file, a page, a record — as parsed text with metadata.

    ``elements`` (optional) describe the structure of ``text``; parsers that know it fill them in.
    """

    source: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    elements: tuple[Element, ...] = ()

    @property
    def id(self) -> str:
        return doc_id_for(self.source)

    def fingerprint(self) -> str:
        """A hash of the content; an unchanged fingerprint means there is nothing to re-index."""
        meta = json.dumps(dict(self.metadata), sort_keys=True, default=str)
        elements = json.dumps([element_to_json(e) for e in self.elements], sort_keys=True, default=str)
        return stable_hash("document", self.text, meta, elements)

    @classmethod
    def from_elements(
        cls, source: str, parts: Sequence[tuple[str, ElementKind, Mapping[str, Any]]], metadata: Mapping[str, Any]
    ) -> Document:
        """Assemble a document from (text, kind, attributes) parts, joined by blank lines.

        ``attributes`` may hold ``page``, ``depth`` and anything else, which goes to the element's metadata.
        """
        pieces, elements, position = [], [], 0
        for text, kind, attributes in parts:
            if not text.strip():
                continue
            extra = {k: v for k, v in attributes.items() if k not in ("page", "depth")}
            start = position + (2 if pieces else 0)
            elements.append(Element(kind, start, start + len(text), attributes.get("page"), attributes.get("depth"),
                                    extra))
            pieces.append(text)
            position = start + len(text)
        return cls(source, "\n\n".join(pieces), metadata, tuple(elements))

    def load(self) -> Document:
        return self


def element_to_json(element: Element) -> dict[str, Any]:
    return {"kind": element.kind.value, "start": element.start, "end": element.end, "page": element.page,
            "depth": element.depth, "metadata": dict(element.metadata)}


def element_from_json(data: Mapping[str, Any]) -> Element:
    return Element(ElementKind(data["kind"]), data["start"], data["end"], data.get("page"), data.get("depth"),
                   data.get("metadata") or {})


class SourceItem(Protocol):
    """Something to ingest, loaded lazily so that unchanged content is never parsed.

    ``fingerprint`` is cheap (a hash of raw bytes); ``load`` parses. Both raise ``IngestError`` for bad input.
    ``Document`` satisfies this protocol itself.
    """

    @property
    def source(self) -> str: ...

    def fingerprint(self) -> str: ...

    def load(self) -> Document: ...


class Connector(Protocol):
    """A source of items to ingest: files, records, web pages, rows, another framework's documents."""

    def items(self) -> Iterable[SourceItem]: ...


class SyncedConnector(Connector, Protocol):
    """A connector that knows every source it is responsible for, so ingest can remove the ones that vanished.

    Documents whose source starts with ``sync_prefix``, that the connector ``owns`` and that it did not yield
    are deleted from the knowledge base.
    """

    @property
    def sync_prefix(self) -> str: ...

    def owns(self, source: str) -> bool: ...


@dataclass(frozen=True)
class Chunk:
    """A span of a document's text: ``document.text[start:end] == text``.

    ``context`` (a heading path, a table's header row) is embedded and indexed with the text without being part of
    it; ``metadata`` holds what the chunker knew, such as ``heading_path`` and ``page``.
    """

    id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    context: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def embed_text(self) -> str:
        """What the embedder and BM25 see: the context line, then the text."""
        return f"{self.context}\n{self.text}" if self.context else self.text


@dataclass(frozen=True)
class RetrieverScore:
    """Where one retriever ranked a hit (1-based) and the raw score it gave."""

    rank: int
    score: float


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its provenance: which retrievers found it, at what rank and score."""

    chunk_id: str
    doc_id: str
    source: str
    text: str
    start: int
    end: int
    score: float
    found_by: Mapping[str, RetrieverScore]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    graph: GraphEvidence | None = None


@dataclass(frozen=True)
class GraphEdge:
    """One step of graph evidence: ``source`` —``label``→ ``target`` (entity keys), stated in these chunks."""

    source: str
    label: str
    target: str
    chunk_ids: tuple[str, ...]


class GraphPath(tuple):  # type: ignore[type-arg]
    """A path between two entities: its ``GraphEdge``s in order (a tuple, shown as a table in Jupyter)."""

    def _repr_markdown_(self) -> str:
        rows = ["| step | from | relation | to | stated in |", "|---|---|---|---|---|"]
        rows += [f"| {number} | {markdown_cell(edge.source)} | {markdown_cell(edge.label)} | "
                 f"{markdown_cell(edge.target)} | {len(edge.chunk_ids)} chunks |"
                 for number, edge in enumerate(self, start=1)]
        return "\n".join(rows)


@dataclass(frozen=True)
class GraphEvidence:
    """Why graph retrieval ranked a hit: from a query entity (``start``) along ``path`` to ``entity``, which the
    hit mentions; an empty path means the hit names the query entity itself."""

    start: str
    path: tuple[GraphEdge, ...]
    entity: str


class AnswerStatus(str, Enum):
    """What kind of answer ``ask`` produced."""

    ANSWERED = "answered"  # the evidence answers it; every statement cited
    PARTIAL = "partial"  # the evidence answers part of it; ``missing`` names what it does not cover
    NO_ANSWER = "no_answer"  # the knowledge base does not answer it; the text says what it covers nearby
    CLARIFY = "clarify"  # the question is ambiguous; ``clarifications`` are the candidates to choose from


@dataclass(frozen=True)
class Citation:
    """A quoted span of a source that supports the answer; ``number`` is the [n] used in the answer text."""

    number: int
    chunk_id: str
    source: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class Answer:
    """The result of ``ask``: a status, the answer text with [n] markers, its citations and the evidence used.

    ``confidence`` is the calibrated probability that the knowledge base can answer the question; ``signals`` are
    the retrieval signals it was computed from; ``rewritten_query`` is set when a second retrieval with a rewritten
    query gave the evidence; ``search_query`` is what retrieval ran with when a conversation's earlier turn (or the
    option a reply to a clarifying question chose) was added to the question — and for such a reply, ``question`` is
    the question it completed; ``generator`` is "extractive" or the LLM that wrote the text.
    """

    question: str
    status: AnswerStatus
    text: str
    confidence: float
    citations: tuple[Citation, ...]
    evidence: tuple[Hit, ...]
    missing: tuple[str, ...] = ()
    clarifications: tuple[str, ...] = ()
    signals: Mapping[str, float] = field(default_factory=dict)
    rewritten_query: str | None = None
    generator: str = "extractive"
    search_query: str | None = None

    def _repr_markdown_(self) -> str:
        """How Jupyter shows an answer: status and confidence, the text, the options or the numbered sources."""
        lines = [f"**{self.status.value}** (confidence {self.confidence:.2f}): {self.text}", ""]
        lines += [f"- {option}" for option in self.clarifications]
        lines += [f"{c.number}. `{shown_source(c.source)}`, characters {c.start}–{c.end}" for c in self.citations]
        return "\n".join(lines).strip()


class Outcome(str, Enum):
    """What ingest did with one source."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SourceOutcome:
    """One line of an ingest report."""

    source: str
    outcome: Outcome
    chunks: int = 0
    reason: str | None = None
    code: SkipCode | None = None
    elements: int | None = None


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did, per source, and how much work it took: ``stage_seconds`` is the time the ingest spent in
    each stage (``parse`` is the time it waited for the worker processes that parse ahead of it)."""

    items: tuple[SourceOutcome, ...]
    chunks_embedded: int
    seconds: float
    stage_seconds: Mapping[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        found = Counter(item.outcome.value for item in self.items)
        return {outcome.value: found.get(outcome.value, 0) for outcome in Outcome}

    def by_source(self) -> dict[str, SourceOutcome]:
        return {item.source: item for item in self.items}

    def _repr_markdown_(self) -> str:
        """How Jupyter shows a report: the count per outcome, the time per stage, and why sources were skipped."""
        counts = {outcome: count for outcome, count in self.counts().items() if count}
        lines = [" · ".join(f"**{count}** {outcome}" for outcome, count in counts.items()) or "nothing ingested",
                 f"{self.chunks_embedded:,} chunks embedded in {self.seconds:.1f} s", ""]
        if self.stage_seconds:
            lines += ["| stage | seconds |", "|---|---|"]
            lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in self.stage_seconds.items()]
            lines.append("")
        skipped = [item for item in self.items if item.outcome is Outcome.SKIPPED]
        if skipped:
            codes = Counter((item.code or SkipCode.INVALID).value for item in skipped)
            first = {(item.code or SkipCode.INVALID).value: item for item in reversed(skipped)}
            examples = {code: f"{shown_source(item.source)}: {item.reason}" for code, item in first.items()}
            lines += ["| skipped | sources | for example |", "|---|---|---|"]
            lines += [f"| {code} | {count} | {markdown_cell(examples[code])} |" for code, count in codes.items()]
        return "\n".join(lines).strip()

    def skipped_by_code(self, examples: int = 3) -> dict[str, dict[str, Any]]:
        """Skips counted per reason code, with a few example sources and reasons each."""
        grouped: dict[str, dict[str, Any]] = {}
        for item in self.items:
            if item.outcome is Outcome.SKIPPED:
                code = item.code.value if item.code else SkipCode.INVALID.value
                entry = grouped.setdefault(code, {"count": 0, "examples": []})
                entry["count"] += 1
                if len(entry["examples"]) < examples:
                    entry["examples"].append(f"{item.source}: {item.reason}")
        return grouped


def markdown_cell(text: str) -> str:
    """``text`` as one cell of a Markdown table: on one line, its pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def shown_source(source: str) -> str:
    """A file's source as Jupyter shows it: relative to the working directory (``../examples/docs/a.md``), so a
    saved notebook holds no machine's paths; anything else as it is."""
    if not os.path.isabs(source):
        return source
    try:
        return os.path.relpath(source)
    except ValueError:  # another drive (Windows)
        return source
