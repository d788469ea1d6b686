"""Progress events, and the two displays: a line per stage every few seconds when piped, bars on a terminal."""

from __future__ import annotations

import logging

import pytest

from ragkit import ConfigError, ProgressEvent, Stage
from ragkit.progress import LogLines, Progress, describe, progress_display


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_events_carry_stage_done_total_and_rate():
    clock, events = Clock(), []
    progress = Progress(events.append, clock=clock)
    progress.total(Stage.PARSE, 10)
    clock.now += 2.0
    progress.advance(Stage.PARSE, 4)
    with progress.timed(Stage.EMBED):
        clock.now += 1.5
    progress.finish()
    assert events[0] == ProgressEvent(Stage.PARSE, 0, 10, 0.0, 0.0)
    moved = events[1]
    assert (moved.done, moved.total, moved.rate, moved.eta_s, moved.unit) == (4, 10, 2.0, 3.0, "sources")
    assert [(e.stage, e.finished) for e in events[2:]] == [(Stage.PARSE, True), (Stage.EMBED, True)]
    assert progress.seconds() == {"parse": 0.0, "embed": 1.5}


def test_a_total_can_grow_as_work_is_found():
    events = []
    progress = Progress(events.append)
    progress.total(Stage.EMBED, 64, add=True)
    progress.total(Stage.EMBED, 36, add=True)
    assert events[-1].total == 100 and events[-1].eta_s is None  # nothing done yet: no rate, no ETA


def test_log_lines_come_at_most_every_interval_and_when_a_stage_finishes(caplog):
    clock = Clock()
    lines = LogLines(interval_s=10, clock=clock)
    with caplog.at_level(logging.INFO, logger="ragkit.progress"):
        for done in range(0, 50, 5):
            lines(ProgressEvent(Stage.EMBED, done, 100, clock.now - 100.0, 2.5))
            clock.now += 2.0
        lines(ProgressEvent(Stage.EMBED, 100, 100, 40.0, 2.5, finished=True))
    assert [r.getMessage() for r in caplog.records] == [
        "embed 0/100 chunks", "embed 25/100 chunks (2.5/s, 30s left)", "embed 100/100 chunks (2.5/s, 40s) done"]


def test_describe_without_a_total_and_over_an_hour():
    assert describe(ProgressEvent(Stage.PARSE, 1200, None, 4000.0, 0.3)) == "parse 1,200 sources (0.3/s, 1h06m)"
    assert describe(ProgressEvent(Stage.ASK, 3, 300, 3.0, 1.0)) == "ask 3/300 questions (1.0/s, 4m57s left)"


def test_progress_takes_true_false_or_a_callable():
    assert progress_display(False) is None and progress_display(None) is None
    assert progress_display(print) is print
    assert isinstance(progress_display(True), LogLines)  # standard error is not a terminal under pytest
    with pytest.raises(ConfigError, match="progress must be True, False or a callable"):
        progress_display("yes")


def test_the_library_configures_no_log_handlers():
    import ragkit.cli  # noqa: F401 - importing the command line adds no handler either

    assert logging.getLogger("ragkit").handlers == []
    assert logging.getLogger("ragkit.progress").handlers == []
