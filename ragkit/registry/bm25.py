"""BM25's corpus statistics, with one owner: how many chunks there are, their total length (so the average), and in
how many chunks each term occurs.

BM25 (``ragkit.sparse``) splits its score between the index and the query: stored document vectors carry the
term-frequency part, normalised by an average chunk length, and each query term carries its IDF. So the registry
keeps the numbers both need, updated in the same transactions that add and remove chunks — IDF is exact after any
write, on every backend — and the average length the stored vectors were encoded with; ``refresh`` re-encodes them
when the corpus's real average drifts from it. The registry's writes call ``record``; the
retriever and the answerer read ``document_frequencies``, ``chunk_count``, ``idf`` and ``query_vector``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from ragkit.index.base import SparseVector, VectorIndex
from ragkit.registry.database import RegistryDatabase, Writing
from ragkit.sparse import BM25Encoder, TermCounts, bm25_idf

if TYPE_CHECKING:
    from ragkit.registry.documents import DocumentStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS term_df (term {bigint} PRIMARY KEY, df {bigint} NOT NULL);
CREATE TABLE IF NOT EXISTS corpus_totals (id {bigint} PRIMARY KEY CHECK (id = 1), chunks {bigint} NOT NULL,
                                          terms {bigint} NOT NULL);
INSERT INTO corpus_totals(id, chunks, terms) VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
"""
_AVG_LEN_KEY = "bm25_avg_len"  # the average length every stored sparse vector was encoded with
_REFRESH_KEY = "bm25_refresh_to"  # set while a refresh re-encodes the index: a crash leaves it to finish


class BM25Statistics:
    """The corpus statistics of one knowledge base, kept in its registry."""

    def __init__(self, database: RegistryDatabase, encoder: BM25Encoder) -> None:
        self._database = database
        self.encoder = encoder
        database.create(SCHEMA)

    # -- reading -------------------------------------------------------------------------------------------

    def totals(self) -> tuple[int, int]:
        """(number of chunks, total BM25 terms) over the ready and pending chunks — running totals, since every BM25
        query needs them."""
        row = self._database.execute("SELECT chunks, terms FROM corpus_totals WHERE id = 1").fetchone()
        return int(row[0]), int(row[1])

    def chunk_count(self) -> int:
        return self.totals()[0]

    def document_frequencies(self, terms: Sequence[int]) -> dict[int, int]:
        """In how many indexed chunks each term occurs (terms in none are left out)."""
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        rows = self._database.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", list(terms)).fetchall()
        return dict(rows)

    def idf(self, terms: Sequence[int]) -> dict[int, float]:
        """Each term's BM25 IDF; a term no chunk contains is left out."""
        frequencies, chunks = self.document_frequencies(list(terms)), self.chunk_count()
        return {t: bm25_idf(frequencies[t], max(chunks, 1)) for t in terms if frequencies.get(t, 0) > 0}

    def query_vector(self, text: str) -> SparseVector:
        """A query as BM25 sees it: its distinct terms that occur in the corpus, each weighted by its IDF."""
        terms = sorted(self.encoder.query_terms(text))
        return self.encoder.encode_query(terms, self.document_frequencies(terms), self.chunk_count())

    def encoded_average(self) -> float | None:
        """The average chunk length the stored vectors were encoded with (None before the first write)."""
        stored = self._database.get_meta(_AVG_LEN_KEY)
        return float(stored) if stored is not None else None

    def average_for(self, sample: Sequence[TermCounts]) -> float:
        """The average length to encode new chunks with: the one all stored vectors use, or — for the first write —
        the sample's, which then becomes it (``refresh`` makes it exact)."""
        stored = self.encoded_average()
        if stored is not None:
            return stored
        average = self.encoder.average_length(sample)
        self._database.set_meta(_AVG_LEN_KEY, repr(average))
        return average

    # -- writing (inside the registry's transactions) ------------------------------------------------------

    @staticmethod
    def record(db: Writing, added: Iterable[TermCounts] = (), removed: Iterable[str] = ()) -> None:
        """Count new chunks (their BM25 terms) in and take ``removed`` chunks (by id, their stored term ids) out of
        the statistics, in the caller's transaction."""
        delta: Counter[int] = Counter()
        count = length = 0
        for terms in added:
            delta.update(terms.indices)
            count += 1
            length += terms.length
        for chunk_id in removed:
            row = db.execute("SELECT terms, n_terms FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()
            if row:
                delta.subtract(np.frombuffer(row[0], dtype=np.uint32).tolist())
                count -= 1
                length -= row[1]
        changes = [(term, change) for term, change in delta.items() if change]
        db.executemany("INSERT INTO term_df(term, df) VALUES (?, ?) "
                       "ON CONFLICT(term) DO UPDATE SET df = term_df.df + excluded.df", changes)
        db.execute("DELETE FROM term_df WHERE df <= 0")
        db.execute("UPDATE corpus_totals SET chunks = chunks + ?, terms = terms + ? WHERE id = 1", (count, length))

    # -- keeping the stored vectors in step ----------------------------------------------------------------

    def refresh(self, index: VectorIndex, documents: DocumentStore, tolerance: float = 0.1) -> bool:
        """Re-encode every BM25 vector if the average chunk length drifted more than ``tolerance`` (relative) from
        the one the vectors were encoded with; True if it did. A refresh a crash interrupted is finished."""
        stored = self.encoded_average()
        chunks, terms = self.totals()
        if stored is None or chunks == 0:
            return False
        actual = max(1.0, terms / chunks)
        interrupted = self._database.get_meta(_REFRESH_KEY) is not None
        if not interrupted and abs(actual - stored) <= tolerance * stored:
            return False
        self._database.set_meta(_REFRESH_KEY, repr(actual))
        for batch in documents.iter_chunks():
            index.update_sparse([
                (s.chunk.id, self.encoder.encode_document(self.encoder.term_counts(s.chunk.embed_text), actual))
                for s in batch
            ])
        index.flush()
        self._database.set_meta(_AVG_LEN_KEY, repr(actual))
        self._database.delete_meta(_REFRESH_KEY)
        return True

