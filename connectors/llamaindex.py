"""LlamaIndex interop: its ``Document``s, or any of its readers, as a ragkit connector."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from ragkit.connectors.records import Rejected

from ragkit.records import Document

# Metadata keys LlamaIndex readers use for where a document came from, most specific first.
_SOURCE_KEYS = ("file_path", "url", "source", "file_name")


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True)
class LlamaIndexConnector:
    """Documents from LlamaIndex: a sequence of its ``Document``s, or a reader whose ``load_data`` is called.

    A document's source is the first of its metadata's ``file_path``, ``url``, ``source`` or ``file_name``,
    else its LlamaIndex id. Several LlamaIndex documents from one file (one per PDF page, say) get
    ``#<n>`` suffixes so that each stays its own ragkit document.
    """

    documents: Iterable[Any] | None = None
    reader: Any = None
    load_kwargs: Mapping[str, Any] = field(default_factory=dict)
    chunker: str | None = None

    def _load(self) -> list[Any]:
        if self.reader is not None:
            return list(self.reader.load_data(**self.load_kwargs))
        return list(self.documents or ())

    def items(self) -> Iterator[Document | Rejected]:
        documents = self._load()
        seen: dict[str, int] = {}
        for llama_document in documents:
            metadata = dict(getattr(llama_document, "metadata", {}) or {})
            base = next((str(metadata[key]) for key in _SOURCE_KEYS if metadata.get(key)), None)
            base = base or f"llamaindex:{getattr(llama_document, 'id_', None) or getattr(llama_document, 'doc_id', '')}"
            seen[base] = seen.get(base, 0) + 1
            source = base if seen[base] == 1 else f"{base}#{seen[base]}"
            text = llama_document.get_content() if hasattr(llama_document, "get_content") else str(llama_document.text)
            if not text.strip():
                yield Rejected(source, "is an empty LlamaIndex document")
                continue
            yield Document(source, text, {key: _plain(value) for key, value in metadata.items()})
