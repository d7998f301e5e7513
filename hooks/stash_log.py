"""Where PlexSync's log lines go: Stash's plugin log protocol, or a rotating file.

Every module logs through stdlib `logging`; only the entry points choose a destination.
A plugin process started by Stash writes `\\x01<level>\\x02<message>` lines on stderr, which
Stash files under that level. The detached drainer has no Stash to talk to (its stderr is not
the hook's, or Stash would wait for it), so it writes `drainer.log` in the data folder and the
next hook or task surfaces a one-line summary.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from validation.secrets import redact, worth_hiding

# Stash stops reading a plugin's stderr for good at a line over 64 KiB; cap far below that.
MAX_LINE_CHARS = 8_000
_LEVEL_CODES = ((logging.ERROR, "e"), (logging.WARNING, "w"), (logging.INFO, "i"), (logging.DEBUG, "d"))
_secrets: set[str] = set()


def register_secret(*values: str | None) -> None:
    """Scrub these values (tokens, API keys, cookies) from every log record from now on."""
    _secrets.update(v.strip() for v in values if worth_hiding(v))


def scrub(text: str) -> str:
    """The text with every registered secret replaced, whole, by a marker."""
    return redact(text, _secrets)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class StashLogHandler(logging.Handler):
    """Writes records in Stash's plugin log protocol on stderr, one line per message line."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream or sys.stderr
        self.setFormatter(_RedactingFormatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        code = _level_code(record.levelno)
        try:
            for line in self.format(record).splitlines() or [""]:
                if len(line) > MAX_LINE_CHARS:
                    line = line[:MAX_LINE_CHARS] + f"… ({len(line) - MAX_LINE_CHARS} more characters)"
                self.stream.write(f"\x01{code}\x02{line}\n")
            self.stream.flush()
        except (OSError, ValueError):  # Stash went away; losing a log line must not fail a sync
            pass


def _level_code(levelno: int) -> str:
    for level, code in _LEVEL_CODES:
        if levelno >= level:
            return code
    return "t"


def progress(fraction: float, stream=None) -> None:
    """Report task progress (0..1) to Stash; only tasks show it."""
    stream = stream or sys.stderr
    stream.write(f"\x01p\x02{max(0.0, min(1.0, fraction)):.3f}\n")
    stream.flush()


def install_stash_logging(debug: bool = False, stream=None) -> None:
    """Route every PlexSync log record to Stash's log."""
    _install(StashLogHandler(stream), debug)


def install_file_logging(data_dir: Path, debug: bool = False) -> Path:
    """Route every log record to a rotating drainer.log in the data folder; returns its path."""
    path = Path(data_dir) / "drainer.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    _install(handler, debug)
    return path


def _install(handler: logging.Handler, debug: bool) -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # Third-party chatter (urllib3 connection lines, plexapi) is not the user's business.
    for noisy in ("urllib3", "plexapi", "persistqueue", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
