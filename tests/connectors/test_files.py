"""The file connector against broken and awkward inputs, globs and patterns, and incremental folder sync."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ragkit.connectors import FileConnector, FileType, sniff
from ragkit.connectors.files import FileItem, glob_regex
from ragkit.connectors.text import markdown_parts
from support import TOPICS, write_corpus

from ragkit import KnowledgeBase, Outcome
from ragkit.errors import IngestError, SkipCode
from ragkit.records import ElementKind
from ragkit.worker import LoadWorker


def _names(connector: FileConnector) -> list[str]:
    return [str(item.path.relative_to(connector.root)) for item in connector.items()]


def test_globs_include_exclude_and_hidden_files(tmp_path):
    for name in ["a.md", "b.txt", "sub/c.md", "sub/deep/d.pdf", ".hidden/e.md", "sub/.f.md", "notes/draft-g.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert _names(FileConnector(tmp_path)) == ["a.md", "b.txt", "notes/draft-g.md", "sub/c.md", "sub/deep/d.pdf"]
    assert _names(FileConnector(tmp_path, include=["*.md"], exclude=["draft-*"])) == ["a.md", "sub/c.md"]
    assert _names(FileConnector(tmp_path, include=["sub/**/*.pdf"])) == ["sub/deep/d.pdf"]
    assert len(_names(FileConnector(tmp_path, hidden=True))) == 7
    glob = FileConnector.from_path(str(tmp_path / "sub" / "**" / "*.md"))
    assert glob.root == tmp_path / "sub" and _names(glob) == ["c.md"]
    assert glob_regex("*.md").match("x/y/z.md") and not glob_regex("/*.md".lstrip("/")).match("")
    assert glob_regex("docs/*.md").match("docs/a.md") and not glob_regex("docs/*.md").match("docs/x/a.md")


def test_content_type_beats_the_extension(tmp_path, datasets_dir):
    samples = datasets_dir / "ingest_docs_unstructured"
    pdf = (samples / "pdf" / "DA-1p.pdf").read_bytes()
    docx = (samples / "fake.docx").read_bytes()
    assert sniff(pdf[:4096], ".txt", pdf) is FileType.PDF
    assert sniff(docx[:4096], ".pdf", docx) is FileType.DOCX
    assert sniff(b"<!DOCTYPE html><html><body>x</body></html>", ".txt") is FileType.HTML
    assert sniff(b"From: a@b.c\nTo: d@e.f\nSubject: hi\n\nbody", ".txt") is FileType.EML
    assert sniff(b"Subject: only one header line\n\ntext", ".txt") is FileType.TEXT
    assert sniff("\ufeffhello".encode("utf-16-le"), ".txt") is FileType.TEXT
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ".doc") is FileType.LEGACY_OFFICE
    (tmp_path / "renamed.txt").write_bytes(pdf)
    document = FileItem(tmp_path / "renamed.txt").load()
    assert document.metadata["file_type"] == "pdf" and "Abomination" in document.text


def test_markdown_structure():
    text = "Title\n=====\n\nIntro line one\nline two.\n\n## Section *A*\n\n- item one\n  continued\n- item two\n\n" \
           "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('<b>')\n```\n"
    assert markdown_parts(text) == [
        ("Title", ElementKind.TITLE, {"depth": 0}),
        ("Intro line one line two.", ElementKind.TEXT, {}),
        ("Section *A*", ElementKind.TITLE, {"depth": 1}),
        ("- item one continued", ElementKind.LIST_ITEM, {}),
        ("- item two", ElementKind.LIST_ITEM, {}),
        ("| a | b |\n|---|---|\n| 1 | 2 |", ElementKind.TABLE, {}),
        ("print('<b>')", ElementKind.CODE, {"language": "python"}),
    ]


def test_broken_inputs_are_skipped_with_reasons_and_what_was_indexed_stays(tmp_path, embedder, datasets_dir):
    docs = write_corpus(tmp_path / "docs")
    good_pdf = (datasets_dir / "ingest_docs_unstructured" / "pdf" / "DA-1p.pdf").read_bytes()
    (docs / "game.pdf").write_bytes(good_pdf)
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        assert kb.ingest(docs).counts()["added"] == 5
        # Now break things: the indexed PDF is truncated, and new bad files appear.
        (docs / "game.pdf").write_bytes(good_pdf[:2000])
        (docs / "zero.txt").write_bytes(b"")
        (docs / "junk.txt").write_bytes(os.urandom(2048) + b"\x00")
        (docs / "big.txt").write_text("big file " * 500)
        os.symlink("loop.txt", docs / "loop.txt")  # a symlink that points at itself
        os.symlink(docs, docs / "cycle")  # a folder symlink back to the root
        connector = FileConnector(docs, max_bytes=3000, follow_symlinks=True)
        vanishing = docs / "zz-vanishing.txt"
        vanishing.write_text("This file disappears between listing and reading.")
        items = list(connector.items())
        vanishing.unlink()
        report = kb.ingest(items)
        reasons = {Path(i.source).name: (i.code, i.reason) for i in report.items if i.outcome is Outcome.SKIPPED}
        assert reasons["game.pdf"][0] in (SkipCode.PARSE_ERROR, SkipCode.NEEDS_OCR)
        assert reasons["zero.txt"][0] is SkipCode.EMPTY
        assert reasons["junk.txt"][0] is SkipCode.BINARY
        assert reasons["big.txt"] == (SkipCode.TOO_LARGE,
                                      "is 4.4 KiB, over the 2.9 KiB size cap; raise max_bytes to ingest it")
        assert reasons["loop.txt"][0] is SkipCode.UNREADABLE and "symbolic links" in reasons["loop.txt"][1]
        assert reasons["zz-vanishing.txt"][0] is SkipCode.UNREADABLE
        assert not any("cycle" in i.source for i in report.items)  # the loop was not followed twice
        assert report.counts()["unchanged"] == 4
        # The old version of the PDF is still indexed and consistent.
        assert Path(kb.search("Abomination creatures", k=1, mode="sparse")[0].source).name == "game.pdf"
        assert kb.stats()["documents"] == 5 and kb.check() == {"missing_from_index": 0, "unknown_in_index": 0}


PERMISSION_CHECK = """
import sys
from pathlib import Path
from ragkit.connectors.files import FileItem
from ragkit.errors import IngestError
try:
    FileItem(Path(sys.argv[1])).fingerprint()
except IngestError as error:
    print(error.code.value, error.reason)
"""


@pytest.mark.integration
def test_a_file_without_read_permission_is_reported(tmp_path):
    folder = tmp_path / "perm"
    folder.mkdir()
    locked = folder / "secret.txt"
    locked.write_text("secret")
    locked.chmod(0)
    folder.chmod(0o755)
    tmp_path.chmod(0o755)
    command = [sys.executable, "-c", PERMISSION_CHECK, str(locked)]
    if os.geteuid() == 0:  # root reads anything: check as an unprivileged user
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop privileges for this check"
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert run.stdout.startswith("unreadable"), run.stderr[-1000:]
    assert "Permission denied" in run.stdout


def test_sync_reports_updated_removed_added_and_reparses_nothing_else(tmp_path, counting, monkeypatch):
    docs = write_corpus(tmp_path / "docs")
    loads: list[str] = []
    original_load = LoadWorker.load  # sources are parsed in a worker process: count what is sent there

    def counting_load(self, item):
        loads.append(item.path.name)
        return original_load(self, item)

    monkeypatch.setattr(LoadWorker, "load", counting_load)
    with KnowledgeBase.open(tmp_path / "kb", embedder=counting) as kb:
        kb.ingest(docs)
        loads.clear()
        counting.embedded.clear()
        (docs / "vacation.md").write_text(TOPICS["vacation.md"].replace("25 days", "28 days"))
        (docs / "oncall.txt").unlink()
        (docs / "travel.md").write_text("Trains are preferred over flights for trips under four hours.")
        report = kb.ingest(docs)
        outcomes = {Path(i.source).name: i.outcome for i in report.items}
        assert outcomes == {"vacation.md": Outcome.UPDATED, "oncall.txt": Outcome.REMOVED,
                            "travel.md": Outcome.ADDED, "expenses.md": Outcome.UNCHANGED,
                            "security.txt": Outcome.UNCHANGED}
        assert sorted(loads) == ["travel.md", "vacation.md"]  # unchanged files are not parsed
        assert all("Hotel" not in text and "Passwords" not in text for text in counting.embedded)
        assert "28 days" in kb.search("paid vacation days", k=1)[0].text
        assert Path(kb.search("trains or flights", k=1)[0].source).name == "travel.md"
        assert all(Path(h.source).name != "oncall.txt" for h in kb.search("page acknowledged escalation", k=5))


def test_a_pattern_limited_sync_leaves_other_files_alone(tmp_path, embedder):
    docs = write_corpus(tmp_path / "docs")
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(docs)
        report = kb.ingest(FileConnector(docs, include=["*.md"]))
        assert report.counts() == {"added": 0, "updated": 0, "unchanged": 2, "removed": 0, "skipped": 0}
        assert kb.stats()["documents"] == 4


def test_bad_connector_arguments():
    with pytest.raises(Exception, match="max_bytes must be positive"):
        FileConnector(".", max_bytes=0)
    with pytest.raises(IngestError, match="cannot be read"):
        FileItem(Path("/nonexistent/x.txt")).fingerprint()
