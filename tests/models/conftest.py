"""A toy model with pinned bytes, registered in the catalogue for a test, and a private model cache."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ragkit.models import CATALOG, ModelCard, ModelFile, Pooling
from ragkit.models.sources import HubSource, MavenSource

MODEL_BYTES = b"not really onnx, but pinned " * 4000  # ~116 kB: a download of several blocks
TOKENIZER_BYTES = b'{"version": "1.0", "toy": true}'


def pin(name: str, data: bytes) -> ModelFile:
    return ModelFile(name, hashlib.sha256(data).hexdigest(), len(data))


def jar_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


JAR = jar_of({"toy-q.onnx": MODEL_BYTES, "toy-q-tokenizer.json": TOKENIZER_BYTES, "META-INF/MANIFEST.MF": b""})
HUB = HubSource("acme/toy", "0123456789abcdef", {"model.onnx": "onnx/model_quantized.onnx",
                                                 "tokenizer.json": "tokenizer.json"})
MAVEN = MavenSource("org.acme", "toy-embeddings", "1.0", hashlib.sha256(JAR).hexdigest(), len(JAR),
                    {"model.onnx": "toy-q.onnx", "tokenizer.json": "toy-q-tokenizer.json"})
HUB_PATHS = {"/acme/toy/resolve/0123456789abcdef/onnx/model_quantized.onnx": MODEL_BYTES,
             "/acme/toy/resolve/0123456789abcdef/tokenizer.json": TOKENIZER_BYTES}
MAVEN_PATH = "/org/acme/toy-embeddings/1.0/toy-embeddings-1.0.jar"


@dataclass
class Toy:
    card: ModelCard
    cache: Path

    def register(self, **changes: object) -> ModelCard:
        self.card = replace(self.card, **changes)  # type: ignore[arg-type]
        CATALOG[self.card.name] = self.card
        return self.card


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Toy:
    """The ``toy`` model (pinned to MODEL_BYTES and TOKENIZER_BYTES, hub then Maven) in the catalogue, an empty model
    cache, and downloads off until a test turns them on."""
    cache = tmp_path / "models"
    monkeypatch.setenv("RAGKIT_MODELS", str(cache))
    monkeypatch.setenv("RAGKIT_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    card = ModelCard(name="toy", dimension=8, max_tokens=30, pooling=Pooling.MEAN,
                     files=(pin("model.onnx", MODEL_BYTES), pin("tokenizer.json", TOKENIZER_BYTES)),
                     downloads=(HUB, MAVEN))
    monkeypatch.setitem(CATALOG, "toy", card)
    return Toy(card, cache)
