"""Passages per second and agreement of embedders on real text of several lengths.

    python benchmarks/embedders.py --beir "$RAGKIT_DATASETS/scifact_beir" --json

Passages are cut from a BEIR corpus to about 60, 150 and 250 tokens (MiniLM word pieces); every embedder embeds the
same passages in one run, and its vectors are compared with the first embedder's (mean cosine).
"""

from __future__ import annotations

import sys
import time
from typing import Sequence

import numpy as np
from _common import emit, parser

from ragkit import Document, Embedder
from ragkit.embed import make_embedder
from ragkit.eval.beir import load_beir


def passages_of_length(documents: Sequence[Document], token_spans, tokens: int, count: int) -> list[str]:
    """Up to ``count`` passages of about ``tokens`` tokens each, cut at word boundaries from the documents."""
    passages = []
    for document in documents:
        spans = token_spans(document.text)
        if len(spans) >= tokens:
            passages.append(document.text[: spans[tokens - 1][1]])
        if len(passages) == count:
            break
    return passages


def compare_embedders(embedders: Sequence[Embedder], documents: Sequence[Document], *,
                      lengths: Sequence[int] = (60, 150, 250), count: int = 128, repeats: int = 2) -> list[dict]:
    token_spans = embedders[0].token_spans
    rows = []
    for length in lengths:
        passages = passages_of_length(documents, token_spans, length, count)
        reference = None
        for embedder in embedders:
            embedder.embed_documents(passages[:4])  # load and warm up outside the timing
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                vectors = embedder.embed_documents(passages)
                best = min(best, time.perf_counter() - started)
            if reference is None:
                reference = vectors
            rows.append({
                "embedder": embedder.name,
                "tokens": length,
                "passages": len(passages),
                "passages_per_s": round(len(passages) / best, 1),
                "mean_cosine_to_first": round(float(np.mean(np.sum(vectors * reference, axis=1))), 4),
            })
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--embedders", default="sentence-transformers/all-MiniLM-L6-v2,"
                           "onnx-int8:sentence-transformers/all-MiniLM-L6-v2", help="comma-separated names")
    arguments.add_argument("--count", type=int, default=128, help="passages per length")
    args = arguments.parse_args(argv)
    embedders = [make_embedder(name.strip()) for name in args.embedders.split(",")]
    documents = list(load_beir(args.beir, args.split).corpus.values())
    return emit(compare_embedders(embedders, documents, count=args.count))


if __name__ == "__main__":
    sys.exit(main())
