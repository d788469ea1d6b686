"""Queries, questions, k and filters from a hostile but fair caller: every call gives a result or a RagkitError that
names the bad value — never a traceback from deep inside an engine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import TOPICS

from ragkit import ConfigError, Document, KnowledgeBase, RagkitError

HOSTILE_QUERIES = ["office \udcff", "\udcff", "\ud800 leading surrogate", "", "   \n\t", "\x00", "a" * 20_000]
HOSTILE_K = [2**63, 1.5, "5", None, True, 0, -1, 10_001]
HOSTILE_FILTERS = [{"x\x00y": 1}, {"team": [{"a": 1}]}, {"team": [[1]]}, {"meta.team": "it"}, {"": 1},
                   {"team": 2**64}, {"year": {"gte": float("nan")}}, {"year": {"gte": [1]}}, {"team": "\udcff"},
                   {"team": {}}, {"team": []}, {3: "x"}, ["team"], "team=it"]


@pytest.fixture(scope="module")
def kb(tmp_path_factory, embedder):
    with KnowledgeBase.open(tmp_path_factory.mktemp("hostile") / "kb", embedder=embedder) as opened:
        opened.ingest([Document(name, text, {"team": "it" if "pass" in text.lower() else "hr", "year": 2024})
                       for name, text in TOPICS.items()])
        yield opened


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_a_bad_query_is_refused_or_answered(kb, query):
    for call in (lambda: kb.search(query, k=3), lambda: kb.ask(query)):
        try:
            call()
        except ConfigError as exc:
            assert "query" in str(exc) or "question" in str(exc)


def test_lone_surrogates_and_empty_text_are_named():
    from ragkit.retrieve import checked_text

    with pytest.raises(ConfigError, match=r"not valid Unicode: it holds '\\udcff' at position 7"):
        checked_text("office \udcff", "query")
    with pytest.raises(ConfigError, match="the question is empty"):
        checked_text("  ", "question")
    with pytest.raises(ConfigError, match="the query must be text, got bytes"):
        checked_text(b"office", "query")


@pytest.mark.parametrize("k", HOSTILE_K)
def test_a_bad_k_is_refused_with_its_value(kb, k):
    for call in (lambda: kb.search("vacation", k=k), lambda: kb.ask("How many vacation days?", k=k)):
        with pytest.raises(ConfigError, match="k "):
            call()


@pytest.mark.parametrize("spec", HOSTILE_FILTERS, ids=repr)
def test_a_bad_filter_is_refused_with_what_is_wrong(kb, spec):
    with pytest.raises(ConfigError, match="filter"):
        kb.search("vacation", k=3, filter=spec)


def test_good_filters_still_filter(kb):
    assert {hit.metadata["team"] for hit in kb.search("policy", k=4, filter={"team": "it"})} == {"it"}
    assert kb.search("policy", k=4, filter={"year": {"gte": 2025}}).hits == ()
    assert len(kb.search("policy", k=4, filter={"team": ["it", "hr"], "year": {"gte": 2020, "lt": 2025}})) == 4


def test_the_command_line_reports_a_query_that_is_not_utf8(tmp_path, embedder):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(Document("note", TOPICS["vacation.md"]))
    argv = [sys.executable.encode(), b"-m", b"ragkit", b"search", b"office \xff", b"--kb", bytes(tmp_path / "kb"),
            b"--json"]
    done = subprocess.run(argv, capture_output=True, timeout=300)
    assert done.returncode == 1
    assert json.loads(done.stdout)["type"] == "ConfigError" and b"not valid Unicode" in done.stdout


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(query=st.text(max_size=60),
       k=st.one_of(st.integers(min_value=-3, max_value=30), st.integers(), st.floats(), st.none(), st.text(max_size=3)),
       spec=st.one_of(st.none(), st.dictionaries(st.text(max_size=10), _values, max_size=3), _values),
       mode=st.sampled_from(["dense", "sparse", "hybrid", "fuzzy", 3]))
def test_fuzzed_searches_give_results_or_ragkit_errors(fuzz_kb, query, k, spec, mode):
    try:
        result = fuzz_kb.search(query, k=k, mode=mode, filter=spec)
    except RagkitError:
        return
    assert len(result) <= k


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(question=st.text(max_size=80), k=st.one_of(st.integers(min_value=-2, max_value=12), st.none()),
       spec=st.one_of(st.none(), st.dictionaries(st.text(max_size=10), _values, max_size=2)),
       history=st.lists(st.one_of(st.text(max_size=30), _values), max_size=2))
def test_fuzzed_questions_give_answers_or_ragkit_errors(fuzz_kb, question, k, spec, history):
    try:
        answer = fuzz_kb.ask(question, k=k, filter=spec, history=history)
    except RagkitError:
        return
    assert answer.status.value in ("answered", "partial", "clarify", "no_answer")


@pytest.fixture(scope="module")
def fuzz_kb(tmp_path_factory, embedder):
    with KnowledgeBase.open(tmp_path_factory.mktemp("fuzz") / "kb", embedder=embedder) as opened:
        opened.ingest([Document(name, text, {"team": "it", "year": 2024, "tags": ["a", "b"]})
                       for name, text in TOPICS.items()])
        yield opened
