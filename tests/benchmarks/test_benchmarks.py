"""The scripts in benchmarks/: each runs on small data and reports what its page quotes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support import small_beir

from ragkit.eval.beir import load_beir

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

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


def run(script: str, *arguments: str, cwd: Path | None = None) -> object:
    """``python benchmarks/SCRIPT ARGUMENTS``: what it printed (one JSON object per line)."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *arguments], capture_output=True, text=True,
                          cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    parsed = [json.loads(line) for line in done.stdout.splitlines()]
    return parsed[0] if len(parsed) == 1 else parsed


@pytest.fixture
def peer(monkeypatch):
    """The LlamaIndex comparison, imported in this process (so ``no_network`` watches it)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import peer_llamaindex

    return peer_llamaindex


def test_both_systems_find_the_relevant_document_offline(tmp_path, embedder, no_network, peer):
    dataset = load_beir(write_beir(tmp_path / "beir"))
    rows = peer.compare_with_llamaindex(dataset, embedder=embedder, k=5)
    assert [row["system"] for row in rows] == ["ragkit", "llamaindex"]
    for row in rows:
        assert row["mrr@10"] == 1.0 and row["ndcg@10"] == 1.0  # each query's one relevant document comes first
        assert row["docs"] == len(CORPUS) and row["chunks"] == rows[0]["chunks"] and row["queries"] == len(QUERIES)
        assert row["query_p50_ms"] > 0 and row["build_s"] > 0
        assert "recall@5" in row and "recall@100" not in row  # no recall deeper than the k hits returned
    assert rows[0]["embed_s"] > 0 and rows[1]["embed_s"] == 0.0  # LlamaIndex indexes ragkit's vectors
    assert rows[0]["p50_vs_ragkit"] == 1.0
    assert rows[1]["p50_vs_ragkit"] == pytest.approx(rows[1]["query_p50_ms"] / rows[0]["query_p50_ms"], rel=0.05)


def test_peer_at_scale_times_both_systems_on_synthetic_passages(tmp_path, datasets_dir):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "beir", queries=6, distractors=30)
    rows = run("peer_llamaindex.py", "--beir", str(beir), "--chunks", "300", "--queries", "6", "--json")
    assert [row["system"] for row in rows] == ["ragkit", "llamaindex"]
    assert all(row["chunks"] == 300 and row["query_p50_ms"] > 0 for row in rows)


def test_dedup_removes_injected_near_copies_and_no_originals(tmp_path, datasets_dir):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "beir", queries=12, distractors=200)
    dedup = run("dedup.py", "--beir", str(beir), "--fraction", "0.25", "--json")
    assert dedup["copies"] == dedup["originals"] // 4 and dedup["recall"] >= 0.9 and dedup["originals_removed"] == 0
    assert set(dedup["recall_by_edit"]) <= {"substitute_3pct_words", "typos_3pct_words", "drop_one_sentence",
                                            "add_boilerplate", "reflow_and_case"}


def test_incremental_graph_reports_the_cost_of_an_addition_and_of_the_graph(tmp_path, datasets_dir):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "beir", queries=4, distractors=36)
    report = run("incremental_graph.py", "--beir", str(beir), "--fraction", "0.1", "--json")
    assert report["added_documents"] == round(0.1 * report["documents"]) and report["chunks_embedded_by_add"] > 0
    assert 0 < report["add_share_of_rebuild"] < 0.5
    assert report["graph"]["entities"] > 0 and report["graph_extraction_chunks_per_s"] > 0
    assert report["build_over_build_without_graph"] > 1


def test_scale_reports_build_memory_disk_and_latency(tmp_path, datasets_dir):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "beir", queries=6, distractors=30)
    command = ["--beir", str(beir), "--chunks", "300", "--queries", "6", "--keep", str(tmp_path)]
    report = run("scale.py", *command, "--json")
    assert report["chunks"] == report["documents"] == 300  # one chunk per synthetic passage, none a duplicate
    assert report["build_s"] == pytest.approx(report["ingest_s"] + report["optimize_s"], abs=0.11)
    assert 0 < report["peak_rss_anon_mb"] <= report["peak_rss_mb"] and report["disk_mb"] > 0
    assert 0 < report["hybrid_p50_ms"] <= report["hybrid_p95_ms"] and report["queries"] == 6
    assert report["open_s"] >= 0 and report["dense_storage"] == "int8" and not report["reused_build"]
    # A kept build is timed again without rebuilding — only with the settings it was built with.
    again = run("scale.py", *command, "--json")
    assert again["reused_build"] and again["build_s"] is None and again["chunks"] == 300
    assert again["disk_mb"] == pytest.approx(report["disk_mb"], rel=0.2) and again["hybrid_p95_ms"] > 0
    refused = subprocess.run([sys.executable, str(BENCHMARKS / "scale.py"), *command, "--dense-storage", "memory"],
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "built with different settings (index.dense_storage)" in refused.stderr


def test_embedders_compares_speed_and_agreement(tmp_path, datasets_dir):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "beir", queries=2, distractors=40)
    rows = run("embedders.py", "--beir", str(beir), "--count", "4", "--json")
    assert {(row["embedder"], row["tokens"]) for row in rows} == {
        (name, tokens) for name in ("sentence-transformers/all-MiniLM-L6-v2",
                                    "onnx-int8:sentence-transformers/all-MiniLM-L6-v2") for tokens in (60, 150, 250)}
    first = [row for row in rows if row["embedder"].startswith("sentence-transformers")]
    assert all(row["mean_cosine_to_first"] == 1.0 for row in first)  # the first embedder against itself
    assert all(row["mean_cosine_to_first"] > 0.98 and row["passages_per_s"] > 0 for row in rows)


def test_record_keeps_the_command_date_machine_and_result_without_machine_paths(tmp_path, datasets_dir,
                                                                                  monkeypatch):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "data" / "beir", queries=4, distractors=36)
    monkeypatch.setenv("RAGKIT_DATASETS", str(tmp_path / "data"))
    out = tmp_path / "results" / "dedup.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "record.py"), str(out), "--", sys.executable,
                           str(BENCHMARKS / "dedup.py"), "--beir", str(beir), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(out.read_text())
    assert set(record) == {"command", "date", "machine", "wall_s", "result"}
    assert "$RAGKIT_DATASETS/beir" in record["command"] and str(tmp_path) not in json.dumps(record)
    assert record["result"]["copies"] == record["result"]["originals"] // 10 and record["machine"]["cpus"] >= 1


def test_hostile_inputs_are_skipped_in_bounded_memory():
    rows = run("hostile_inputs.py", "--text-mb", "8", "--docx-expanded-mb", "300", "--json")
    assert [row["input"] for row in rows] == ["one-line-8mb.txt", "expands-to-300mb.docx"]
    for row in rows:
        outcomes = {item["source"]: (item["outcome"], item["code"]) for item in row["items"]}
        assert outcomes[row["input"]] == ("skipped", "too_large") and outcomes["note.txt"] == ("added", None)
        assert 0 < row["rss_before_mb"] <= row["peak_rss_mb"] < row["rss_before_mb"] + 500
        assert row["worker_peak_rss_mb"] > 0


def test_choose_embedder_compares_candidates_on_retrieval_and_speed(tmp_path, datasets_dir):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "data" / "scifact_beir", queries=3, distractors=20)
    documents = len((beir / "corpus.jsonl").read_text().splitlines())
    rows = run("choose_embedder.py", "--datasets", str(tmp_path / "data"), "--english",
               "all-MiniLM-L6-v2,bge-small-en-v1.5", "--chinese", "bge-small-zh-v1.5", "--only", "scifact,speed",
               "--json")
    retrieval = [row for row in rows if row["kind"] == "retrieval"]
    assert {(row["embedder"], row["mode"]) for row in retrieval} == {
        (name, mode) for name in ("all-MiniLM-L6-v2", "bge-small-en-v1.5") for mode in ("sparse", "dense", "hybrid")}
    sparse = {row["ndcg@10"] for row in retrieval if row["mode"] == "sparse"}
    assert len(sparse) == 1  # BM25 does not depend on the embedder: only the embedder changed
    assert all(0.0 < row["ndcg@10"] <= 1.0 and row["docs"] == documents for row in retrieval)
    speed = [row for row in rows if row["kind"] == "speed"]
    assert {row["embedder"] for row in speed} == {"all-MiniLM-L6-v2", "bge-small-en-v1.5"}
    assert all(row["passages_per_s"] > 0 for row in speed)
    queries = {row["embedder"]: row for row in rows if row["kind"] == "query"}
    assert set(queries) == {"all-MiniLM-L6-v2", "bge-small-en-v1.5", "bge-small-zh-v1.5"}
    assert all(row["queries"] == 3 and row["p50_ms"] > 0 for row in queries.values())


def test_registry_drivers_times_every_statement_through_every_layer(postgres_server):
    result = run("registry_drivers.py", "--postgres", postgres_server, "--repeat", "20", "--json")
    statements = {"hydrate_10_hits", "frequencies_8_terms", "write_64_documents"}
    layers = {"sqlite": {"sqlite3", "sqlalchemy_sql_text", "sqlalchemy_core"},
              "postgresql": {"psycopg", "sqlalchemy_sql_text", "sqlalchemy_core"}}
    assert result["documents"] == 2000 and result["repeat"] == 20
    for database, names in layers.items():
        assert set(result[database]) == names
        for timings in result[database].values():
            assert set(timings) == statements
            assert all(0 < t["p50_ms"] <= t["p95_ms"] for t in timings.values())
