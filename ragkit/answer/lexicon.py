"""The words of one language that the answerer reads questions with and writes answers in.

Every English word list, pattern and phrase of ``ragkit.answer`` lives in ``ENGLISH``, one ``Lexicon``; the modules
that read or write words take a lexicon (``ENGLISH`` by default), so another language is another file that builds
its own ``Lexicon``. What is not a matter of language stays in the code: ``\\w+`` tokens, digits, sentence-ending
punctuation, encyclopedic titles such as "Mercury (planet)".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Lexicon:
    """One language's words and patterns for question analysis (``question``), retrieval signals (``signals``),
    conversations (``conversation``) and answer text (``write``, ``themes``)."""

    # -- names and the words around them (key phrases, content words) ---------------------------------------------
    key_phrase: re.Pattern[str]  # a name, a number or a quotation
    openers: frozenset[str]  # words capitalised only because they open a question
    possessive: re.Pattern[str]  # the possessive ending a name loses ("Northwind's" → "Northwind")
    function_words: frozenset[str]  # words that say how something is asked, not what about
    generic: frozenset[str]  # words any question may use without naming a topic
    adverb_suffix: str  # an adverb ("quickly") is not a topic

    # -- references to something not named ------------------------------------------------------------------------
    deictic: re.Pattern[str]  # "this county": a demonstrative before a noun (group 1)
    relative: str  # the demonstrative that also opens relative clauses ("the company that …")
    plural_suffix: str  # a plural after it is a relative clause's verb ("a firm that provides")…
    singular_suffixes: tuple[str, ...]  # …unless the word is a singular that ends like one ("that process")
    not_nouns: frozenset[str]  # words after a demonstrative that are not the thing pointed at ("that is")
    demonstrative: re.Pattern[str]  # "this state library": the words after "this", "these" or "those" (group 1)
    says_which: frozenset[str]  # words by which a noun phrase goes on to identify its noun ("this song that…")
    clause_join: re.Pattern[str]  # a demonstrative after it points back at the clause before ("…, and this")
    name_run: re.Pattern[str]  # a run of capitalised words: a name ("this Superior Court")
    pronoun: re.Pattern[str]  # a pronoun that stands for something named elsewhere
    unnamed: str  # the noun a clarifying question uses for something the question does not name ("Which one…")
    definite: re.Pattern[str]  # a definite article, which opens a description ("the famous basketball player")
    describing: re.Pattern[str]  # the lower-case words after it, the description's head noun the last of them
    prepositions: frozenset[str]  # a description ends before one…
    postpositive: tuple[str, ...]  # …and before a participle or adjective after its noun ("the actor received")
    of: str  # a description followed by "of" and a noun says which ("the speed of light")…
    indefinite: frozenset[str]  # …unless the noun is indefinite ("the role of a boy")

    # -- compound questions, and questions asking for a number -----------------------------------------------------
    compound: re.Pattern[str]  # where a compound question splits into its parts
    leading_conjunction: re.Pattern[str]  # a part's opening conjunction ("And how does…")
    asks_number: re.Pattern[str]  # a question answered by a number or a date

    # -- clarifying questions and the replies to them --------------------------------------------------------------
    clarifying: str  # the question, with {noun} and {options}
    clarifying_pattern: re.Pattern[str]  # the question read back: groups "noun" and "options"
    option_join: str  # between options…
    last_option_join: str  # …and before the last
    option_pattern: re.Pattern[str]  # one option of the list ("quoted" when it holds a separator, else "plain")
    option_separator: re.Pattern[str]  # what makes an option quoted
    ordinals: Mapping[str, int]  # a reply naming an option by its place (-1: the last)
    affirmative: frozenset[str]  # a reply confirming the only option
    filler: frozenset[str]  # words of a reply that name no option

    # -- answer text -----------------------------------------------------------------------------------------------
    nothing_related: str  # the refusal when retrieval found nothing
    closest_covered: str  # the refusal naming what the knowledge base covers nearby, with {topics}
    not_covered: str  # a partial answer's last sentence, with {missing}
    no_themes: str  # a global question's answer when the entity graph has no communities
    themes_intro: str  # the first line of a global question's answer


_AFFIRMATIVE = frozenset("yes yeah yep right correct exactly sure".split())

ENGLISH = Lexicon(
    # Names, numbers and quoted words: a capitalised run ("Breakfast at Tiffany's", "Rongbuk Monastery"), a number
    # ("1936", "8,300", "20%"), or a quotation. A name stays on one line: "Wembley Stadium" is not "Wembley Stadium
    # In" when the next line opens with "In".
    key_phrase=re.compile(
        r"\"[^\"]{2,}\"|“[^”]{2,}”"
        r"|\d[\d,.]*%?"
        r"|[A-Z][\w'’&.-]*(?:[ \t]+(?:(?:of|the|at|de|for|in|on|von|van)[ \t]+)*[A-Z0-9][\w'’&.-]*)*"
    ),
    openers=frozenset(
        "what which who whom whose when where why how is are was were do does did can could should would will shall "
        "may might must has have had tell please explain describe list give show name define compare i in on at for "
        "if and or but so the a an to of my our your their its it this that these those there here yes no also "
        "recently then now ok okay hi hello thanks you we they he she".split()
    ),
    possessive=re.compile(r"['’]s$"),
    function_words=frozenset(
        "a an the of in on at to for and or nor but is are was were be been being by with from as that this these "
        "those it its into than then there which who whom whose what when where why how does do did can could should "
        "would will shall may might must not no has have had about over under between".split()
    ),
    # The last lines: comparatives (how a question compares), contractions typed without their apostrophe.
    generic=frozenset(
        "many much long often soon far more most less least other another some each every such only very just even "
        "ever never always again still much enough both either neither else instead really actually usually "
        "get gets got make makes made take takes took give gives gave want wants need needs like know knows think "
        "say says said tell told find found come comes came goes went work works keep kept allow allows allowed "
        "happen happens happened mean means meant thing things something anything everything someone anyone "
        "people person part parts kind sort type types example difference different same last next first "
        "second third year years month months week weeks days time times today yesterday tomorrow "
        "older younger earlier later newer bigger larger smaller higher lower longer shorter taller "
        "dont doesnt didnt cant couldnt wont wouldnt shouldnt isnt arent wasnt werent hasnt havent hadnt".split()
    ),
    adverb_suffix="ly",
    # "this county", "those policies": a demonstrative before a noun, not before a verb ("that is").
    deictic=re.compile(r"\b(?:this|that|these|those)\s+([a-z][a-z-]+)", re.IGNORECASE),
    relative="that",
    plural_suffix="s",
    singular_suffixes=("ss", "us", "is"),
    not_nouns=frozenset(
        "is are was were be been do does did can could should would will has have had may might must means way "
        "one ones kind sort much many also still true right correct wrong possible okay ok so good bad important "
        "necessary enough all same different first second third last next previous other new old "
        "i you he she it we they me him her us them my your his its our their there here".split()  # "that he said"
    ),
    demonstrative=re.compile(r"\b(?:this|these|those)\s+((?:[\w'-]+\s*){1,4})", re.IGNORECASE),
    says_which=frozenset("that which who whose of".split()),
    clause_join=re.compile(r"(?:,|\band|\bbut)\s*$", re.IGNORECASE),
    name_run=re.compile(r"[A-Z][\w-]*(?:[ \t]+[A-Z][\w-]*)*"),
    pronoun=re.compile(r"\b(?:it|its|they|them|their|he|him|his|she|her)\b", re.IGNORECASE),
    unnamed="one",
    # "the famous basketball player": "the" and up to three lower-case words, the description's head noun the last.
    definite=re.compile(r"\bthe\s+"),
    describing=re.compile(r"[a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){0,2}"),
    prepositions=frozenset(
        "through across after against along among around before behind below beside besides beyond during except "
        "inside near since toward towards upon within without via per like unlike despite".split()
    ),
    postpositive=("ed", "able", "ible"),
    of="of",
    indefinite=frozenset({"a", "an"}),
    compound=re.compile(r"\?\s+|;\s+|,?\s+and\s+(?=(?:what|how|who|when|where|why|which|is|are|does|do|did|can)\b)",
                        re.IGNORECASE),
    leading_conjunction=re.compile(r"^(?:and|but|also|plus)\s+", re.IGNORECASE),
    asks_number=re.compile(r"\b(?:how (?:many|much|old|long|tall|high|far|large|big)|(?:what|which) (?:year|date|"
                           r"percentage|number)|when)\b", re.IGNORECASE),
    clarifying="Which {noun} do you mean: {options}?",
    clarifying_pattern=re.compile(r"^Which (?P<noun>.+?) do you mean: (?P<options>.+)\?$", re.DOTALL),
    option_join=", ",
    last_option_join=" or ",
    # One option of "A, B or C", where an option holding a separator is quoted: "Lempster, New Hampshire".
    option_pattern=re.compile(r'(?:^|, |,? or )(?:"(?P<quoted>[^"]+)"|(?P<plain>.+?))(?=, |,? or |$)'),
    option_separator=re.compile(r", | or "),
    ordinals={"first": 0, "1": 0, "second": 1, "2": 1, "third": 2, "3": 2, "last": -1},
    affirmative=_AFFIRMATIVE,
    filler=frozenset("a an the one i mean meant about please this that which do you no and or of".split())
    | _AFFIRMATIVE,
    nothing_related="Sorry — the knowledge base has nothing related to this question.",
    closest_covered="Sorry — the knowledge base does not answer this question. The closest it covers: {topics}.",
    not_covered="The knowledge base does not cover: {missing}.",
    no_themes="The knowledge base's entity graph has no themes yet: it needs documents that name related people, "
              "places or organizations.",
    themes_intro="The main themes, the closest to the question and the largest first:",
)
"""The English lexicon: every word list and phrase ragkit has been tuned and measured with."""
