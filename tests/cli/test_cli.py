"""The ``ragkit`` command: every subcommand with --json, and ``eval retrieval`` on a small BEIR folder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from support import small_beir, write_corpus

from ragkit.cli import main
from ragkit.settings import DEFAULT_EMBEDDERS

pytestmark = pytest.mark.integration  # the commands open knowledge bases with the real embedder


def _run(capsys, *argv: str) -> object:
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    parsed = [json.loads(line) for line in out.strip().splitlines()]  # --json prints one object per line
    return parsed[0] if len(parsed) == 1 else parsed


def test_ingest_search_ask_stats_delete_with_json(tmp_path, capsys, monkeypatch):
    docs = write_corpus(tmp_path / "docs")
    kb = str(tmp_path / "kb")
    report = _run(capsys, "ingest", str(docs), "--kb", kb, "--json")
    assert report["counts"]["added"] == 4 and len(report["items"]) == 4

    search = _run(capsys, "search", "hotel costs per night", "--kb", kb, "-k", "2", "--json")
    assert Path(search["hits"][0]["source"]).name == "expenses.md"
    assert set(search["hits"][0]["found_by"]) <= {"dense", "sparse"}
    assert set(search["timings_ms"]) == {"embed", "retrieve", "fuse", "hydrate"}

    answer = _run(capsys, "ask", "How long do I have to acknowledge a page?", "--kb", kb, "--json")
    assert answer["status"] == "answered" and answer["citations"][0]["quote"] in answer["text"]
    follow_up = _run(capsys, "ask", "And if I miss it?", "--history", "How long do I have to acknowledge a page?",
                     "--kb", kb, "--json")
    assert follow_up["search_query"] == "And if I miss it? How long do I have to acknowledge a page?"
    assert Path(follow_up["evidence"][0]["source"]).name == "oncall.txt"

    # chat: one question per line of standard input, each with the turns before it, until "exit"
    lines = "How long do I have to acknowledge a page?\n\nAnd if I miss it?\nexit\nHotel costs?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    first, second = _run(capsys, "chat", "--kb", kb, "--json")
    assert first["question"] == "How long do I have to acknowledge a page?" and first["search_query"] is None
    assert second["search_query"] == follow_up["search_query"] and second["evidence"] == follow_up["evidence"]
    monkeypatch.setattr("sys.stdin", io.StringIO("Hotel costs?\nAnd in the US?\n"))  # each line fails: no graph
    errors = _run(capsys, "chat", "--kb", kb, "--json", "--mode", "graph")
    assert [e["type"] for e in errors] == ["ConfigError", "ConfigError"] and "no entity graph" in errors[1]["error"]

    stats = _run(capsys, "stats", "--kb", kb, "--check", "--json")
    assert stats["documents"] == 4 and stats["missing_from_index"] == stats["unknown_in_index"] == 0

    deleted = _run(capsys, "delete", str(docs / "oncall.txt"), "nothing-here", "--kb", kb, "--json")
    assert deleted == {"deleted": [str(docs / "oncall.txt")], "not_found": ["nothing-here"]}


def test_human_output_and_errors(tmp_path, capsys):
    docs = write_corpus(tmp_path / "docs")
    kb = str(tmp_path / "kb")
    assert main(["ingest", str(docs), "--kb", kb]) == 0
    assert "4 added" in capsys.readouterr().out
    assert main(["search", "vacation", "--kb", kb, "--mode", "fuzzy"]) == 1
    assert "unknown search mode 'fuzzy'; choose one of: dense, sparse, hybrid" in capsys.readouterr().err
    assert main(["ask", "vacation days?", "--kb", kb, "--json", "--mode", "fuzzy"]) == 1
    assert json.loads(capsys.readouterr().out)["type"] == "ConfigError"


def test_eval_retrieval_prints_the_metrics_for_each_mode(tmp_path, capsys, datasets_dir):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "beir")
    results = _run(capsys, "eval", "retrieval", "--beir", str(beir), "--mode", "sparse,dense,hybrid", "--json")
    assert [r["mode"] for r in results] == ["sparse", "dense", "hybrid"]
    for result in results:
        for key in ("ndcg@10", "recall@2", "recall@5", "recall@10", "recall@100", "mrr@10", "docs", "queries",
                    "ingest_s", "query_p50_ms", "query_p95_ms"):
            assert key in result
        assert result["queries"] == 12
        assert result["ndcg@10"] > 0.3  # relevant abstracts among ~80 documents are found by every mode


def test_eval_retrieval_reports_a_missing_split(tmp_path, capsys, datasets_dir):
    beir = small_beir(datasets_dir / "scifact_beir", tmp_path / "beir", queries=2, distractors=2)
    assert main(["eval", "retrieval", "--beir", str(beir), "--split", "dev"]) == 1
    assert "qrels/dev.tsv does not exist; splits available: test" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["eval", "retrieval", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0


def test_eval_ingest_profiles_each_stage(tmp_path, capsys):
    docs = write_corpus(tmp_path / "docs")
    profile = _run(capsys, "eval", "ingest", "--path", str(docs), "--embed-sample", "4", "--json")
    assert profile["documents"] == 4 and profile["chunks"] == 4 and profile["embed_chunks_per_s"] > 0
    assert set(profile["seconds"]) == {"read", "parse", "clean", "dedup_keys", "chunk", "bm25_terms",
                                       "embed (estimated)"}
    assert main(["eval", "ingest", "--json"]) == 1
    assert "either --path" in capsys.readouterr().out


def test_ingest_options_and_skip_summary(tmp_path, capsys):
    docs = write_corpus(tmp_path / "docs")
    (docs / "empty.txt").write_text("")
    assert main(["ingest", str(docs), "--kb", str(tmp_path / "kb"), "--exclude", "security.txt",
                 "--dense-storage", "memory"]) == 0
    out = capsys.readouterr().out
    assert "security.txt" not in out, out
    assert "3 added, 1 skipped" in out, out
    assert "skipped as empty: 1, e.g." in out
    assert json.loads((tmp_path / "kb" / "ragkit.json").read_text())["index"]["dense_storage"] == "memory"


def test_eval_chunking_and_abstention_on_a_small_squad_file(tmp_path, capsys):
    paragraphs = [
        ("The Normans gave their name to Normandy, a region in France. Rollo was their first ruler.",
         [("Who was the first ruler of the Normans?", "Rollo")]),
        ("The Rhine rises in the Swiss Alps and flows into the North Sea. It is about 1,230 km long.",
         [("Where does the Rhine rise?", "Swiss Alps"), ("What is the capital of Mars?", None)]),
    ]
    data = {"data": [{"title": f"article-{i}", "paragraphs": [{"context": text, "qas": [
        {"question": q, "id": f"{i}-{j}", "is_impossible": a is None,
         "answers": [] if a is None else [{"text": a, "answer_start": text.index(a)}]}
        for j, (q, a) in enumerate(qas)]}]} for i, (text, qas) in enumerate(paragraphs)]}
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps(data))
    rows = _run(capsys, "eval", "chunking", "--squad", str(squad), "--chunkers", "fixed:16,hybrid,fixed:1024", "--json")
    assert [(r["chunker"], r["size"]) for r in rows] == [("fixed", 16), ("hybrid", 250), ("fixed", 1024)]
    assert rows[0]["questions"] == 2 and rows[0]["recall@5"] == 1.0 and rows[0]["chunks"] >= 2
    assert rows[1]["chunks"] == 2
    assert "exceeds the 510 tokens that bge-small-en-v1.5 reads" in rows[2]["error"]

    # only answerable questions: no AUROC to report, and the report stays strict JSON (null, not NaN)
    for article in data["data"]:
        article["paragraphs"][0]["qas"] = [qa for qa in article["paragraphs"][0]["qas"] if not qa["is_impossible"]]
    squad.write_text(json.dumps(data))
    assert main(["eval", "abstention", "--squad", str(squad), "--json"]) == 0
    report = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"{name} in JSON output"))
    assert report["unanswerable"] == 0 and report["auroc"] is None and report["answer_text"]["questions"] == 2


def test_ingest_with_a_chinese_entity_graph_and_explore_it(tmp_path, capsys):
    docs = write_corpus(tmp_path / "docs", {
        "director.txt": "陈凯歌是一位画家和导演，出生于北京，曾在北京电影学院学习。",
        "film.txt": "《霸王别姬》是一部1993年的中国电影，由陈凯歌执导。",
    })
    kb = str(tmp_path / "kb")
    _run(capsys, "ingest", str(docs), "--kb", kb, "--graph", "embedded", "--graph-model", "lac", "--json")
    stored = json.loads((tmp_path / "kb" / "ragkit.json").read_text())
    assert stored["graph"]["model"] == "lac"
    assert (stored["language"], stored["embedder"]) == ("zh", DEFAULT_EMBEDDERS["zh"])  # picked from the files
    entity = _run(capsys, "graph", "entity", "陈凯歌", "--kb", kb, "--json")
    assert entity["label"] == "PERSON" and entity["chunks"] == 2
    assert {"source": "陈凯歌", "label": "出生于", "target": "北京"}.items() <= entity["relations"][0].items()
