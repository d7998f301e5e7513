"""The scene panel's last reading of queue.db, reused while queue.db has not changed.

A panel left open polls every 3 s, and nearly always nothing changed in between; loading
SQLite costs such a poll more than everything else it does (bench/ui_read_cost_real_stash.py).
So the rows a panel read are kept in ui-cache/scene-<id>.json with the inode, size and mtime
of queue.db and of its write-ahead log; a later read whose stats match takes the rows from
there without loading SQLite. Every commit changes the log (a checkpoint, the main file), so
matching stats mean the same rows. A reading is kept only when both files were untouched for
SETTLED_S before it (a coarse file-system clock could otherwise give a later commit the same
mtime), and is used for KEEP_S at most. `os` only: it runs before SQLite is loaded.
"""
import os

CACHE_DIR = "ui-cache"
FILES = ("queue.db", "queue.db-wal")
SETTLED_S = 2.0
KEEP_S = 60.0
MAX_FILES = 256  # panels of this many scenes are remembered; older readings are dropped


def stamp(data_dir) -> list:
    """[inode, size, mtime_ns] of queue.db and its log (None for a file that is not there)."""
    found = []
    for name in FILES:
        try:
            st = os.stat(os.path.join(os.fspath(data_dir), name))
        except OSError:
            found.append(None)
            continue
        found.append([st.st_ino, st.st_size, st.st_mtime_ns])
    return found


def _path(data_dir, key: str) -> str:
    return os.path.join(os.fspath(data_dir), CACHE_DIR, f"{key}.json")


def load(data_dir, key: str, current: list, now: float, loads):
    """The rows kept for `key` if queue.db is exactly as it was when they were read."""
    try:
        with open(_path(data_dir, key), "rb") as handle:
            kept = loads(handle.read().decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(kept, dict) or kept.get("stamp") != current:
        return None
    if not 0 <= now - float(kept.get("at") or 0) <= KEEP_S:
        return None
    return kept.get("rows")


def store(data_dir, key: str, read_at_stamp: list, now: float, rows: dict, dumps) -> bool:
    """Keep `rows`, read while queue.db had `read_at_stamp`; False when it is too fresh to
    trust its stats (or the folder cannot be written: a cache is never worth an error)."""
    if any(s is not None and now - s[2] / 1e9 < SETTLED_S for s in read_at_stamp):
        return False
    folder = os.path.join(os.fspath(data_dir), CACHE_DIR)
    try:
        os.makedirs(folder, exist_ok=True)
        _prune(folder)
        path = _path(data_dir, key)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(dumps({"stamp": read_at_stamp, "at": now, "rows": rows}))
        os.replace(tmp, path)  # no fsync: losing a cache costs one SQLite read
    except OSError:
        return False
    return True


def _prune(folder: str) -> None:
    with os.scandir(folder) as entries:
        files = [e for e in entries if e.is_file()]
    if len(files) < MAX_FILES:
        return
    files.sort(key=lambda e: e.stat().st_mtime)
    for entry in files[:len(files) // 2]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass
