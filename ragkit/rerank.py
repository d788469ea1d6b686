"""Rerankers: score (query, passage) pairs jointly and reorder the fused candidates.

One protocol, four kinds, chosen by a spec string:

- ``none`` — keep the fused order;
- ``cross-encoder:<hub id or folder>`` — a sentence-transformers ``CrossEncoder`` (ms-marco-MiniLM, bge-reranker, …);
- ``flag:<hub id or folder>`` — FlagEmbedding's ``FlagReranker`` (bge-reranker family; ``ragkit[flag]``);
- ``nanoranker`` — the small learned reranker that ships inside the ``nanoranker`` package (an MLP over
  Universal Sentence Encoder embeddings and character features; not a cross-encoder), offline.

No pre-trained cross-encoder ships in a PyPI package, so the cross-encoder kinds need weights from the hub or a
local folder; models load on first use.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Protocol, Sequence

import numpy as np

from ragkit.embed import load_flag_model, resolve_model_path
from ragkit.errors import ConfigError, MissingExtraError, ModelLoadError


class Reranker(Protocol):
    """Relevance scores for passages given a query (higher is more relevant), in the passages' order."""

    @property
    def name(self) -> str: ...

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray: ...


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` from a hub id or a local folder."""

    def __init__(self, model: str, *, max_length: int = 512, batch_size: int = 16, device: str = "cpu") -> None:
        self._model_id = model
        self._path = resolve_model_path(model)
        self._max_length = max_length
        self._batch_size = batch_size
        self._device = device

    @property
    def name(self) -> str:
        return f"cross-encoder:{self._model_id}"

    @cached_property
    def _model(self) -> Any:
        from sentence_transformers import CrossEncoder

        try:
            return CrossEncoder(self._path, max_length=self._max_length, device=self._device)
        except Exception as exc:
            raise ModelLoadError(f"could not load cross-encoder '{self._model_id}': {exc}") from exc

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        scores = self._model.predict([(query, p) for p in passages], batch_size=self._batch_size,
                                     show_progress_bar=False)
        return np.asarray(scores, dtype=np.float32).reshape(len(passages), -1)[:, -1]


class FlagRerankerAdapter:
    """FlagEmbedding's ``FlagReranker`` (bge-reranker-base/large/v2-m3, or a local folder)."""

    def __init__(self, model: str, *, max_length: int = 512, batch_size: int = 16) -> None:
        self._model_id = model
        self._path = resolve_model_path(model)
        self._max_length = max_length
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        return f"flag:{self._model_id}"

    @cached_property
    def _model(self) -> Any:
        return load_flag_model("FlagReranker", self._path, self._model_id, "The FlagEmbedding reranker")

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        scores = self._model.compute_score([[query, p] for p in passages], batch_size=self._batch_size,
                                           max_length=self._max_length)
        return np.atleast_1d(np.asarray(scores, dtype=np.float32))


class NanoRanker:
    """The learned reranker shipped in ``nanoranker`` (ONNX; loads both of its models on first use)."""

    name = "nanoranker"

    @cached_property
    def _module(self) -> Any:
        try:
            import nanoranker
        except ImportError as exc:
            raise MissingExtraError("nanoranker", "rerank", "The nanoranker reranker") from exc
        return nanoranker

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        module = self._module
        query_vector = module.embed(query)
        features = np.stack([np.concatenate([query_vector, module.embed(p)]) for p in passages]).astype(np.float32)
        # The package's rank() sorts and drops positions; its model call keeps them.
        return module.reranker_model.run(["output"], {"input": features})[0].reshape(-1)


def make_reranker(spec: str | Reranker | None) -> Reranker | None:
    """A reranker from a spec string (see the module docstring), an instance, or None/"none" for no reranking."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "none"):
        return None
    if not isinstance(spec, str):
        return spec
    kind, _, model = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "nanoranker":
        return NanoRanker()
    if kind in ("cross-encoder", "flag") and model.strip():
        return CrossEncoderReranker(model.strip()) if kind == "cross-encoder" else FlagRerankerAdapter(model.strip())
    raise ConfigError(
        f"unknown reranker {spec!r}; use 'none', 'nanoranker', 'cross-encoder:<model>' or 'flag:<model>' "
        "(a hub id such as cross-encoder/ms-marco-MiniLM-L-6-v2 or BAAI/bge-reranker-base, or a local folder)"
    )
