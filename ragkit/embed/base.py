"""The embedder protocols and what their implementations share: remembering recent queries, tokens in windows."""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; queries and passages may be encoded differently.

    Chunkers count in the embedder's own tokens (``token_spans``) and never make a chunk longer than it reads
    (``max_tokens``, special tokens not counted), so no chunk is silently cut off.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (no special tokens, no truncation)."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


@runtime_checkable
class TokenEmbedder(Embedder, Protocol):
    """An embedder that also gives each text's contextual token vectors, from the same forward pass; one that encodes
    queries and passages alike (``ask`` takes the question's vector from this pass too)."""

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The texts' vectors (as ``embed_documents``) and, per text, its token vectors: L2-normalised, special
        tokens left out, row i for the i-th span of ``token_spans(text)`` as far as the model reads."""
        ...

    def query_with_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One query's vector and token vectors (read-only), as ``embed_with_tokens`` gives them."""
        ...


class RemembersQueries:
    """The last few queries' vectors, remembered (read-only): ``ask`` embeds its question for retrieval and again for
    the answer's signals, and a follow-up's query with the conversation once more to pick sentences — one forward
    pass per distinct text serves them all."""

    _REMEMBERED = 32

    def _query_pass(self, text: str) -> tuple[np.ndarray, ...]:
        """One query's forward pass: its vector first."""
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        return self._recent_queries(text)[0].copy()

    @cached_property
    def _recent_queries(self) -> Any:
        @lru_cache(maxsize=self._REMEMBERED)
        def embed(text: str) -> tuple[np.ndarray, ...]:
            arrays = self._query_pass(text)
            for array in arrays:
                array.setflags(write=False)
            return arrays

        return embed


class QueriesThroughTokens(RemembersQueries):
    """``embed_query`` through the token pass, so the question's token vectors (for the answer's signals) come from
    the retriever's pass."""

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        raise NotImplementedError

    def query_with_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return self._recent_queries(text)

    def _query_pass(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        vectors, tokens = self.embed_with_tokens([text])
        return vectors[0], tokens[0]


def normalised(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


class TokenSpans(Protocol):
    """Character spans of a model's tokens in ``text`` — how chunkers count in the embedder's own tokens."""

    def __call__(self, text: str) -> list[tuple[int, int]]: ...


# Characters per tokenizer call in ``token_spans``: one call over a whole book held about 650 bytes per token.
_SPAN_WINDOW = 100_000
_UP_TO_LAST_SPACE = re.compile(r"[\s\S]*\s")  # greedy: matches through the last whitespace of a range


def windowed_spans(tokenizer: Any, text: str, window: int = _SPAN_WINDOW) -> list[tuple[int, int]]:
    """The character spans of a Hugging Face tokenizer's tokens in ``text`` (no special tokens), tokenized in windows
    cut at whitespace — where the tokenizer splits words anyway, so the spans are the same as in one call — which
    keeps the tokenizer's memory to one window's worth."""
    spans: list[tuple[int, int]] = []
    begin = 0
    while begin < len(text):
        end = min(len(text), begin + window)
        if end < len(text):  # the last whitespace in the window's second half, else a cut inside a very long word
            last = _UP_TO_LAST_SPACE.match(text, begin + window // 2, end)
            end = last.end() - 1 if last else end
        offsets = tokenizer.encode(text[begin:end], add_special_tokens=False).offsets
        spans.extend((start + begin, stop + begin) for start, stop in offsets)
        begin = end
    return spans


def untruncated_copy(tokenizer: Any) -> Any:
    """A copy of a Hugging Face fast tokenizer's backend without truncation or padding, for exact token offsets."""
    backend = tokenizer.backend_tokenizer
    copy = type(backend).from_str(backend.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


