"""A damaged queue.db: move it aside, keep what can still be read of it, say so once.

queue.db holds work nobody else has (queued edits, retries, dead letters, sync records), so
unlike index.db it is not simply rebuilt: the damaged file is renamed to
queue.db.damaged-<time> (kept for a person to look at), a fresh queue.db is created, and every
row that can still be read is copied into it. Rows are read forwards until the first damaged
page and backwards from the end until it, so one bad page costs only the rows on it.

Imported only when SQLite has reported damage: the hook path never pays for it otherwise.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from sync_queue.job_rows import immediate, insert_ready, insert_scheduled, scene_key
from sync_queue.notes import leave_note

log = logging.getLogger(__name__)

_DAMAGED_NAMES = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
_DAMAGED_TEXT = ("file is not a database", "database disk image is malformed")


def is_damaged(exc: BaseException) -> bool:
    """True for SQLite's 'this file is damaged' errors (not locks, not full disks)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""  # Python 3.11+
    return name.startswith(_DAMAGED_NAMES) or any(t in str(exc) for t in _DAMAGED_TEXT)


def move_aside(path: Path) -> Path:
    """Rename a damaged SQLite file (and its -wal / -shm) to <name>.damaged-<time>.

    Raises FileNotFoundError if another process moved it first."""
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    os.rename(path, target)
    for suffix in ("-wal", "-shm"):
        try:
            os.rename(f"{path}{suffix}", f"{target}{suffix}")
        except OSError:
            pass
    return target


@dataclass
class Salvage:
    jobs: list = field(default_factory=list)        # ready or in flight: ready again
    scheduled: list = field(default_factory=list)   # waiting for a retry
    dead: list = field(default_factory=list)        # dead_letters rows (without id)
    records: list = field(default_factory=list)     # (scene_id, record, synced_at)
    owed: list = field(default_factory=list)        # (scene_id, job, owed_at)
    unreadable: list = field(default_factory=list)  # tables with rows lost

    def kept(self) -> str:
        parts = [(len(self.jobs), "queued edit(s)"), (len(self.scheduled), "retry(ies)"),
                 (len(self.dead), "dead letter(s)"), (len(self.records), "sync record(s)")]
        text = ", ".join(f"{n} {what}" for n, what in parts)
        if self.unreadable:
            text += f"; lost what was on damaged pages of: {', '.join(self.unreadable)}"
        return text


_EDGE_PROBES = 64  # rowids tried one by one next to a damaged page


def _rows(conn: sqlite3.Connection, table: str, columns: str, where: str,
          salvage: Salvage) -> list[tuple]:
    """Every readable row: forwards until a damaged page, then backwards from the end.

    Python's sqlite3 steps one row ahead of the row it hands out, so a scan that dies on a
    damaged page also drops the row before it; those edges are read again row by row."""
    found: dict[int, tuple] = {}
    select = f"SELECT rowid, {columns} FROM {table} {where}"
    for order, step in (("ASC", 1), ("DESC", -1)):
        last = None
        try:
            for row in conn.execute(f"{select} ORDER BY rowid {order}"):
                if row[0] in found:
                    break  # met the rows the forward pass read: nothing lies between
                found[row[0]] = row[1:]
                last = row[0]
            else:
                if order == "ASC":
                    return list(found.values())  # read to the end: nothing was lost
        except sqlite3.DatabaseError:
            _read_edge(conn, select, where, last, step, found)
    salvage.unreadable.append(table)
    return [found[k] for k in sorted(found)]


def _read_edge(conn, select: str, where: str, last, step: int, found: dict) -> None:
    """Point reads of the rowids after `last` (before it, step -1) until one hits damage."""
    rowid = (last if last is not None else (0 if step > 0 else None))
    if rowid is None:
        return
    joiner = "AND" if where else "WHERE"
    for _ in range(_EDGE_PROBES):
        rowid += step
        try:
            row = conn.execute(f"{select} {joiner} rowid = ?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            return
        if row is not None and row[0] not in found:
            found[row[0]] = row[1:]


def salvage(path: Path) -> Salvage:
    """What can still be read of a damaged queue.db (nothing, if its header is gone)."""
    result = Salvage()
    try:
        conn = sqlite3.connect(path, timeout=1.0)
    except sqlite3.Error:
        result.unreadable.append("the whole file")
        return result
    try:
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            result.unreadable.append("the whole file")
            return result
        for (data,) in _rows(conn, "ack_queue_default", "data", "WHERE status < 5", result):
            job = _json(data)
            if isinstance(job, dict):
                result.jobs.append(job)
        for (job,) in _rows(conn, "scheduled_jobs", "job", "", result):
            job = _json(job)
            if isinstance(job, dict):
                result.scheduled.append(job)
        result.dead = _rows(conn, "dead_letters",
                            "seq, scene_id, title, reason_code, reason, error_class, candidates, "
                            "attempts, first_failure, last_failure, job", "", result)
        result.records = _rows(conn, "sync_records", "scene_id, record, synced_at", "", result)
        try:
            result.owed = _rows(conn, "owed_covers", "scene_id, job, owed_at", "", result)
        except sqlite3.OperationalError:
            pass  # a queue.db from before owed covers
    except sqlite3.OperationalError:
        pass  # a table missing from the schema: nothing of it to keep
    finally:
        conn.close()
    return result


def _json(value):
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


def restore(conn: sqlite3.Connection, kept: Salvage) -> None:
    """Copy salvaged rows into a fresh queue.db, in one transaction; seqs are kept."""
    now = time.time()
    with immediate(conn):
        latest: dict[str, tuple[int, str]] = {}
        top = 0
        for job in kept.jobs + kept.scheduled:
            seq = int(job.get("seq") or 0)
            top = max(top, seq)
            scene = scene_key(job.get("scene_id"))
            if seq >= latest.get(scene, (-1, ""))[0]:
                latest[scene] = (seq, str(job.get("job_key", "")))
        for job in kept.jobs:
            insert_ready(conn, dict(job, not_before=0), now)
        for job in kept.scheduled:
            if "seq" in job and "not_before" in job:
                insert_scheduled(conn, job)
            else:
                insert_ready(conn, job, now)
        for row in kept.dead:
            conn.execute("INSERT OR IGNORE INTO dead_letters (seq, scene_id, title, reason_code, "
                         "reason, error_class, candidates, attempts, first_failure, last_failure, "
                         "job) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            top = max(top, int(row[0] or 0))
        conn.executemany("INSERT OR REPLACE INTO sync_records (scene_id, record, synced_at) "
                         "VALUES (?, ?, ?)", kept.records)
        conn.executemany("INSERT OR REPLACE INTO owed_covers (scene_id, job, owed_at) "
                         "VALUES (?, ?, ?)", kept.owed)
        conn.executemany("INSERT OR REPLACE INTO scene_latest (scene_id, job_key, seq, enqueued_at) "
                         "VALUES (?, ?, ?, ?)",
                         [(scene, key, seq, now) for scene, (seq, key) in latest.items()])
        conn.execute("INSERT INTO queue_counter (name, value) VALUES ('seq', ?) "
                     "ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)", (top,))


def repair_queue_db(data_dir: Path, error: BaseException, connect) -> bool:
    """Move a damaged queue.db aside, restore what can be read into a fresh one (opened with
    `connect`), and leave one note for Stash's log. False if another process did it first."""
    path = Path(data_dir) / "queue.db"
    if not still_damaged(path):
        return False  # another process repaired it a moment ago: never move a good file
    try:
        moved = move_aside(path)
    except FileNotFoundError:
        return False  # another process is repairing it; its fresh file is used
    kept = salvage(moved)
    conn = connect(data_dir)
    try:
        restore(conn, kept)
    finally:
        conn.close()
    message = (f"PlexSync's queue file {path} was damaged ({error}); it was moved to "
               f"{moved.name} and a new one was started, keeping {kept.kept()}. "
               "Run Sync Recent to catch up on edits that may be missing.")
    # Said once: the next hook or task (this very one, if it is one) shows the note.
    if leave_note(data_dir, message):
        log.debug(message)
    else:
        log.warning(message)
    return True


def still_damaged(path: Path) -> bool:
    """Look again right before moving: two processes can meet the same damage."""
    try:
        conn = sqlite3.connect(path, timeout=5.0)
    except sqlite3.Error:
        return False  # gone or unopenable: not ours to move
    try:
        return conn.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok"
    except sqlite3.DatabaseError as exc:
        return is_damaged(exc)
    finally:
        conn.close()


def ensure_intact(data_dir: Path, connect) -> None:
    """Before a drain: SQLite's quick_check of queue.db; a damaged file is repaired (damage
    deep in the file shows only when a page is read, maybe hours later, by a hook)."""
    conn = connect(data_dir)  # a file that is no database at all is repaired right here
    try:
        problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        if not is_damaged(exc):
            raise
        problem = str(exc)
    finally:
        conn.close()
    if problem != "ok":
        repair_queue_db(data_dir, f"integrity check: {problem}", connect)
