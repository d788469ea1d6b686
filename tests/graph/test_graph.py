"""The entity graph end to end: extraction and resolution with the packaged spaCy pipeline, the walk, graph mode in a
knowledge base (embedded and on Neo4j), incremental updates against a rebuild, and exploration."""

from __future__ import annotations

import uuid
from dataclasses import astuple

import networkx as nx
import numpy as np
import pytest
from scipy import sparse

from ragkit import ConfigError, Document, GraphConfig, KBConfig, KnowledgeBase
from ragkit.graph import SpacyExtractor, normalize_name, personalized_pagerank, resolve_aliases
from ragkit.graph.neo4j_store import Neo4jGraphStore
from ragkit.records import Chunk

FILM = Document("film.txt", "Moonfall Harbor is a 1987 Norwegian drama film directed by Arvid Kesselring. "
                            "The film follows a lighthouse keeper during a long winter storm.")
DIRECTOR = Document("director.txt", "Arvid Kesselring was a painter and filmmaker. Kesselring was born in the "
                                    "fishing village of Lodingen and studied art in Oslo.")
DISTRACTORS = [
    Document("brandt.txt", "Helga Brandt is a film director who was born in Bergen. Brandt directed three comedies."),
    Document("olsen.txt", "Per Olsen, a director of short films, was born in Trondheim and later moved to Stockholm."),
    Document("lind.txt", "The director Maja Lind was born in Stavanger. Lind's first film was a documentary."),
    Document("harbor.txt", "A harbor is a sheltered body of water where ships may be docked. Many harbors freeze in "
                           "a cold winter."),
    Document("storm.txt", "Winter storms in northern Norway bring strong winds and heavy snow to the coast."),
]
CORPUS = [FILM, DIRECTOR, *DISTRACTORS]
SCIENCE = [  # a second theme, for communities
    Document("curie.txt", "Marie Curie worked with Pierre Curie in Paris. Marie Curie and Pierre Curie studied "
                          "radium at the Sorbonne in Paris."),
    Document("sorbonne.txt", "The Sorbonne in Paris honoured Marie Curie. Pierre Curie lectured at the Sorbonne."),
]
QUESTION = "Where was the director of Moonfall Harbor born?"


@pytest.fixture(scope="module")
def extractor() -> SpacyExtractor:
    return SpacyExtractor()


def _chunk(doc: Document) -> Chunk:
    return Chunk(f"{doc.source}#0", doc.id, 0, 0, len(doc.text), doc.text)


# -- names and extraction --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("surface, key", [
    ("Sherlock Holmes's", "sherlock holmes"), ("the Sorbonne", "sorbonne"), ("Dr. John Watson", "john watson"),
    ("VIGLEN Ltd.", "viglen"), ("  New   York ", "new york"), ("Mr.", "mr"), ("...", ""),
])
def test_names_normalize_to_one_key(surface: str, key: str) -> None:
    assert normalize_name(surface) == key


def test_short_names_and_abbreviations_resolve_within_a_document() -> None:
    labels = {"sherlock holmes": "PERSON", "holmes": "PERSON", "mycroft": "PERSON", "washington": "GPE",
              "george washington": "PERSON", "sela ann ward": "PERSON", "sela ward": "PERSON", "ward": "PERSON"}
    keys = [*labels, "world health organization", "who", "nato"]
    resolved = resolve_aliases(keys, labels, explicit={"nato": "north atlantic treaty organization"})
    assert resolved["holmes"] == "sherlock holmes"
    assert resolved["washington"] == "washington"  # a place is not the person
    assert resolved["who"] == "world health organization"
    assert resolved["sela ann ward"] == resolved["ward"] == "sela ward"
    assert resolved["nato"] == "nato"  # an explicit alias needs its long form in the document
    two_holmes = resolve_aliases(["sherlock holmes", "mycroft holmes", "holmes"], {})
    assert two_holmes["holmes"] == "holmes"  # ambiguous: left alone


@pytest.mark.integration
def test_extraction_keeps_provenance_and_resolves_aliases(extractor: SpacyExtractor) -> None:
    text = ("Sherlock Holmes lived in London with John Watson. Holmes solved cases for Scotland Yard. "
            "The World Health Organization (WHO) was not yet founded; WHO came much later.")
    doc = Document("holmes.txt", "Preface.\n\n" + text)
    chunk = Chunk("c1", doc.id, 0, 10, len(doc.text), text)
    [graph] = extractor.extract([(doc.id, [chunk])])
    keys = {m.entity for m in graph.mentions}
    assert {"sherlock holmes", "london", "john watson", "world health organization"} <= keys
    assert "holmes" not in keys and "who" not in keys
    for m in graph.mentions:
        assert doc.text[m.start : m.end] == m.surface  # offsets point into the document, not the chunk
        assert m.sentence_start <= m.start < m.end <= m.sentence_end
        assert m.chunk_id == "c1"
    assert any(r.label == "co-occurs" and {r.source, r.target} == {"london", "sherlock holmes"}
               for r in graph.relations)
    assert any(r.label != "co-occurs" for r in graph.relations)  # a subject-verb-object relation
    assert not any(m.label in ("DATE", "CARDINAL") for m in graph.mentions)


@pytest.mark.integration
def test_a_title_line_and_the_sentence_that_repeats_it_are_two_mentions_of_one_name(extractor) -> None:
    text = "Ada Lovelace\n\nAda Lovelace was an English mathematician who worked with Charles Babbage in London."
    doc = Document("ada.txt", text)
    [graph] = extractor.extract([(doc.id, [_chunk(doc)])])
    ada = [m for m in graph.mentions if m.entity == "ada lovelace"]
    assert [(m.surface, m.start) for m in ada] == [("Ada Lovelace", 0), ("Ada Lovelace", 14)]
    assert not any("\n" in m.surface for m in graph.mentions)


# -- the walk --------------------------------------------------------------------------------------------------------


def test_personalized_pagerank_matches_networkx() -> None:
    rng = np.random.default_rng(0)
    dense = rng.random((12, 12)) * (rng.random((12, 12)) < 0.3)
    dense = dense + dense.T
    dense[11, :] = dense[:, 11] = 0.0  # an isolated node
    reset = np.zeros(12)
    reset[[0, 3, 11]] = [0.5, 0.3, 0.2]
    ours = personalized_pagerank(sparse.csr_matrix(dense), reset, damping=0.5)
    graph = nx.from_numpy_array(dense)
    personalization = {i: float(reset[i]) for i in range(12)}
    theirs = nx.pagerank(graph, alpha=0.5, personalization=personalization, dangling=personalization, tol=1e-12)
    assert np.allclose(ours, [theirs[i] for i in range(12)], atol=1e-8)
    assert ours.sum() == pytest.approx(1.0)


# -- graph mode in a knowledge base ----------------------------------------------------------------------------------


def _rank(result, source: str) -> int | None:
    sources = [hit.source for hit in result]
    return sources.index(source) + 1 if source in sources else None


def test_graph_mode_finds_the_second_hop_with_its_evidence(tmp_path, embedder) -> None:
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(graph="embedded"), embedder=embedder) as kb:
        kb.ingest(CORPUS)
        hybrid = kb.search(QUESTION, k=7, mode="hybrid")
        graph = kb.search(QUESTION, k=7, mode="graph")
        assert _rank(graph, "film.txt") == _rank(hybrid, "film.txt") == 1
        # the director's page shares no words with the question; the film's page names the director
        assert _rank(graph, "director.txt") < _rank(hybrid, "director.txt")
        hit = graph[_rank(graph, "director.txt") - 1]
        assert "graph" in hit.found_by and "timings" not in hit.found_by
        assert hit.graph is not None and hit.graph.entity == "arvid kesselring"
        assert hit.graph.start == "moonfall harbor"
        [edge] = hit.graph.path
        assert {edge.source, edge.target} == {"moonfall harbor", "arvid kesselring"}
        assert kb.search(QUESTION, k=3, mode="graph").timings_ms["graph"] > 0
        # the walk leaves the index, so filters are applied to its chunks too
        filtered = kb.search(QUESTION, k=7, mode="graph", filter={"source": ["film.txt", "olsen.txt"]})
        assert {hit.source for hit in filtered} <= {"film.txt", "olsen.txt"}


def test_the_walk_prefers_the_page_about_the_bridge_entity(tmp_path, embedder) -> None:
    """Two passages name the director; the one that opens with his name (his page) is what the question needs."""
    own_page = Document("kesselring.txt", "Arvid Kesselring\n\nThe painter was born in the fishing village of "
                                          "Lodingen and studied art in Oslo.")
    mention = Document("festival.txt", "The Bergen festival of 1990 showed films by Helga Brandt and by Arvid "
                                       "Kesselring, and a painting exhibition opened in the same week.")
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(graph="embedded"), embedder=embedder) as kb:
        kb.ingest([FILM, own_page, mention, *DISTRACTORS])
        ranker = kb._graph.ranker
        source = {hit.chunk_id: hit.source for hit in kb.search("Arvid Kesselring", k=9, mode="hybrid")}
        top = kb.search(QUESTION, k=1)[0].chunk_id
        ranked = {}
        for weight in (1.0, 3.0):
            ranker.topic_weight = weight
            scores = {source[chunk]: score for chunk, score in ranker.rank(QUESTION, [top], len(source)).chunks}
            ranked[weight] = scores["kesselring.txt"] / scores["festival.txt"]
        assert ranked[3.0] > ranked[1.0] and ranked[3.0] > 1.0


def test_graph_mode_needs_a_graph(tmp_path, embedder) -> None:
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest([FILM])
        with pytest.raises(ConfigError, match="no entity graph"):
            kb.search(QUESTION, mode="graph")
        with pytest.raises(ConfigError, match="no entity graph"):
            kb.graph


def _graph_rows(kb: KnowledgeBase) -> tuple[list, list]:
    store = kb._graph.store
    return sorted(map(astuple, store.mentions())), sorted(map(astuple, store.relations()))


def test_incremental_updates_equal_a_rebuild(tmp_path, embedder) -> None:
    """Adds, an update that renames an entity, and deletes leave the graph a fresh build of the final corpus has."""
    with KnowledgeBase.open(tmp_path / "inc", KBConfig(graph="embedded"), embedder=embedder) as kb:
        kb.ingest(CORPUS[:4])
        assert kb.graph.entity("Arvid Kesselring") is not None
        kb.ingest([Document("director.txt", DIRECTOR.text.replace("Kesselring", "Kessler")), *CORPUS[4:]])
        assert kb.graph.entity("Arvid Kesselring") is not None  # still named by the film
        kb.delete("film.txt")
        assert kb.graph.entity("Arvid Kesselring") is None  # no document names it any more: gone
        assert kb.graph.entity("Moonfall Harbor") is None
        kb.delete("olsen.txt")
        incremental = _graph_rows(kb)
    final = [Document("director.txt", DIRECTOR.text.replace("Kesselring", "Kessler")),
             *[d for d in DISTRACTORS if d.source != "olsen.txt"]]
    with KnowledgeBase.open(tmp_path / "fresh", KBConfig(graph="embedded"), embedder=embedder) as kb:
        kb.ingest(list(reversed(final)))
        assert _graph_rows(kb) == incremental
        assert kb.rebuild_graph()["entities"] == len({row[0] for row in incremental[0]})
        assert _graph_rows(kb) == incremental


def test_exploring_the_graph(tmp_path, embedder) -> None:
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(graph="embedded"), embedder=embedder) as kb:
        kb.ingest(CORPUS)
        entity = kb.graph.entity("ARVID KESSELRING's")  # case, possessive and spacing do not matter
        assert entity is not None and entity.key == "arvid kesselring"
        assert entity.name == "Arvid Kesselring" and entity.label == "PERSON"
        assert "Kesselring" in entity.aliases
        assert len(entity.chunk_ids) == 2  # named by the film and by its own page
        assert {key for key, _ in entity.neighbours()} >= {"moonfall harbor", "lodingen"}
        [path] = kb.graph.paths("Moonfall Harbor", "Lodingen")
        assert len(path) == 2
        assert "moonfall harbor" in (path[0].source, path[0].target)
        assert "lodingen" in (path[1].source, path[1].target)
        assert all(edge.chunk_ids for edge in path)
        shown = path._repr_markdown_().splitlines()  # Jupyter: a table of the steps
        assert shown[0] == "| step | from | relation | to | stated in |" and len(shown) == 2 + len(path)
        assert shown[2].startswith(f"| 1 | {path[0].source} | ")
        card = entity._repr_markdown_()
        assert card.startswith("**Arvid Kesselring** (PERSON) — ") and "in 2 chunks" in card
        assert "| from | relation | to | stated in |" in card
        exported = kb.graph.to_networkx()
        assert exported.nodes["arvid kesselring"]["label"] == "PERSON"
        assert exported.has_edge("moonfall harbor", "arvid kesselring") or exported.has_edge("arvid kesselring",
                                                                                          "moonfall harbor")
        written = kb.graph.write_graphml(tmp_path / "graph.graphml")
        assert nx.read_graphml(written).number_of_nodes() == exported.number_of_nodes()


def test_neo4j_and_embedded_graphs_give_the_same_results(tmp_path, embedder, neo4j_server) -> None:
    namespace = f"kb-{uuid.uuid4().hex[:12]}"
    store = Neo4jGraphStore(neo4j_server.uri, neo4j_server.auth, namespace=namespace)
    config = KBConfig(graph=GraphConfig("neo4j", uri=neo4j_server.uri, namespace=namespace))
    questions = [QUESTION, "Who directed a Norwegian drama film?", "Which director was born in Bergen?"]
    with KnowledgeBase.open(tmp_path / "neo", config, embedder=embedder, graph=store) as neo, \
            KnowledgeBase.open(tmp_path / "emb", KBConfig(graph="embedded"), embedder=embedder) as emb:
        for kb in (neo, emb):
            kb.ingest(CORPUS)
            kb.delete("storm.txt")
        assert _graph_rows(neo) == _graph_rows(emb)
        chunks = emb.stats()["chunks"]
        for question in questions:
            # the same hybrid seeds into both walks (the two vector indexes may order exact BM25 ties differently)
            seeds = [hit.chunk_id for hit in emb.search(question, k=10, mode="hybrid")]
            a = neo._retriever._graph.rank(question, seeds, chunks)
            b = emb._retriever._graph.rank(question, seeds, chunks)
            assert a == b and a.chunks
        assert neo.graph.paths("Moonfall Harbor", "Lodingen") == emb.graph.paths("Moonfall Harbor", "Lodingen")
        neo.delete("film.txt")
        neo.delete("director.txt")
        assert neo.graph.entity("Arvid Kesselring") is None


def test_communities_summarize_the_main_themes(tmp_path, embedder) -> None:
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(graph="embedded"), embedder=embedder) as kb:
        kb.ingest([*CORPUS, *SCIENCE])
        communities = kb.graph.communities()
        assert communities == kb.graph.communities()  # deterministic
        curie = next(c for c in communities if "marie curie" in c.entities)
        assert {"pierre curie", "sorbonne", "paris"} <= set(curie.entities)
        assert "arvid kesselring" not in curie.entities
        chunk_id, start, end, sentence = curie.sentences[0]
        assert "Curie" in sentence
        assert sentence in {kb.document(name).text[start:end] for name in ("curie.txt", "sorbonne.txt")}


def test_chinese_text_gets_its_graph_from_lac(tmp_path, embedder) -> None:
    """Chinese documents through LAC: names become entities with offsets, "name verb name" becomes a labelled relation,
    and graph mode finds the director's passage, which shares no words with the question, through the film's."""
    film = Document("film.txt", "《霸王别姬》是一部1993年的中国电影，由陈凯歌执导。"
                                "影片讲述了两位京剧演员半个世纪的悲欢离合。")
    director = Document("director.txt", "陈凯歌是一位画家和导演，出生于北京，曾在北京电影学院学习。")
    others = [
        Document("zhang.txt", "张艺谋是一位电影导演，出生于西安。张艺谋执导了三部喜剧。"),
        Document("feng.txt", "冯小刚是一位电影导演，出生于上海，后来搬到了广州。"),
        Document("opera.txt", "京剧是中国的传统戏剧，演员在舞台上唱念做打，很多剧目流传了两百年。"),
    ]
    question = "霸王别姬的导演出生在哪里？"
    config = KBConfig(graph=GraphConfig("embedded", model="lac"), bm25={"tokenizer": "multilingual"})
    with KnowledgeBase.open(tmp_path / "kb", config, embedder=embedder) as kb:
        kb.ingest([film, director, *others])
        chen = kb.graph.entity("陈凯歌")
        assert chen is not None and chen.label == "PERSON"
        [born] = [edge for edge in chen.relations if edge.label == "出生于"]
        assert (born.source, born.target) == ("陈凯歌", "北京")
        text = kb.document(director.source).text
        assert all(text[m.start : m.end] == "陈凯歌" for m in chen.mentions if m.chunk_id in born.chunk_ids)
        hybrid, graph = kb.search(question, k=5, mode="hybrid"), kb.search(question, k=5, mode="graph")
        assert _rank(graph, "film.txt") == 1
        assert _rank(graph, "director.txt") < (_rank(hybrid, "director.txt") or 6)
        evidence = graph[_rank(graph, "director.txt") - 1].graph
        assert evidence is not None and evidence.start == "霸王别姬" and evidence.entity == "陈凯歌"


def test_global_mode_answers_with_one_passage_per_theme(tmp_path, embedder) -> None:
    with KnowledgeBase.open(tmp_path / "kb", KBConfig(graph="embedded"), embedder=embedder) as kb:
        kb.ingest([*CORPUS, *SCIENCE])
        themes = kb.search("What are the main themes of this collection?", k=5, mode="global")
        communities = [hit.metadata["community"] for hit in themes]
        assert len(themes) >= 2 and len({hit.chunk_id for hit in themes}) == len(themes)
        assert len({c["id"] for c in communities}) == len(communities)  # one passage per theme
        assert {c["id"] for c in communities} <= {c.id for c in kb.graph.communities()}
        for hit, community in zip(themes, communities):
            assert community["sentences"][0] in kb.document(hit.source).text and "global" in hit.found_by
        radium = kb.search("What are the themes around radium research and the Curies?", k=5, mode="global")
        assert "marie curie" in radium[0].metadata["community"]["entities"]
        assert "Marie Curie" in radium[0].metadata["community"]["names"]  # display names, in the entities' order
        assert radium[0].source in {"curie.txt", "sorbonne.txt"}
        film = kb.search("Which themes concern Norwegian films and their directors?", k=5, mode="global")
        assert "marie curie" not in film[0].metadata["community"]["entities"]
        answer = kb.ask("What are the main themes of this collection?", mode="global")
        assert answer.status == "answered" and len(answer.citations) == len(themes)
        for citation in answer.citations:
            assert kb.document(citation.source).text[citation.start : citation.end] == citation.quote
            assert f"{citation.quote} [{citation.number}]" in answer.text
        assert "Marie Curie, " in answer.text or "Pierre Curie, " in answer.text
        follow_up = kb.ask("And which concern their directors?", mode="global",
                           history=["Which themes concern Norwegian films?"])
        assert follow_up.search_query == "And which concern their directors? Which themes concern Norwegian films?"
        assert follow_up.citations and "marie curie" not in follow_up.evidence[0].metadata["community"]["entities"]
        with pytest.raises(ConfigError, match="history turn 0"):
            kb.ask("And which concern their directors?", mode="global", history=[{"role": "user"}])
        only = kb.search("What are the main themes?", k=5, mode="global", filter={"source": "sorbonne.txt"})
        assert {hit.source for hit in only} <= {"sorbonne.txt"}
        # the communities follow the graph: without the Curie documents their theme is gone
        kb.delete_many(["curie.txt", "sorbonne.txt"])
        after = kb.search("What are the themes around radium research and the Curies?", k=5, mode="global")
        assert all("marie curie" not in hit.metadata["community"]["entities"] for hit in after)
        kb.delete_many([doc.source for doc in CORPUS])
        assert kb.ask("What are the main themes?", mode="global").status == "no_answer"


def test_global_mode_needs_a_graph(tmp_path, embedder) -> None:
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.ingest(CORPUS)
        with pytest.raises(ConfigError, match="global"):
            kb.search("What are the main themes?", mode="global")


def test_a_mixed_knowledge_base_routes_each_document_by_script(tmp_path, embedder) -> None:
    docs = [Document("curie.txt", "Marie Curie worked with Pierre Curie in Paris."),
            Document("chen.txt", "陈凯歌是一位画家和导演，出生于北京，曾在北京电影学院学习。"),
            Document("film.txt", "《霸王别姬》是一部1993年的中国电影，由陈凯歌执导。")]
    config = KBConfig(graph=GraphConfig("embedded", model="auto"), bm25={"tokenizer": "multilingual"})
    with KnowledgeBase.open(tmp_path / "kb", config, embedder=embedder) as kb:
        kb.ingest(docs)
        assert kb.graph.entity("Pierre Curie").label == "PERSON"  # spaCy
        assert kb.graph.entity("陈凯歌").label == "PERSON"  # LAC
        assert kb.graph.entity("陈凯歌").chunk_ids == tuple(sorted(
            hit.chunk_id for hit in kb.search("陈凯歌", k=3, mode="sparse") if hit.source != "curie.txt"))
        assert "霸王别姬" in kb._graph.ranker.link("霸王别姬的导演出生在哪里？", 3)  # queries are routed too
        assert "pierre curie" in kb._graph.ranker.link("Where did Pierre Curie work?", 3)
