from ragkit import Document
from ragkit.chunkers import chunks_from_spans
from ragkit.records import chunk_id_for, doc_id_for


def test_document_id_depends_on_source_only():
    assert Document("a.md", "one").id == Document("a.md", "two").id == doc_id_for("a.md")
    assert Document("a.md", "one").id != Document("b.md", "one").id


def test_fingerprint_changes_with_text_and_metadata_but_not_with_dict_order():
    base = Document("a.md", "text", {"x": 1, "y": 2})
    assert base.fingerprint() == Document("a.md", "text", {"y": 2, "x": 1}).fingerprint()
    assert base.fingerprint() != Document("a.md", "text!", {"x": 1, "y": 2}).fingerprint()
    assert base.fingerprint() != Document("a.md", "text", {"x": 1}).fingerprint()


def test_chunk_ids_survive_an_edit_earlier_in_the_document():
    before = Document("a", "alpha beta. gamma delta.")
    after = Document("a", "NEW alpha beta. gamma delta.")
    old = chunks_from_spans(before, [(0, 11), (12, 24)])
    new = chunks_from_spans(after, [(4, 15), (16, 28)])
    assert [c.text for c in old] == [c.text for c in new]
    assert [c.id for c in old] == [c.id for c in new]
    assert [c.start for c in new] == [4, 16]


def test_repeated_chunk_text_gets_distinct_ids_and_whitespace_spans_are_dropped():
    document = Document("a", "same same    ")
    chunks = chunks_from_spans(document, [(0, 4), (5, 9), (9, 13)])
    assert [c.text for c in chunks] == ["same", "same"]
    assert chunks[0].id != chunks[1].id == chunk_id_for(document.id, "same", 1)


def test_reports_and_evaluations_show_as_tables_in_jupyter():
    from ragkit.errors import SkipCode
    from ragkit.eval.retrieval import RetrievalEvaluation
    from ragkit.records import IngestReport, Outcome, SourceOutcome

    skipped = SourceOutcome("c|d.pdf", Outcome.SKIPPED, reason="is encrypted", code=SkipCode.UNSUPPORTED_TYPE)
    report = IngestReport((SourceOutcome("a.md", Outcome.ADDED, 3), SourceOutcome("b.md", Outcome.ADDED, 2), skipped),
                          chunks_embedded=5, seconds=1.25, stage_seconds={"parse": 0.5, "embed": 0.7})
    shown = report._repr_markdown_().splitlines()
    assert shown[0] == "**2** added · **1** skipped" and shown[1] == "5 chunks embedded in 1.2 s"
    assert "| embed | 0.7 |" in shown
    assert "| unsupported_type | 1 | c\\|d.pdf: is encrypted |" in shown  # a pipe in a name stays in its cell
    evaluation = RetrievalEvaluation([{"mode": "hybrid", "ndcg@10": 0.73, "mrr@10": 0.7, "recall@5": 0.78,
                                       "recall@100": 0.97, "query_p50_ms": 9.8, "queries": 300, "docs": 5183,
                                       "chunks": 11729, "embedder": "bge-small-en-v1.5"}])
    assert evaluation == [dict(evaluation[0])]  # still the list of dicts that JSON output writes
    table = evaluation._repr_markdown_().splitlines()
    assert table[2] == "| hybrid | 0.73 | 0.7 | 0.78 | 0.97 | 9.8 |"
    assert table[-1] == "300 queries, 5183 documents in 11729 chunks; embedder bge-small-en-v1.5"
