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
