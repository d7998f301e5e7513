"""What every task body gets (TaskEnv) and gives back (TaskResult), and how it reports progress.

The Stash task runner (worker.tasks.registry) and process_queue.py build a TaskEnv each and call the
same task functions: one code path, two front ends. Only the Reporter differs: Stash gets
`p` log lines (0..1), a terminal gets a progress bar, a pipe gets plain lines.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hooks.stash_api import StashClient
from hooks.stash_log import register_secret
from validation.config import Config, parse_config


class TaskError(ValueError):
    """A task was asked for something it cannot do (unknown mode, bad argument); str() says
    what to change."""


# A window or an age beyond a century is a typo (1e20 hours overflows every date function).
MAX_HOURS = 100 * 365 * 24.0


def number_arg(name: str, raw, unit: str, *, minimum: float, above: bool = False,
               maximum: float = MAX_HOURS) -> float:
    """A task argument as a number of `unit`s within [minimum, maximum] (or > minimum);
    Stash passes arguments as strings, the CLI checks them with this same rule."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise TaskError(f"argument '{name}' must be a number of {unit}, got {raw!r}") from None
    low_ok = value > minimum if above else value >= minimum
    if not (low_ok and value <= maximum):  # also false for nan
        bound = f"more than {minimum:g}" if above else f"{minimum:g} or more"
        raise TaskError(f"argument '{name}' must be {bound} and at most {maximum:g} {unit}, "
                        f"got {raw!r}")
    return value


def hours_value(raw) -> float:
    return number_arg("hours", raw, "hours", minimum=0, above=True)


def days_value(raw) -> float:
    return number_arg("days", raw, "days", minimum=0, maximum=MAX_HOURS / 24)


def load_settings(stash: StashClient, overrides: dict | None = None) -> tuple[dict, Config]:
    """PlexSync's settings from Stash (one request), with overrides on top, parsed once."""
    settings = dict(stash.plugin_settings())
    settings.update({k: v for k, v in (overrides or {}).items() if v is not None})
    cfg = parse_config(settings)
    register_secret(cfg.plex_token)
    return settings, cfg


class Reporter(Protocol):
    def phase(self, label: str, start: float, end: float) -> None:
        """A new stage of the task begins; it covers [start, end] of the whole (0..1)."""

    def update(self, done: int, total: int | None) -> None:
        """Progress inside the current stage."""

    def finish(self) -> None:
        """The task is over (whatever stage it stopped in)."""


class StashProgress:
    """Progress as Stash's `p` log lines: monotonic, and only when it moved by >= 0.5 %.

    Monotonic because a drain's total grows when edits arrive while it runs, and a bar going
    backwards reads as a fault; throttled because 10,000 jobs must not mean 10,000 log lines.
    """

    STEP = 0.005

    def __init__(self, emit):
        self._emit = emit
        self._start, self._end = 0.0, 1.0
        self._last = -1.0

    def phase(self, label: str, start: float, end: float) -> None:
        self._start, self._end = start, end
        self._send(start)

    def update(self, done: int, total: int | None) -> None:
        share = min(1.0, done / total) if total else 0.0
        self._send(self._start + (self._end - self._start) * share)

    def finish(self) -> None:
        self._send(1.0)

    def _send(self, fraction: float) -> None:
        if (fraction >= 1.0 > self._last) or fraction - self._last >= self.STEP:
            self._last = max(self._last, fraction)
            self._emit(self._last)


@dataclass
class TaskEnv:
    cfg: Config
    settings: dict  # Stash's raw settings (with CLI overrides): handed to a detached drainer
    stash: StashClient
    plugin_dir: Path
    data_dir: Path
    args: dict
    reporter: Reporter
    server_connection: dict = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    # process_queue.py's --plex-url / --plex-token: a drainer it starts applies them on top of
    # the settings it re-reads at each hand-over, so they outlive the first drainer.
    overrides: dict = field(default_factory=dict)

    def arg(self, name: str, default=None):
        """A task argument as Stash sends it (strings), or the default when absent or blank."""
        value = self.args.get(name)
        return default if value is None or str(value).strip() == "" else value

    def drainer_payload(self) -> dict:
        """stdin of `python -m worker --background` (hooks.drainer_launch); never argv."""
        payload = {"server_connection": self.server_connection, "settings": self.settings,
                   "stash": self.stash.connection_payload()}
        overrides = {k: v for k, v in self.overrides.items() if v is not None}
        return {**payload, "overrides": overrides} if overrides else payload


@dataclass
class TaskResult:
    text: str   # what the user reads (Stash log + task output, or the terminal)
    data: dict  # the same facts for scripts (process_queue.py --json)
    ok: bool = True  # False: something needs the user's attention (CLI exit code 1)
