"""ragkit's hybrid retrieval beside the equivalent LlamaIndex pipeline, same data, same run.

    python benchmarks/peer_llamaindex.py --beir "$RAGKIT_DATASETS/hotpotqa_dev/derived_beir_distractor103" --json
    python benchmarks/peer_llamaindex.py --chunks 100000 \
        --beir "$RAGKIT_DATASETS/hotpotqa_dev/derived_beir_distractor103"

The LlamaIndex side is its usual server-less hybrid setup (GitHub issue 5): a ``VectorStoreIndex`` on
``QdrantVectorStore`` in local mode, a ``BM25Retriever``, and a ``QueryFusionRetriever`` with reciprocal-rank fusion
and no query generation (no LLM call). It indexes the very chunks ragkit made, read back from the knowledge base,
with the vectors ragkit computed, so the comparison is of retrieval and not of chunking or the model; its
``build_s`` is therefore index building only, while ragkit's includes ``embed_s``. Each query is embedded once and
both systems get that vector, so the query latencies are retrieval alone (``query_embed_p50_ms`` is the same for
both); queries are timed interleaved, one system after the other, so background load hits both alike.
Needs the packages in ``benchmarks/requirements.txt``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
from _common import emit, parser
from scale import BULK_CHUNKING, ProjectionEmbedder, synthetic_passages

from ragkit import ConfigError, Document, Embedder, KBConfig, KnowledgeBase, RetrievalConfig
from ragkit.embed import make_embedder
from ragkit.eval.beir import BeirDataset, load_beir
from ragkit.eval.metrics import evaluate_run, percentile
from ragkit.eval.retrieval import doc_ranking
from ragkit.registry import StoredChunk
from ragkit.settings import DEFAULT_EMBEDDER

try:
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
    from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from pydantic import PrivateAttr
    from qdrant_client import QdrantClient
except ImportError as exc:  # pragma: no cover - exercised only without the requirements
    raise SystemExit(f"this benchmark needs {exc.name}: pip install -r benchmarks/requirements.txt") from exc

_INGEST_SLICE = 2000  # documents per ingest call, as in ``ragkit eval scale``
_WARMUP_QUERIES = 20


class LlamaEmbedding(BaseEmbedding):
    """A ragkit embedder as a LlamaIndex embedding model, so both systems embed queries with the same model."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder) -> None:
        super().__init__(model_name=embedder.name)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_documents([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts).tolist()


class _SharedEmbedder:
    """Passes everything through to an embedder, adds up the seconds spent in ``embed_documents``, and remembers
    query vectors, so that both systems search with one vector per query."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.seconds = 0.0
        self._queries: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self._inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self._queries:
            self._queries[text] = self._inner.embed_query(text)
        return self._queries[text]


def indexed_chunks(kb: KnowledgeBase, batch: int = 2000) -> Iterator[list[tuple[StoredChunk, list[float]]]]:
    """Every chunk of ``kb`` with its stored dense vector, in batches: what another system needs to index the same
    content without embedding it again (read from the registry and the index directly)."""
    for stored in kb._registry.documents.iter_chunks(batch):
        vectors = kb._index.dense_vectors([s.chunk.id for s in stored])
        yield [(s, vectors[s.chunk.id]) for s in stored]


@dataclass(frozen=True)
class _Built:
    """One system ready to query: a function from query text to document sources, best first, and its build cost."""

    system: str
    search: Callable[[str], list[str]]
    build_s: float
    embed_s: float


def _llamaindex(kb: KnowledgeBase, embedder: Embedder, k: int, candidates: int, folder: Path
                ) -> tuple[_Built, QdrantClient]:
    """The LlamaIndex pipeline over ``kb``'s chunks and vectors; only LlamaIndex's own work is timed."""
    seconds = 0.0
    started = time.perf_counter()
    client = QdrantClient(path=str(folder))
    # Payload indexes have no effect in local mode (qdrant-client warns on each); everything else is the default.
    store = QdrantVectorStore(collection_name="peer", client=client, index_doc_id=False)
    index = VectorStoreIndex(nodes=[], storage_context=StorageContext.from_defaults(vector_store=store),
                             embed_model=LlamaEmbedding(embedder))
    seconds += time.perf_counter() - started
    nodes: list[TextNode] = []
    hidden = ["source"]  # the document id is for ranking, not for BM25 or the embedder to read
    for batch in indexed_chunks(kb):
        made = [
            TextNode(id_=s.chunk.id, text=s.chunk.embed_text, embedding=vector, metadata={"source": s.source},
                     excluded_embed_metadata_keys=hidden, excluded_llm_metadata_keys=hidden,
                     relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=s.chunk.doc_id)})
            for s, vector in batch
        ]
        started = time.perf_counter()
        index.insert_nodes(made)  # vectors are set, so nothing is embedded here
        seconds += time.perf_counter() - started
        for node in made:
            node.embedding = None  # BM25 needs only the text; keeps memory to one batch of vectors
        nodes.extend(made)
    started = time.perf_counter()
    fusion = QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=candidates), BM25Retriever.from_defaults(nodes=nodes,
                                                                                     similarity_top_k=candidates)],
        mode=FUSION_MODES.RECIPROCAL_RANK, num_queries=1, use_async=False, similarity_top_k=k,
        llm=MockLLM(),  # never called with num_queries=1; without it the constructor resolves OpenAI from Settings
    )
    seconds += time.perf_counter() - started
    return _Built("llamaindex", _sources_of(fusion), seconds, 0.0), client


def _sources_of(retriever: BaseRetriever) -> Callable[[str], list[str]]:
    return lambda query: [hit.node.metadata["source"] for hit in retriever.retrieve(query)]


def _ms(function: Callable[[str], Any], text: str) -> tuple[Any, float]:
    """``function(text)`` and the milliseconds it took."""
    started = time.perf_counter()
    result = function(text)
    return result, (time.perf_counter() - started) * 1000.0


def _run_queries(systems: Sequence[_Built], queries: Mapping[str, str], k: int
                 ) -> tuple[list[dict[str, list[str]]], list[list[float]]]:
    """Each query through every system in turn: per system, the document ranking of each query and the latencies."""
    runs: list[dict[str, list[str]]] = [{} for _ in systems]
    latencies: list[list[float]] = [[] for _ in systems]
    for query_id, text in queries.items():
        for system, run, times in zip(systems, runs, latencies):
            sources, elapsed = _ms(system.search, text)
            run[query_id] = doc_ranking(sources, k)
            times.append(elapsed)
    return runs, latencies


def _compare(documents: Sequence[Document], queries: Mapping[str, str], embedder: Embedder, config: KBConfig,
             k: int) -> tuple[list[dict], list[dict[str, list[str]]]]:
    """Build both systems on ``documents`` and run every query through each; rows of costs, and the document
    rankings per system."""
    if k < 1 or not queries:
        raise ConfigError(f"need k >= 1 and at least one query; got k={k} and {len(queries)} queries")
    shared = _SharedEmbedder(embedder)
    retrieval = RetrievalConfig()
    candidates = max(2 * k, retrieval.candidates)  # what each ragkit retriever contributes to the fusion
    with tempfile.TemporaryDirectory(prefix="ragkit-peer-") as scratch:
        started = time.perf_counter()
        with KnowledgeBase.open(Path(scratch) / "kb", config, embedder=shared, retrieval=retrieval) as kb:
            for begin in range(0, len(documents), _INGEST_SLICE):
                kb.ingest(documents[begin: begin + _INGEST_SLICE], batch_size=256, optimize=False)
            kb.optimize()  # one index build after the bulk load
            stages: list[Mapping[str, float]] = []  # ragkit's own timing of each search stage

            def search(query: str) -> list[str]:
                result = kb.search(query, k=k)
                stages.append(result.timings_ms)
                return [hit.source for hit in result]

            ragkit = _Built("ragkit", search, time.perf_counter() - started, shared.seconds)
            chunks = kb.stats()["chunks"]
            llama, client = _llamaindex(kb, shared, k, candidates, Path(scratch) / "qdrant")
            try:
                embed_ms = [_ms(shared.embed_query, text)[1] for text in queries.values()]
                systems = [ragkit, llama]
                for text in islice(queries.values(), _WARMUP_QUERIES):
                    for system in systems:
                        system.search(text)
                stages.clear()
                runs, latencies = _run_queries(systems, queries, k)
            finally:
                client.close()
    base = percentile(latencies[0], 50)
    rows = [{
        "system": system.system,
        "docs": len(documents),
        "chunks": chunks,
        "queries": len(queries),
        "k": k,
        "build_s": round(system.build_s, 2),
        "embed_s": round(system.embed_s, 2),
        "query_p50_ms": round(percentile(times, 50), 2),
        "query_p95_ms": round(percentile(times, 95), 2),
        "p50_vs_ragkit": round(percentile(times, 50) / base, 2) if base else None,
        "query_embed_p50_ms": round(percentile(embed_ms, 50), 2),
    } for system, times in zip(systems, latencies)]
    rows[0]["stages_p50_ms"] = {name: round(percentile([s.get(name, 0.0) for s in stages], 50), 2)
                                for name in stages[0]}
    return rows, runs


def compare_with_llamaindex(dataset: BeirDataset, *, embedder: Embedder, config: KBConfig | None = None,
                            k: int = 10, max_queries: int | None = None) -> list[dict]:
    """Quality and latency of ragkit (hybrid) and LlamaIndex on a BEIR dataset: one row per system.

    Each row has the metrics of ``evaluate_run`` (recall only at depths up to ``k``, the hits each system returns),
    query p50/p95, build time and ``p50_vs_ragkit`` (the system's p50 over ragkit's).
    """
    queries = dict(islice(dataset.queries.items(), max_queries))
    qrels = {query_id: dataset.qrels[query_id] for query_id in queries}
    config = config or KBConfig(embedder=embedder.name)
    rows, runs = _compare(list(dataset.corpus.values()), queries, embedder, config, k)
    recall_ks = [depth for depth in (2, 5, 10, 100) if depth <= k]
    return [{"system": row["system"], **evaluate_run(run, qrels, recall_ks=recall_ks), **row}
            for row, run in zip(rows, runs)]


def compare_at_scale(corpus: Sequence[Document], queries: Sequence[str], chunks: int, *, k: int = 10) -> list[dict]:
    """Build and query latency of both systems over ``chunks`` synthetic passages (see ``scale.py``), with
    projection vectors on both sides; no relevance judgements, so no quality metrics."""
    embedder = ProjectionEmbedder()
    config = KBConfig(embedder=embedder.name, chunking=BULK_CHUNKING)
    rows, _ = _compare(list(synthetic_passages(corpus, chunks)), {str(i): q for i, q in enumerate(queries)}, embedder,
                       config, k)
    return [{**row, "vectors": "random projection of hashed words (benchmark only)"} for row in rows]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="the embedder both systems use")
    arguments.add_argument("--chunks", type=int, help="latency only, over this many synthetic passages with "
                           "projection vectors (as scale.py)")
    arguments.add_argument("--queries", type=int, help="use only the first N queries (default: all; 200 with --chunks)")
    arguments.add_argument("-k", type=int, default=10, help="hits each system returns (default 10)")
    args = arguments.parse_args(argv)
    dataset = load_beir(args.beir, args.split)
    if args.chunks:
        queries = list(dataset.queries.values())[: args.queries or 200]
        rows = compare_at_scale(list(dataset.corpus.values()), queries, args.chunks, k=args.k)
    else:
        rows = compare_with_llamaindex(dataset, embedder=make_embedder(args.embedder), k=args.k,
                                       max_queries=args.queries)
    return emit([{"dataset": args.beir, **row} for row in rows])


if __name__ == "__main__":
    sys.exit(main())
