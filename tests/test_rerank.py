"""Rerankers through the real classes: a tiny BERT cross-encoder built offline, and the shipped nanoranker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import write_corpus

from ragkit import ConfigError, KnowledgeBase, RetrievalConfig
from ragkit.rerank import CrossEncoderReranker, NanoRanker, make_reranker


def test_cross_encoder_scores_match_the_library_and_reorder_hits(tmp_path, embedder, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    reranker = make_reranker(f"cross-encoder:{tiny_cross_encoder}")
    assert isinstance(reranker, CrossEncoderReranker)
    passages = ["Hotel costs are reimbursed.", "Passwords need 14 characters.", "Pages escalate after 30 minutes."]
    ours = reranker.score("hotel limit", passages)
    theirs = CrossEncoder(str(tiny_cross_encoder)).predict([("hotel limit", p) for p in passages])
    assert np.allclose(ours, np.asarray(theirs).reshape(-1), atol=1e-5)

    docs = write_corpus(tmp_path / "docs")
    retrieval = RetrievalConfig(reranker=reranker, rerank_depth=4)
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder, retrieval=retrieval) as kb:
        kb.ingest(docs)
        result = kb.search("hotel limit per night", k=4)
        scores = [hit.score for hit in result]
        assert scores == sorted(scores, reverse=True)
        assert [hit.found_by["rerank"].rank for hit in result] == [1, 2, 3, 4]
        assert "rerank" in result.timings_ms
        direct = reranker.score("hotel limit per night", [hit.text for hit in result])
        assert np.allclose(direct, scores, atol=1e-5)
        answer = kb.ask("What is the hotel limit per night?")  # the reranker's scores are abstention signals too
        best = max(hit.found_by["rerank"].score for hit in answer.evidence if "rerank" in hit.found_by)
        assert answer.signals["rerank_top"] == pytest.approx(best, abs=1e-5)


def test_nanoranker_puts_the_relevant_passage_first(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    retrieval = RetrievalConfig(reranker="nanoranker", rerank_depth=4)
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder, retrieval=retrieval) as kb:
        kb.ingest(docs)
        for query, expected in [("How much is reimbursed for a hotel night?", "expenses.md"),
                                ("How long can a password be?", "security.txt")]:
            top = kb.search(query, k=2)[0]
            assert Path(top.source).name == expected and top.found_by["rerank"].rank == 1
    assert NanoRanker().score("q", []).shape == (0,)


def test_reranker_specs():
    assert make_reranker("none") is None and make_reranker(None) is None
    with pytest.raises(ConfigError, match="unknown reranker 'bm42'"):
        make_reranker("bm42")
    with pytest.raises(ConfigError, match="cross-encoder:<model>"):
        make_reranker("cross-encoder:")


def test_flag_reranker_through_flagembedding(tiny_cross_encoder):
    """FlagEmbedding's FlagReranker on the same tiny BERT: its scores are the classifier's raw logits."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ragkit.rerank import FlagRerankerAdapter

    reranker = make_reranker(f"flag:{tiny_cross_encoder}")
    assert isinstance(reranker, FlagRerankerAdapter)
    pairs = [("hotel limit", "Hotel costs are reimbursed."), ("hotel limit", "Passwords need 14 characters.")]
    scores = reranker.score("hotel limit", [p for _, p in pairs])
    tokenizer = AutoTokenizer.from_pretrained(tiny_cross_encoder)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_cross_encoder).eval()
    with torch.no_grad():
        logits = model(**tokenizer([q for q, _ in pairs], [p for _, p in pairs], padding=True, truncation=True,
                                   return_tensors="pt")).logits.reshape(-1)
    assert np.allclose(scores, logits.numpy(), atol=1e-4)
