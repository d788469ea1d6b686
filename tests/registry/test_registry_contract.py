"""The registry contract, run against both databases: the embedded SQLite file and a PostgreSQL schema on a real
server. The same three-step write, the same statistics and duplicate keys, the same answers — and readers that see
only committed writes and never wait for one."""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Iterator

import numpy as np
import pytest

from ragkit import Document
from ragkit.cleaning import DuplicateFinder
from ragkit.errors import ConfigError
from ragkit.records import Chunk, chunk_id_for
from ragkit.registry import DELETING, READY, DocumentWrite, Registry
from ragkit.settings import CleaningConfig
from ragkit.sparse import BM25Encoder

RegistryFactory = Callable[[], Registry]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def new_registry(request, tmp_path) -> Iterator[RegistryFactory]:
    """Opens the registry of one knowledge base — each call another connection to the same one, as another process
    would: a SQLite file in tmp_path, or a fresh schema on the test PostgreSQL server."""
    opened: list[Registry] = []
    if request.param == "postgresql":
        from ragkit.registry.postgres import PostgresDatabase

        schema = request.getfixturevalue("postgres_schema")

        def make() -> Registry:
            opened.append(Registry(PostgresDatabase(schema.url, schema.name)))
            return opened[-1]
    else:
        def make() -> Registry:
            opened.append(Registry(tmp_path / "registry.sqlite"))
            return opened[-1]
    yield make
    for registry in opened:
        registry.close()


@pytest.fixture
def registry(new_registry: RegistryFactory) -> Registry:
    return new_registry()


ENCODER = BM25Encoder()


def _write(registry: Registry, source: str, text: str, **metadata) -> DocumentWrite:
    """A document cut into paragraphs, with its BM25 terms and duplicate keys."""
    document = Document(source, text, metadata)
    chunks, start, seen = [], 0, collections.Counter()
    for ordinal, paragraph in enumerate(text.split("\n\n")):
        begin = text.index(paragraph, start)
        seen[paragraph] += 1
        chunks.append(Chunk(chunk_id_for(document.id, paragraph, seen[paragraph]), document.id, ordinal, begin,
                            begin + len(paragraph), paragraph, metadata={"n": ordinal}))
        start = begin + len(paragraph)
    keys = DuplicateFinder(CleaningConfig(), registry.duplicates).keys(document)
    return DocumentWrite(document, f"fp-{hash(text)}", chunks, [ENCODER.term_counts(c.text) for c in chunks], keys)


def _store(registry: Registry, *writes: DocumentWrite) -> set[str]:
    """The three steps, with the index left out: begin, (index), finish."""
    pending = registry.documents.begin_replace(writes)
    registry.documents.finish()
    return pending


VACATION = "Employees get 25 days of paid vacation.\n\nUnused days expire in March.\n\nAsk HR for details."
TRAVEL = "Hotels may cost up to 180 euros per night.\n\nReceipts go in within 30 days."
UNICODE = "Zoë’s café 🍰 serves crème brûlée.\n\n日本語のテキストも入る。\n\nLast line with 🎉 emoji."


def _recount(registry: Registry) -> tuple[tuple[int, int], dict[int, int]]:
    """BM25 statistics recomputed from the live chunks' stored terms."""
    frequencies: collections.Counter[int] = collections.Counter()
    chunks = terms = 0
    for blob, n_terms in registry.database.execute("SELECT terms, n_terms FROM chunks WHERE state != 'deleting'"):
        frequencies.update(set(np.frombuffer(blob, dtype=np.uint32).tolist()))
        chunks, terms = chunks + 1, terms + n_terms
    return (chunks, terms), dict(frequencies)


def _check_statistics(registry: Registry) -> None:
    totals, frequencies = _recount(registry)
    assert registry.bm25.totals() == totals
    assert registry.bm25.document_frequencies(sorted(frequencies)) == frequencies


# --- the three-step write --------------------------------------------------------------------------------------


def test_a_write_is_pending_until_finished_and_invisible_until_then(registry: Registry):
    write = _write(registry, "vacation.md", VACATION, team="hr")
    pending = registry.documents.begin_replace([write])
    assert pending == {c.id for c in write.chunks}
    work = registry.documents.pending_work()
    assert {s.chunk.id for s in work.to_index} == pending and [d.id for d in work.documents] == [write.document.id]
    assert registry.documents.chunks(sorted(pending), visible=True) == {}
    assert set(registry.documents.chunks(sorted(pending))) == pending  # recovery reads them all
    registry.documents.finish()
    assert not registry.documents.pending_work()
    visible = registry.documents.chunks(sorted(pending), visible=True)
    assert {cid: s.chunk.text for cid, s in visible.items()} == {c.id: c.text for c in write.chunks}
    assert all(s.source == "vacation.md" and s.metadata == {"team": "hr"} for s in visible.values())
    assert registry.documents.stats() == {"documents": 1, "chunks": 3, "unfinished_chunks": 0,
                                          "characters": len(VACATION)}


def test_an_update_keeps_unchanged_chunks_and_marks_the_rest(registry: Registry):
    first = _write(registry, "vacation.md", VACATION)
    _store(registry, first)
    edited = VACATION.replace("25 days", "30 days")
    second = _write(registry, "vacation.md", "Preface.\n\n" + edited)
    pending = registry.documents.begin_replace([second])
    kept = {c.id for c in first.chunks} & {c.id for c in second.chunks}
    assert pending == {c.id for c in second.chunks} - kept and len(kept) == 2
    assert registry.documents.deleting_chunk_ids() == [first.chunks[0].id]
    # readers see the kept chunks at their new offsets, never the pending or the deleting ones
    visible = registry.documents.chunks([c.id for c in [*first.chunks, *second.chunks]], visible=True)
    assert set(visible) == kept
    for chunk in second.chunks:
        if chunk.id in kept:
            assert (visible[chunk.id].chunk.start, visible[chunk.id].chunk.text) == (chunk.start, chunk.text)
    registry.documents.finish()
    assert registry.documents.chunk_ids(second.document.id) == {c.id for c in second.chunks}
    assert [c.text for c in registry.documents.document_chunks(second.document.id)] == [c.text for c in second.chunks]
    _check_statistics(registry)


def test_a_delete_hides_the_document_at_once_and_removes_it_when_finished(registry: Registry):
    vacation, travel = _write(registry, "vacation.md", VACATION), _write(registry, "travel.md", TRAVEL)
    _store(registry, vacation, travel)
    registry.documents.begin_delete([vacation.document.id])
    assert registry.documents.find("vacation.md").state == DELETING
    assert registry.documents.chunks([c.id for c in vacation.chunks], visible=True) == {}
    assert sorted(registry.documents.pending_work().to_delete) == sorted(c.id for c in vacation.chunks)
    _check_statistics(registry)  # the statistics leave with step 1
    registry.documents.finish()
    assert registry.documents.find("vacation.md") is None and registry.documents.all_chunk_ids() == {
        c.id for c in travel.chunks}
    assert registry.database.execute("SELECT COUNT(*) FROM lsh").fetchone()[0] == len(travel.keys.bands)


def test_an_interrupted_write_is_found_by_the_next_connection(new_registry: RegistryFactory):
    crashed = new_registry()
    write = _write(crashed, "vacation.md", VACATION)
    crashed.documents.begin_replace([write])
    crashed.close()  # the process dies between step 1 and step 3
    recovered = new_registry()
    work = recovered.documents.pending_work()
    assert {s.chunk.id for s in work.to_index} == {c.id for c in write.chunks}
    assert [d.text for d in work.documents] == [VACATION]
    recovered.documents.finish()
    assert recovered.documents.find("vacation.md").state == READY


def test_a_failed_transaction_leaves_nothing(registry: Registry):
    with pytest.raises(RuntimeError, match="boom"):
        with registry.database.transaction() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("half", "written"))
            raise RuntimeError("boom")
    assert registry.database.get_meta("half") is None
    write = _write(registry, "vacation.md", VACATION)
    _store(registry, write)  # the connection is usable afterwards
    assert registry.documents.find("vacation.md").state == READY


# --- reading ---------------------------------------------------------------------------------------------------


def test_text_offsets_count_characters_on_every_database(registry: Registry):
    write = _write(registry, "unicode.md", UNICODE, lang="mixed")
    _store(registry, write)
    stored = registry.documents.chunks([c.id for c in write.chunks], visible=True)
    assert [stored[c.id].chunk.text for c in write.chunks] == UNICODE.split("\n\n")
    assert registry.documents.load_document(write.document.id) == write.document


def test_lookups_by_source_id_and_prefix(registry: Registry):
    writes = [_write(registry, source, TRAVEL + f"\n\nCopy {n}.") for n, source in
              enumerate(["docs/a_b/1.md", "docs/a%b/2.md", "docs/axb/3.md", "other/4.md"])]
    _store(registry, *writes)
    assert registry.documents.document("docs/a_b/1.md").doc_id == writes[0].document.id
    assert registry.documents.find(writes[3].document.id).source == "other/4.md"
    assert [r.source for r in registry.documents.documents_under("docs/a_b/")] == ["docs/a_b/1.md"]
    assert [r.source for r in registry.documents.documents_under("docs/a%b/")] == ["docs/a%b/2.md"]
    assert len(registry.documents.documents_under("")) == 4
    assert sum(len(batch) for batch in registry.documents.iter_chunks(batch=3)) == 12


def test_bm25_statistics_follow_every_write(registry: Registry):
    _store(registry, _write(registry, "vacation.md", VACATION), _write(registry, "travel.md", TRAVEL))
    _check_statistics(registry)
    _store(registry, _write(registry, "vacation.md", VACATION.replace("March", "April")))
    _check_statistics(registry)
    registry.documents.begin_delete([registry.documents.find("travel.md").doc_id])
    registry.documents.finish()
    _check_statistics(registry)
    terms = sorted(ENCODER.query_terms("paid vacation days"))
    idf = registry.bm25.idf(terms)
    assert set(idf) <= set(terms) and all(value > 0 for value in idf.values())
    assert registry.bm25.average_for([]) == registry.bm25.encoded_average()


def test_duplicate_keys_find_exact_and_near_copies_and_follow_replacements(registry: Registry):
    original = _write(registry, "vacation.md", VACATION)
    _store(registry, original)
    copy = _write(registry, "copy.md", VACATION)
    assert registry.duplicates.source_with_text_hash(copy.keys.text_hash, copy.document.id) == "vacation.md"
    near = registry.duplicates.near_candidates(copy.keys.bands, copy.document.id)
    assert [source for source, _ in near] == ["vacation.md"]
    assert np.array_equal(near[0][1], original.keys.signature)
    _store(registry, _write(registry, "vacation.md", TRAVEL))  # replaced: its old band rows are gone
    assert registry.duplicates.near_candidates(copy.keys.bands, copy.document.id) == []
    assert registry.database.execute("SELECT COUNT(*) FROM lsh").fetchone()[0] == len(original.keys.bands)


def test_named_values(registry: Registry):
    database = registry.database
    assert database.get_meta("settings") is None
    database.set_meta("settings", '{"a": 1}')
    database.set_meta("settings", '{"a": 2}')
    assert database.get_meta("settings") == '{"a": 2}'
    database.delete_meta("settings")
    assert database.get_meta("settings") is None


def test_readers_never_wait_for_a_writer_nor_see_its_open_transaction(new_registry: RegistryFactory):
    writer, reader = new_registry(), new_registry()
    _store(writer, _write(writer, "travel.md", TRAVEL))
    inside, release = threading.Event(), threading.Event()

    def write() -> None:
        with writer.database.transaction() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("uncommitted", "yes"))
            db.execute("UPDATE documents SET fingerprint = ?", ("changing",))
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert inside.wait(10)
        began = time.perf_counter()
        assert reader.database.get_meta("uncommitted") is None
        assert reader.documents.document("travel.md").fingerprint != "changing"
        assert len(reader.documents.chunks(sorted(reader.documents.all_chunk_ids()), visible=True)) == 2
        assert time.perf_counter() - began < 1.0
    finally:
        release.set()
        thread.join()
    assert reader.database.get_meta("uncommitted") == "yes"


# --- PostgreSQL only: connection settings ----------------------------------------------------------------------


def test_registry_urls_hold_no_password_and_names_are_identifiers():
    from ragkit.registry.postgres import check_name, check_url, redact

    with pytest.raises(ConfigError, match=r"holds a password; remove it and set \$PGPASSWORD"):
        check_url("postgresql://app:hunter2@db.example:5432/kb")
    with pytest.raises(ConfigError, match="starts with postgresql://"):
        check_url("mysql://db/kb")
    assert check_url("postgres://app@db.example/kb?sslmode=require")
    assert redact("postgresql://app@db.example:5432/kb?sslmode=require") == "postgresql://app@db.example:5432/kb"
    for bad in ["", "Handbook", "1st", "a-b", "x" * 64, "drop table;"]:
        with pytest.raises(ConfigError, match="lower-case letters, digits and _"):
            check_name(bad)
    assert check_name("handbook_2") == "handbook_2"


@pytest.mark.integration
def test_a_password_comes_from_the_environment(postgres_server, monkeypatch):
    from postgres_server import SECRET_PASSWORD, SECRET_ROLE

    from ragkit.errors import RegistryUnavailable
    from ragkit.registry.postgres import PostgresDatabase

    if "RAGKIT_TEST_POSTGRES" in __import__("os").environ:
        pytest.skip("the password role exists only on the cluster the tests start themselves")
    url = postgres_server.replace("postgres@", f"{SECRET_ROLE}@", 1)
    monkeypatch.setenv("PGPASSWORD", "wrong")
    with pytest.raises(RegistryUnavailable, match="password authentication failed"):
        PostgresDatabase(url, "t_password")
    monkeypatch.setenv("PGPASSWORD", SECRET_PASSWORD)
    registry = Registry(PostgresDatabase(url, "t_password"))
    try:
        registry.database.set_meta("k", "v")
        assert registry.database.get_meta("k") == "v"
        with registry.database.transaction() as db:
            db.execute("DROP SCHEMA t_password CASCADE")
    finally:
        registry.close()
