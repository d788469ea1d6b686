"""The embedded knowledge base end to end: real MiniLM weights, the real Qdrant edge engine, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import TOPICS, write_corpus

from ragkit import (
    AnswerStatus,
    ChunkingConfig,
    ConfigError,
    Document,
    IncompatibleKnowledgeBase,
    KBConfig,
    KnowledgeBase,
    KnowledgeBaseLocked,
    Outcome,
    SearchMode,
)


def test_ingest_folder_then_search_finds_each_topic(tmp_path, counting):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=counting) as kb:
        report = kb.ingest(docs)
        assert report.counts()["added"] == 4
        assert {Path(item.source).name for item in report.items} == set(TOPICS)
        for query, expected in [
            ("how many paid vacation days", "vacation.md"),
            ("hotel reimbursement per night", "expenses.md"),
            ("who gets the alert when a page is not acknowledged", "oncall.txt"),
            ("minimum password length", "security.txt"),
        ]:
            for mode in (SearchMode.DENSE, SearchMode.SPARSE, SearchMode.HYBRID):  # graph: test_graph.py
                top = kb.search(query, k=1, mode=mode)[0]
                assert Path(top.source).name == expected, (query, mode)
        hit = kb.search("hotel reimbursement per night", k=4)[0]
        assert set(hit.found_by) == {"dense", "sparse"}
        assert kb.document(hit.source).text[hit.start : hit.end] == hit.text


def test_reingesting_unchanged_files_does_no_work(tmp_path, counting):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=counting) as kb:
        kb.ingest(docs)
        embedded_before = len(counting.embedded)
        report = kb.ingest(docs)
    assert report.counts()["unchanged"] == 4 and report.chunks_embedded == 0
    assert len(counting.embedded) == embedded_before


def test_changed_file_is_updated_and_only_new_text_is_embedded(tmp_path, counting):
    docs = write_corpus(tmp_path / "docs")
    long_text = " ".join(f"Paragraph {i} explains rule number {i} of the archive policy in detail." for i in range(80))
    (docs / "archive.txt").write_text(long_text)
    config = KBConfig(chunking=ChunkingConfig(size=64, overlap=0))
    with KnowledgeBase.open(tmp_path / "kb", embedder=counting, config=config) as kb:
        first = kb.ingest(docs).by_source()[str(docs / "archive.txt")]
        assert first.chunks > 5
        (docs / "archive.txt").write_text(long_text + " A final sentence about quarterly retention reviews.")
        counting.embedded.clear()
        report = kb.ingest(docs)
        assert report.by_source()[str(docs / "archive.txt")].outcome is Outcome.UPDATED
        assert report.counts()["unchanged"] == 4
        assert 1 <= report.chunks_embedded < first.chunks  # unchanged leading chunks keep their vectors
        assert len(counting.embedded) == report.chunks_embedded
        assert "quarterly retention" in kb.search("quarterly retention reviews", k=1)[0].text
        assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}


def test_deleting_a_source_removes_it_from_search(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(docs)
        target = str(docs / "security.txt")
        assert any(hit.source == target for hit in kb.search("password length", k=4))
        assert kb.delete(target) is True
        assert kb.delete(target) is False
        assert all(hit.source != target for hit in kb.search("password length", k=4, mode="sparse"))
        assert all(hit.source != target for hit in kb.search("password length", k=4, mode="dense"))
        assert kb.stats()["documents"] == 3
        assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}


def test_a_file_removed_from_a_synced_folder_is_removed(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(docs)
        (docs / "oncall.txt").unlink()
        report = kb.ingest(docs)
        assert report.by_source()[str(docs / "oncall.txt")].outcome is Outcome.REMOVED
        assert all(Path(hit.source).name != "oncall.txt" for hit in kb.search("page acknowledged on-call", k=4))


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_indexed(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "junk.txt").write_bytes(bytes(range(256)) * 4)
    (docs / "archive.zip").write_bytes(b"PK\x03\x04" + bytes(64))
    (docs / "report.pdf").write_bytes(b"%PDF-1.4 not really")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest([docs, tmp_path / "missing.txt"]).by_source()
    reasons = {Path(source).name: item.reason for source, item in report.items() if item.outcome is Outcome.SKIPPED}
    assert set(reasons) == {"empty.txt", "junk.txt", "archive.zip", "report.pdf", "missing.txt"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["junk.txt"]
    assert "zip archive" in reasons["archive.zip"]
    assert "damaged PDF" in reasons["report.pdf"]
    assert "cannot be read" in reasons["missing.txt"]
    assert sum(item.outcome is Outcome.ADDED for item in report.values()) == 4


def test_documents_can_be_ingested_directly(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest([Document("note-1", "The cafeteria opens at 7:30 every weekday."), Document("note-2", "  ")])
        assert [item.outcome for item in report.items] == [Outcome.ADDED, Outcome.SKIPPED]
        hit = kb.search("when does the cafeteria open", k=1)[0]
        assert hit.source == "note-1" and hit.doc_id == Document("note-1", "").id


def test_a_second_writer_is_refused(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder):
        with pytest.raises(KnowledgeBaseLocked, match="already open in this process; use that KnowledgeBase"):
            KnowledgeBase.open(tmp_path / "kb", embedder=embedder)
        other = subprocess.run(
            [sys.executable, "-m", "ragkit", "stats", "--kb", str(tmp_path / "kb"), "--json"],
            capture_output=True, text=True, timeout=300,
        )
        assert other.returncode == 1
        refused = json.loads(other.stdout)
        assert refused["type"] == "KnowledgeBaseLocked" and f"another process (pid {os.getpid()})" in refused["error"]
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:  # released on close
        assert kb.stats()["documents"] == 0


def test_a_new_process_reopening_the_directory_returns_identical_results(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    query = "what happens when a page is not acknowledged"
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(docs)
        expected = [(hit.chunk_id, round(hit.score, 6)) for hit in kb.search(query, k=4)]
    other = subprocess.run(
        [sys.executable, "-m", "ragkit", "search", query, "-k", "4", "--kb", str(tmp_path / "kb"), "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    found = [(hit["chunk_id"], round(hit["score"], 6)) for hit in json.loads(other.stdout)["hits"]]
    assert found == expected


def test_ask_answers_with_citations_or_declines(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(docs)
        answer = kb.ask("How many days of paid vacation do employees get?")
        assert answer.status is AnswerStatus.ANSWERED
        assert "25 days" in answer.text and "[1]" in answer.text
        cited = answer.citations[0]
        assert Path(cited.source).name == "vacation.md"
        assert kb.document(cited.source).text[cited.start : cited.end] == cited.quote
        declined = kb.ask("What is the boiling point of mercury?")
        assert declined.status is AnswerStatus.NO_ANSWER
        assert declined.citations == () and declined.confidence < answer.confidence


def test_bad_arguments_raise_clear_errors(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        with pytest.raises(ConfigError, match="unknown search mode 'semantic'; choose one of: dense, sparse, hybrid"):
            kb.search("x", mode="semantic")
        with pytest.raises(ConfigError, match="k must be between 1 and 10000, got 0"):
            kb.search("x", k=0)
        with pytest.raises(ConfigError, match="cannot ingest 42"):
            kb.ingest([42])
    with pytest.raises(IncompatibleKnowledgeBase, match=r"chunking\.size"):
        KnowledgeBase.open(tmp_path / "kb", KBConfig(chunking={"size": 100}), embedder=embedder)
    with pytest.raises(ConfigError, match=f"exceeds the {embedder.max_tokens} tokens"):
        KnowledgeBase.open(tmp_path / "kb2", KBConfig(chunking={"size": 1024}), embedder=embedder)


def test_multilingual_bm25_tokenizer_segments_chinese(tmp_path, embedder):
    docs = [Document("zh-1", "北京是中华人民共和国的首都，也是全国的政治中心和文化中心。"),
            Document("zh-2", "上海是中国最大的经济中心城市，位于长江入海口。"),
            Document("en-1", "Berlin is the capital of Germany and its largest city.")]
    with KnowledgeBase.open(tmp_path / "word", embedder=embedder) as kb:
        kb.ingest(docs)
        assert kb.search("中国的首都", k=3, mode="sparse").hits == ()  # a whole clause is one term: nothing matches
    config = KBConfig(bm25={"tokenizer": "multilingual"})
    with KnowledgeBase.open(tmp_path / "multi", config, embedder=embedder) as kb:
        kb.ingest(docs)
        assert kb.search("首都 政治中心", k=3, mode="sparse")[0].source == "zh-1"
        assert kb.search("长江 经济", k=3, mode="sparse")[0].source == "zh-2"
        assert kb.search("capital of Germany", k=3, mode="sparse")[0].source == "en-1"  # English still stemmed


def test_text_already_indexed_elsewhere_is_not_embedded_again(tmp_path, counting):
    boilerplate = "Confidential. Do not forward this message outside the company without written approval. " * 3
    config = KBConfig(chunking=ChunkingConfig("fixed", 32, overlap=0))
    with KnowledgeBase.open(tmp_path / "kb", config, embedder=counting) as kb:
        kb.ingest(Document("a", boilerplate + "\n\nThe quarterly numbers are attached for review by the board."))
        counting.embedded.clear()
        report = kb.ingest([Document("b", boilerplate + "\n\nThe offsite takes place in Lisbon in May this year."),
                            Document("c", "Lunch menu: soup. " * 4 + "Lunch menu: soup. " * 4)])
        reused = [t for t in counting.embedded if "Confidential" in t]
        assert reused == [] and report.chunks_embedded == len(counting.embedded)
        assert len(counting.embedded) == len(set(counting.embedded))  # repeated text in one batch: embedded once
        hit = kb.search("offsite in Lisbon", k=1)[0]
        assert hit.source == "b"
        assert kb.search("do not forward outside the company", k=3, filter={"source": "b"})[0].source == "b"
