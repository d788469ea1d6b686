"""``KnowledgeBase.connect``: a knowledge base whose registry, settings, BM25 statistics and calibrator live in
PostgreSQL, written by one process at a time, read by any number."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support import TOPICS

from ragkit import Document, KBConfig, KnowledgeBase
from ragkit.answer import Calibrator
from ragkit.cli import main
from ragkit.errors import ConfigError, IncompatibleKnowledgeBase, KnowledgeBaseLocked
from ragkit.registry.postgres import PostgresDatabase

pytestmark = pytest.mark.integration

DOCUMENTS = [Document(name, text) for name, text in TOPICS.items()]


def _connect(servers, embedder, **options) -> KnowledgeBase:
    return KnowledgeBase.connect(servers.registry, servers.index, name=servers.name, embedder=embedder, **options)


def test_a_knowledge_base_on_servers_keeps_everything_in_the_registry(servers, embedder, tmp_path):
    with _connect(servers, embedder) as kb:
        assert kb.path is None and servers.name in kb.where
        assert kb.ingest(DOCUMENTS).counts()["added"] == 4
        assert kb.search("hotel costs per night", k=1)[0].source == "expenses.md"
        assert kb.ask("How long do I have to acknowledge a page?").status == "answered"
    # Nothing but the vectors' folder was written locally: settings live in the registry.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["vectors"]
    database = PostgresDatabase(servers.registry, servers.name)
    try:
        stored = json.loads(database.get_meta("settings"))
        assert stored["embedder"] == embedder.name and stored["index"]["collection"] == servers.name
        assert database.execute("SELECT chunks FROM corpus_totals").fetchone()[0] == 4  # BM25 statistics
    finally:
        database.close()
    with _connect(servers, embedder) as kb:  # another connection sees the same knowledge base
        assert kb.stats()["documents"] == 4 and kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}
        assert kb.ingest(DOCUMENTS).counts()["unchanged"] == 4


def test_settings_are_checked_against_the_stored_ones(servers, embedder):
    _connect(servers, embedder, config=KBConfig(chunking={"size": 120})).close()
    with pytest.raises(IncompatibleKnowledgeBase, match="chunking.size"):
        _connect(servers, embedder, config=KBConfig(chunking={"size": 200}))
    with _connect(servers, embedder) as kb:  # no config: the stored one
        assert kb.config.chunking.size == 120
    with pytest.raises(ConfigError, match="embedded entity graph lives in a folder"):
        _connect(servers, embedder, config=KBConfig(chunking={"size": 120}, graph="embedded"))
    # A deployment's graph URL (say $RAGKIT_GRAPH) does not give a knowledge base made without a graph one.
    with KnowledgeBase.connect(servers.registry, servers.index, "bolt://127.0.0.1:9", name=servers.name,
                               embedder=embedder) as kb:
        assert kb.config.graph.kind.value == "none"


def test_the_calibrator_is_stored_in_the_registry(servers, embedder):
    own = Calibrator.default(embedder.name)
    own = dataclasses.replace(own, threshold=0.42, fitted_on="a test")
    with _connect(servers, embedder) as kb:
        assert kb.calibrator.threshold != 0.42
        assert "meta calibrator" in kb.save_calibrator(own)
        assert kb.calibrator == own
    with _connect(servers, embedder) as kb:
        assert kb.calibrator == own


class _Held:
    """A source whose loading waits until the test lets it go: a write in progress, for as long as needed."""

    def __init__(self, source: str, text: str) -> None:
        self.source, self._text = source, text
        self.loading, self.release = threading.Event(), threading.Event()

    def fingerprint(self) -> str:
        return self._text

    def load(self) -> Document:
        self.loading.set()
        assert self.release.wait(60)
        return Document(self.source, self._text)


def test_one_writer_at_a_time_and_readers_never_wait(servers, embedder, tmp_path):
    other = servers.__class__(servers.registry, str(tmp_path / "other-vectors"), None, servers.name)
    with _connect(servers, embedder) as writer:
        writer.ingest(DOCUMENTS)
        held = _Held("held.txt", "A document that is being written while another writer tries its luck.")
        ingest = threading.Thread(target=writer.ingest, args=([held],))
        ingest.start()
        try:
            assert held.loading.wait(30)
            with _connect(other, embedder, lock_timeout=0.5) as second:
                with pytest.raises(KnowledgeBaseLocked, match=rf"written by ragkit .*:{os.getpid()}.*waited 0.5 s"):
                    second.ingest([Document("late.txt", "Too late.")])
                assert writer.search("paid vacation", k=1)[0].source == "vacation.md"  # reads go on
                assert second.stats()["documents"] == 4  # the write in progress is not visible
        finally:
            held.release.set()
            ingest.join(60)
        assert writer.stats()["documents"] == 5


def test_a_crashed_writer_loses_its_lock_with_its_connection(servers):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from ragkit.registry.postgres import PostgresDatabase\n"
         "lock = PostgresDatabase(sys.argv[1], sys.argv[2]).writer_lock(0)\n"
         "lock.acquire(); print('held', flush=True); time.sleep(300)", servers.registry, servers.name],
        stdout=subprocess.PIPE, text=True)
    database = PostgresDatabase(servers.registry, servers.name)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = database.writer_lock(0.3)
        with pytest.raises(KnowledgeBaseLocked, match=rf"ragkit .*:{holder.pid}"):
            lock.acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        database.writer_lock(10).acquire()  # the server released it when the connection went
    finally:
        holder.kill()
        holder.stdout.close()
        database.close()


def test_the_command_line_takes_the_same_urls(servers, tmp_path, capsys, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TOPICS.items():
        (docs / name).write_text(text)
    where = ["--registry", servers.registry, "--index", servers.index, "--name", servers.name]

    def run(*argv: str) -> dict:
        code = main([*argv, *where, "--json", "-q"])
        out = capsys.readouterr().out
        assert code == 0, out
        return json.loads(out)

    assert run("ingest", str(docs))["counts"]["added"] == 4
    assert Path(run("search", "hotel costs per night", "-k", "1")["hits"][0]["source"]).name == "expenses.md"
    assert run("stats", "--check") | {"missing_from_index": 0, "unknown_in_index": 0} == run("stats", "--check")
    settings = tmp_path / "servers.toml"
    settings.write_text(f'registry = "{servers.registry}"\nindex = "{servers.index}"\nname = "{servers.name}"\n')
    monkeypatch.setenv("RAGKIT_SETTINGS", str(settings))
    code = main(["stats", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["documents"] == 4
    assert main(["stats", "--kb", str(tmp_path / "kb"), "--registry", servers.registry, "--json"]) != 0
    assert "not both" in capsys.readouterr().out


@pytest.mark.parametrize("home", ["folder", "servers"])
def test_a_search_during_a_write_shows_no_chunk_whose_write_is_not_done(home, servers, embedder, tmp_path):
    """Paused in step 2 of an update — the new chunks already in the vector index, the old ones marked for deletion —
    a search shows neither: a chunk is visible once its three steps are done."""
    kb = (KnowledgeBase.open(tmp_path / "kb", embedder=embedder) if home == "folder"
          else _connect(servers, embedder))
    with kb:
        kb.ingest([*DOCUMENTS, Document("menu.txt", "The canteen serves lentil soup on Mondays.")])
        upserted, release = threading.Event(), threading.Event()
        index, upsert = kb._index, kb._index.upsert

        def paused_upsert(points):
            upsert(points)
            upserted.set()
            assert release.wait(60)

        index.upsert = paused_upsert
        update = threading.Thread(target=kb.ingest, args=(
            [Document("menu.txt", "The canteen serves pumpkin risotto on Fridays.")],))
        update.start()
        try:
            assert upserted.wait(60)
            for query in ("pumpkin risotto on Fridays", "lentil soup on Mondays"):
                assert "menu.txt" not in {hit.source for hit in kb.search(query, k=5)}, query
            answer = kb.ask("What does the canteen serve on Fridays?")
            assert all(citation.source != "menu.txt" for citation in answer.citations)
        finally:
            release.set()
            update.join(60)
            index.upsert = upsert
        assert kb.search("pumpkin risotto on Fridays", k=1)[0].source == "menu.txt"
