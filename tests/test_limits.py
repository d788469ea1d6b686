"""What one source may cost to ingest: a huge text, a zip bomb of a .docx, a parser that hangs, swells or crashes
— each is skipped with the reason in bounded time, and the rest of the batch is ingested."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hostile_inputs import docx_bomb  # benchmarks/: the same file the benchmark measures
from ragkit.connectors import FileConnector, ParseOptions
from support import TOPICS, MisbehavingItem

from ragkit import ConfigError, Document, IngestLimits, KnowledgeBase, Outcome, SkipCode

TESTS = Path(__file__).resolve().parent

pytestmark = pytest.mark.integration  # a real embedder, and a worker process


@pytest.fixture
def worker_can_import_tests(monkeypatch):
    """The worker is a fresh interpreter: the tests' helpers must be importable there too."""
    monkeypatch.setenv("PYTHONPATH", str(TESTS))


def _outcomes(report) -> dict[str, tuple[Outcome, SkipCode | None]]:
    return {item.source: (item.outcome, item.code) for item in report.items}


def test_a_parser_that_hangs_swells_or_crashes_is_stopped_and_the_batch_goes_on(tmp_path, embedder,
                                                                                worker_can_import_tests):
    limits = IngestLimits(parse_timeout_s=3, parse_memory_mb=512)
    items = [MisbehavingItem("hangs", "hangs"), MisbehavingItem("swells", "swells"),
             MisbehavingItem("crashes", "crashes"), MisbehavingItem("fine", "fine")]
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder, limits=limits) as kb:
        started = time.monotonic()
        report = kb.ingest(items)
        assert time.monotonic() - started < 60  # bounded: the hanging one is stopped after 3 s
        outcomes = _outcomes(report)
        assert outcomes["hangs"] == (Outcome.SKIPPED, SkipCode.TIMEOUT)
        assert outcomes["swells"] == (Outcome.SKIPPED, SkipCode.TOO_LARGE)
        assert outcomes["crashes"] == (Outcome.SKIPPED, SkipCode.PARSE_ERROR)
        assert outcomes["fine"] == (Outcome.ADDED, None)
        reasons = {item.source: item.reason for item in report.items}
        assert "parse_timeout_s" in reasons["hangs"] and "parse_memory_mb" in reasons["swells"]
        assert "crashed the parser" in reasons["crashes"]
        assert kb.search("cafeteria", k=1)[0].source == "fine"
        assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}


def test_a_huge_one_line_text_is_skipped_before_it_is_cleaned_or_chunked(tmp_path, embedder):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "huge.txt").write_text("cafeteria " * 1_200_000)  # 12 MB on one line
    (folder / "note.txt").write_text(TOPICS["vacation.md"])
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        started = time.monotonic()
        report = kb.ingest(folder).by_source()
        assert time.monotonic() - started < 60
        huge = report[str(folder / "huge.txt")]
        assert (huge.outcome, huge.code) == (Outcome.SKIPPED, SkipCode.TOO_LARGE)
        assert "12,000,000 characters" in huge.reason and "max_document_characters" in huge.reason
        assert report[str(folder / "note.txt")].outcome is Outcome.ADDED


def test_a_document_over_the_chunk_limit_is_skipped(tmp_path, embedder):
    text = " ".join(f"Sentence {i} of the long manual explains rule {i} in detail." for i in range(400))
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder,
                            limits=IngestLimits(max_chunks_per_document=5, parse_timeout_s=None,
                                                parse_memory_mb=None)) as kb:
        report = kb.ingest([Document("manual", text), Document("note", TOPICS["vacation.md"])])
        manual = report.by_source()["manual"]
        assert (manual.outcome, manual.code) == (Outcome.SKIPPED, SkipCode.TOO_LARGE)
        assert "max_chunks_per_document" in manual.reason
        assert report.by_source()["note"].outcome is Outcome.ADDED


def test_an_office_file_that_unpacks_to_too_much_is_skipped_unparsed(tmp_path, embedder):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "bomb.docx").write_bytes(docx_bomb(40))
    assert (folder / "bomb.docx").stat().st_size < 1_000_000
    (folder / "note.txt").write_text(TOPICS["vacation.md"])
    connector = FileConnector(folder, options=ParseOptions(max_expanded_mb=16))
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest(connector).by_source()
        bomb = report[str(folder / "bomb.docx")]
        assert (bomb.outcome, bomb.code) == (Outcome.SKIPPED, SkipCode.TOO_LARGE)
        assert "unpacks to 40 MB" in bomb.reason and "max_expanded_mb" in bomb.reason
        assert report[str(folder / "note.txt")].outcome is Outcome.ADDED


def test_limits_name_a_bad_value():
    with pytest.raises(ConfigError, match="max_chunks_per_document must be a positive whole number, got 0"):
        IngestLimits(max_chunks_per_document=0)
    with pytest.raises(ConfigError, match="parse_memory_mb must be at least 256"):
        IngestLimits(parse_memory_mb=10)
    with pytest.raises(ConfigError, match="max_expanded_mb"):
        ParseOptions(max_expanded_mb=-1)
