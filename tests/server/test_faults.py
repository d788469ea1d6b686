"""Faults in server mode, on a real PostgreSQL: a writer SIGKILLed at random points, and the registry's server
stopped in the middle of a write. Afterwards the registry and the vectors agree, and no acknowledged write is lost."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from postgres_server import PostgresTestServer
from support import TOPICS

from ragkit import Document, KnowledgeBase, ServerSettings
from ragkit.cli import main
from ragkit.errors import RegistryUnavailable

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
DELETED = None


class _Lines:
    """A child's standard output, read line by line as it comes."""

    def __init__(self, child: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(child,), daemon=True)
        self._thread.start()

    def _read(self, child: subprocess.Popen) -> None:
        for line in child.stdout:
            self.lines.append(line.strip())

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.lines):
                return True
            time.sleep(0.005)
        return False

    def finish(self) -> list[str]:
        self._thread.join(10)
        return self.lines


def _versions(kb: KnowledgeBase, sources) -> dict[str, int | None]:
    """Each source's stored version (from its text), or None where it is not stored."""
    found = {}
    for source in sources:
        document = kb.document(source)
        found[source] = int(re.match(r"Record \S+ version (\d+)\.", document.text)[1]) if document else DELETED
    return found


@pytest.mark.slow
def test_a_writer_killed_at_random_points_loses_no_acknowledged_write(servers, embedder, capsys):
    rng = random.Random(25)
    state: dict[str, int | None] = {}  # each source's version after the last recovery (None: deleted)
    in_flight_kills = 0
    for run in range(20):
        child = subprocess.Popen([sys.executable, str(HERE / "server_writer.py"), servers.registry, servers.index,
                                  servers.name, str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = _Lines(child)
        try:
            assert lines.wait_for(lambda got: "ready" in got, 120), child.stderr.read() if child.poll() else "slow"
            if run % 2:  # just after a write started: inside its three steps
                tries = rng.randint(1, 8)
                lines.wait_for(lambda got: sum(line.startswith("try") for line in got) >= tries, 60)
                time.sleep(rng.uniform(0, 0.05))
            else:
                time.sleep(rng.uniform(0.1, 1.5))
            assert child.poll() is None, child.stderr.read()
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(30)
            child.stderr.close()
        said = [line.split() for line in lines.finish() if line.startswith(("try", "ack"))]
        acked = {(op, source, version) for kind, op, source, version in said if kind == "ack"}
        allowed: dict[str, set] = {source: {version} for source, version in state.items()}
        for kind, op, source, version in said:
            if kind == "ack":
                allowed[source] = {DELETED if op == "delete" else int(version)}
            elif (op, source, version) not in acked:  # the write in flight: either outcome is fine
                in_flight_kills += 1
                before = allowed.get(source, {DELETED})
                allowed[source] = before | {DELETED if op == "delete" else int(version)}
        with KnowledgeBase.connect(servers.registry, servers.index, name=servers.name, embedder=embedder) as kb:
            assert kb.stats()["unfinished_chunks"] == 0  # connecting finished the interrupted write
            assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}, run
            found = _versions(kb, allowed)
            wrong = {source: (found[source], versions) for source, versions in allowed.items()
                     if found[source] not in versions}
            assert not wrong, (run, wrong)
            assert kb.stats()["documents"] == sum(version is not DELETED for version in found.values())
            present = sorted(source for source, version in found.items() if version is not DELETED)
            probe = rng.choice(present)
            hits = kb.search(f"Record {probe} version {found[probe]}", k=3, filter={"source": probe})
            assert hits and {hit.source for hit in hits} == {probe} and f"version {found[probe]}." in hits[0].text
        state = found
    code = main(["stats", "--check", "--registry", servers.registry, "--index", servers.index, "--name",
                 servers.name, "--json", "-q"])
    checked = json.loads(capsys.readouterr().out)
    assert code == 0 and checked["missing_from_index"] == checked["unknown_in_index"] == 0
    assert in_flight_kills >= 5  # several kills landed inside a write, not only between two


def test_a_registry_restart_during_a_write_fails_it_clearly_and_the_next_write_recovers(tmp_path, embedder):
    bulk = [Document(f"bulk-{i}.txt", f"Bulk record {i} about invoices, audits and travel budgets.")
            for i in range(400)]
    with PostgresTestServer() as server:
        servers = ServerSettings(server.url, str(tmp_path / "vectors"), None, "restarted")
        with KnowledgeBase.connect(servers.registry, servers.index, name=servers.name, embedder=embedder) as kb:
            kb.ingest([Document(name, text) for name, text in TOPICS.items()])
            failures: list[Exception] = []

            def write() -> None:
                try:
                    kb.ingest(bulk, batch_size=4)
                except Exception as exc:  # noqa: BLE001 - what the writer sees is the point
                    failures.append(exc)

            writer = threading.Thread(target=write)
            writer.start()
            deadline = time.monotonic() + 60
            while kb.stats()["documents"] < 30 and time.monotonic() < deadline:  # reads go on during the write
                time.sleep(0.02)
            server.stop("immediate")  # a crash of the database server, mid-write
            writer.join(120)
            assert len(failures) == 1 and isinstance(failures[0], RegistryUnavailable), failures
            assert re.search(r"cannot be reached|writer lock .* was lost", str(failures[0]))
            assert "retry" in str(failures[0])
            with pytest.raises(RegistryUnavailable, match="cannot be reached"):
                kb.search("travel budgets")
            server.start()
            report = kb.ingest(bulk, batch_size=32)  # the next write finishes the interrupted one first
            assert report.counts()["added"] + report.counts()["unchanged"] == 400
            assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}
            assert kb.stats()["documents"] == 404 and kb.stats()["unfinished_chunks"] == 0
        with KnowledgeBase.connect(servers.registry, servers.index, name=servers.name, embedder=embedder) as kb:
            assert kb.stats()["documents"] == 404
            assert kb.search("Bulk record 399", k=1, mode="sparse")[0].source == "bulk-399.txt"
