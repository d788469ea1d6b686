"""Property tests for the three chunkers on random documents: exact offsets, size bounds, no text lost."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragkit.chunkers import FixedChunker, HybridChunker, SemanticChunker
from ragkit.records import Document, ElementKind

WORDS = ["the", "model", "reads", "tokens", "internationalization", "e.g.", "Dr.", "3.14", "https://x.org/a.b",
         "U.S.", "chunk", "retrieval", "北京", "是", "首都", "naïve", "café", "(see", "Fig.", "2)", "a", "I"]
ENDS = [".", "!", "?", "。", "！", "；", ""]

sentence = st.builds(lambda words, end: " ".join(words) + end,
                     st.lists(st.sampled_from(WORDS), min_size=1, max_size=40),
                     st.sampled_from(ENDS))
paragraph = st.builds(" ".join, st.lists(sentence, min_size=1, max_size=12))
table = st.builds(lambda rows: "\n".join(" | ".join(r) for r in rows),
                  st.lists(st.lists(st.sampled_from(WORDS), min_size=2, max_size=6), min_size=1, max_size=60))
part = st.one_of(
    st.tuples(paragraph, st.just(ElementKind.TEXT), st.just({})),
    st.tuples(sentence, st.just(ElementKind.TITLE), st.builds(lambda d: {"depth": d}, st.integers(0, 3))),
    st.tuples(table, st.just(ElementKind.TABLE), st.just({})),
    st.tuples(paragraph, st.just(ElementKind.LIST_ITEM), st.just({})),
    st.tuples(table, st.just(ElementKind.CODE), st.just({})),
)
structured = st.builds(lambda parts: Document.from_elements("doc", parts, {}), st.lists(part, min_size=1, max_size=12))
plain = st.builds(lambda paras: Document("doc", "\n\n".join(paras)), st.lists(paragraph, min_size=1, max_size=8))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


def _check(document: Document, chunks, embedder, max_tokens: int) -> None:
    assert chunks or not document.text.strip()
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text  # offsets reproduce the text exactly
        assert len(embedder.token_spans(chunk.text)) <= max_tokens  # never over the maximum
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    lost = [i for i, ch in enumerate(document.text) if i not in covered and not ch.isspace()]
    assert not lost, f"text lost: {document.text[lost[0]:lost[0] + 20]!r}"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)


@SETTINGS
@given(document=st.one_of(structured, plain), size=st.sampled_from([16, 48, 128]))
def test_fixed(embedder, document, size):
    _check(document, FixedChunker(embedder.token_spans, size=size, overlap=size // 4).chunk(document), embedder, size)


@SETTINGS
@given(document=st.one_of(structured, plain), size=st.sampled_from([16, 48, 128]))
def test_hybrid(embedder, document, size):
    chunker = HybridChunker(embedder.token_spans, max_size=size, min_size=size // 4)
    chunks = chunker.chunk(document)
    _check(document, chunks, embedder, size)
    for chunk in chunks:  # the heading path is metadata and (when there is one) the start of the context
        path = chunk.metadata["heading_path"]
        assert not path or chunk.context.startswith(" > ".join(path))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(document=plain, size=st.sampled_from([32, 128]))
def test_semantic(embedder, document, size):
    chunker = SemanticChunker(embedder, embedder.token_spans, max_size=size, min_size=8)
    _check(document, chunker.chunk(document), embedder, size)
