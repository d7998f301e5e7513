"""What to tell a person when the data folder cannot be written: which folder, and why.

SQLite says "database or disk is full", "disk I/O error" (a write that hit a full disk in
WAL mode), "unable to open database file" or "attempt to write a readonly database"; none
names the folder or the fix. describe_storage_error() looks at the folder itself (free space,
read-only file system, permissions) and says which it is. Stdlib only: the hook uses it.
"""
from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

FULL_BELOW_BYTES = 256 * 1024  # less free than this: a write of a few pages fails
_SQLITE_STORAGE = ("database or disk is full", "disk i/o error", "unable to open database file",
                   "readonly database", "read-only database")
_OS_FULL_OR_READ_ONLY = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG}
_OS_FORBIDDEN = {errno.EACCES, errno.EPERM}  # about the data folder only if it names a file there


class DataFolderError(RuntimeError):
    """PlexSync's data folder cannot be written; the message names the folder and the cause."""


def is_storage_error(exc: BaseException, data_dir: str | Path) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return any(text in str(exc).lower() for text in _SQLITE_STORAGE)
    if not isinstance(exc, OSError):
        return False
    if exc.errno in _OS_FULL_OR_READ_ONLY:
        return True
    return exc.errno in _OS_FORBIDDEN and bool(exc.filename) and \
        str(exc.filename).startswith(str(data_dir))


def folder_problem(data_dir: str | Path, exc: BaseException | None = None) -> str | None:
    """'full' / 'read-only' / 'permissions' cause for the folder, or None if it looks fine."""
    folder = Path(data_dir)
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), None)
    if probe is None:
        return None
    try:
        stats = os.statvfs(probe)
    except (OSError, AttributeError):  # AttributeError: Windows has no statvfs
        stats = None
    if stats is not None and stats.f_flag & getattr(os, "ST_RDONLY", 1):
        return "it is on a read-only file system"
    free = stats.f_bavail * stats.f_frsize if stats is not None else None
    full_error = "full" in str(exc or "").lower() or getattr(exc, "errno", None) in (
        errno.ENOSPC, errno.EDQUOT)
    if (free is not None and free < FULL_BELOW_BYTES) or full_error:
        shown = f"{free // 1024} KB free" if free is not None else "no space left"
        return f"the disk holding it is full ({shown})"
    for path in (probe, folder / "queue.db", folder / "index.db"):
        if path.exists() and not os.access(path, os.W_OK):
            return (f"the user PlexSync runs as may not write {path.name if path != probe else 'it'} "
                    "(permissions)")
    return None


def describe_storage_error(exc: BaseException, data_dir: str | Path) -> str | None:
    """One sentence naming the folder, the cause and the remedy; None if exc is not about
    the data folder's storage."""
    if not is_storage_error(exc, data_dir):
        return None
    cause = folder_problem(data_dir, exc) or f"{exc}"
    if "full" in cause:
        remedy = ("Free some space there: queued edits are kept, and syncing resumes with the "
                  "next edit or task; run Sync Recent afterwards for edits saved meanwhile")
    else:
        remedy = ("Make the folder writable for the user Stash runs as (or point "
                  "PLEXSYNC_DATA_DIR at one that is); then run Sync Recent")
    return f"PlexSync cannot write its data folder {data_dir}: {cause}. {remedy}"
