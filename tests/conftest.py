"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from neo4j_server.server import Neo4jConnection, Neo4jTestServer


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jConnection]:
    """A Neo4j for the whole run: ``$NEO4J_URI`` if set, else an embedded server started here.

    Never skips: if the server cannot be started, the fixture errors with the reason and the Java log.
    """
    uri = os.environ.get("NEO4J_URI")
    if uri:
        user, password = os.environ.get("NEO4J_USER"), os.environ.get("NEO4J_PASSWORD")
        yield Neo4jConnection(uri, (user, password or "") if user else None)
        return

    server = Neo4jTestServer()
    try:
        server.start()
    except Exception as exc:
        raise RuntimeError(
            "Could not start the embedded Neo4j test server (needs Java 17+, and Maven on the first run to "
            f"fetch Neo4j from Maven Central; or set NEO4J_URI to use an existing server): {exc}"
        ) from exc
    try:
        yield Neo4jConnection(server.uri, server.auth)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def embedder():
    """The packaged all-MiniLM-L6-v2, loaded once for the whole run."""
    from ragkit import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture
def counting(embedder):
    """The shared embedder, wrapped to record every text it embeds."""
    from support import CountingEmbedder

    return CountingEmbedder(embedder)


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory):
    """A two-layer BERT with random weights and MiniLM's tokenizer, saved as a sequence classifier: the real
    CrossEncoder / FlagReranker code paths without a hub download."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ragkit.embed import resolve_model_path
    from ragkit.settings import DEFAULT_EMBEDDER

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model_path(DEFAULT_EMBEDDER)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def datasets_dir():
    """The shared benchmark data: ``$RAGKIT_DATASETS``, else ``shared/datasets`` beside the repository, else the
    project machines' ``/work/shared/datasets``."""
    from pathlib import Path

    candidates = [os.environ.get("RAGKIT_DATASETS"), Path(__file__).resolve().parents[2] / "shared" / "datasets",
                  "/work/shared/datasets"]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "scifact_beir").is_dir():
            return Path(candidate)
    raise RuntimeError(f"shared datasets not found (looked in {candidates}); set RAGKIT_DATASETS to the datasets folder")
