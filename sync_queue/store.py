"""queue.db: its schema, its connections, and the hook's side of the queue (enqueue, look-ups).

Stdlib only on purpose: the hook imports this module, and the hook's whole budget (150 ms) is
smaller than importing persist-queue's dependencies. Rows are written in exactly the format of
persist-queue's SQLiteAckQueue (table `ack_queue_default`, json serializer, status ready), so
the drainer reads them back through persist-queue.

Every job gets `seq`, a number from one counter that only grows: the newest job of a scene is
the one with the highest seq (scene_latest), whichever table it sits in, however often it was
retried. Jobs whose `not_before` lies in the future go to `scheduled_jobs`, not to the queue,
so they never block a ready job behind them.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

# The row writers live in job_rows, which repair uses too (store -> repair, never back); they
# are imported here under their old names for the modules that take them from store.
from sync_queue.job_rows import (QUEUE_TABLE, immediate, insert_ready,
                                 insert_scheduled, scene_key)
from sync_queue.view.rows import queue_counts

QUEUE_DB = "queue.db"
STATUS_UNACK = 2
STATUS_ACKED = 5
BUSY_TIMEOUT_S = 30.0  # a hook may wait this long behind a writer before giving up
SCHEMA_VERSION = 3  # 2: owed_covers, 3: awaited_covers

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {QUEUE_TABLE} (
    _id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB, timestamp FLOAT, status INTEGER);
CREATE INDEX IF NOT EXISTS {QUEUE_TABLE}_status ON {QUEUE_TABLE} (status, _id);
CREATE TABLE IF NOT EXISTS scheduled_jobs (
    seq INTEGER PRIMARY KEY, scene_id TEXT NOT NULL, not_before REAL NOT NULL, job TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS scheduled_jobs_due ON scheduled_jobs (not_before);
CREATE TABLE IF NOT EXISTS scene_latest (
    scene_id TEXT PRIMARY KEY, job_key TEXT NOT NULL, seq INTEGER NOT NULL,
    enqueued_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS queue_counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER UNIQUE, scene_id TEXT NOT NULL,
    title TEXT NOT NULL, reason_code TEXT NOT NULL, reason TEXT NOT NULL,
    error_class TEXT NOT NULL, candidates TEXT NOT NULL, attempts INTEGER NOT NULL,
    first_failure REAL NOT NULL, last_failure REAL NOT NULL, job TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_last_failure ON dead_letters (last_failure);
CREATE TABLE IF NOT EXISTS sync_records (
    scene_id TEXT PRIMARY KEY, record TEXT NOT NULL, synced_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS owed_covers (
    scene_id TEXT PRIMARY KEY, job TEXT NOT NULL, owed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS awaited_covers (
    scene_id TEXT PRIMARY KEY, since REAL NOT NULL, asked INTEGER NOT NULL DEFAULT 0,
    waiting INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS skipped_scenes (
    scene_id TEXT PRIMARY KEY, reason TEXT NOT NULL, skipped_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS plexsync_state (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL);
"""

SUMMARY_KEY = "drain_summary"
AUTH_FAILURE_KEY = "auth_failure"


def connect(data_dir: str | Path) -> sqlite3.Connection:
    """A connection to queue.db with the schema in place; autocommit, explicit transactions.
    A damaged file is moved aside and what can be read of it kept (sync_queue.repair)."""
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    try:
        return _open(path)
    except sqlite3.DatabaseError as exc:
        from sync_queue.repair import is_damaged  # the rare path pays for its import
        if not is_damaged(exc):
            raise
        error = exc
    repair_damaged(path, error)
    return _open(path)


def repair_damaged(data_dir: Path, error: BaseException) -> None:
    from sync_queue.repair import repair_queue_db
    repair_queue_db(data_dir, error, _open)


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path / QUEUE_DB, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                           check_same_thread=False)
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            _create_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def as_connection(db: "sqlite3.Connection | str | Path") -> sqlite3.Connection:
    """Accept either an open queue.db connection or the data folder to open one in."""
    return db if isinstance(db, sqlite3.Connection) else connect(db)


def _create_schema(conn: sqlite3.Connection) -> None:
    # WAL lets the hook commit while the drainer reads; persist-queue sets it too. Switching
    # needs a moment without other writers, so a busy first open just retries under the lock.
    for _ in range(50):
        try:
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.02)
    with immediate(conn):
        if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def allocate_seqs(conn: sqlite3.Connection, count: int) -> int:
    """Reserve `count` sequence numbers inside the caller's transaction; returns the first."""
    row = conn.execute("SELECT value FROM queue_counter WHERE name = 'seq'").fetchone()
    last = row[0] if row else 0
    conn.execute("INSERT INTO queue_counter (name, value) VALUES ('seq', ?) "
                 "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (last + count,))
    return last + 1


class QueueStore:
    """The hook's view of queue.db: enqueue, find a scene already queued, counts, summaries."""

    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self._conn = connect(self.data_dir)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "QueueStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def enqueue(self, jobs: list[dict]) -> int:
        """Commit every job in ONE transaction; the newest job of each scene is remembered.
        Damage met on the way (a bad page deep in queue.db) is repaired, then it commits."""
        try:
            return self._enqueue(jobs)
        except sqlite3.DatabaseError as exc:
            from sync_queue.repair import is_damaged
            if not is_damaged(exc):
                raise
            error = exc
        self._conn.close()
        repair_damaged(self.data_dir, error)
        self._conn = connect(self.data_dir)
        return self._enqueue(jobs)

    def _enqueue(self, jobs: list[dict]) -> int:
        if not jobs:
            return 0
        now = time.time()
        with immediate(self._conn) as conn:
            first = allocate_seqs(conn, len(jobs))
            for offset, job in enumerate(jobs):
                job = dict(job, seq=first + offset)
                if float(job.get("not_before") or 0) > now:
                    insert_scheduled(conn, job)
                else:
                    insert_ready(conn, job, now)
                conn.execute(
                    "INSERT INTO scene_latest (scene_id, job_key, seq, enqueued_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT(scene_id) DO UPDATE SET "
                    "job_key = excluded.job_key, seq = excluded.seq, "
                    "enqueued_at = excluded.enqueued_at",
                    (scene_key(job["scene_id"]), str(job.get("job_key", "")), job["seq"], now))
        return len(jobs)

    def latest_job_key(self, scene_id) -> str | None:
        """The job_key of the newest job queued for this scene, if any."""
        row = self._conn.execute("SELECT job_key FROM scene_latest WHERE scene_id = ?",
                                 (scene_key(scene_id),)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict:
        """Queue sizes read from SQLite (what every process sees), never per-process counters."""
        return queue_counts(self._conn, self.data_dir)  # the same SQL the web UI reads

    def auth_failed_for(self, token_fingerprint: str) -> bool:
        """True if Plex rejected this very token and nobody has changed it since."""
        row = self._conn.execute("SELECT value FROM plexsync_state WHERE key = ?",
                                 (AUTH_FAILURE_KEY,)).fetchone()
        return bool(row) and json.loads(row[0]).get("fingerprint") == token_fingerprint

