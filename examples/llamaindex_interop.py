"""LlamaIndex both ways: its readers and documents into ragkit, and ragkit as a retriever inside LlamaIndex.

Run from the repository root:  python examples/llamaindex_interop.py [--kb DIR]

Offline, and without an LLM: LlamaIndex's ``SimpleDirectoryReader`` reads examples/docs, ragkit cleans, chunks,
embeds and indexes what it read (each file one document, its source the reader's ``file_path``); then
``RagkitRetriever`` hands ragkit's hybrid search to LlamaIndex as ``NodeWithScore`` objects, which any LlamaIndex
query engine, postprocessor or agent takes — ``RetrieverQueryEngine.from_args(retriever, llm=...)`` with an LLM.
Needs ``pip install -e '.[llamaindex]'``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llama_index.core import Document as LlamaDocument
from llama_index.core import SimpleDirectoryReader
from llama_index.core.schema import NodeWithScore, QueryBundle
from ragkit.connectors import LlamaIndexConnector

from ragkit import KnowledgeBase
from ragkit.llamaindex import RagkitRetriever

DOCS = Path(__file__).resolve().parent / "docs"

# Documents made in LlamaIndex (by any of its readers, or by hand) go in the same way; without a file_path, url or
# source in their metadata, their source is their LlamaIndex id.
NOTES = [
    LlamaDocument(id_="note-cafeteria", text="The cafeteria on the second floor opens at 7:30 on weekdays and serves "
                  "lunch from 11:30 to 14:00.", metadata={"team": "facilities"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default="llamaindex.kb", help="knowledge-base directory (default: ./llamaindex.kb)")
    args = parser.parse_args()

    with KnowledgeBase.open(args.kb) as kb:
        # LlamaIndex -> ragkit: a reader (its load_data() is called at ingest) and documents built in LlamaIndex.
        reader = SimpleDirectoryReader(str(DOCS), recursive=True, required_exts=[".md", ".txt"])
        report = kb.ingest([LlamaIndexConnector(reader=reader), LlamaIndexConnector(documents=NOTES)])
        print("ingested:", report.counts())
        print(f"knowledge base: {kb.stats()['documents']} documents, {kb.stats()['chunks']} chunks")

        # ragkit -> LlamaIndex: a BaseRetriever; retrieve() takes a string or a QueryBundle.
        retriever = RagkitRetriever(kb, k=3)
        for query in ["hotel reimbursement per night", QueryBundle("when does the cafeteria open")]:
            nodes = retriever.retrieve(query)
            assert all(isinstance(node, NodeWithScore) for node in nodes)
            best = nodes[0]
            source = best.node.metadata["source"].removeprefix(f"{DOCS}/")  # a path under examples/docs, or an id
            text = " ".join(best.node.get_content().split())[:80]
            query_text = query if isinstance(query, str) else query.query_str
            # The score is ragkit's: hybrid search fuses the dense and BM25 rankings (reciprocal rank fusion).
            print(f"{query_text!r} -> {len(nodes)} {type(best).__name__}s; best {source} "
                  f"(score {best.score:.3f}, found by {best.node.metadata['found_by']}): {text}")


if __name__ == "__main__":
    main()
