"""A process killed at any step of a write leaves a knowledge base that reopens and agrees with itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import write_corpus

from ragkit import KBConfig, KnowledgeBase

HERE = Path(__file__).resolve().parent


def _crash(kb_dir: Path, docs: Path, step: str) -> None:
    run = subprocess.run(
        [sys.executable, str(HERE / "crash_writer.py"), str(kb_dir), str(docs), step],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 3, run.stderr[-2000:]


@pytest.mark.parametrize("step", ["before-upsert", "before-finish"])
def test_interrupted_ingest_is_completed_on_reopen(tmp_path, embedder, step):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(docs / "vacation.md")
    (docs / "vacation.md").write_text("Employees receive 30 days of paid vacation per year from 2027 on.")
    _crash(tmp_path / "kb", docs, step)

    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}
        assert kb.stats()["unfinished_chunks"] == 0
        assert kb.stats()["documents"] == 4
        assert "30 days" in kb.search("paid vacation days", k=1)[0].text
        assert kb.ingest(docs).counts()["unchanged"] == 4  # the interrupted write counts as done


def test_interrupted_delete_is_completed_on_reopen(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(docs)
    _crash(tmp_path / "kb", docs, "before-delete")

    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}
        assert kb.stats()["documents"] == 3
        assert all(Path(hit.source).name != "security.txt" for hit in kb.search("password length", k=4))


def _graph_rows(kb: KnowledgeBase) -> tuple[list, list]:
    from dataclasses import astuple

    return sorted(map(astuple, kb._graph.store.mentions())), sorted(map(astuple, kb._graph.store.relations()))


@pytest.mark.parametrize("step", ["before-upsert", "before-finish", "before-delete"])
def test_an_interrupted_write_leaves_the_graph_a_rebuild_would_make(tmp_path, embedder, step):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(graph="embedded"), embedder=embedder) as kb:
        kb.ingest(docs / "vacation.md" if step != "before-delete" else docs)
    (docs / "vacation.md").write_text("Since 2027, Northwind Traders gives 30 days of paid vacation; Maria Lopez in "
                                      "Lisbon approves them.")
    _crash(tmp_path / "kb", docs, step)

    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        assert kb.stats()["unfinished_chunks"] == 0
        recovered = _graph_rows(kb)
        assert recovered[0], "the graph is empty"
        kb.rebuild_graph()
        assert _graph_rows(kb) == recovered
        # nothing deleted lingers
        assert {m.chunk_id for m in kb._graph.store.mentions()} <= kb._registry.documents.all_chunk_ids()
        if step != "before-delete":
            assert kb.graph.entity("Maria Lopez") is not None
