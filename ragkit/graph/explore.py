"""Looking around the entity graph: an entity with its aliases, neighbours and provenance; paths between two
entities; export to networkx and GraphML. Everything is derived from the store's mentions and relations, so it reads
the same from the embedded store and from Neo4j."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ragkit.graph.extract import Mention, Relation
from ragkit.graph.resolve import normalize_name
from ragkit.graph.store import GraphStore
from ragkit.records import GraphEdge, GraphPath, markdown_cell


@dataclass(frozen=True)
class EntityInfo:
    """One entity: its key, the name and type used most often, every surface form seen, and where it is stated."""

    key: str
    name: str
    label: str
    aliases: tuple[str, ...]
    mentions: tuple[Mention, ...]
    relations: tuple[GraphEdge, ...]

    @property
    def chunk_ids(self) -> tuple[str, ...]:
        return tuple(sorted({m.chunk_id for m in self.mentions}))

    def _repr_markdown_(self, relations: int = 10) -> str:
        """How Jupyter shows an entity: name, type and aliases, where it is stated, and its first relations."""
        lines = [f"**{markdown_cell(self.name)}** ({self.label}) — {len(self.mentions)} mentions in "
                 f"{len(self.chunk_ids)} chunks; also: {markdown_cell(', '.join(self.aliases))}", ""]
        if self.relations:
            lines += ["| from | relation | to | stated in |", "|---|---|---|---|"]
            lines += [f"| {markdown_cell(edge.source)} | {markdown_cell(edge.label)} | {markdown_cell(edge.target)} | "
                      f"{len(edge.chunk_ids)} chunks |" for edge in self.relations[:relations]]
            if len(self.relations) > relations:
                lines.append(f"\n… and {len(self.relations) - relations} more relations")
        return "\n".join(lines).strip()

    def neighbours(self) -> list[tuple[str, float]]:
        """Related entities with the number of chunks that link them, most linked first."""
        linked: Counter[str] = Counter()
        for edge in self.relations:
            linked[edge.target if edge.source == self.key else edge.source] += len(edge.chunk_ids)
        return sorted(linked.items(), key=lambda pair: (-pair[1], pair[0]))


@dataclass(frozen=True)
class Community:
    """A cluster of entities that the corpus keeps mentioning together, summarized extractively: its most mentioned
    entities and the sentences that name the most of them (``(chunk id, start, end, text)``, offsets into the
    document)."""

    id: int
    size: int
    entities: tuple[str, ...]
    sentences: tuple[tuple[str, int, int, str], ...]
    names: tuple[str, ...] = ()  # the entities' display names, in the same order


def merge_relations(relations: Iterable[Relation]) -> list[GraphEdge]:
    """Relations merged per (source, label, target), each with the chunks that state it."""
    stated: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in relations:
        stated[(r.source, r.label, r.target)].add(r.chunk_id)
    return [GraphEdge(s, label, t, tuple(sorted(chunks))) for (s, label, t), chunks in sorted(stated.items())]


class GraphView:
    """Read-only exploration of a knowledge base's graph (``kb.graph``)."""

    def __init__(self, store: GraphStore, sentence_text: Callable[[str, int, int], str] | None = None) -> None:
        self._store = store
        self._sentence_text = sentence_text or (lambda chunk_id, start, end: "")

    def communities(self, *, min_size: int = 3, top_entities: int = 8, top_sentences: int = 3,
                    resolution: float = 1.0, seed: int = 0) -> list[Community]:
        """Louvain communities (networkx; Blondel et al. 2008) of the entity graph weighted by how many sentences link
        each pair, largest first, for "what are the main themes" questions. Deterministic for a given ``seed``."""
        import networkx as nx

        graph = nx.Graph()
        for relation in self._store.relations():
            if relation.source != relation.target:
                weight = graph.get_edge_data(relation.source, relation.target, {"weight": 0.0})["weight"]
                graph.add_edge(relation.source, relation.target, weight=weight + relation.weight)
        parts = nx.community.louvain_communities(graph, weight="weight", resolution=resolution, seed=seed)
        parts = sorted((sorted(p) for p in parts if len(p) >= min_size), key=lambda p: (-len(p), p))
        found = []
        for number, members in enumerate(parts):
            mentions = self._store.mentions(entities=members)
            counts = Counter(m.entity for m in mentions)
            in_sentence: dict[tuple[str, int, int], set[str]] = defaultdict(set)
            for m in mentions:
                in_sentence[(m.chunk_id, m.sentence_start, m.sentence_end)].add(m.entity)
            best = sorted(in_sentence, key=lambda s: (-len(in_sentence[s]), s))[:top_sentences]
            top = tuple(sorted(counts, key=lambda e: (-counts[e], e))[:top_entities])
            found.append(Community(
                number, len(members), top,
                tuple((chunk, start, end, self._sentence_text(chunk, start, end)) for chunk, start, end in best),
                tuple(_name_and_label([m for m in mentions if m.entity == key])[0] for key in top),
            ))
        return found

    def entity(self, name: str) -> EntityInfo | None:
        """The entity a name stands for (any surface form: "Holmes's", "the WHO"), or None."""
        key = normalize_name(name)
        mentions = tuple(sorted(self._store.mentions(entities=[key]), key=_mention_order))
        if not mentions:
            return None
        return EntityInfo(
            key,
            *_name_and_label(mentions),
            tuple(sorted({m.surface for m in mentions})),
            mentions,
            tuple(merge_relations(self._store.relations([key]))),
        )

    def paths(self, source: str, target: str, max_hops: int = 3, limit: int = 10) -> list[GraphPath]:
        """Shortest relation paths between two entities (by any of their names), at most ``max_hops`` edges."""
        start, goal = normalize_name(source), normalize_name(target)
        parents: dict[str, list[GraphEdge]] = {start: []}
        frontier = [start]
        for _ in range(max_hops):
            if goal in parents or not frontier:
                break
            reached: dict[str, list[GraphEdge]] = defaultdict(list)
            for edge in merge_relations(self._store.relations(frontier)):
                for here, there in ((edge.source, edge.target), (edge.target, edge.source)):
                    if here in frontier and there not in parents:
                        reached[there].append(edge)
            parents.update(reached)
            frontier = sorted(reached)
        if goal not in parents or start == goal:
            return []
        found: list[GraphPath] = []

        def walk(node: str, suffix: tuple[GraphEdge, ...]) -> None:
            if len(found) >= limit:
                return
            if node == start:
                found.append(GraphPath(suffix))
                return
            for edge in parents[node]:
                walk(edge.source if edge.target == node else edge.target, (edge,) + suffix)

        walk(goal, ())
        return found

    def to_networkx(self) -> Any:
        """The whole graph as a ``networkx.MultiDiGraph``: entity nodes (name, label, mentions) and one edge per
        (source, label, target) with its weight and the chunks that state it."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        by_entity: dict[str, list[Mention]] = defaultdict(list)
        for m in self._store.mentions():
            by_entity[m.entity].append(m)
        for key, mentions in sorted(by_entity.items()):
            name, label = _name_and_label(mentions)
            graph.add_node(key, name=name, label=label, mentions=len(mentions))
        for edge in merge_relations(self._store.relations()):
            graph.add_edge(edge.source, edge.target, key=edge.label, label=edge.label, weight=len(edge.chunk_ids),
                           chunks=" ".join(edge.chunk_ids))
        return graph

    def write_graphml(self, path: str | Path) -> Path:
        import networkx as nx

        path = Path(path)
        nx.write_graphml(self.to_networkx(), path)
        return path

    def stats(self) -> dict[str, int]:
        mentions = self._store.mentions()
        return {"entities": len({m.entity for m in mentions}), "mentions": len(mentions),
                "relations": len(self._store.relations())}


def _name_and_label(mentions: Iterable[Mention]) -> tuple[str, str]:
    """An entity's display name and type: the surface form and label its mentions use most (ties: shorter, then
    alphabetical)."""
    surfaces = Counter(m.surface for m in mentions)
    labels = Counter(m.label for m in mentions)
    return (max(surfaces, key=lambda s: (surfaces[s], -len(s), s)),
            max(labels, key=lambda label: (labels[label], label)))


def _mention_order(m: Mention) -> tuple:
    return (m.chunk_id, m.start, m.end, m.surface)
