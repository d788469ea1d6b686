"""Queries per second with 1, 2, 4 reader processes: a knowledge base on servers (PostgreSQL registry) against the
embedded one, on the same corpus, and what the registry hop adds to a query.

    python benchmarks/scale_out.py --beir "$RAGKIT_DATASETS/scifact_beir" --docs 2000 --readers 1,2,4 --json

Four homes for the same documents and vectors (built once, embedded, then copied with ``ragkit migrate``'s
``copy_knowledge_base``, so every home has identical chunks and vectors):

- ``embedded``: the default — SQLite registry, Qdrant's engine in-process (edge);
- ``server+edge``: the PostgreSQL registry (a throwaway cluster on loopback, or ``--postgres URL``) with each reader's
  own copy of the edge vectors — against ``embedded``, the registry hop alone;
- ``folder+local``: SQLite registry, vectors in qdrant-client's local mode (a folder);
- ``server+local``: the PostgreSQL registry, vectors in local mode — server mode as this machine can run it (with a
  Qdrant server, ``--qdrant URL``, the vectors are a network hop away instead).

Each reader process opens its own copy of the vectors (local mode and the embedded engine are one process per
folder; a Qdrant server is shared), all of them the same registry in server mode, and runs the test queries
(hybrid search, k=10) round robin for ``--seconds`` after all readers are ready. The homes take turns at each reader
count, ``--repeats`` times. ``--pin`` pins reader *i* to core *i* mod the cores, so each reader embeds on one
core, as one reader per machine (or per core) would.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _common import emit, parser

from ragkit import IndexConfig, KBConfig, KnowledgeBase
from ragkit.eval.beir import load_beir
from ragkit.eval.metrics import percentile
from ragkit.migrate import copy_knowledge_base

ROOT = Path(__file__).resolve().parents[1]


def open_home(home: dict, copy: int) -> KnowledgeBase:
    """Reader ``copy``'s connection to a home (its own copy of the vectors where they live in a folder)."""
    if home["kind"] == "server+edge":
        return _server_with_edge(home["registry"], home["name"], Path(f"{home['folder']}-{copy}") / "index")
    if home["kind"] == "server":
        index = home["qdrant"] or f"{home['vectors']}-{copy}"
        return KnowledgeBase.connect(home["registry"], index, name=home["name"])
    return KnowledgeBase.open(f"{home['folder']}-{copy}")


def _server_with_edge(registry: str, name: str, vectors: Path) -> KnowledgeBase:
    """The server-mode knowledge base ``name`` with an in-process copy of its vectors: what ``connect`` assembles,
    but the index (one process's) given — for measuring the registry's part alone."""
    from ragkit.assemble import assemble, server_settings
    from ragkit.index import EdgeIndex
    from ragkit.registry import Registry
    from ragkit.registry.postgres import PostgresDatabase
    from ragkit.servers import ServerSettings
    from ragkit.settings import IngestLimits

    database = PostgresDatabase(registry, name)
    config, embedder = server_settings(database, ServerSettings(registry, str(vectors), None, name), None, None)
    index = EdgeIndex(vectors, embedder.dimension, config.index.dense_storage)
    parts = assemble(None, config, embedder, index, None, None, IngestLimits(),
                     lambda encoder: Registry(database, encoder), None)
    return KnowledgeBase(None, config, database.writer_lock(60), parts, IngestLimits(), where=database.where)


def reader(home: dict, copy: int, queries: list[str], seconds: float, ready, start, results, pin: bool) -> None:
    if pin:  # before the model loads: ONNX Runtime takes one thread per core the process may use
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[copy % len(cores)]})
    with open_home(home, copy) as kb:
        for query in queries[:5]:  # warm: the model's first passes, the registry's connection
            kb.search(query, k=10)
        ready.put(copy)
        start.wait()
        done, latencies, hydrate, statistics_ms = 0, [], [], []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            query = queries[(done * 7 + copy * 13) % len(queries)]
            began = time.perf_counter()
            result = kb.search(query, k=10)
            latencies.append((time.perf_counter() - began) * 1000)
            hydrate.append(result.timings_ms["hydrate"])
            began = time.perf_counter()
            kb._registry.bm25.query_vector(query)  # the BM25 statistics a query reads from the registry
            statistics_ms.append((time.perf_counter() - began) * 1000)
            done += 1
    results.put({"queries": done, "latencies": latencies, "hydrate": hydrate, "statistics": statistics_ms})


def measure(home: dict, readers: int, queries: list[str], seconds: float, pin: bool) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    ready, results, start = context.Queue(), context.Queue(), context.Event()
    processes = [context.Process(target=reader, args=(home, copy, queries, seconds, ready, start, results, pin))
                 for copy in range(readers)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=600)
    start.set()
    outcomes = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(60)
    latencies = [ms for outcome in outcomes for ms in outcome["latencies"]]
    total = sum(outcome["queries"] for outcome in outcomes)
    row = {"home": home["label"], "readers": readers, "queries": total, "qps": round(total / seconds, 1),
           "p50_ms": round(percentile(latencies, 50), 2), "p95_ms": round(percentile(latencies, 95), 2)}
    if readers == 1:  # the registry's part of a query, when nothing else competes
        row["hydrate_p50_ms"] = round(statistics.median(outcomes[0]["hydrate"]), 3)
        row["bm25_statistics_p50_ms"] = round(statistics.median(outcomes[0]["statistics"]), 3)
    return row


def copies(path: Path, count: int) -> None:
    for copy in range(count):
        shutil.copytree(path, f"{path}-{copy}")


def main(argv: list[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--docs", type=int, default=2000, help="the first DOCS documents of the corpus")
    arguments.add_argument("--readers", default="1,2,4", help="reader process counts, comma-separated")
    arguments.add_argument("--seconds", type=float, default=15.0, help="how long each measurement runs")
    arguments.add_argument("--repeats", type=int, default=1)
    arguments.add_argument("--postgres", help="a PostgreSQL URL (default: a throwaway cluster on loopback)")
    arguments.add_argument("--qdrant", help="a Qdrant server URL for the server home (default: local mode)")
    arguments.add_argument("--pin", action="store_true", help="pin each reader process to one core")
    arguments.add_argument("--homes", help="which homes to measure, comma-separated (default: all): embedded, "
                           "server+edge, folder+local, server+local (server+qdrant with --qdrant)")
    args = arguments.parse_args(argv)
    counts = [int(count) for count in args.readers.split(",")]
    dataset = load_beir(args.beir, args.split)
    documents = list(dataset.corpus.values())[: args.docs]
    queries = list(dataset.queries.values())

    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_server import PostgresTestServer

    with tempfile.TemporaryDirectory(prefix="ragkit-scale-out-") as scratch, \
            (PostgresTestServer() if not args.postgres else nullcontext(SimpleNamespace(url=args.postgres))) as server:
        scratch_path = Path(scratch)
        name = f"scale_{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        with KnowledgeBase.open(scratch_path / "embedded") as embedded:
            embedded.ingest(documents)
            built = time.perf_counter() - started
            chunks = embedded.stats()["chunks"]
            local = KBConfig(index=IndexConfig("qdrant", str(scratch_path / "folder-local-vectors")))
            with KnowledgeBase.open(scratch_path / "folder-local", local, embedder=embedded._writer._embedder) as kb:
                copy_knowledge_base(embedded, kb)
            vectors = args.qdrant or str(scratch_path / "server-vectors")
            with KnowledgeBase.connect(server.url, vectors, name=name, config=embedded.config,
                                       embedder=embedded._writer._embedder) as kb:
                copy_knowledge_base(embedded, kb)
        most = max(counts)
        copies(scratch_path / "embedded", most)
        copies(scratch_path / "folder-local-vectors", most)  # each folder+local copy points at its own copy
        homes = [{"label": "embedded", "kind": "folder", "folder": str(scratch_path / "embedded")},
                 {"label": "server+edge", "kind": "server+edge", "registry": server.url, "name": name,
                  "folder": str(scratch_path / "embedded")},
                 {"label": "folder+local", "kind": "folder", "folder": str(scratch_path / "folder-local")},
                 {"label": "server+local" if not args.qdrant else "server+qdrant", "kind": "server",
                  "registry": server.url, "name": name, "vectors": str(scratch_path / "server-vectors"),
                  "qdrant": args.qdrant}]
        _folder_local_copies(scratch_path, most)
        if not args.qdrant:
            copies(scratch_path / "server-vectors", most)
        rows = []
        for _ in range(args.repeats):
            for readers in counts:
                for home in homes:
                    if args.homes and home["label"] not in args.homes.split(","):
                        continue
                    rows.append(measure(home, readers, queries, args.seconds, args.pin))
                    print(rows[-1], file=sys.stderr, flush=True)
    return emit({"documents": len(documents), "chunks": chunks, "build_s": round(built, 1), "queries": len(queries),
                 "seconds": args.seconds, "qdrant": "server" if args.qdrant else "local mode", "pinned": args.pin,
                 "rows": rows})


def _folder_local_copies(scratch: Path, count: int) -> None:
    """Copies of the folder+local knowledge base, each with its settings pointing at its own copy of the vectors."""
    import json

    for copy in range(count):
        target = scratch / f"folder-local-{copy}"
        shutil.copytree(scratch / "folder-local", target)
        settings = json.loads((target / "ragkit.json").read_text())
        settings["index"]["location"] = str(scratch / f"folder-local-vectors-{copy}")
        (target / "ragkit.json").write_text(json.dumps(settings))


if __name__ == "__main__":
    sys.exit(main())
