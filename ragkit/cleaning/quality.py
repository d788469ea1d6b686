"""The low-information filter: texts that are too short, repetitive or symbol soup to be worth indexing.

Thresholds follow the spirit of the Gopher quality rules (Rae et al. 2021, "Scaling Language Models", App. A.1),
set far more conservatively because a knowledge base must keep short but real documents.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_WORD = re.compile(r"\w+", re.UNICODE)


def duplicate_line_fraction(text: str) -> float:
    """The share of characters that sit in lines repeating an earlier line."""
    seen: set[str] = set()
    duplicated = total = 0
    for line in (line.strip() for line in text.split("\n")):
        if not line:
            continue
        total += len(line)
        if line in seen:
            duplicated += len(line)
        seen.add(line)
    return duplicated / total if total else 0.0


def word_entropy(text: str) -> float:
    """Shannon entropy (bits) of the lower-cased word distribution."""
    counts = Counter(word.lower() for word in _WORD.findall(text))
    total = sum(counts.values())
    return -sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0


_SPACE = re.compile(r"\s+")
_ALNUM = re.compile(r"[^\W_]")  # exactly the characters str.isalnum() accepts


def alphanumeric_fraction(text: str) -> float:
    visible = _SPACE.sub("", text)
    return len(_ALNUM.findall(visible)) / len(visible) if visible else 0.0


def low_information_reason(
    text: str,
    *,
    min_chars: int,
    max_duplicate_line_fraction: float,
    min_word_entropy: float,
    min_alphanumeric_fraction: float,
) -> str | None:
    """Why ``text`` is not worth indexing, or None if it is."""
    stripped = text.strip()
    if len(stripped) < min_chars:
        return f"only {len(stripped)} characters of text (minimum {min_chars})"
    duplicated = duplicate_line_fraction(stripped)
    if duplicated > max_duplicate_line_fraction:
        return f"{duplicated:.0%} of its text is repeated lines (maximum {max_duplicate_line_fraction:.0%})"
    if len(_WORD.findall(stripped)) >= 20 and (entropy := word_entropy(stripped)) < min_word_entropy:
        return f"its words repeat too much (word entropy {entropy:.2f} bits, minimum {min_word_entropy})"
    if len(stripped) >= 50 and (alnum := alphanumeric_fraction(stripped)) < min_alphanumeric_fraction:
        return f"only {alnum:.0%} of its characters are letters or digits (minimum {min_alphanumeric_fraction:.0%})"
    return None


def is_spaced_out(text: str) -> bool:
    """Text set letter by letter ("n u J", "2 v 8 4 3 5 1 . 3 0"): how a PDF's vertical margin stamp extracts.

    At least three tokens, four in five of them single non-CJK characters.
    """
    tokens = text.split()
    singles = sum(1 for token in tokens if len(token) == 1 and not "\u2e80" <= token <= "\u9fff")
    return len(tokens) >= 3 and singles >= 0.8 * len(tokens)
