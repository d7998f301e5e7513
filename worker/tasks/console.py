"""process_queue.py's terminal side: progress (a rich bar on a TTY, plain lines in a pipe) and
log lines on stderr, so stdout carries only the answer (text, or JSON with --json).

rich is optional at run time: Stash's Python may not have it, and a missing progress bar must
never stop a sync, so without rich a terminal gets the plain lines too.
"""
from __future__ import annotations

import logging
import sys
import time

from hooks.stash_log import scrub

try:
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TextColumn, TimeRemainingColumn)
    from rich.text import Text
except ImportError:  # pragma: no cover - rich is in requirements-dev; plain output then
    Console = None

NOISY_LOGGERS = ("urllib3", "plexapi", "persistqueue", "requests")


class PlainReporter:
    """One line per stage and then at most every `interval` seconds: done/total, rate, ETA."""

    def __init__(self, stream=None, interval: float = 2.0, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.interval, self.clock = interval, clock
        self.label, self.done, self.total = "", 0, None
        self.started = self.printed_at = 0.0
        self.printed = (None, None)

    def phase(self, label: str, start: float, end: float) -> None:
        self._final()
        self.label, self.done, self.total = label, 0, None
        self.started = self.printed_at = self.clock()
        self.printed = (0, None)
        self._write(f"{label} …")

    def update(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        if self.clock() - self.printed_at >= self.interval:
            self._line()

    def finish(self) -> None:
        self._final()

    def _final(self) -> None:
        if self.label and self.printed != (self.done, self.total) and (self.done or self.total):
            self._line()

    def _line(self) -> None:
        self.printed_at, self.printed = self.clock(), (self.done, self.total)
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {self.done}"
        if self.total:
            text += f"/{self.total} ({100 * self.done / self.total:.0f}%)"
        text += f", {rate:.1f}/s"
        if self.total and rate > 0 and self.done < self.total:
            text += f", ETA {_duration((self.total - self.done) / rate)}"
        self._write(text)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # the reader went away; the sync goes on
            pass


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


if Console is not None:
    class RateColumn(ProgressColumn):
        """Items per second (rich's own speed columns speak bytes)."""

        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            if not speed and task.completed and task.elapsed:
                # rich needs two progress samples at different times; a wave of jobs
                # (worker.waves) finishes together, so fall back to the average so far
                speed = task.completed / task.elapsed
            return Text(f"{speed:.1f}/s" if speed else "-/s", style="progress.data.speed")

    class RichReporter:
        """A bar per stage with done/total, rate and ETA; log lines print above it."""

        def __init__(self, console: "Console"):
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), RateColumn(), TimeRemainingColumn(),
                                     console=console)
            self.task = None
            self.progress.start()

        def phase(self, label: str, start: float, end: float) -> None:
            self.task = self.progress.add_task(label, total=None)

        def update(self, done: int, total: int | None) -> None:
            if self.task is not None:
                self.progress.update(self.task, completed=done, total=total)

        def finish(self) -> None:
            self.progress.stop()


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class _ConsoleHandler(logging.Handler):
    """Log records printed through rich's console, so they scroll above the live bar."""

    def __init__(self, console):
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        style = {"ERROR": "red", "WARNING": "yellow", "DEBUG": "dim"}.get(record.levelname)
        self.console.print(self.format(record), markup=False, highlight=False, style=style,
                           soft_wrap=True)


def make_output(debug: bool, stream=None):
    """Route log records to stderr and return the progress reporter for this terminal:
    rich's bar on a TTY, plain lines otherwise."""
    stream = stream or sys.stderr
    if Console is not None and stream.isatty():
        console = Console(file=stream)
        handler: logging.Handler = _ConsoleHandler(console)
        reporter = RichReporter(console)
    else:
        handler = logging.StreamHandler(stream)
        reporter = PlainReporter(stream)
    handler.setFormatter(_ScrubbingFormatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in NOISY_LOGGERS:  # connection chatter is not the user's business
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return reporter
