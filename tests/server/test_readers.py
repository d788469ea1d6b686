"""Readers never wait for a writer and never see half of a write: readers search and ask in a loop while one writer
ingests, updates and deletes documents. In threads of one process (vectors in qdrant-client's local mode), and in
reader processes against a real Qdrant server when ``$QDRANT_URL`` is set."""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import threading
import time
import traceback
from dataclasses import dataclass, field

import pytest

from ragkit import Document, KnowledgeBase, ServerSettings

pytestmark = pytest.mark.integration

WORDS = ("invoice contract policy server backup laptop travel badge holiday training budget audit payroll "
         "printer network access review deadline vendor meeting").split()
QUESTIONS = ["What does the travel budget policy say?", "Which vendor audit is due?", "payroll deadline",
             "laptop backup", "Who reviews network access?", "training holiday"]


def document(number: int, version: int) -> Document:
    rng = random.Random(number * 7919 + version)
    words = " ".join(rng.choices(WORDS, k=rng.choice((25, 300))))
    return Document(f"doc-{number}", f"Record doc-{number} version {version}. {words}.")


@dataclass
class Tally:
    queries: int = 0
    errors: list[str] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)  # hits whose text is not what the registry holds for the chunk


def read_loop(kb: KnowledgeBase, seconds: float, seed: int) -> Tally:
    """Search and ask until ``seconds`` pass; every hit and citation must be a whole chunk of a whole document."""
    rng, tally = random.Random(seed), Tally()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        question = rng.choice(QUESTIONS)
        try:
            hits = kb.search(question, k=8).hits
            answer = kb.ask(question)
        except Exception:  # noqa: BLE001 - counted: there must be none
            tally.errors.append(traceback.format_exc()[-1500:])
            continue
        tally.queries += 2
        # What the registry shows now: a chunk may have been deleted since, or be being deleted by an update (its
        # offsets then point into the document's new text, which is why searches never show such chunks).
        chunks = kb._registry.documents
        for hit in hits:
            first = hit.start == 0 and not re.match(rf"Record {re.escape(hit.source)} version \d+\.", hit.text)
            stored = chunks.chunks([hit.chunk_id], visible=True).get(hit.chunk_id)
            written = [document(int(hit.source.removeprefix("doc-")), version).text for version in (0, 1)]
            whole = any(text[hit.start : hit.end] == hit.text for text in written)  # a version's own span
            if first or not hit.text or not whole or (stored is not None and stored.chunk.text != hit.text):
                tally.torn.append(f"hit {hit.source} {hit.chunk_id}")
        for citation in answer.citations:
            stored = chunks.chunks([citation.chunk_id], visible=True).get(citation.chunk_id)
            if not citation.quote or (stored is not None and (stored.source != citation.source
                                                              or citation.quote not in stored.chunk.text)):
                tally.torn.append(f"citation {citation.source} {citation.chunk_id}")
    return tally


def write_loop(kb: KnowledgeBase, documents: int, changes: int, batch: int = 50) -> None:
    """Ingest ``documents`` documents in batches, then update and delete ``changes`` of them each."""
    for start in range(0, documents, batch):
        kb.ingest([document(n, 0) for n in range(start, min(start + batch, documents))], batch_size=batch)
    rng = random.Random(1)
    for n in rng.sample(range(documents), changes):
        kb.ingest([document(n, 1)])
    kb.delete_many([f"doc-{n}" for n in rng.sample(range(documents), changes)])


def test_reader_threads_during_writes(servers, embedder):
    with KnowledgeBase.connect(servers.registry, servers.index, name=servers.name, embedder=embedder) as kb:
        kb.ingest([document(n, 0) for n in range(20)])
        writer = threading.Thread(target=write_loop, args=(kb, 300, 40))
        tallies: list[Tally] = []
        readers = [threading.Thread(target=lambda seed=seed: tallies.append(read_loop(kb, 20, seed)))
                   for seed in range(4)]
        writer.start()
        for reader in readers:
            reader.start()
        writer.join(600)
        for reader in readers:
            reader.join(120)
        assert len(tallies) == 4 and all(t.queries > 0 for t in tallies)
        assert [error for t in tallies for error in t.errors] == []
        assert [torn for t in tallies for torn in t.torn] == []
        assert kb.stats()["documents"] == 260 and kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}


def _reader_process(servers: ServerSettings, seconds: float, seed: int, results) -> None:
    with KnowledgeBase.connect(servers.registry, servers.index, name=servers.name) as kb:
        tally = read_loop(kb, seconds, seed)
    results.put((tally.queries, tally.errors[:20], tally.torn[:20], len(tally.errors), len(tally.torn)))


@pytest.mark.qdrant_server
@pytest.mark.slow
def test_reader_processes_during_writes_on_a_qdrant_server(postgres_schema, embedder, capsys):
    url = os.environ.get("QDRANT_URL")
    if not url:
        pytest.skip("set $QDRANT_URL to a Qdrant server to run: reader processes need vectors they can all reach")
    servers = ServerSettings(postgres_schema.url, url, None, postgres_schema.name)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    try:
        with KnowledgeBase.connect(servers.registry, servers.index, name=servers.name, embedder=embedder) as kb:
            kb.ingest([document(n, 0) for n in range(20)])
            readers = [context.Process(target=_reader_process, args=(servers, 90.0, seed, results))
                       for seed in range(4)]
            for reader in readers:
                reader.start()
            started = time.monotonic()
            write_loop(kb, 3000, 300)
            written = time.monotonic() - started
            outcomes = [results.get(timeout=300) for _ in readers]
            for reader in readers:
                reader.join(60)
            assert kb.stats()["documents"] == 2700
            assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}
        queries = sum(outcome[0] for outcome in outcomes)
        with capsys.disabled():
            print(f"\n4 reader processes: {queries} searches and asks in 90 s ({queries / 90:.1f}/s) while one "
                  f"writer wrote 3,000 documents, updated and deleted 300 in {written:.0f} s")
        assert [outcome[1] for outcome in outcomes if outcome[3]] == [] and sum(o[3] for o in outcomes) == 0
        assert [outcome[2] for outcome in outcomes if outcome[4]] == [] and sum(o[4] for o in outcomes) == 0
        assert all(outcome[0] > 0 for outcome in outcomes)
    finally:
        from qdrant_client import QdrantClient

        QdrantClient(url=url).delete_collection(servers.name)
