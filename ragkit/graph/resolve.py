"""Entity resolution: one key per real-world entity, so "Sherlock Holmes", "Holmes" and "SHERLOCK HOLMES's" meet.

Keys are normalized names (case, possessives, titles, leading articles, punctuation, spacing). Within one
document, short names and abbreviations are resolved to the longer names they stand for ("Holmes" → "sherlock
holmes" when that is the only longer name ending in "Holmes"; "WHO" → "world health organization" when the document
spells it out). Resolution looks at one document at a time, so a document's contribution to the graph depends on
that document alone — which is what lets deletes and updates keep the graph equal to a rebuild.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from typing import Iterable, Mapping

_TITLES = frozenset(
    "mr mrs ms miss dr prof professor sir dame lord lady st saint rev reverend fr father president gen general "
    "capt captain col colonel lt sgt king queen prince princess judge justice senator sen rep gov governor".split()
)
_ARTICLES = frozenset({"the", "a", "an"})
_COMPANY_SUFFIXES = frozenset("ltd limited inc incorporated corp corporation co llc plc gmbh ag".split())
_ACRONYM_SKIP = frozenset({"of", "the", "and", "for", "in", "on", "at", "to", "de", "la", "&"})
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_PUNCT = re.compile(r"[^\w\s&+\-]")


def normalize_name(surface: str) -> str:
    """The entity key of a surface form: NFKC, lower case, no possessive, leading article or title, no punctuation
    (hyphens, ``&`` and ``+`` kept), single spaces. Empty when nothing is left."""
    text = unicodedata.normalize("NFKC", surface).strip()
    words = [_POSSESSIVE.sub("", w) for w in text.split()]
    words = [w for w in (_PUNCT.sub("", w).lower() for w in words) if w]
    while len(words) > 1 and (words[0] in _ARTICLES or words[0] in _TITLES):
        words = words[1:]
    while len(words) > 1 and words[-1] in _COMPANY_SUFFIXES:  # "Viglen Ltd" is "Viglen"
        words = words[:-1]
    return " ".join(words)


def acronym(key: str) -> str:
    """Initials of the significant words of a key ("world health organization" → "who"), or "" for one word."""
    words = [w for w in key.split() if w not in _ACRONYM_SKIP]
    return "".join(w[0] for w in words) if len(words) >= 2 else ""


def resolve_aliases(keys: Iterable[str], labels: Mapping[str, str] | None = None,
                    explicit: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each key of one document to the key it stands for (itself when it stands alone).

    ``explicit`` holds aliases the text states ("World Health Organization (WHO)": who → world health organization).
    A one- or two-word key that is the first or last words of exactly one longer key becomes that key, if both are
    people (``labels``) or neither is labelled otherwise; an acronym becomes the one longer key with those initials;
    a person's name with middle names becomes first + last name when the document uses that form too ("Sela Ann
    Ward" → "sela ward"), which is how other documents will most likely name them.
    """
    keys = sorted(set(keys))
    labels = labels or {}
    resolved = {key: key for key in keys}
    by_edge: dict[str, set[str]] = defaultdict(set)  # first/last word sequences -> longer keys
    by_initials: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        words = key.split()
        for n in range(1, min(2, len(words) - 1) + 1):
            by_edge[" ".join(words[:n])].add(key)
            by_edge[" ".join(words[-n:])].add(key)
        if initials := acronym(key):
            by_initials[initials].add(key)
    present = set(keys)
    for key in keys:
        words = key.split()
        short = f"{words[0]} {words[-1]}"
        if len(words) >= 3 and labels.get(key) == "PERSON" and short in present:
            resolved[key] = short
    for key in keys:
        if resolved[key] != key:
            continue
        if explicit and key in explicit and explicit[key] in resolved and explicit[key] != key:
            resolved[key] = explicit[key]
            continue
        candidates = {resolved[c] for c in by_edge.get(key, ()) if _compatible(labels.get(key), labels.get(c))}
        if len(candidates) == 1:
            resolved[key] = candidates.pop()
        elif len(key.split()) == 1 and len(by_initials.get(key, ())) == 1:
            resolved[key] = next(iter(by_initials[key]))
    # follow chains (a → b → c) to their end; aliases point at keys that stand alone
    for key in keys:
        seen = {key}
        target = resolved[key]
        while resolved[target] != target and target not in seen:
            seen.add(target)
            target = resolved[target]
        resolved[key] = target
    return resolved


_PLACES = frozenset({"GPE", "LOC", "FAC", "NORP"})


def _compatible(label: str | None, longer: str | None) -> bool:
    """A short name resolves to a person unless it was tagged a place ("Washington" the state is not "George
    Washington"), and to anything else unless it was tagged a person."""
    return label not in _PLACES if longer == "PERSON" else label != "PERSON"
