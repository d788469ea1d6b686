"""Moving an embedded knowledge base to servers (``ragkit migrate``): the same documents, chunks, vectors and
answers, nothing parsed or embedded again, and the files it came from still count as unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest
from support import CountingEmbedder, write_corpus

from ragkit import Document, KBConfig, KnowledgeBase
from ragkit.answer import Calibrator
from ragkit.cli import main
from ragkit.errors import ConfigError
from ragkit.migrate import copy_knowledge_base, server_config

pytestmark = pytest.mark.integration

QUERIES = ["paid vacation days", "hotel costs per night", "page escalation to the team lead", "password rules"]


def test_a_copy_on_servers_answers_as_the_folder_did(servers, embedder, tmp_path):
    docs = write_corpus(tmp_path / "docs")
    own = dataclasses.replace(Calibrator.default(embedder.name), threshold=0.37, fitted_on="handbook questions")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as folder:
        folder.ingest(docs)
        folder.save_calibrator(own)
        counting = CountingEmbedder(embedder)
        with KnowledgeBase.connect(servers.registry, servers.index, name=servers.name, embedder=counting,
                                   config=server_config(folder.config, None)) as served:
            report = copy_knowledge_base(folder, served)
            assert report.counts()["added"] == 4 and counting.embedded == []  # every vector came from the folder
            assert served.stats()["chunks"] == folder.stats()["chunks"]
            assert served.check() == {"missing_from_index": 0, "unknown_in_index": 0}
            assert served.calibrator == own
            for query in QUERIES:
                here, there = folder.search(query, k=4), served.search(query, k=4)
                assert [h.chunk_id for h in there] == [h.chunk_id for h in here], query
                assert [h.text for h in there] == [h.text for h in here]
            assert served.ingest(docs).counts()["unchanged"] == 4  # the files' fingerprints came along
            assert copy_knowledge_base(folder, served).counts()["unchanged"] == 4  # a second run copies nothing
            assert counting.embedded == []


def test_the_command_copies_a_folder_and_keeps_a_graph_only_with_a_server(servers, tmp_path, capsys):
    docs = write_corpus(tmp_path / "docs")
    assert main(["ingest", str(docs), "--kb", str(tmp_path / "kb"), "--json", "-q"]) == 0
    capsys.readouterr()
    code = main(["migrate", str(tmp_path / "kb"), "--registry", servers.registry, "--index", servers.index,
                 "--name", servers.name, "--json", "-q"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert json.loads(out)["counts"]["added"] == 4
    with KnowledgeBase.connect(servers.registry, servers.index, name=servers.name) as served:
        assert served.search("hotel costs per night", k=1)[0].source.endswith("expenses.md")
    with pytest.raises(ConfigError, match="--graph-url"):
        server_config(KBConfig(graph="embedded"), None)


def test_an_entity_graph_moves_to_neo4j(servers, embedder, tmp_path, neo4j_server, monkeypatch):
    if neo4j_server.auth:
        monkeypatch.setenv("NEO4J_USER", neo4j_server.auth[0])
        monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.auth[1])
    films = [Document("film.txt", "Moonfall Harbor is a 1998 Norwegian drama film directed by Arvid Kesselring."),
             Document("director.txt", "Arvid Kesselring was born in Bergen and studied film in Oslo."),
             Document("city.txt", "Bergen is a city on the west coast of Norway, known for its harbour.")]
    question = "Where was the director of Moonfall Harbor born?"
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(graph="embedded"), embedder=embedder) as folder:
        folder.ingest(films)
        config = server_config(folder.config, neo4j_server.uri)
        with KnowledgeBase.connect(servers.registry, servers.index, neo4j_server.uri, name=servers.name,
                                   embedder=embedder, config=config) as served:
            copy_knowledge_base(folder, served)
            assert served.config.graph.kind.value == "neo4j" and served.config.graph.namespace == servers.name
            assert served.graph.stats() == folder.graph.stats()
            assert served.graph.paths("Moonfall Harbor", "Bergen") == folder.graph.paths("Moonfall Harbor", "Bergen")
            assert [h.source for h in served.search(question, k=3, mode="graph")] == \
                [h.source for h in folder.search(question, k=3, mode="graph")]
