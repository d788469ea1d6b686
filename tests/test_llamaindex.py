"""ragkit as a LlamaIndex retriever inside a LlamaIndex query engine."""

from __future__ import annotations

from pathlib import Path

from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from support import write_corpus

from ragkit import KnowledgeBase
from ragkit.llamaindex import RagkitRetriever


def test_ragkit_retriever_in_a_llamaindex_query_engine(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(docs)
        retriever = RagkitRetriever(kb, k=2)
        nodes = retriever.retrieve("hotel reimbursement per night")
        assert Path(nodes[0].node.metadata["source"]).name == "expenses.md"
        assert nodes[0].node.text == kb.search("hotel reimbursement per night", k=2)[0].text
        assert "dense#" in nodes[0].node.metadata["found_by"]
        # MockLLM stands in for the paid LLM endpoint; the retrieval path is real.
        engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM(max_tokens=8))
        response = engine.query("How much is reimbursed for hotels?")
        assert [Path(n.node.metadata["source"]).name for n in response.source_nodes][0] == "expenses.md"
