"""The commands that work on one knowledge base: ingest, search, ask, chat, calibrate, stats, graph, delete."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ragkit.build import BuildSummary
from ragkit.cli import options, render
from ragkit.errors import ConfigError, RagkitError
from ragkit.progress import Progress, Stage
from ragkit.records import Answer, IngestReport, storable_text
from ragkit.retrieve import SearchResult
from ragkit.settings import ChunkerKind, GraphKind, Language


def ingest(args: argparse.Namespace) -> IngestReport:
    from ragkit.connectors import FileConnector, ParseOptions, WebConnector

    parsing = ParseOptions(ocr=args.ocr, max_expanded_mb=args.max_expanded_mb)
    sources: list = [
        FileConnector.from_path(path, include=tuple(args.include), exclude=tuple(args.exclude),
                                max_bytes=int(args.max_mb * 2**20), options=parsing, chunker=args.chunker)
        for path in args.paths
    ]
    if args.url or args.sitemap:
        sources.append(WebConnector(urls=tuple(args.url), sitemaps=tuple(args.sitemap), options=parsing,
                                    chunker=args.chunker))
    if not sources:
        raise ConfigError("nothing to ingest: give paths, --url or --sitemap")
    language = None
    if options.creating(args):
        language = Language(args.language) if args.language != "auto" else sample_language(sources[: len(args.paths)])
    with options.open_kb(args, language) as kb:
        return kb.ingest(sources, workers=args.workers, progress=options.progress(args))


# Files read to pick a new knowledge base's language: text formats only, which load without a parser.
_SAMPLED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".csv", ".json", ".jsonl"})


def sample_language(connectors: list, files: int = 20, characters: int = 4000) -> Language:
    """Chinese when the first ``files`` text files of the sources are mostly Han characters, else English."""
    from ragkit.connectors.files import FileItem
    from ragkit.text import mostly_chinese

    sample: list[str] = []
    for connector in connectors:
        for item in connector.items():
            if len(sample) >= files:
                break
            if isinstance(item, FileItem) and item.path.suffix.lower() in _SAMPLED_SUFFIXES:
                try:
                    sample.append(item.load().text[:characters])
                except RagkitError:
                    continue  # ingest reports it
    return Language.ZH if mostly_chinese("\n".join(sample)) else Language.EN


def build(args: argparse.Namespace) -> BuildSummary:
    """``ragkit build FILE``: every source of a build file into its knowledge base; run again to continue."""
    from ragkit.build import load_build, run_build

    config = load_build(args.file)
    if args.workers is not None:
        config = replace(config, workers=args.workers)
    try:
        return run_build(config, progress=options.progress(args))
    except KeyboardInterrupt:
        print(f"ragkit: interrupted; run `ragkit build {args.file}` again to continue where it stopped",
              file=sys.stderr)
        raise SystemExit(130) from None


def search(args: argparse.Namespace) -> SearchResult:
    with options.open_kb(args) as kb:
        return kb.search(args.query, k=args.k, mode=args.mode)


def ask(args: argparse.Namespace) -> Answer:
    with options.open_kb(args) as kb:
        return kb.ask(args.question, k=args.k, mode=args.mode, llm=options.chat_model(args),
                      history=args.history or (), strict=args.llm_strict)


def chat(args: argparse.Namespace) -> None:
    """Questions from standard input, one per line (a prompt on a terminal), each answered with the conversation
    before it; an empty line is skipped, "exit" or end of input ends the chat. A question that fails (an error the
    knowledge base explains) is reported and the chat goes on."""
    prompt = "> " if sys.stdin.isatty() else ""
    with options.open_kb(args) as kb:
        conversation = kb.chat(k=args.k, mode=args.mode, llm=options.chat_model(args), window=args.window)
        while True:
            try:
                question = input(prompt).strip()
            except EOFError:
                break
            if question.lower() in ("exit", "quit"):
                break
            if not question:
                continue
            try:
                answer = conversation.ask(question)
            except RagkitError as exc:  # reported as main() reports errors, and the chat goes on
                print(render.error(exc, args.json), file=sys.stdout if args.json else sys.stderr, flush=True)
                continue
            print(json.dumps(render.plain(answer), ensure_ascii=False) if args.json else render.answer(answer),
                  flush=True)


def calibrate(args: argparse.Namespace) -> dict[str, Any]:
    from ragkit.answer import Calibrator, auroc
    from ragkit.answer.calibrator import cross_fitted

    labelled = labelled_questions(args.questions)
    tracker = Progress(options.progress(args))
    tracker.total(Stage.ASK, len(labelled))
    with options.open_kb(args) as kb:
        answers = []
        for question, _ in labelled:
            answers.append(kb.ask(question, mode=args.mode))
            tracker.advance(Stage.ASK)
        tracker.finish()
        labels = [answerable for _, answerable in labelled]
        # Fitted with a reranker, it weighs the reranker's scores: ask with the same --reranker to get them.
        reranked = f", reranker {args.reranker}" if args.reranker not in (None, "none") else ""
        calibrator = Calibrator.fit([a.signals for a in answers], labels,
                                    max_false_abstention=args.max_false_abstention,
                                    fitted_on=f"{args.questions}: {len(labelled)} labelled questions{reranked}")
        written = kb.save_calibrator(calibrator)
        confidences = [calibrator.probability(a.signals) for a in answers]
        result = {"written": written, "questions": len(labelled),
                  "answerable": sum(labels), "in_sample_auroc": round(auroc(confidences, labels), 4),
                  "threshold": calibrator.threshold}
        folds = min(5, len(labels) - sum(labels), sum(labels))
        if folds >= 2:  # what to expect on new questions: each fold judged by a calibrator fitted on the others
            result["held_out"] = cross_fitted([a.signals for a in answers], labels, folds,
                                              max_false_abstention=args.max_false_abstention)
        return result


def labelled_questions(path: str) -> list[tuple[str, bool]]:
    """``{"question": ..., "answerable": true|false}`` per line."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read labelled questions from {path} ({exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, answerable = row["question"], row["answerable"]
        except (ValueError, KeyError, TypeError):
            expected = '{"question": "...", "answerable": true|false}'
            raise ConfigError(f"{path} line {number}: expected {expected}") from None
        if not isinstance(question, str) or not question.strip() or not isinstance(answerable, bool):
            raise ConfigError(f"{path} line {number}: question must be non-empty text and answerable true or false")
        rows.append((question, answerable))
    return rows


def stats(args: argparse.Namespace) -> dict[str, Any]:
    with options.open_kb(args) as kb:
        counts = kb.stats()
        if args.repair:
            counts.update(kb.repair())
        if args.check or args.repair:
            counts.update(kb.check())
        return counts


def graph(args: argparse.Namespace) -> Any:
    with options.open_kb(args) as kb:
        view = kb.graph
        if args.action == "stats":
            return view.stats()
        if args.action == "communities":
            return {"communities": [{"size": c.size, "entities": list(c.entities),
                                     "sentences": [text for *_, text in c.sentences]} for c in view.communities()]}
        if args.action == "export":
            if len(args.names) != 1:
                raise ConfigError("graph export takes one FILE.graphml")
            return {"written": str(view.write_graphml(args.names[0])), **view.stats()}
        if args.action == "paths":
            if len(args.names) != 2:
                raise ConfigError("graph paths takes two entity names")
            return {"paths": [list(path) for path in view.paths(*args.names, max_hops=args.max_hops)]}
        if len(args.names) != 1:
            raise ConfigError("graph entity takes one entity name")
        entity = view.entity(args.names[0])
        if entity is None:
            raise ConfigError(f"no entity named {args.names[0]!r} in {kb.where}")
        return {"key": entity.key, "name": entity.name, "label": entity.label, "aliases": list(entity.aliases),
                "chunks": len(entity.chunk_ids), "neighbours": entity.neighbours()[:20],
                "relations": [edge for edge in entity.relations if edge.label != "co-occurs"][:20]}


def delete(args: argparse.Namespace) -> dict[str, list[str]]:
    with options.open_kb(args) as kb:  # a name that is not UTF-8 is shown as the knowledge base stores it
        results = {storable_text(source): kb.delete(source) for source in args.sources}
    return {"deleted": [s for s, ok in results.items() if ok], "not_found": [s for s, ok in results.items() if not ok]}


def migrate(args: argparse.Namespace) -> IngestReport:
    from ragkit.kb import KnowledgeBase
    from ragkit.migrate import copy_knowledge_base, server_config

    servers = options.servers(args, required=True)
    with KnowledgeBase.open(args.source) as source:
        config = server_config(source.config, servers.graph)
        with KnowledgeBase.connect(servers.registry, servers.index, servers.graph, name=servers.name,
                                   config=config, lock_timeout=args.lock_timeout) as target:
            return copy_knowledge_base(source, target, progress=options.progress(args))


def add(sub: argparse._SubParsersAction) -> None:
    """Register these commands and their arguments."""
    parser = options.command(sub, "ingest", "add or update files and folders", ingest, render.report)
    parser.add_argument("paths", nargs="*", help="files, folders or globs (a folder is synced: vanished files are "
                        "removed)")
    parser.add_argument("--include", action="append", default=[], metavar="GLOB",
                        help="only files matching (repeatable)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip files matching (repeatable)")
    parser.add_argument("--max-mb", type=float, default=64.0, help="skip files larger than this (default 64)")
    parser.add_argument("--ocr", action="store_true", help="OCR PDFs that have no text layer (needs tesseract)")
    parser.add_argument("--max-expanded-mb", type=int, default=256,
                        help="skip Office files that unpack to more than this (default %(default)s MB)")
    options.limits(parser)
    options.workers(parser)
    parser.add_argument("--url", action="append", default=[], help="a web page to ingest (repeatable)")
    parser.add_argument("--sitemap", action="append", default=[], help="a sitemap whose pages to ingest (repeatable)")
    parser.add_argument("--chunker", choices=options.values(ChunkerKind),
                        help="chunk these sources with this chunker instead of the knowledge base's default")
    parser.add_argument("--qdrant-url", help="when creating: keep vectors on this Qdrant server instead of in --kb")
    parser.add_argument("--collection", default="ragkit", help="Qdrant collection name (with --qdrant-url)")
    options.graph(parser, f"when creating: build an entity graph, {GraphKind.EMBEDDED.value} or in Neo4j "
                          "($NEO4J_URI, $NEO4J_PASSWORD)")
    options.dense_storage(parser)
    parser.add_argument("--language", choices=["auto", *options.values(Language)], default="auto",
                        help="when creating: what the texts are mostly written in, which picks the embedder, BM25 "
                             "tokenizer and entity extractor (default: auto, from the first text files)")

    parser = options.command(sub, "build", "build or update a knowledge base from a build file (TOML or YAML): "
                             "sources, settings, where it lives; run again to continue an interrupted build",
                             build, render.build, kb=False)
    parser.add_argument("file", help="the build file, e.g. build.toml")
    parser.add_argument("--workers", type=int, help="processes that parse ahead (default: the file's, else 1)")

    parser = options.command(sub, "search", "retrieve the best chunks for a query", search, render.search)
    parser.add_argument("query")
    parser.add_argument("-k", type=int, default=10, help="number of hits (default 10)")
    options.mode(parser)
    options.retrieval(parser)

    parser = options.command(sub, "ask", "answer a question with citations — or answer in part, ask which was meant, "
                             "or say it cannot", ask, render.answer)
    parser.add_argument("question")
    parser.add_argument("--history", action="append", metavar="TURN",
                        help="an earlier user question of the conversation; repeat, oldest first")
    _evidence(parser)

    parser = options.command(sub, "chat", "a conversation: questions from standard input, one per line, each "
                             "answered with the turns before it", chat, render.answer)
    parser.add_argument("--window", type=int, default=10, help="question-answer pairs remembered (default 10)")
    _evidence(parser)

    parser = options.command(sub, "calibrate", "fit the answer/no-answer calibrator on your own labelled questions "
                             "and store it in the knowledge base", calibrate, render.mapping)
    parser.add_argument("--questions", required=True,
                        help='JSONL, one {"question": "...", "answerable": true|false} per line')
    parser.add_argument("--max-false-abstention", type=float, default=0.1,
                        help="share of answerable questions the threshold may refuse (default 0.1)")
    options.mode(parser)
    options.retrieval(parser)

    parser = options.command(sub, "stats", "counts of documents and chunks", stats, render.mapping)
    parser.add_argument("--check", action="store_true", help="also compare the index with the registry")
    parser.add_argument("--repair", action="store_true", help="make the index match the registry (remove points of "
                        "unknown chunks, index missing ones), then check")

    parser = options.command(sub, "graph", "explore the entity graph: an entity, paths between two, communities "
                             "(main themes), stats, GraphML export", graph, render.mapping)
    parser.add_argument("action", choices=["entity", "paths", "communities", "stats", "export"])
    parser.add_argument("names", nargs="*", help="entity NAME | paths NAME NAME | export FILE.graphml")
    parser.add_argument("--max-hops", type=int, default=3)

    parser = options.command(sub, "migrate", "copy an embedded knowledge base to servers (PostgreSQL, Qdrant, "
                             "Neo4j) without parsing or embedding again", migrate, render.report, kb=False)
    parser.add_argument("source", help="the knowledge-base directory to copy")
    options.server_options(parser)

    parser = options.command(sub, "delete", "remove documents by source or document id", delete, render.mapping)
    parser.add_argument("sources", nargs="+")


def _evidence(parser: argparse.ArgumentParser) -> None:
    """What ``ask`` and ``chat`` retrieve and judge: -k hits, the mode, the retrieval options, an LLM."""
    parser.add_argument("-k", type=int, default=5, help="hits judged as the evidence (default 5, as the shipped "
                        "calibrator was fitted)")
    options.mode(parser)
    options.retrieval(parser)
    options.llm(parser)
