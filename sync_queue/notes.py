"""What the next hook or task shows in Stash's log: notes from processes without Stash's log
(a drainer that died at start, a repair of a damaged file) and the last drain's summary line.

Plain text files, not queue.db: a note may be about queue.db itself, and a hook shows them with
`os` alone when the data folder's listing (which it reads anyway) names them. Opening queue.db
for the summary cost a hook ~30 ms (sqlite3 and the store's imports); a file costs a rename, a
read and an unlink. Each is shown once: the reader renames the file away before reading it, so
of two processes that both see it, only one gets it (the other's rename fails).
"""
import os

NOTES_FILE = "notes.txt"
# The last background drain's line, ready to print; a newer drain replaces one nobody showed.
SUMMARY_FILE = "summary.unreported"


def leave_note(data_dir, text: str) -> bool:
    """Append one line; False if it could not be written (e.g. the disk is full)."""
    try:
        with open(os.path.join(os.fspath(data_dir), NOTES_FILE), "a", encoding="utf-8") as handle:
            handle.write(_one_line(text) + "\n")
        return True
    except OSError:
        return False


def take_notes(data_dir) -> list:
    """Every note waiting, each once, oldest first; the next caller gets none of them."""
    return list(dict.fromkeys(line for line in _take(data_dir, NOTES_FILE) if line.strip()))


def leave_summary(data_dir, line: str) -> bool:
    """Leave the drain's summary line for the next hook or task, replacing an unread one.

    Written beside its final name and renamed into place: a reader gets the old line or the
    new one, whole. False if it could not be written (the line is still in queue.db)."""
    folder = os.fspath(data_dir)
    temporary = os.path.join(folder, f".{SUMMARY_FILE}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(_one_line(line) + "\n")
        os.replace(temporary, os.path.join(folder, SUMMARY_FILE))
        return True
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False


def take_summary(data_dir) -> str | None:
    """The summary line waiting, once: the next caller gets None until a drain leaves another."""
    lines = [line for line in _take(data_dir, SUMMARY_FILE) if line.strip()]
    return lines[-1] if lines else None


def _take(data_dir, name: str) -> list:
    """The lines of <data_dir>/<name>, claimed by renaming it away first, then removed."""
    path = os.path.join(os.fspath(data_dir), name)
    taking = f"{path}.{os.getpid()}.taking"
    try:
        os.replace(path, taking)
    except OSError:  # FileNotFoundError: nothing waiting, or another process claimed it
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
    return lines


def _one_line(text: str) -> str:
    """Stash's log protocol is one line per message: a newline would lose the level."""
    return " ".join(text.split())
