import random

import pytest

from ragkit import ConfigError, Document
from ragkit.chunkers import FixedChunker

WORDS = "the model reads tokens; some words like internationalization split into many pieces, 3.14 too. 北京 ok".split()


def _random_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + rng.choice(["", "\n\n", "  "])


@pytest.mark.parametrize("size,overlap", [(16, 0), (32, 8), (250, 32)])
def test_fixed_chunks_reproduce_offsets_respect_size_and_cover_the_text(embedder, size, overlap):
    chunker = FixedChunker(embedder.token_spans, size=size, overlap=overlap)
    rng = random.Random(size)
    for _ in range(20):
        document = Document("doc", _random_text(rng, rng.randint(1, 400)))
        chunks = chunker.chunk(document)
        assert chunks, document.text
        for chunk in chunks:
            assert document.text[chunk.start : chunk.end] == chunk.text
            assert len(embedder.token_spans(chunk.text)) <= size
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        assert all(i in covered or document.text[i].isspace() for i in range(len(document.text)))
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        assert len({c.id for c in chunks}) == len(chunks)


def test_consecutive_windows_overlap_by_whole_words_up_to_the_requested_tokens(embedder):
    text = " ".join(f"w{i}" for i in range(300))  # words of two or three tokens: "w", "##2", "##99"
    chunks = FixedChunker(embedder.token_spans, size=20, overlap=5).chunk(Document("d", text))
    assert len(chunks) > 10
    for previous, current in zip(chunks, chunks[1:]):
        shared = text[current.start : previous.end]
        assert 2 <= len(embedder.token_spans(shared)) <= 5  # at least one whole word, never more than asked
        assert text[current.start - 1] == " " and text[previous.end] == " "


def test_unspaced_text_is_cut_at_the_token_limit(embedder):
    text = "北京是中国的首都" * 20
    chunks = FixedChunker(embedder.token_spans, size=16, overlap=0).chunk(Document("d", text))
    assert "".join(c.text for c in chunks) == text
    assert all(len(embedder.token_spans(c.text)) <= 16 for c in chunks)


def test_whitespace_only_documents_have_no_chunks_and_bad_sizes_are_refused(embedder):
    assert FixedChunker(embedder.token_spans).chunk(Document("d", " \n\t ")) == []
    with pytest.raises(ConfigError, match="overlap must be at least 0 and below the size 10, got 10"):
        FixedChunker(embedder.token_spans, size=10, overlap=10)
    with pytest.raises(ConfigError, match="at least 1 token, got 0"):
        FixedChunker(embedder.token_spans, size=0)
