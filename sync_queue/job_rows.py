"""How a job is written into queue.db: persist-queue's row format for a ready job, the
scheduled_jobs row of a retry, and the write transaction around them.

Shared by the hook's enqueue (sync_queue.store) and the restore of a damaged file
(sync_queue.repair), so that neither of those two imports the other: store calls repair, and
both call this. Stdlib only, like store (the hook's rare paths import it).
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager

QUEUE_TABLE = "ack_queue_default"  # persist-queue: f"{_TABLE_NAME}_{name}" with name "default"
STATUS_READY = 1  # persist-queue AckStatus: inited 0, ready 1, unack 2, acked 5, ack_failed 9


def scene_key(scene_id) -> str:
    """Scene ids are stored as text: Stash sends them as strings, jobs carry ints."""
    return str(scene_id)


@contextmanager
def immediate(conn: sqlite3.Connection):
    """One write transaction, taken at once so two writers never deadlock on an upgrade."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def encode_job(job: dict) -> bytes:
    """A job exactly as persist-queue's json serializer writes it."""
    return json.dumps(job).encode("utf-8")


def insert_ready(conn: sqlite3.Connection, job: dict, now: float) -> None:
    conn.execute(f"INSERT INTO {QUEUE_TABLE} (data, timestamp, status) VALUES (?, ?, ?)",
                 (encode_job(job), now, STATUS_READY))


def insert_scheduled(conn: sqlite3.Connection, job: dict) -> None:
    # seq is the primary key: a copy written twice (crash between copy and ack) stays one row.
    conn.execute("INSERT OR REPLACE INTO scheduled_jobs (seq, scene_id, not_before, job) "
                 "VALUES (?, ?, ?, ?)",
                 (job["seq"], scene_key(job["scene_id"]), float(job["not_before"]),
                  json.dumps(job)))
