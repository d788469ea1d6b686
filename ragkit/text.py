"""Small text utilities shared by chunkers and answer extraction."""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by closing quotes or brackets) before whitespace, at CJK
# sentence punctuation, or at a line break that ends a paragraph or list item.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|(?<=[。！？；])|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
_LIST_ITEM = re.compile(r"\s*(?:[-*•]|\d+[.)])\s")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs mr mrs ms dr prof sr jr st fig no al approx inc ltd co corp dept est u.s".split()
)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text[start:end]``, whitespace trimmed, never empty."""
    end = len(text) if end is None else end
    spans = []
    begin = start
    for match in _SENTENCE_END.finditer(text, start, end):
        last_word = text[begin : match.start()].rsplit(None, 1)[-1:]
        if last_word and last_word[0].rstrip(".").lower() in _ABBREVIATIONS:
            continue  # "e.g. the" and "Fig. 3" do not end a sentence
        spans.append((begin, match.start()))
        begin = match.end()
    spans.append((begin, end))
    return [trimmed for span in _end_list_items(text, spans) if (trimmed := _trim(text, *span))]


def _end_list_items(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A list item ends at its line break even when the next line is not a list item."""
    result = []
    for start, end in spans:
        while _LIST_ITEM.match(text, start) and (newline := text.find("\n", start, end)) != -1:
            result.append((start, newline))
            start = newline + 1
        result.append((start, end))
    return result


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
