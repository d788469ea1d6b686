"""Reading a question: its names and key terms, its parts, what it points at without naming, and what the hits it
found are about.

Pure functions of text (and of hits' titles and text): no model, no index. The words they read by come from a
``Lexicon`` (``ragkit.answer.lexicon``), English unless told otherwise.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePath
from typing import Sequence

from ragkit.answer.lexicon import ENGLISH, Lexicon
from ragkit.records import Hit

_WORDS = re.compile(r"\w+")
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")  # "Mercury (planet)": what tells apart things of one name

# -- names and terms ------------------------------------------------------------------------------------------------


def key_phrases(question: str, lexicon: Lexicon = ENGLISH) -> list[str]:
    """The names, numbers and quoted words of a question, without words capitalised only because they open it."""
    phrases = []
    for match in lexicon.key_phrase.finditer(question):
        words = match.group(0).strip("\"“”").rstrip(".").split()
        before = question[: match.start()].rstrip(" \t")
        opens = before[-1:] in ("", "\n") or before.rstrip()[-1:] in (".", "?", "!", ":", ";")  # a sentence or line
        while words and (opens or len(words) == 1) and words[0].lower().strip("'’") in lexicon.openers:
            words = words[1:]  # "What", "Did", or a lone "I": capitalised by position, not a name
        if words:
            phrases.append(lexicon.possessive.sub("", " ".join(words)))
    return list(dict.fromkeys(p for p in phrases if p))


def is_content_word(word: str, lexicon: Lexicon = ENGLISH) -> bool:
    """Whether a word carries what a question is about ("revenue"), not how it is asked ("quickly", "many")."""
    lower = word.lower()
    return (len(word) >= 4 and word.isalpha() and not lower.endswith(lexicon.adverb_suffix)
            and lower not in lexicon.function_words and lower not in lexicon.openers and lower not in lexicon.generic)


def word_pairs(text: str, lexicon: Lexicon = ENGLISH) -> set[tuple[str, str]]:
    """Adjacent content words, lower-cased and cut to six letters (a crude stem: "biomaterials" ~ "biomaterial")."""
    words = [w[:6] for w in _WORDS.findall(text.lower()) if w not in lexicon.function_words]
    return set(zip(words, words[1:]))


def sub_questions(question: str, lexicon: Lexicon = ENGLISH) -> list[str]:
    """A compound question's parts ("What is X? And how does Y…" → two); a simple question gives itself."""
    parts = [lexicon.leading_conjunction.sub("", p.strip(" ,?？")) for p in lexicon.compound.split(question)]
    parts = [p for p in parts if len(p.split()) >= 3]
    return parts if len(parts) > 1 else [question]


def rewrite_query(question: str, unknown_words: Sequence[str], aliases: Sequence[str],
                  lexicon: Lexicon = ENGLISH) -> str | None:
    """A query for a second retrieval: the question relaxed (``unknown_words``, which the corpus has never seen,
    dropped) and widened (``aliases``, the graph's names for its entities); None if that changes nothing."""
    relaxed = question
    for word in unknown_words:  # a word the corpus has never seen can only stop BM25 from matching
        relaxed = re.sub(rf"\b{re.escape(word)}\b", " ", relaxed)
    relaxed = " ".join(relaxed.split())
    if len(word_pairs(relaxed, lexicon)) < 1:
        relaxed = ""  # nothing left worth searching for ("What is the of ?")
    added = [a for a in aliases if a.lower() not in question.lower()]
    rewrite = " ".join([relaxed, *added]).strip()
    return rewrite if rewrite and rewrite != question else None


# -- what a question points at without naming it ---------------------------------------------------------------------


def underspecified_noun(question: str, named: Sequence[str], earlier: Sequence[str] = (), previous: str = "",
                        lexicon: Lexicon = ENGLISH) -> str | None:
    """What the question points at without naming it: "county" for "this county", "one" for a bare pronoun in a
    question that names nothing; None if it names what it asks about, or if the conversation does: ``earlier`` turns
    mention the noun ("this policy" after a turn about the vacation policy), or the user's ``previous`` turn names
    something for the pronoun to stand for ("does it…" after "what is the Atlas arm?")."""
    mentioned = {w[:5] for turn in earlier for w in _WORDS.findall(turn.lower())}
    for match in lexicon.deictic.finditer(question):
        word, noun = match.group(1), match.group(1).lower()
        if match.group(0).lower().startswith(lexicon.relative) and (
                word[0].isupper() or (noun.endswith(lexicon.plural_suffix)
                                      and not noun.endswith(lexicon.singular_suffixes))):
            continue  # a relative clause: "the company that Sachin Warrier founded", "a firm that provides"
        if noun not in lexicon.not_nouns and noun[:5] not in mentioned:
            named_run = lexicon.name_run.match(question, match.start(1)) if word[0].isupper() else None
            return named_run.group(0) if named_run else noun  # "this Superior Court": the whole name
    if not named and lexicon.pronoun.search(question) and not key_phrases(previous, lexicon):
        return lexicon.unnamed
    return None


def points_unidentified(question: str, noun: str, lexicon: Lexicon = ENGLISH) -> bool:
    """Whether "this", "these" or "those" opens a noun phrase about ``noun`` that the question does not go on to
    identify: "this state library?", not "this song that was inspired by…" or "this singer of…", nor "…, and this
    association is strongest…" (what the first clause described). "That" is left out: it opens clauses."""
    head = noun.lower().split()[0]
    return any(match.group(1).lower().startswith(head) and not lexicon.says_which & set(match.group(1).lower().split())
               and not lexicon.clause_join.search(question[: match.start()])
               for match in lexicon.demonstrative.finditer(question))


def unintroduced_description(question: str, earlier: Sequence[str], lexicon: Lexicon = ENGLISH) -> str | None:
    """A definite description in the question whose head noun no earlier turn uses — "famous basketball player" in
    "when was the famous basketball player born?" after turns about cells; None if there is none. (Whether it points
    at something unknown also depends on the question having changed the subject: see ``decide.changed_subject``.)"""
    mentioned = {w[:5] for turn in earlier for w in _WORDS.findall(turn.lower())}
    for match in lexicon.definite.finditer(question):
        following = lexicon.describing.match(question, match.end())
        words: list[str] = []
        for word in (following.group(0).split() if following else []):
            # the description ends before a function word or preposition, and before a participle or adjective
            # that follows its noun ("the actor received", "the opportunities available")
            if word in lexicon.function_words or word in lexicon.prepositions or (
                    words and word.endswith(lexicon.postpositive)):
                break
            words.append(word)
        after = question[match.end():].split()[len(words): len(words) + 2]
        if after[:1] == [lexicon.of] and not (after[1:] and after[1] in lexicon.indefinite):
            continue  # "the speed of light", "the capital of France" say which ("the role of a boy" does not)
        if words and is_content_word(lexicon.possessive.sub("", words[-1]), lexicon) and words[-1][:5] not in mentioned:
            return " ".join(words)
    return None


# -- what hits are about ---------------------------------------------------------------------------------------------


def document_title(hit: Hit) -> str | None:
    """The title of a hit's document: its ``title`` metadata, else its top heading; None if it has neither."""
    headings = hit.metadata.get("heading_path") or ()
    for title in (hit.metadata.get("title"), headings[0] if headings else None):
        if isinstance(title, str) and title.strip():
            return title.strip()
    return None


def titles_named(question: str, hits: Sequence[Hit]) -> list[str]:
    """The titles of ``hits``' documents (parenthetical left out, lower case) that ``question`` names as words."""
    lower = question.lower()
    titles = dict.fromkeys(_PARENTHETICAL.sub("", t).lower() for t in map(document_title, hits) if t)
    return [t for t in titles if len(t) >= 3 and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", lower)]


def topic_label(hit: Hit, lexicon: Lexicon = ENGLISH) -> str:
    """A short name for what a hit is about: its document's title or top heading, else the name its text repeats
    most, else the file name."""
    title = document_title(hit)
    if title is not None:
        return title
    names = Counter(p for p in key_phrases(hit.text, lexicon) if len(p) > 3 and not p[0].isdigit())
    if names:
        return names.most_common(1)[0][0]
    return PurePath(hit.source).stem.replace("-", " ").replace("_", " ")


def ambiguous_name(named: Sequence[str], hits: Sequence[Hit]) -> tuple[str, list[str]] | None:
    """A name of the question that the titles of ``hits`` (the best few) give to different things, told apart the
    way encyclopedias do — "Mercury" finding "Mercury (planet)" and "Mercury (element)", and no hit titled "Mercury"
    alone: the name and those titles. A title that merely contains the name ("Freddie Mercury", "Lempster, New
    Hampshire") is another thing, not another meaning of it."""
    titles = list(dict.fromkeys(t for t in (document_title(hit) for hit in hits) if t))
    for name in named:
        if any(t.lower() == name.lower() for t in titles):
            continue  # one of them is the thing itself
        meanings = [t for t in titles if re.fullmatch(rf"{re.escape(name)}\s*\([^()]+\)", t, re.IGNORECASE)]
        if len(meanings) > 1:
            return name, meanings
    return None


def options_for(noun: str, hits: Sequence[Hit], lexicon: Lexicon = ENGLISH) -> list[str]:
    """The topic labels a clarifying question offers for ``noun``: the best hit's, and those of the other hits that
    speak of a ``noun`` ("Which warranty do you mean" does not offer the access policy); every hit's for something
    unnamed ("one")."""
    stems = {w[:5] for w in _WORDS.findall(noun.lower())}
    return [topic_label(hit, lexicon) for number, hit in enumerate(hits)
            if number == 0 or noun == lexicon.unnamed or stems <= {w[:5] for w in _WORDS.findall(hit.text.lower())}]
