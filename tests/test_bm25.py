"""BM25 checked against rank-bm25 as an oracle, fresh and after incremental adds, updates and deletes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from ragkit import ChunkingConfig, Document, KBConfig, KnowledgeBase
from ragkit.sparse import BM25Encoder, bm25_weights


class LuceneBM25(BM25Okapi):
    """rank-bm25's Okapi BM25 with the IDF Qdrant (and Lucene) use: ln(1 + (N - n + 0.5) / (n + 0.5))."""

    def _calc_idf(self, nd):
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


def _tokens(encoder: BM25Encoder, text: str) -> list[str]:
    terms = encoder.term_counts(text)
    return [str(term) for term, count in zip(terms.indices, terms.counts) for _ in range(int(count))]


def _oracle_top(encoder, documents: dict[str, str], query: str, k: int = 20) -> list[tuple[str, float]]:
    sources = list(documents)
    oracle = LuceneBM25([_tokens(encoder, documents[s]) for s in sources], k1=1.2, b=0.75)
    scores = oracle.get_scores(sorted(set(_tokens(encoder, query))))
    ranked = sorted(zip(sources, scores), key=lambda pair: (-pair[1], pair[0]))
    return [(source, float(score)) for source, score in ranked[:k] if score > 0]


def _ours(kb, query: str, k: int = 20) -> list[tuple[str, float]]:
    return [(hit.source, hit.score) for hit in kb.search(query, k=k, mode="sparse")]


QUERIES = ["protein folding stability", "vitamin D deficiency risk", "tumor cells immune response",
           "randomized trial mortality", "gene expression regulation mice"]


@pytest.fixture(scope="module")
def corpus(datasets_dir):
    from ragkit.eval.beir import load_beir

    documents = list(load_beir(datasets_dir / "scifact_beir").corpus.values())[:900]
    return {d.source: d.text for d in documents}


def _same_top(ours, oracle, k: int = 10) -> None:
    """Same top k with the same scores; exact ties are ordered by source on both sides (the engine breaks them by
    chunk id). Both lists are taken deeper than k so that a tie at the cut-off cannot hide a member."""
    def ordered(pairs):
        return sorted(pairs, key=lambda pair: (-round(pair[1], 4), pair[0]))[:k]

    ours, oracle = ordered(ours), ordered(oracle)
    assert [s for s, _ in ours] == [s for s, _ in oracle]
    assert [score for _, score in ours] == pytest.approx([score for _, score in oracle], rel=1e-5)


def test_sparse_scores_match_rank_bm25(tmp_path, embedder, corpus):
    encoder = BM25Encoder()
    config = KBConfig(chunking=ChunkingConfig("fixed", 254))
    fits = [s for s, t in corpus.items() if len(embedder.token_spans(t)) <= 254][:150]  # one chunk per document
    long_enough = {s: corpus[s] for s in fits}
    with KnowledgeBase.open(tmp_path / "kb", config, embedder=embedder) as kb:
        kb.ingest([Document(s, t) for s, t in long_enough.items()])
        indexed = {s: kb.document(s).text for s in long_enough}  # as parsed and cleaned
        for query in QUERIES:
            _same_top(_ours(kb, query), _oracle_top(encoder, indexed, query))


def test_statistics_stay_right_after_adds_updates_and_deletes(tmp_path, embedder, corpus):
    encoder = BM25Encoder()
    config = KBConfig(chunking=ChunkingConfig("fixed", 254))
    docs = {s: t for s, t in corpus.items() if len(embedder.token_spans(t)) <= 254}
    sources = list(docs)
    assert len(sources) >= 140
    first, later = sources[:80], sources[80:140]
    with KnowledgeBase.open(tmp_path / "kb", config, embedder=embedder) as kb:
        kb.ingest([Document(s, docs[s]) for s in first])
        kb.ingest([Document(s, docs[s]) for s in later])  # incremental: the average length drifts
        for s in first[:30]:
            kb.delete(s)
        short = {s: docs[s].split(". ")[0] + "." for s in first[30:60]}  # updates make documents much shorter
        kb.ingest([Document(s, t) for s, t in short.items()])
        kb.refresh_bm25(tolerance=0.0)  # the default 10 % tolerance leaves a small error; exact for the oracle
        final = {s: kb.document(s).text for s in [*first[30:], *later]}
        assert kb.stats()["documents"] == len(final)
        for query in QUERIES:
            _same_top(_ours(kb, query), _oracle_top(encoder, final, query))


def test_average_length_follows_the_corpus(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest([Document("short", "tiny note")])
        kb.ingest([Document(f"long-{i}", " ".join(f"word{j}" for j in range(100))) for i in range(20)])
        chunks, terms = kb._registry.bm25.totals()
        assert kb._registry.bm25.encoded_average() == pytest.approx(terms / chunks)


def test_bm25_weights_formula():
    import numpy as np

    weights = bm25_weights(np.array([1.0, 3.0]), doc_len=10, avg_len=20, k1=1.2, b=0.75)
    norm = 1.2 * (1 - 0.75 + 0.75 * 10 / 20)
    assert weights == pytest.approx([2.2 / (1 + norm), 3 * 2.2 / (3 + norm)])


def test_running_totals_equal_a_recount(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(chunking=ChunkingConfig("fixed", 16, overlap=0)),
                           embedder=embedder) as kb:
        kb.ingest([Document(f"d{i}", f"Note {i}: " + "the cafeteria serves soup and bread on Mondays. " * (i + 1))
                   for i in range(6)])
        kb.delete("d2")
        kb.ingest(Document("d3", "A much shorter replacement text."))
        registry = kb._registry
        recount = registry.database.execute(
            "SELECT COUNT(*), SUM(n_terms) FROM chunks WHERE state != 'deleting'").fetchone()
        assert registry.bm25.totals() == tuple(recount)
        terms = {}
        for (blob,) in registry.database.execute("SELECT terms FROM chunks"):
            for term in np.frombuffer(blob, dtype=np.uint32).tolist():
                terms[term] = terms.get(term, 0) + 1
        assert registry.bm25.document_frequencies(sorted(terms)) == terms
