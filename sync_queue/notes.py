"""Notes for the next hook or task to show in Stash's log: what a process without Stash's log
(a drainer that died at start, a repair of a damaged file) needs a person to read.

A plain text file, not queue.db: the note may be about queue.db itself. Stdlib only and cheap
on the hook path: with no note waiting, taking notes costs one failed rename.
"""
from __future__ import annotations

import os
from pathlib import Path

NOTES_FILE = "notes.txt"


def leave_note(data_dir: str | Path, text: str) -> bool:
    """Append one line; False if it could not be written (e.g. the disk is full)."""
    try:
        with open(Path(data_dir) / NOTES_FILE, "a", encoding="utf-8") as handle:
            handle.write(" ".join(text.split()) + "\n")
        return True
    except OSError:
        return False


def take_notes(data_dir: str | Path) -> list[str]:
    """Every note waiting, each once, oldest first; the next caller gets none of them.

    The file is renamed before reading, so two processes never both show a note."""
    path = Path(data_dir) / NOTES_FILE
    taking = path.with_name(f"{NOTES_FILE}.{os.getpid()}.taking")
    try:
        os.replace(path, taking)
    except OSError:  # FileNotFoundError: nothing waiting (the common case)
        return []
    try:
        lines = taking.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    try:
        taking.unlink()
    except OSError:
        pass
    return list(dict.fromkeys(line for line in lines if line.strip()))
