"""The ONNX embedder runtime on real weights: bge-small-en-v1.5 from the model cache, and the same files as a model
folder with a card of its own (prefixes, mean pooling, a shorter limit)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ragkit import ConfigError
from ragkit.embed import OnnxEmbedder, make_embedder
from ragkit.models import ModelCard, Pooling

pytestmark = pytest.mark.integration

TEXTS = ["The cat sat on the mat.", "A cat was sitting on a mat.", "Quarterly tax filing", "word " * 700]


@pytest.fixture(scope="module")
def bge(bge_files):
    return OnnxEmbedder(bge_files)


def folder_model(bge_files, tmp_path, **card):
    folder = tmp_path / "prefixed"
    folder.mkdir()
    for path in bge_files.paths.values():
        shutil.copy(path, folder / path.name)
    ModelCard(**{"name": "prefixed", "dimension": 384, "max_tokens": 510, "pooling": Pooling.MEAN, **card}).save(folder)
    return str(folder)


def test_named_models_and_model_folders_run_on_onnx(bge_files, tmp_path):
    assert isinstance(make_embedder("bge-small-en-v1.5"), OnnxEmbedder)
    folder = folder_model(bge_files, tmp_path)
    embedder = make_embedder(folder)
    assert isinstance(embedder, OnnxEmbedder) and embedder.name == folder and embedder.dimension == 384


def test_vectors_and_token_vectors_come_from_one_pass(bge):
    vectors, tokens = bge.embed_with_tokens(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors, bge.embed_documents(TEXTS), atol=1e-6)
    assert [len(t) for t in tokens[:3]] == [len(bge.token_spans(t)) for t in TEXTS[:3]]
    assert len(tokens[3]) == bge.max_tokens == 510  # a long text: as far as the model reads
    assert all(np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-3) for t in tokens)
    cat = tokens[0][[start for start, _ in bge.token_spans(TEXTS[0])].index(4)]  # "cat", in its context
    assert (tokens[1] @ cat).max() > 0.8 > (tokens[2] @ cat).max()
    assert vectors[0] @ vectors[1] > 0.8 > vectors[0] @ vectors[2]


def test_a_query_is_embedded_once_and_its_vector_is_kept_read_only(bge_files, monkeypatch):
    model = OnnxEmbedder(bge_files)
    passes = []
    real = model._run
    monkeypatch.setattr(model, "_run", lambda texts, prefix, tokens: passes.append(list(texts)) or real(
        texts, prefix, tokens=tokens))
    vector = model.embed_query("Who reimburses hotel costs?")
    again, tokens = model.query_with_tokens("Who reimburses hotel costs?")
    assert passes == [["Who reimburses hotel costs?"]] and np.allclose(vector, again)
    assert len(tokens) == len(model.token_spans("Who reimburses hotel costs?"))
    with pytest.raises(ValueError):
        again[0] = 1.0


def test_prefixes_are_read_but_are_not_tokens_of_the_text(bge_files, tmp_path):
    plain = OnnxEmbedder(bge_files)
    prefixed = OnnxEmbedder(folder_model(bge_files, tmp_path, query_prefix="query: ", passage_prefix="passage: ",
                                         pooling=Pooling.CLS))
    text = "Hotel costs are reimbursed up to 180 euros per night."
    assert prefixed.max_tokens == 510 - 2  # "passage", ":" take room from the text
    [passage_vector], [passage_tokens] = prefixed.embed_with_tokens([text])
    query_vector, query_tokens = prefixed.query_with_tokens(text)
    assert len(passage_tokens) == len(query_tokens) == len(prefixed.token_spans(text))
    assert not np.allclose(passage_vector, query_vector, atol=1e-3)  # different prefixes, different vectors
    # the prefix is read before the text, as if it were part of it
    assert np.allclose(passage_vector, plain.embed_documents(["passage: " + text])[0], atol=1e-5)
    assert np.allclose(query_vector, plain.embed_documents(["query: " + text])[0], atol=1e-5)


def test_mean_pooling_differs_from_cls_on_the_same_weights(bge_files, tmp_path):
    cls, mean = OnnxEmbedder(bge_files), OnnxEmbedder(folder_model(bge_files, tmp_path))
    a, b = cls.embed_documents(TEXTS[:1])[0], mean.embed_documents(TEXTS[:1])[0]
    assert 0.3 < float(a @ b) < 0.99


def test_batches_hold_similar_lengths_and_every_text_keeps_its_row(bge):
    texts = [("word " * n).strip() for n in (300, 3, 120, 3, 40, 300)]
    together = bge.embed_documents(texts)
    alone = np.stack([bge.embed_documents([t])[0] for t in texts])
    # int8 activations are quantized per batch, so a vector moves a little with its neighbours — never to another row
    cosines = together @ alone.T
    assert (cosines.diagonal() > 0.99).all()
    assert np.allclose(together[1], together[3], atol=1e-6)  # equal texts in one batch: equal vectors


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        OnnxEmbedder("bge-small-en-v1.5", batch_size=0)
    with pytest.raises(ConfigError, match="threads must be at least 1"):
        OnnxEmbedder("bge-small-en-v1.5", threads=0)
    with pytest.raises(ConfigError, match="model name is empty"):
        OnnxEmbedder(" ")
