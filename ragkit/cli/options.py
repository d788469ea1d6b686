"""Options several ``ragkit`` commands share, and the settings they turn into; choices come from the enums."""

from __future__ import annotations

import argparse
import os
from enum import Enum
from typing import Callable

from ragkit.answer import ChatModel, OpenAIChat
from ragkit.assemble import stored_on
from ragkit.errors import ConfigError
from ragkit.kb import KnowledgeBase
from ragkit.progress import ProgressCallback, progress_display
from ragkit.servers import ServerSettings
from ragkit.settings import (
    CONFIG_FILE,
    BM25Tokenizer,
    DenseStorage,
    EngineFusion,
    GraphConfig,
    GraphKind,
    IndexConfig,
    IndexKind,
    IngestLimits,
    KBConfig,
    Language,
    RetrievalConfig,
    SearchMode,
    parse_enum,
)

GRAPH_MODEL_HELP = ("what extracts entities: a spaCy pipeline (default the packaged English one), lac (Chinese) "
                    "or auto (LAC for mostly-Chinese documents, English spaCy for the rest)")


def values(enum: type[Enum]) -> list[str]:
    return [str(member.value) for member in enum]


def command(sub: argparse._SubParsersAction, name: str, help: str, run: Callable, render: Callable, *,
            kb: bool = True) -> argparse.ArgumentParser:
    """A subcommand that runs ``run(args)`` and prints its result with ``render`` (or as JSON with ``--json``)."""
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(run=run, render=render)
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress and no log on standard error")
    if kb:
        parser.add_argument("--kb", help="knowledge-base directory (default: $RAGKIT_KB)")
        server_options(parser)
    return parser


def server_options(parser: argparse.ArgumentParser) -> None:
    """Where a knowledge base on servers lives (``ServerSettings``)."""
    servers = parser.add_argument_group(
        "server mode", "a knowledge base on servers, instead of --kb; each option defaults to its $RAGKIT_* "
        "variable, then to the --settings file (docs/guide/servers.md)")
    servers.add_argument("--registry", help="PostgreSQL URL of the registry, postgresql://user@host:5432/db "
                                            "($RAGKIT_REGISTRY; the password from $PGPASSWORD)")
    servers.add_argument("--index", help="Qdrant URL, http://host:6333, or a folder for qdrant-client's local mode "
                                         "($RAGKIT_INDEX)")
    servers.add_argument("--graph-url", help="Neo4j URL of the entity graph, bolt://host:7687 ($RAGKIT_GRAPH)")
    servers.add_argument("--name", help="the knowledge base's name: schema, collection, namespace "
                                        "($RAGKIT_NAME; default ragkit)")
    servers.add_argument("--settings", help="TOML file with registry, index, graph and name ($RAGKIT_SETTINGS)")
    servers.add_argument("--lock-timeout", type=float, default=60.0, metavar="SECONDS",
                         help="how long a write waits for another process's write to finish (default %(default)s)")


def mode(parser: argparse.ArgumentParser, help: str = "retrievers to use", *, several: bool = False) -> None:
    """``--mode``, checked by the command (a bad mode is a ConfigError, which ``--json`` reports as JSON)."""
    listed = ", ".join(values(SearchMode))
    parser.add_argument("--mode", default=SearchMode.HYBRID.value, metavar="MODE[,MODE…]" if several else "MODE",
                        help=f"{help}: {listed} (default hybrid; graph and global need a knowledge base with an "
                             "entity graph; global: one passage per theme, for 'what are the main themes' questions)")


def modes(text: str) -> list[SearchMode]:
    """``--mode`` of a command that evaluates several modes, comma-separated."""
    return [parse_enum(SearchMode, name.strip(), "search mode") for name in text.split(",")]


def retrieval(parser: argparse.ArgumentParser) -> None:
    """The query-time retrieval options: fusion, weights, reranker."""
    parser.add_argument("--fusion", default=EngineFusion.RRF.value, choices=values(EngineFusion),
                        help="hybrid fusion (default rrf)")
    parser.add_argument("--rrf-k", type=int, default=60, help="RRF constant k (default 60)")
    parser.add_argument("--weights", help="fusion weights DENSE,SPARSE (default 1,1)")
    parser.add_argument("--reranker", default="none",
                        help="none (default), nanoranker, cross-encoder:<hub id or folder>, flag:<hub id or folder>")


def retrieval_config(args: argparse.Namespace) -> RetrievalConfig:
    weights = None
    if getattr(args, "weights", None):
        dense, _, sparse = args.weights.partition(",")
        try:
            weights = (float(dense), float(sparse))
        except ValueError:
            raise ConfigError(f"--weights takes DENSE,SPARSE numbers such as 1,0.5; got {args.weights!r}") from None
    return RetrievalConfig(fusion=getattr(args, "fusion", "rrf"), rrf_k=getattr(args, "rrf_k", 60), weights=weights,
                           reranker=getattr(args, "reranker", None))


def dense_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dense-storage", choices=values(DenseStorage),
                        help="when creating: float32 vectors in RAM (memory); an int8 copy in RAM rescored with "
                             "float32 originals read in on open (int8, the default) or left on disk (disk-int8)")


def bm25_tokenizer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bm25-tokenizer", default=BM25Tokenizer.WORD.value, choices=values(BM25Tokenizer),
                        help="multilingual segments Chinese and other unspaced scripts")


def graph(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--graph", choices=values(GraphKind), help=help)
    parser.add_argument("--graph-model", help=GRAPH_MODEL_HELP)


def llm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--llm-model", help="write answers with this model of an OpenAI-compatible endpoint (optional)")
    parser.add_argument("--llm-url", default="http://localhost:11434/v1",
                        help="the endpoint's base URL (default: Ollama's, %(default)s); key from $OPENAI_API_KEY")
    parser.add_argument("--llm-strict", action="store_true",
                        help="fail when the model cannot write the answer, instead of answering extractively")


def chat_model(args: argparse.Namespace) -> ChatModel | None:
    return OpenAIChat(args.llm_model, args.llm_url) if args.llm_model else None


def index_config(args: argparse.Namespace) -> IndexConfig:
    storage = {"dense_storage": args.dense_storage} if getattr(args, "dense_storage", None) else {}
    if getattr(args, "qdrant_url", None):
        return IndexConfig(IndexKind.QDRANT, args.qdrant_url, args.collection, **storage)
    return IndexConfig(**storage)


def graph_config(kind: str, args: argparse.Namespace) -> GraphConfig:
    model = getattr(args, "graph_model", None)
    return GraphConfig(kind, model=model) if model else GraphConfig(kind)


def servers(args: argparse.Namespace, required: bool = False) -> ServerSettings | None:
    """Where the knowledge base lives on servers, or None for a folder (--kb). Options on the command line win over
    environment variables; a folder and servers both given is an error. ``required``: servers, whatever $RAGKIT_KB
    says (a command without --kb)."""
    if required:
        return ServerSettings.resolve(args.registry, args.index, args.graph_url, args.name, args.settings)
    named = args.registry or args.settings
    if named and args.kb:
        raise ConfigError("give either --kb (a folder) or --registry/--settings (servers), not both")
    if not named and (args.kb or os.environ.get("RAGKIT_KB")):
        if not args.kb and (os.environ.get("RAGKIT_REGISTRY") or os.environ.get("RAGKIT_SETTINGS")):
            raise ConfigError("both $RAGKIT_KB (a folder) and $RAGKIT_REGISTRY or $RAGKIT_SETTINGS (servers) are set; "
                              "unset one, or say which with --kb or --registry")
        args.kb = args.kb or os.environ["RAGKIT_KB"]
        return None
    if not (named or os.environ.get("RAGKIT_REGISTRY") or os.environ.get("RAGKIT_SETTINGS")):
        raise ConfigError("say which knowledge base: --kb DIR (or $RAGKIT_KB), or on servers --registry URL "
                          "--index URL (or $RAGKIT_REGISTRY and $RAGKIT_INDEX, or a --settings file)")
    return ServerSettings.resolve(args.registry, args.index, args.graph_url, args.name, args.settings)


def creating(args: argparse.Namespace) -> bool:
    """Whether the knowledge base named (a folder, or a name on servers) does not exist yet."""
    where = servers(args)
    if where is None:
        return not os.path.exists(os.path.join(args.kb, CONFIG_FILE))
    return not stored_on(where)


def open_kb(args: argparse.Namespace, language: Language | None = None) -> KnowledgeBase:
    """The knowledge base at --kb, or on the servers named; creation-time options (--qdrant-url, --graph,
    --dense-storage, the language) apply only to a new one."""
    config = None
    chosen = any(getattr(args, option, None) for option in ("qdrant_url", "graph", "dense_storage"))
    if (chosen or language is not None) and creating(args):  # on servers, asking costs a connection
        config = KBConfig(index=index_config(args), graph=graph_config(args.graph or "none", args),
                          language=language or Language.EN)
    where = servers(args)
    if where is not None:
        return KnowledgeBase.connect(where.registry, where.index, where.graph, name=where.name, config=config,
                                     lock_timeout=args.lock_timeout,
                                     retrieval=retrieval_config(args), limits=ingest_limits(args))
    return KnowledgeBase.open(args.kb, config, retrieval=retrieval_config(args), limits=ingest_limits(args))


def limits(parser: argparse.ArgumentParser) -> None:
    """What one source may cost to ingest (``IngestLimits``)."""
    default = IngestLimits()
    parser.add_argument("--max-chars", type=int, default=default.max_document_characters,
                        help="skip documents with more text than this (default %(default)s characters)")
    parser.add_argument("--max-chunks", type=int, default=default.max_chunks_per_document,
                        help="skip documents that make more chunks than this (default %(default)s)")
    parser.add_argument("--parse-timeout", type=float, default=default.parse_timeout_s,
                        help="seconds parsing one file may take (default %(default)s)")
    parser.add_argument("--parse-memory-mb", type=int, default=default.parse_memory_mb,
                        help="memory the parsing process may use (default %(default)s MB)")


def ingest_limits(args: argparse.Namespace) -> IngestLimits:
    if not hasattr(args, "max_chunks"):
        return IngestLimits()
    return IngestLimits(args.max_chars, args.max_chunks, args.parse_timeout, args.parse_memory_mb)


def progress(args: argparse.Namespace) -> ProgressCallback | None:
    """The progress display of a long command: bars on a terminal, log lines when standard error is piped, nothing
    with ``--quiet``."""
    return None if getattr(args, "quiet", False) else progress_display(True)


def workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1,
                        help="processes that parse and clean sources ahead of embedding (default %(default)s)")
