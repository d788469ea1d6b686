"""The ``ragkit`` command: ingest, search, ask, chat, calibrate, stats, graph, delete, eval and models, each with
``--json``.

Each command is a function from its parsed arguments to a result, which ``main`` prints in a human form or as JSON
(a list as JSON Lines); a ``RagkitError`` becomes one line on standard error (or a JSON object) and exit status 1.
Progress and the library's log go to standard error (bars on a terminal, lines otherwise), never to the output;
``--quiet`` silences them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from ragkit.cli import commands, evaluate, models, render
from ragkit.errors import RagkitError


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    library = logging.getLogger("ragkit")
    shown = _Stderr() if not getattr(args, "quiet", False) else logging.NullHandler()
    level = library.level
    library.addHandler(shown)
    library.setLevel(logging.INFO)
    try:
        return _run(args)
    finally:
        library.removeHandler(shown)
        library.setLevel(level)


class _Stderr(logging.StreamHandler):
    """Log records as ``ragkit: message`` lines on whatever ``sys.stderr`` is when they are written."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("ragkit: %(message)s"))

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201 - the handler's stream, looked up at each record
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass


def _run(args: argparse.Namespace) -> int:
    try:
        output = args.run(args)
    except RagkitError as exc:
        as_json = getattr(args, "json", False)
        print(render.error(exc, as_json), file=sys.stdout if as_json else sys.stderr)
        return 1
    if output is None:  # the command printed as it went (chat)
        return 0
    if args.json:
        plain = render.plain(output)
        lines = plain if isinstance(plain, list) else [plain]
        print("\n".join(json.dumps(line, ensure_ascii=False) for line in lines))
    else:
        print(args.render(output))
    return getattr(output, "exit_code", 0)  # a build whose sources failed says so


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="ragkit", description="Build and query ragkit knowledge bases.")
    sub = made.add_subparsers(dest="command", required=True)
    commands.add(sub)
    evaluate.add(sub)
    models.add(sub)
    return made
