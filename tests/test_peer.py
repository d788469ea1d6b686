"""``ragkit eval peer``: ragkit and the equivalent LlamaIndex pipeline on the same tiny BEIR folder."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from ragkit.eval.beir import load_beir
from ragkit.eval.peer import compare_with_llamaindex

CORPUS = {
    "vacation": ("Vacation policy", "Employees receive 25 days of paid vacation per year; unused days carry over "
                                    "until the end of March."),
    "expenses": ("Travel expenses", "Hotel costs are reimbursed up to 180 euros per night in Europe. Receipts are "
                                    "due within 30 days."),
    "oncall": ("On-call", "The on-call engineer acknowledges a page within 15 minutes, or the alert escalates."),
    "security": ("Passwords", "Passwords have at least 14 characters; hardware security keys guard production."),
    "laptops": ("Laptops", "Laptops are replaced every three years and must use full-disk encryption."),
    "parking": ("Parking", "Staff park in the north garage; visitors register at the front desk for a pass."),
}
QUERIES = {
    "q1": ("How much does the company pay for a hotel night?", "expenses"),
    "q2": ("How many paid vacation days do employees get?", "vacation"),
    "q3": ("How quickly must a page be acknowledged?", "oncall"),
}


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": doc_id, "title": title, "text": text} for doc_id, (title, text) in CORPUS.items()]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus), encoding="utf-8")
    queries = [{"_id": query_id, "text": text} for query_id, (text, _) in QUERIES.items()]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries), encoding="utf-8")
    qrels = ["query-id\tcorpus-id\tscore", *(f"{q}\t{doc}\t1" for q, (_, doc) in QUERIES.items())]
    (folder / "qrels" / "test.tsv").write_text("\n".join(qrels), encoding="utf-8")
    return folder


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to open a network connection (LlamaIndex must not reach for an LLM or a download)."""

    def refuse(self, address):
        raise AssertionError(f"network connection attempted to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_both_systems_find_the_relevant_document_offline(tmp_path, embedder, no_network):
    dataset = load_beir(write_beir(tmp_path / "beir"))
    rows = compare_with_llamaindex(dataset, embedder=embedder, k=5)
    assert [row["system"] for row in rows] == ["ragkit", "llamaindex"]
    for row in rows:
        assert row["mrr@10"] == 1.0 and row["ndcg@10"] == 1.0  # each query's one relevant document comes first
        assert row["docs"] == len(CORPUS) and row["chunks"] == rows[0]["chunks"] and row["queries"] == len(QUERIES)
        assert row["query_p50_ms"] > 0 and row["build_s"] > 0
        assert "recall@5" in row and "recall@100" not in row  # no recall deeper than the k hits returned
    assert rows[0]["embed_s"] > 0 and rows[1]["embed_s"] == 0.0  # LlamaIndex indexes ragkit's vectors
    assert rows[0]["p50_vs_ragkit"] == 1.0
    assert rows[1]["p50_vs_ragkit"] == pytest.approx(rows[1]["query_p50_ms"] / rows[0]["query_p50_ms"], rel=0.05)
