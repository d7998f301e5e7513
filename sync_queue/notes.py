"""Notes for the next hook or task to show in Stash's log: what a process without Stash's log
(a drainer that died at start, a repair of a damaged file) needs a person to read.

A plain text file, not queue.db: the note may be about queue.db itself. `os` only: the hook
takes notes when the data folder's listing (which it reads anyway) shows the file.
"""
import os

NOTES_FILE = "notes.txt"


def leave_note(data_dir, text: str) -> bool:
    """Append one line; False if it could not be written (e.g. the disk is full)."""
    try:
        with open(os.path.join(os.fspath(data_dir), NOTES_FILE), "a", encoding="utf-8") as handle:
            handle.write(" ".join(text.split()) + "\n")
        return True
    except OSError:
        return False


def take_notes(data_dir) -> list:
    """Every note waiting, each once, oldest first; the next caller gets none of them.

    The file is renamed before reading, so two processes never both show a note."""
    path = os.path.join(os.fspath(data_dir), NOTES_FILE)
    taking = f"{path}.{os.getpid()}.taking"
    try:
        os.replace(path, taking)
    except OSError:  # FileNotFoundError: nothing waiting (the common case)
        return []
    try:
        with open(taking, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    try:
        os.unlink(taking)
    except OSError:
        pass
    return list(dict.fromkeys(line for line in lines if line.strip()))
