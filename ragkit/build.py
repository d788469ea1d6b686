"""Declarative, resumable batch builds: ``ragkit build build.toml``.

A build file names where the knowledge base lives, its settings, and its sources::

    path = "company.kb"                  # relative to the build file
    language = "en"                      # or "zh": picks the embedder, BM25 tokenizer and entity extractor
    workers = 2                          # processes that parse ahead of the embedder

    [chunking]                           # any KBConfig section: chunking, cleaning, bm25, index, graph
    size = 200

    [[sources]]
    folder = "docs"                      # or glob, file, records, sql, sitemap, urls
    include = ["*.md", "*.pdf"]

A knowledge base on servers (``KnowledgeBase.connect``) takes a ``[servers]`` table instead of ``path``, with
``registry``, ``index``, ``graph`` and ``name`` — each one left out comes from its ``$RAGKIT_*`` variable::

    [servers]
    registry = "postgresql://ragkit@db.internal:5432/knowledge"
    index = "http://qdrant.internal:6333"
    name = "company"
    lock_timeout = 3600                  # seconds to wait for another process's write (the default)

Each source is ingested in turn (a folder, a records file or a query is synced: what vanished from it is removed),
the vector index is built once at the end, and the summary counts every outcome. Re-running a build that a crash or
Ctrl-C stopped continues where it stopped: the registry knows which documents are stored (their fingerprints are
unchanged, so they are neither parsed nor embedded again) and opening the knowledge base finishes the interrupted
batch.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ragkit.errors import ConfigError, RagkitError, SkipCode
from ragkit.kb import KnowledgeBase
from ragkit.progress import ProgressCallback
from ragkit.records import IngestReport, Outcome
from ragkit.servers import ServerSettings
from ragkit.settings import IngestLimits, KBConfig

__all__ = ["BuildConfig", "BuildSummary", "SourceSummary", "load_build", "run_build"]

logger = logging.getLogger("ragkit.build")

SETTINGS = ("chunking", "bm25", "index", "cleaning", "graph")
TOP_LEVEL = {"path", "servers", "embedder", "language", "workers", "batch_size", "limits", "sources", *SETTINGS}
FAILURES = {SkipCode.UNREADABLE, SkipCode.PARSE_ERROR, SkipCode.TIMEOUT, SkipCode.FORBIDDEN,
            SkipCode.MISSING_DEPENDENCY}
"""Skip codes that mean a source could not be read — a failed build — rather than content the cleaning refused."""

# What each kind of source takes besides its kind key and an optional name.
SOURCE_KEYS: dict[str, set[str]] = {
    "folder": {"include", "exclude", "max_mb", "ocr", "chunker", "follow_symlinks"},
    "glob": {"exclude", "max_mb", "ocr", "chunker"},
    "file": {"max_mb", "ocr", "chunker"},
    "records": {"text", "id", "metadata", "format", "chunker"},
    "sql": {"query", "text", "id", "metadata", "params", "chunker"},
    "sitemap": {"allow_networks", "max_pages", "timeout", "chunker"},
    "urls": {"allow_networks", "timeout", "chunker"},
}


@dataclass(frozen=True)
class BuildConfig:
    """A parsed build file: where the knowledge base lives (a folder, or ``servers``) and its settings, how to ingest,
    and the sources."""

    path: Path | None
    settings: KBConfig
    sources: tuple[Mapping[str, Any], ...]
    workers: int = 1
    batch_size: int = 64
    limits: IngestLimits = IngestLimits()
    base: Path = Path(".")
    servers: ServerSettings | None = None
    lock_timeout: float = 3600.0  # on servers: how long to wait for another process's write


@dataclass(frozen=True)
class SourceSummary:
    """What one source of a build did; ``error`` when it could not be listed at all."""

    name: str
    kind: str
    counts: Mapping[str, int]
    chunks_embedded: int = 0
    seconds: float = 0.0
    skipped_by_code: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class BuildSummary:
    """The result of ``ragkit build``: outcomes per source and in total, the knowledge base's size, and the time."""

    path: str
    sources: tuple[SourceSummary, ...]
    counts: Mapping[str, int]
    skipped_by_code: Mapping[str, int]
    failed: tuple[str, ...]
    documents: int
    chunks: int
    chunks_embedded: int
    seconds: float
    stage_seconds: Mapping[str, float]
    rate: Mapping[str, float]  # documents stored and chunks embedded per second of the build

    @property
    def exit_code(self) -> int:
        """0, or 1 when a source failed (could not be listed, or documents could not be read)."""
        return 1 if self.failed else 0


def load_build(path: str | Path) -> BuildConfig:
    """Read a build file (TOML; YAML when it ends in .yaml or .yml and PyYAML is installed)."""
    path = Path(path).expanduser().absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the build file {path} ({exc})") from exc
    data = _parse(path, text)
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise ConfigError(f"{path}: unknown setting {', '.join(sorted(unknown))}; a build file has: "
                          f"{', '.join(sorted(TOP_LEVEL))}")
    if ("path" in data) == ("servers" in data):
        raise ConfigError(f"{path}: say where the knowledge base lives: a folder, path = \"company.kb\", or "
                          "servers, a [servers] table (registry, index, graph, name) — one of the two")
    servers, lock_timeout = None, 3600.0  # a batch build waits an hour for another writer by default
    if "servers" in data:
        table = data["servers"]
        if not isinstance(table, dict) or set(table) - {"registry", "index", "graph", "name", "lock_timeout"}:
            raise ConfigError(f"{path}: [servers] takes registry, index, graph, name and lock_timeout")
        lock_timeout = table.pop("lock_timeout", lock_timeout)
        if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, (int, float)) or lock_timeout < 0:
            raise ConfigError(f"{path}: [servers] lock_timeout is seconds to wait for another writer, got "
                              f"{lock_timeout!r}")
        servers = ServerSettings.resolve(**table)
    sources = data.get("sources") or []
    if not isinstance(sources, list) or not sources or not all(isinstance(s, dict) for s in sources):
        raise ConfigError(f"{path}: give at least one [[sources]] table")
    for number, source in enumerate(sources, start=1):
        _check_source(path, number, source)
    sections = {name: data[name] for name in SETTINGS if name in data}
    named = {key: data[key] for key in ("embedder", "language") if key in data}
    settings = KBConfig(**named, **sections)
    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        raise ConfigError(f"{path}: [limits] is a table of IngestLimits fields")
    try:
        parsed_limits = IngestLimits(**limits)
    except TypeError as exc:
        raise ConfigError(f"{path}: [limits] {exc}; IngestLimits has: max_document_characters, "
                          "max_chunks_per_document, parse_timeout_s, parse_memory_mb, min_free_disk_mb") from None
    return BuildConfig(path.parent / data["path"] if servers is None else None, settings, tuple(sources),
                       workers=data.get("workers", 1), batch_size=data.get("batch_size", 64), limits=parsed_limits,
                       base=path.parent, servers=servers, lock_timeout=float(lock_timeout))


def _parse(path: Path, text: str) -> dict[str, Any]:
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ConfigError("reading a YAML build file needs PyYAML (pip install pyyaml); or write it in TOML") \
                from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML ({exc})") from None
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a table of settings")
    return data


def _check_source(path: Path, number: int, source: Mapping[str, Any]) -> None:
    kinds = [kind for kind in SOURCE_KEYS if kind in source]
    if len(kinds) != 1:
        raise ConfigError(f"{path}: source {number} must have exactly one of {', '.join(SOURCE_KEYS)}; "
                          f"it has {', '.join(kinds) or 'none'}")
    allowed = SOURCE_KEYS[kinds[0]] | {kinds[0], "name"}
    unknown = set(source) - allowed
    if unknown:
        raise ConfigError(f"{path}: source {number} ({kinds[0]}) has no setting {', '.join(sorted(unknown))}; it "
                          f"takes: {', '.join(sorted(allowed))}")
    if kinds[0] in ("records", "sql") and "text" not in source:
        raise ConfigError(f"{path}: source {number} ({kinds[0]}) needs text, the field(s) that hold the text")
    if kinds[0] == "sql" and ("query" not in source or "id" not in source):
        raise ConfigError(f"{path}: source {number} (sql) needs query and id (the column that identifies a row)")


def source_kind(source: Mapping[str, Any]) -> str:
    return next(kind for kind in SOURCE_KEYS if kind in source)


def connector(source: Mapping[str, Any], base: Path) -> Any:
    """The connector a source table describes; paths are relative to the build file's folder."""
    from ragkit.connectors import Fetcher, FileConnector, ParseOptions, RecordsConnector, SQLConnector, WebConnector

    kind = source_kind(source)
    chunker = source.get("chunker")
    if kind in ("folder", "glob", "file"):
        options = ParseOptions(ocr=source.get("ocr", False))
        extra = {"max_bytes": int(source["max_mb"] * 2**20)} if "max_mb" in source else {}
        if "follow_symlinks" in source:
            extra["follow_symlinks"] = source["follow_symlinks"]
        return FileConnector.from_path(base / source[kind], include=tuple(source.get("include", ())),
                                       exclude=tuple(source.get("exclude", ())), options=options, chunker=chunker,
                                       **extra)
    if kind == "records":
        return RecordsConnector(base / source["records"], _names(source["text"]), source.get("id"),
                                _names(source.get("metadata", ())), source.get("format"), chunker)
    if kind == "sql":
        database = source["sql"]
        if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
            database = f"sqlite:///{base / database.removeprefix('sqlite:///')}"
        return SQLConnector(database, source["query"], _names(source["text"]), source["id"],
                            _names(source.get("metadata", ())), source.get("name", "sql"),
                            source.get("params", {}), chunker)
    fetcher = Fetcher(timeout=source.get("timeout", 15.0), allow_networks=tuple(source.get("allow_networks", ())))
    if kind == "sitemap":
        sitemaps = _names(source["sitemap"])
        return WebConnector(sitemaps=sitemaps, max_pages=source.get("max_pages", 10_000), fetcher=fetcher,
                            chunker=chunker)
    return WebConnector(urls=_names(source["urls"]), fetcher=fetcher, chunker=chunker)


def _names(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def run_build(build: BuildConfig, *, progress: ProgressCallback | bool | None = None, embedder: Any = None,
              optimize: bool = True) -> BuildSummary:
    """Ingest every source of ``build`` into its knowledge base; a source that cannot be listed is reported and the
    others go on. ``progress`` as for ``KnowledgeBase.ingest`` (a display per source)."""
    started = time.perf_counter()
    summaries, stage_seconds = [], Counter()
    with _open(build, embedder) as kb:
        stage_seconds["open"] = time.perf_counter() - started  # the model, and finishing an interrupted batch
        for number, source in enumerate(build.sources, start=1):
            kind = source_kind(source)
            name = str(source.get("name") or source[kind])
            logger.info("source %d/%d: %s %s", number, len(build.sources), kind, name)
            begun = time.perf_counter()
            try:
                report = kb.ingest(connector(source, build.base), batch_size=build.batch_size, optimize=False,
                                   workers=build.workers, progress=progress)
            except RagkitError as exc:
                summaries.append(SourceSummary(name, kind, dict.fromkeys((o.value for o in Outcome), 0),
                                               error=str(exc)))
                logger.warning("source %s failed: %s", name, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a driver's own error (a bad query): the source failed
                summaries.append(SourceSummary(name, kind, dict.fromkeys((o.value for o in Outcome), 0),
                                               error=f"{type(exc).__name__}: {exc}"))
                logger.warning("source %s failed: %s: %s", name, type(exc).__name__, exc)
                continue
            stage_seconds.update(report.stage_seconds)
            summaries.append(_source_summary(name, kind, report, time.perf_counter() - begun))
        if optimize:
            index_started = time.perf_counter()
            kb.optimize()
            stage_seconds["index"] += time.perf_counter() - index_started
        stats = kb.stats()
    return _summary(build, summaries, stats, time.perf_counter() - started, stage_seconds)


def _open(build: BuildConfig, embedder: Any) -> KnowledgeBase:
    if build.servers is None:
        return KnowledgeBase.open(build.path, build.settings, embedder=embedder, limits=build.limits)
    where = build.servers
    return KnowledgeBase.connect(where.registry, where.index, where.graph, name=where.name, config=build.settings,
                                 embedder=embedder, limits=build.limits, lock_timeout=build.lock_timeout)


def _source_summary(name: str, kind: str, report: IngestReport, seconds: float) -> SourceSummary:
    return SourceSummary(name, kind, report.counts(), report.chunks_embedded, round(seconds, 3),
                         report.skipped_by_code())


def _summary(build: BuildConfig, sources: list[SourceSummary], stats: Mapping[str, Any], seconds: float,
             stage_seconds: Mapping[str, float]) -> BuildSummary:
    counts: Counter = Counter()
    skipped: Counter = Counter()
    failed = []
    for source in sources:
        counts.update(source.counts)
        for code, entry in source.skipped_by_code.items():
            skipped[code] += entry["count"]
            if SkipCode(code) in FAILURES:
                failed.extend(entry["examples"])
        if source.error is not None:
            failed.append(f"{source.name}: {source.error}")
    embedded = sum(s.chunks_embedded for s in sources)
    stored = counts.get("added", 0) + counts.get("updated", 0)
    rate = {"documents_per_s": round(stored / seconds, 2), "chunks_per_s": round(embedded / seconds, 2)}
    where = str(build.path) if build.path is not None else str(stats.get("registry"))
    return BuildSummary(where, tuple(sources), {o.value: counts.get(o.value, 0) for o in Outcome},
                        dict(skipped), tuple(failed), stats["documents"], stats["chunks"], embedded,
                        round(seconds, 3), {stage: round(value, 3) for stage, value in stage_seconds.items()}, rate)
