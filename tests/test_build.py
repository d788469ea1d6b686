"""``ragkit build``: build files, their errors, the summary, and a build killed half-way that a rerun finishes."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragkit import ConfigError, KBConfig, KnowledgeBase
from ragkit.build import load_build, run_build
from ragkit.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _write(folder: Path, text: str, name: str = "build.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def test_a_build_file_is_read_relative_to_its_folder(tmp_path):
    build = load_build(_write(tmp_path, 'path = "kb"\nworkers = 2\n[chunking]\nsize = 120\n[limits]\n'
                              'parse_timeout_s = 60\n[[sources]]\nfolder = "docs"\ninclude = ["*.md"]\n'
                              '[[sources]]\nrecords = "faq.csv"\ntext = ["question", "answer"]\nid = "id"\n'))
    assert build.path == tmp_path / "kb" and build.base == tmp_path
    assert (build.workers, build.settings.chunking.size, build.limits.parse_timeout_s) == (2, 120, 60)
    assert [source.get("folder") or source.get("records") for source in build.sources] == ["docs", "faq.csv"]


def test_the_language_of_a_build_file_picks_the_defaults_that_depend_on_it(tmp_path):
    chinese = load_build(_write(tmp_path, 'path = "kb"\nlanguage = "zh"\n[[sources]]\nfolder = "docs"\n')).settings
    assert chinese == KBConfig(language="zh") and chinese.embedder != KBConfig().embedder
    named = load_build(_write(tmp_path, 'path = "kb"\nembedder = "e5-small-v2"\n[[sources]]\nfolder = "d"\n'))
    assert (named.settings.embedder, named.settings.language.value) == ("e5-small-v2", "en")


def test_a_yaml_build_file_says_the_same(tmp_path):
    build = load_build(_write(tmp_path, "path: kb\nsources:\n  - glob: notes/*.txt\n", "build.yaml"))
    assert build.sources == ({"glob": "notes/*.txt"},)


@pytest.mark.parametrize(("text", "message"), [
    ('path = "kb"\n', "give at least one \\[\\[sources\\]\\] table"),
    ('[[sources]]\nfolder = "d"\n', 'say where the knowledge base lives'),
    ('path = "kb"\n[servers]\nregistry = "postgresql://db/kb"\n[[sources]]\nfolder = "d"\n', "one of the two"),
    ('[servers]\nurl = "postgresql://db/kb"\n[[sources]]\nfolder = "d"\n', "takes registry, index, graph, name"),
    ('[servers]\nlock_timeout = -1\n[[sources]]\nfolder = "d"\n', "lock_timeout is seconds to wait"),
    ('path = "kb"\nworkrs = 2\n[[sources]]\nfolder = "d"\n', "unknown setting workrs; a build file has: "),
    ('path = "kb"\n[[sources]]\nfolder = "d"\nfile = "x"\n', "exactly one of folder, glob, file, records"),
    ('path = "kb"\n[[sources]]\nfolder = "d"\nquery = "x"\n', r"source 1 \(folder\) has no setting query"),
    ('path = "kb"\n[[sources]]\nsql = "sqlite:///a.db"\ntext = "t"\n', "needs query and id"),
    ('path = "kb"\n[chunking]\nsise = 3\n[[sources]]\nfolder = "d"\n', "chunking settings have no field sise"),
    ('path = "kb"\n[limits]\ntimeout = 3\n[[sources]]\nfolder = "d"\n', r"\[limits\] .*IngestLimits has"),
    ('path = "kb"\n[[sources]\n', "is not valid TOML"),
])
def test_a_bad_build_file_is_named_with_the_fix(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_build(_write(tmp_path, text))


def _abstracts(datasets: Path, folder: Path, count: int) -> list[str]:
    """``count`` SciFact abstracts as text files; their names, in order."""
    folder.mkdir(parents=True)
    names = []
    with gzip.open(datasets / "scifact_beir" / "corpus.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            if len(record["text"]) < 400:
                continue
            names.append(f"{len(names):04d}.txt")
            (folder / names[-1]).write_text(f"{record['title']}\n\n{record['text']}", encoding="utf-8")
            if len(names) == count:
                return names
    raise AssertionError("not enough abstracts")


def _ready(kb: Path, table: str = "documents") -> int:
    """Rows of the registry's table that the three-step write has finished, read beside the writing process."""
    try:
        with sqlite3.connect(f"file:{kb / 'registry.sqlite'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute(f"SELECT COUNT(*) FROM {table} WHERE state = 'ready'").fetchone()[0]
    except sqlite3.Error:  # not created yet, or busy
        return 0


@pytest.mark.integration  # a real build process, killed; the real embedder
def test_a_build_killed_half_way_is_finished_by_a_rerun_that_embeds_only_the_rest(tmp_path, datasets_dir, counting):
    count = 120
    _abstracts(datasets_dir, tmp_path / "abstracts", count)
    build_file = _write(tmp_path, 'path = "kb"\nbatch_size = 8\nworkers = 2\n[[sources]]\nfolder = "abstracts"\n')
    process = subprocess.Popen([sys.executable, "-m", "ragkit", "build", str(build_file), "--quiet"],
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while _ready(tmp_path / "kb") < count // 2:
        assert process.poll() is None and time.monotonic() < deadline, "the build ended before half was stored"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored, stored_chunks = _ready(tmp_path / "kb"), _ready(tmp_path / "kb", "chunks")
    assert count // 2 <= stored < count

    with KnowledgeBase.open(tmp_path / "kb", embedder=counting) as kb:  # finishes the batch the kill interrupted
        finished = kb.stats()
        recovered = len(counting.embedded)
    assert finished["unfinished_chunks"] == 0
    counting.embedded.clear()
    summary = run_build(load_build(build_file), embedder=counting)
    assert summary.counts == {"added": count - finished["documents"], "updated": 0,
                              "unchanged": finished["documents"], "removed": 0, "skipped": 0}
    assert summary.documents == count and summary.exit_code == 0
    assert summary.chunks_embedded == len(counting.embedded) == summary.chunks - finished["chunks"]
    assert recovered == finished["chunks"] - stored_chunks  # recovery embedded the interrupted batch alone
    with KnowledgeBase.open(tmp_path / "kb", embedder=counting) as kb:
        assert kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}


@pytest.mark.integration  # the real embedder
def test_the_summary_counts_every_outcome_and_a_failed_source_fails_the_command(tmp_path, capsys, counting):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Parking\n\nStaff park in the north garage; visitors register at the desk.")
    (docs / "b.md").write_text("# Laptops\n\nLaptops are replaced every three years and use disk encryption.")
    (docs / "c.md").write_text("# Laptops\n\nLaptops are replaced every three years and use disk encryption.")
    (tmp_path / "rows.jsonl").write_text('{"id": 1, "body": "The cafeteria opens at 7:30 on weekdays."}\n')
    build_file = _write(tmp_path, 'path = "kb"\n[[sources]]\nfolder = "docs"\n[[sources]]\nrecords = "rows.jsonl"\n'
                        'text = "body"\nid = "id"\n[[sources]]\nsql = "sqlite:///missing.db"\nquery = "SELECT * '
                        'FROM nothing"\ntext = "t"\nid = "id"\n')
    summary = run_build(load_build(build_file), embedder=counting)
    assert summary.counts == {"added": 3, "updated": 0, "unchanged": 0, "removed": 0, "skipped": 1}
    assert summary.skipped_by_code == {"exact_duplicate": 1}
    assert summary.sources[2].error.startswith("OperationalError") and summary.exit_code == 1
    assert set(summary.stage_seconds) >= {"open", "parse", "embed", "index"}
    (docs / "a.md").unlink()
    (docs / "d.md").write_text("# Badges\n\nA lost badge is reported to security, who block it within the hour.")
    (tmp_path / "rows.jsonl").write_text('{"id": 1, "body": "The cafeteria opens at 7:00 on weekdays."}\n')
    assert main(["build", str(build_file), "--json", "--quiet"]) == 1
    again = json.loads(capsys.readouterr().out)
    assert again["counts"] == {"added": 1, "updated": 1, "unchanged": 1, "removed": 1, "skipped": 1}
    assert again["skipped_by_code"] == {"exact_duplicate": 1}  # c.md, a copy of b.md, is tried again
    assert again["failed"] and again["rate"]["chunks_per_s"] >= 0


@pytest.mark.integration  # the real embedder and the test PostgreSQL
def test_a_build_file_can_build_on_servers(tmp_path, postgres_schema, capsys, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Parking\n\nStaff park in the north garage; visitors register at the desk.")
    monkeypatch.setenv("RAGKIT_INDEX", str(tmp_path / "vectors"))  # a key the file leaves out comes from the variable
    build_file = _write(tmp_path, f'[servers]\nregistry = "{postgres_schema.url}"\nname = "{postgres_schema.name}"\n'
                        '[chunking]\nsize = 120\n[[sources]]\nfolder = "docs"\n')
    assert main(["build", str(build_file), "--json", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["added"] == 1 and postgres_schema.name in summary["path"]
    with KnowledgeBase.connect(postgres_schema.url, str(tmp_path / "vectors"), name=postgres_schema.name) as kb:
        assert kb.config.chunking.size == 120 and kb.search("where do visitors register", k=1)[0].text
