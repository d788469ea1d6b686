"""Sentence splitting shared by chunkers and answer extraction (a pure function over character offsets), and which
script a text is mostly written in."""

from __future__ import annotations

import re

# Candidate sentence ends: terminal punctuation (with closing quotes or brackets) before whitespace or the end,
# CJK sentence punctuation, a blank line, or a line break before a list item.
_END = re.compile(
    r"[.!?]+[\"'”’)\]]*(?=\s|$)"
    r"|[。！？；]+[”’」』）)]*"
    r"|\n[ \t]*\n\s*"
    r"|\n(?=[ \t]*(?:[-*•]|\d{1,3}[.)])\s)"
)
_LIST_ITEM = re.compile(r"\s*(?:[-*•]|\d{1,3}[.)])\s")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs mr mrs ms dr prof sr jr st fig figs no nos al approx inc ltd co corp dept est u.s u.k "
    "eq eqs ref refs vol p pp ch sec cf ca c b d fl jan feb mar apr jun jul aug sep sept oct nov dec".split()
)  # "c." circa, "b." born, "d." died, "fl." flourished: "David Urban (born c. 1964)"


def _ends_sentence(text: str, begin: int, match: re.Match[str]) -> bool:
    """Whether a period-like match really ends a sentence (not "e.g.", "J. R. Tolkien", "approx. five", a quoted
    title: '"Did You Ever See a Lassie?" is a folk song')."""
    if match.group(0)[0] not in ".!?":
        return True
    following = text[match.end() : match.end() + 3].lstrip()
    if following[:1].islower():
        return False  # "approx. five", "i.e. the", '"…Lassie?" is': a lower-case word goes on the sentence
    if match.group(0)[0] != ".":
        return True
    last_word = text[begin : match.start()].rsplit(None, 1)[-1:]
    if not last_word:
        return True
    word = last_word[0].lstrip("(\"'“‘[")
    if word.lower().rstrip(".") in _ABBREVIATIONS:
        return False
    return not (len(word) == 1 and word.isupper())  # an initial: "J. Smith"


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text[start:end]``, whitespace trimmed, never empty.

    Every non-space character of the range is in exactly one sentence.
    """
    end = len(text) if end is None else end
    spans = []
    begin = start
    for match in _END.finditer(text, start, end):
        if match.group(0)[0] in "\n":
            stop = match.start()
        elif _ends_sentence(text, begin, match):
            stop = match.end()
        else:
            continue
        spans.append((begin, stop))
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


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def mostly_chinese(text: str) -> bool:
    """At least 30 % of the text's non-space characters are Han ideographs."""
    letters = sum(1 for ch in text if not ch.isspace())
    return letters > 0 and len(_HAN.findall(text)) >= 0.3 * letters
