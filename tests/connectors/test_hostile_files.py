"""Files and pages a hostile but fair user points ragkit at: names that are not UTF-8, symlinks out of the folder,
pipes, truncated UTF-16, deeply nested HTML, URLs of this machine or its private network, servers that drip. Each
becomes a clean skip or a correct result, and the rest of the batch is ingested."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ragkit.connectors import FileConnector
from ragkit.connectors.documents import flatten_deep_html, html_depth
from ragkit.connectors.files import FileItem
from ragkit.connectors.web import Fetcher

from ragkit import IngestError, KnowledgeBase, Outcome, SkipCode

VACATION = "Employees receive 25 days of paid vacation per year, and unused days carry over until March."


def test_a_file_name_that_is_not_utf8_is_ingested_found_and_deleted(tmp_path, embedder):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "plain.txt").write_text("The cafeteria opens at 7:30 every weekday and closes at three.")
    odd = os.fsencode(folder) + b"/bad\xffname.txt"  # printf x > $'d/bad\xffname.txt'
    Path(os.fsdecode(odd)).write_text(VACATION)
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest(folder)
        assert report.counts()["added"] == 2, report.items
        shown = str(folder / "bad\\xffname.txt")  # the undecodable byte, written out
        assert {item.source for item in report.items} == {str(folder / "plain.txt"), shown}
        assert kb.search("paid vacation days", k=1)[0].metadata["file_name"] == "bad\\xffname.txt"
        assert kb.ingest(folder).counts()["unchanged"] == 2  # the same name maps to the same document
        assert kb.delete(os.fsdecode(odd))  # by the path as Python reads it from the file system
        assert kb.stats()["documents"] == 1


def test_the_command_line_ingests_and_deletes_a_name_that_is_not_utf8(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    odd = os.fsencode(folder) + b"/bad\xffname.txt"
    with open(odd, "w") as handle:
        handle.write(VACATION)
    command = [sys.executable, "-m", "ragkit"]
    ingest = subprocess.run([*command, "ingest", str(folder), "--kb", str(tmp_path / "kb"), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    assert json.loads(ingest.stdout)["counts"]["added"] == 1
    delete = subprocess.run([*[os.fsencode(part) for part in command], b"delete", odd, b"--kb",
                             os.fsencode(tmp_path / "kb"), b"--json"], capture_output=True, timeout=300)
    assert delete.returncode == 0, delete.stderr[-2000:]
    assert json.loads(delete.stdout)["deleted"] == [str(folder / "bad\\xffname.txt")]


def test_a_symlink_out_of_the_folder_is_skipped_unless_asked_for(tmp_path, embedder):
    outside = tmp_path / "secret.txt"
    outside.write_text("The root password of the production database is hunter2, rotated every quarter.")
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "vacation.txt").write_text(VACATION)
    (folder / "passwd_link.txt").symlink_to(outside)  # ln -s /etc/passwd d/passwd_link.txt
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest(folder).by_source()
        link = report[str(folder / "passwd_link.txt")]
        assert link.outcome is Outcome.SKIPPED and link.code is SkipCode.SYMLINK
        assert str(outside) in link.reason and "follow_symlinks=True" in link.reason
        assert report[str(folder / "vacation.txt")].outcome is Outcome.ADDED
        assert all("hunter2" not in hit.text for hit in kb.search("production database password", k=5))
        followed = kb.ingest(FileConnector(folder, follow_symlinks=True)).by_source()
        assert followed[str(folder / "passwd_link.txt")].outcome is Outcome.ADDED  # the user asked for it


def test_a_pipe_in_the_folder_is_skipped_without_blocking(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")  # reading it would wait for a writer forever
    (folder / "note.txt").write_text(VACATION)
    items = {Path(item.source).name: item for item in FileConnector(folder).items()}
    assert set(items) == {"note.txt", "pipe.txt"}
    try:
        items["pipe.txt"].fingerprint()
        raise AssertionError("a pipe was read")
    except Exception as exc:
        assert getattr(exc, "code", None) is SkipCode.SPECIAL_FILE and "not a regular file" in str(exc)
    assert items["note.txt"].load().text == VACATION


def test_utf16_with_a_stray_trailing_byte_is_read(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "Die Kantine öffnet um 7:30 Uhr.".encode("utf-16-le") + b"\x00")
    document = FileItem(path).load()
    assert document.text == "Die Kantine öffnet um 7:30 Uhr." and document.metadata["encoding"] == "utf-16"


@pytest.mark.integration  # parsed through unstructured
def test_deeply_nested_html_keeps_all_its_text(tmp_path):
    paragraphs = ["Alpha says the cafeteria opens at seven.", "Beta says parking permits renew in January.",
                  "Gamma says laptops are replaced every three years."]
    for depth in (10, 300, 3000):  # libxml2 stops at 256 levels and used to drop the rest of the page
        page = (f"<html><body><p>{paragraphs[0]}</p>" + "<div>" * depth + paragraphs[1] + "</div>" * depth
                + f"<p>{paragraphs[2]}</p></body></html>")
        (tmp_path / f"nested-{depth}.html").write_text(page)
        text = FileItem(tmp_path / f"nested-{depth}.html").load().text
        assert [part for part in text.split("\n\n")] == paragraphs, depth


def test_flattening_drops_only_the_tags_beyond_the_limit():
    page = "<p>a &amp; b</p>" + "<div class='x'>" * 5 + "deep<br>text" + "</div>" * 5 + "<p>c</p>"
    assert flatten_deep_html(page, limit=10) == page  # shallow enough: untouched
    flat = flatten_deep_html(page, limit=3)
    assert flat == "<p>a &amp; b</p>" + "<div class='x'>" * 3 + "deep<br>text" + "</div>" * 3 + "<p>c</p>"
    assert html_depth(flat) == 3 and html_depth(page) == 5


class _Drip(BaseHTTPRequestHandler):
    """/drip sends a byte every 0.2 s for a minute; /hop redirects to another loopback address; /page is a page."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        if self.path == "/hop":
            port = self.server.server_address[1]
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{port}/page")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if self.path == "/page":
            self.wfile.write(b"The cafeteria opens at 7:30 on weekdays.")
            return
        try:
            for _ in range(300):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def drip_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_web_connector_refuses_this_machine_and_private_networks(drip_site):
    for url in [f"{drip_site}/page", "http://localhost/", "http://169.254.169.254/latest/meta-data/",
                "http://10.1.2.3/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"]:
        with pytest.raises(IngestError) as refused:
            Fetcher(timeout=5).get(url, ["text/plain"])
        assert refused.value.code is SkipCode.FORBIDDEN and "allow_networks" in refused.value.reason, url
    allowed = Fetcher(timeout=5, allow_networks=["127.0.0.1/32"])
    assert allowed.get(f"{drip_site}/page", ["text/plain"])[0].startswith(b"The cafeteria")
    with pytest.raises(IngestError, match=r"resolves to 127\.0\.0\.2, a loopback address") as redirected:
        allowed.get(f"{drip_site}/hop", ["text/plain"])  # the redirect's target is checked too
    assert redirected.value.code is SkipCode.FORBIDDEN


def test_a_server_that_drips_is_stopped_at_the_deadline(drip_site):
    fetcher = Fetcher(timeout=1, allow_networks=["127.0.0.0/8"])
    started = time.monotonic()
    with pytest.raises(IngestError, match="did not answer within 1 s") as slow:
        fetcher.get(f"{drip_site}/drip", ["text/plain"])
    assert slow.value.code is SkipCode.TIMEOUT and time.monotonic() - started < 2.5
