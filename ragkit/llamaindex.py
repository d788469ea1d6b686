"""A ragkit knowledge base as a LlamaIndex retriever, usable in any LlamaIndex query engine.

    from ragkit.llamaindex import RagkitRetriever
    engine = RetrieverQueryEngine.from_args(RagkitRetriever(kb, k=5), llm=...)

Needs ``ragkit[llamaindex]``.
"""

from __future__ import annotations

from typing import Any

from ragkit.errors import MissingExtraError
from ragkit.settings import SearchMode

try:
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("llama-index-core", "llamaindex", "The LlamaIndex retriever") from exc


class RagkitRetriever(BaseRetriever):
    """Retrieves from a ``KnowledgeBase``; each node carries the hit's source, offsets and retriever ranks."""

    def __init__(self, kb: Any, *, k: int = 10, mode: SearchMode | str = SearchMode.HYBRID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kb = kb
        self._k = k
        self._mode = mode

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._kb.search(query_bundle.query_str, k=self._k, mode=self._mode)
        nodes = []
        for hit in result:
            metadata = {
                **{key: value for key, value in hit.metadata.items() if isinstance(value, (str, int, float))},
                "source": hit.source,
                "doc_id": hit.doc_id,
                "start": hit.start,
                "end": hit.end,
                "found_by": ",".join(f"{name}#{score.rank}" for name, score in hit.found_by.items()),
            }
            node = TextNode(id_=hit.chunk_id, text=hit.text, metadata=metadata, start_char_idx=hit.start,
                            end_char_idx=hit.end)
            nodes.append(NodeWithScore(node=node, score=hit.score))
        return nodes
