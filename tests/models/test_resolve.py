"""Where a model's files are found, in order — folder, installed package, cache — and what is refused."""

from __future__ import annotations

import sys

import pytest
from conftest import MODEL_BYTES, TOKENIZER_BYTES

from ragkit import ModelLoadError
from ragkit.models import ModelCard, ModelNotFound, PackageSource, Pooling, card_of, locate, resolve
from ragkit.models.catalog import BGE_SMALL_EN, CATALOG


def place(folder, model=MODEL_BYTES, tokenizer=TOKENIZER_BYTES):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(model)
    (folder / "tokenizer.json").write_bytes(tokenizer)
    return folder


@pytest.fixture
def toy_package(tmp_path, monkeypatch):
    """An installed package ``toy_weights`` that ships the toy model's files."""
    root = tmp_path / "site"
    place(root / "toy_weights" / "weights")
    (root / "toy_weights" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    yield PackageSource("toy_weights", {"model.onnx": "weights/model.onnx", "tokenizer.json": "weights/tokenizer.json"})
    sys.modules.pop("toy_weights", None)


def test_the_search_order_is_folder_then_package_then_cache(toy, toy_package, tmp_path):
    place(toy.cache / "toy")
    assert resolve("toy").origin.startswith("the model cache")  # no package declared yet
    toy.register(packages=(toy_package,))
    found = resolve("toy")
    assert found.origin == "the installed Python package 'toy_weights'"
    assert found.model.read_bytes() == MODEL_BYTES
    place(tmp_path / "toy")  # a folder named like the model, in the working directory, comes first
    assert resolve("toy").origin == f"the folder {tmp_path / 'toy'}"


def test_a_package_that_is_not_installed_is_passed_over(toy):
    toy.register(packages=(PackageSource("no_such_package_here", {"model.onnx": "m", "tokenizer.json": "t"}),))
    place(toy.cache / "toy")
    assert resolve("toy").origin.startswith("the model cache")


def test_offline_with_an_empty_cache_names_every_place_and_how_to_fix_it(toy):
    with pytest.raises(ModelNotFound) as caught:
        resolve("toy")
    message = str(caught.value)
    assert "a folder named 'toy'" in message
    assert f"the model cache {toy.cache / 'toy'}: empty" in message
    assert "downloads: off (RAGKIT_OFFLINE or HF_HUB_OFFLINE is set)" in message
    assert "ragkit models pull toy" in message
    assert toy.card.files[0].sha256 in message  # what to put where, by hand
    assert "/acme/toy/resolve/0123456789abcdef/onnx/model_quantized.onnx" in message
    assert "toy-embeddings-1.0.jar (a zip: take out toy-q.onnx as model.onnx" in message
    assert isinstance(caught.value, ModelLoadError)


def test_a_corrupt_cached_file_is_not_used(toy):
    place(toy.cache / "toy", model=MODEL_BYTES[:-1] + b"!")
    assert locate("toy") is None
    with pytest.raises(ModelNotFound, match="not the pinned"):
        resolve("toy")


def test_a_package_with_other_bytes_than_the_pins_is_refused(toy, toy_package):
    toy.register(packages=(toy_package,))
    weights = resolve("toy").model
    weights.write_bytes(MODEL_BYTES + b"tampered")
    with pytest.raises(ModelLoadError, match=rf"is not the pinned one: .*has {len(MODEL_BYTES) + 8} bytes"):
        resolve("toy")


def test_a_model_folder_needs_a_card_that_says_how_to_run_it(tmp_path):
    folder = place(tmp_path / "mine")
    with pytest.raises(ModelLoadError, match="has no card.json.*\"pooling\": \"cls\""):
        card_of(str(folder))
    (folder / "card.json").write_text('{"name": "mine", "dimension": 16, "max_tokens": 100, "pooling": "max"}')
    with pytest.raises(ModelLoadError, match="not a valid model card"):
        card_of(str(folder))
    ModelCard("mine", 16, 100, Pooling.CLS, query_prefix="q: ").save(folder)
    card = card_of(str(folder))
    assert (card.dimension, card.pooling, card.query_prefix) == (16, Pooling.CLS, "q: ")
    assert resolve(str(folder)).origin == f"the folder {folder}"


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ModelNotFound, match="unknown model 'bge-large'.*bge-small-en-v1.5"):
        card_of("bge-large")


def test_the_named_models_pin_every_file_and_offer_two_downloads():
    for card in CATALOG.values():
        assert {f.name for f in card.files} == {"model.onnx", "tokenizer.json"}
        assert all(len(f.sha256) == 64 and f.size > 0 for f in card.files)
        assert [type(source).__name__ for source in card.downloads] == ["HubSource", "MavenSource"]
    assert BGE_SMALL_EN.pooling is Pooling.CLS and CATALOG["e5-small-v2"].passage_prefix == "passage: "


def test_the_models_command_lists_finds_and_explains(toy, capsys):
    from ragkit.cli import main

    assert main(["models", "list", "--json"]) == 0
    rows = {row["name"]: row for row in map(__import__("json").loads, capsys.readouterr().out.splitlines())}
    assert rows["toy"]["where"] == "not here (ragkit models pull toy)"
    assert rows["bge-small-en-v1.5"]["dimension"] == 384 and rows["bge-small-zh-v1.5"]["languages"] == "zh"
    assert main(["models", "path", "toy"]) == 1
    assert "model 'toy' was not found" in capsys.readouterr().err
    place(toy.cache / "toy")
    assert main(["models", "path", "toy"]) == 0
    assert capsys.readouterr().out.strip() == str(toy.cache / "toy")
    assert main(["models", "pull"]) == 1
    assert "name the models to pull" in capsys.readouterr().err
