"""Progress of long work — ingest, evaluations, calibration — as structured events, and two ways to show them.

Work reports ``ProgressEvent``s (stage, done, total, rate) to a callback: a notebook or a web app draws its own bar
from them. ``progress=True`` picks a display: a tqdm bar per stage where standard error is a terminal or a notebook
runs the code, else a line on the ``ragkit.progress`` logger every few seconds (shown where the application
configures ``logging``; the library configures no handlers). Everything that is not progress is logged on the
``ragkit`` loggers.

    with KnowledgeBase.open("notes.kb") as kb:
        kb.ingest("docs/", progress=lambda event: print(event.stage.value, event.done, event.total))
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Union

__all__ = ["LogLines", "Progress", "ProgressCallback", "ProgressEvent", "Stage", "TerminalBars", "progress_display"]

logger = logging.getLogger("ragkit.progress")


class Stage(str, Enum):
    """A stage of long work. Ingest: sources are parsed (and cleaned) and chunked, chunks embedded and written to
    the index, documents' entities extracted into the graph. Evaluations: queries searched, questions asked. Models:
    a file downloaded (in bytes)."""

    PARSE = "parse"
    CHUNK = "chunk"
    EMBED = "embed"
    INDEX = "index"
    GRAPH = "graph"
    SEARCH = "search"
    ASK = "ask"
    DOWNLOAD = "download"


UNITS = {Stage.PARSE: "sources", Stage.CHUNK: "sources", Stage.EMBED: "chunks", Stage.INDEX: "chunks",
         Stage.GRAPH: "documents", Stage.SEARCH: "queries", Stage.ASK: "questions", Stage.DOWNLOAD: "bytes"}


@dataclass(frozen=True)
class ProgressEvent:
    """How far one stage has come: ``done`` of ``total`` items (None while the total is not known yet), at ``rate``
    items per second since the stage started; ``finished`` on the stage's last event."""

    stage: Stage
    done: int
    total: int | None
    elapsed_s: float
    rate: float
    finished: bool = False

    @property
    def unit(self) -> str:
        return UNITS[self.stage]

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate, when the total is known."""
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class _Count:
    started: float
    total: int | None = None
    done: int = 0
    seconds: float = 0.0  # time spent in the stage's own work (``Progress.timed``), for the summary


@dataclass
class Progress:
    """Counts work per stage, times it, and sends an event to ``callback`` after each change (or nothing: with no
    callback it only counts and times, which the ingest report's seconds per stage come from)."""

    callback: ProgressCallback | None = None
    clock: Callable[[], float] = time.monotonic
    _stages: dict[Stage, _Count] = field(default_factory=dict)

    def total(self, stage: Stage, total: int | None, *, add: bool = False) -> None:
        """Set (or, with ``add``, raise) how many items the stage will do."""
        count = self._count(stage)
        count.total = (count.total or 0) + (total or 0) if add else total
        self._emit(stage, count)

    def advance(self, stage: Stage, done: int = 1) -> None:
        count = self._count(stage)
        count.done += done
        self._emit(stage, count)

    def timed(self, stage: Stage) -> _Timer:
        """``with progress.timed(Stage.EMBED): …`` adds the block's time to the stage's seconds."""
        return _Timer(self, stage)

    def seconds(self) -> dict[str, float]:
        """Seconds spent in each stage's own work, in stage order."""
        return {stage.value: round(self._stages[stage].seconds, 3) for stage in Stage if stage in self._stages}

    def finish(self) -> None:
        """A last event for each stage that started."""
        for stage, count in self._stages.items():
            self._emit(stage, count, finished=True)

    def _count(self, stage: Stage) -> _Count:
        if stage not in self._stages:
            self._stages[stage] = _Count(self.clock())
        return self._stages[stage]

    def _emit(self, stage: Stage, count: _Count, finished: bool = False) -> None:
        if self.callback is None:
            return
        elapsed = self.clock() - count.started
        rate = count.done / elapsed if elapsed > 0 else 0.0
        self.callback(ProgressEvent(stage, count.done, count.total, round(elapsed, 3), rate, finished))


class _Timer:
    def __init__(self, progress: Progress, stage: Stage) -> None:
        self._progress, self._stage = progress, stage

    def __enter__(self) -> None:
        self._started = self._progress.clock()

    def __exit__(self, *_: object) -> None:
        self._progress._count(self._stage).seconds += self._progress.clock() - self._started


class TerminalBars:
    """One tqdm bar per stage on standard error (or a notebook's widgets, through ``tqdm.auto``), each with its
    rate and, where the total is known, its ETA."""

    def __init__(self, *, notebook: bool = False) -> None:
        if notebook:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        self._tqdm = tqdm
        self._bars: dict[Stage, Any] = {}
        self._closed: set[Stage] = set()
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            if event.stage in self._closed:
                return
            bar = self._bars.get(event.stage)
            if bar is None:
                size = shutil.get_terminal_size((100, 24))  # a new pty may report 0 × 0, which hides every bar
                in_bytes = event.unit == "bytes"  # 34.0MB/34.0MB, not 34014426/34014426 bytes
                bar = self._tqdm(desc=f"{event.stage.value:<6}", unit="B" if in_bytes else f" {event.unit}",
                                 unit_scale=in_bytes, unit_divisor=1024 if in_bytes else 1000, total=event.total,
                                 position=len(self._bars), file=sys.stderr, ncols=min(size.columns or 100, 120),
                                 nrows=size.lines or 24, leave=True, mininterval=0.2)
                self._bars[event.stage] = bar
            if bar.total != event.total:
                bar.total = event.total
            bar.update(event.done - bar.n)
            if event.finished:
                bar.close()
                self._closed.add(event.stage)

    def close(self) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()


class LogLines:
    """A line per stage on the ``ragkit.progress`` logger at most every ``interval_s`` seconds, and when a stage
    finishes: where output is piped, a bar's carriage returns would be noise."""

    def __init__(self, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval_s
        self._clock = clock
        self._last: dict[Stage, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        now = self._clock()
        first = event.stage not in self._last
        if not (event.finished or first or now - self._last[event.stage] >= self._interval):
            return
        self._last[event.stage] = now
        logger.info(describe(event))


def describe(event: ProgressEvent) -> str:
    """``embed 1,200/9,761 chunks (35.2/s, 4m03s left)`` — one event as a line of text."""
    of = f"/{event.total:,}" if event.total is not None else ""
    if event.done == 0 and not event.finished:
        return f"{event.stage.value} 0{of} {event.unit}"
    left = event.eta_s
    timing = f"{event.rate:,.1f}/s" + (f", {_duration(left)} left" if left is not None and not event.finished
                                       else f", {_duration(event.elapsed_s)}")
    return f"{event.stage.value} {event.done:,}{of} {event.unit} ({timing}){' done' if event.finished else ''}"


def _duration(seconds: float) -> str:
    minutes, second = divmod(int(round(seconds)), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}h{minute:02d}m" if hours else f"{minute}m{second:02d}s" if minute else f"{second}s"


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


def progress_display(progress: Union[bool, ProgressCallback, None]) -> ProgressCallback | None:
    """The callback for ``progress=``: a callable as given; True: bars on a terminal or in a notebook, else log
    lines; False or None: nothing."""
    if progress is None or progress is False:
        return None
    if progress is True:
        notebook = _in_notebook()
        return TerminalBars(notebook=notebook) if notebook or sys.stderr.isatty() else LogLines()
    if callable(progress):
        return progress
    from ragkit.errors import ConfigError

    raise ConfigError(f"progress must be True, False or a callable taking a ProgressEvent, got {progress!r}")
