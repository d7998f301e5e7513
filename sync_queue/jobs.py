"""The drain side of the job queue: persist-queue's SQLiteAckQueue plus our scheduled table.

Only the holder of the drain lock may use this class: persist-queue is safe for many putters
but not for several getters, and resume_unacked() would hand another drainer's in-flight job
to us. The queue is opened with auto_resume=False for that reason; the lock holder calls
resume_unacked() once, right after taking the lock.

Crash safety comes from ordering, not from distributed transactions: a job's next home (a
scheduled copy, a dead letter, a sync record) is committed before its queue row is acked, so a
crash in between leaves a duplicate, never a loss. Duplicates are harmless: copies share the
job's seq (scheduled_jobs and dead_letters are keyed by it) and a sync is idempotent.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import persistqueue.serializers.json as pq_json
from persistqueue import SQLiteAckQueue
from persistqueue.exceptions import Empty

from sync_queue.store import (BUSY_TIMEOUT_S, QUEUE_DB, QUEUE_TABLE, STATUS_ACKED, STATUS_UNACK,
                              allocate_seqs, connect, immediate, insert_ready, insert_scheduled,
                              scene_key)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TakenJob:
    pqid: int  # persist-queue's row id: what ack / nack need
    job: object  # the job dict (anything else is a corrupt row the drain dead-letters)


class _AckQueue(SQLiteAckQueue):
    """persist-queue's ack queue whose commits skip the fsync only a power cut would need.

    In WAL mode synchronous=NORMAL still survives any process crash; a power cut may roll back
    the last few drain-side transactions, i.e. a take or an ack, and a job synced again is
    harmless. The hook's enqueue (sync_queue.store) keeps the full fsync: an edit is not
    redone by anyone. Measured: 4 ms per commit with the fsync, 0.02 ms without.
    """

    def _new_db_connection(self, path, multithreading, timeout):
        return _relaxed(super()._new_db_connection(path, multithreading, timeout))


def _relaxed(conn):
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class JobQueue:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self._db = _relaxed(connect(self.data_dir))  # creates the schema before persist-queue
        self._pq = _AckQueue(str(self.data_dir), auto_resume=False, serializer=pq_json,
                             db_file_name=QUEUE_DB, multithreading=True, timeout=BUSY_TIMEOUT_S)

    @property
    def db(self):
        """The queue.db connection, for the DLQ, records and state of the same drain."""
        return self._db

    def close(self) -> None:
        try:  # fold the WAL back into queue.db so the folder stays small between drains
            self._db.execute("PRAGMA busy_timeout = 200")  # never hold up the exit for it
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:  # another connection is busy; SQLite checkpoints later anyway
            pass
        self._pq.close()
        self._db.close()

    def resume_unacked(self) -> int:
        """Make jobs a dead drainer left in flight ready again. Lock holder only, once."""
        count = self._pq.unack_count()
        if count:
            log.info(f"resuming {count} job(s) a previous drainer left unfinished")
            self._pq.resume_unack_tasks()
        return count

    def take(self) -> TakenJob | None:
        """The oldest ready job, now marked in flight; None when nothing is ready."""
        try:
            raw = self._pq.get(block=False, raw=True)
        except Empty:
            return None
        except ValueError:  # undecodable row (hand-edited queue.db); persist-queue marked it unack
            return self._take_undecodable()
        return TakenJob(raw["pqid"], raw["data"])

    def peek_ready(self, limit: int) -> list[dict]:
        """The next `limit` ready jobs in take() order, left in place (for a batched reload);
        rows that do not decode are left to take(), which sets them aside."""
        jobs = []
        for (data,) in self._db.execute(
                f"SELECT data FROM {QUEUE_TABLE} WHERE status < ? ORDER BY _id LIMIT ?",
                (STATUS_UNACK, limit)):
            try:
                job = json.loads(data)
            except (ValueError, TypeError):
                continue
            if isinstance(job, dict):
                jobs.append(job)
        return jobs

    def _take_undecodable(self) -> TakenJob | None:
        for pqid, data in self._db.execute(
                f"SELECT _id, data FROM {QUEUE_TABLE} WHERE status = ?", (STATUS_UNACK,)):
            try:
                json.loads(data)
            except (ValueError, TypeError):
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
                return TakenJob(pqid, text[:500])
        return None

    def ack(self, taken: TakenJob) -> None:
        self._pq.ack(id=taken.pqid)

    def put_back(self, taken: TakenJob) -> None:
        """Return the job to the ready queue untouched, at its old position (nack)."""
        self._pq.nack(id=taken.pqid)

    def reschedule(self, taken: TakenJob, job: dict) -> None:
        """Move the job to scheduled_jobs until job['not_before']; copy first, then ack."""
        with immediate(self._db) as conn:
            if job.get("seq") is None:  # a job written by something other than QueueStore
                job = dict(job, seq=allocate_seqs(conn, 1))
            insert_scheduled(conn, job)
        self.ack(taken)

    def promote_due(self, now: float) -> int:
        """Move scheduled jobs whose time has come into the ready queue (one transaction)."""
        due = self.next_due()
        if due is None or due > now:
            return 0  # the usual case: one read, no write lock
        with immediate(self._db) as conn:
            due = conn.execute("SELECT seq, job FROM scheduled_jobs WHERE not_before <= ? "
                               "ORDER BY not_before, seq", (now,)).fetchall()
            for seq, job in due:
                insert_ready(conn, json.loads(job), now)
                conn.execute("DELETE FROM scheduled_jobs WHERE seq = ?", (seq,))
        return len(due)

    def next_due(self) -> float | None:
        """When the earliest scheduled job becomes ready (None: nothing scheduled)."""
        return self._db.execute("SELECT MIN(not_before) FROM scheduled_jobs").fetchone()[0]

    def is_superseded(self, job: dict) -> bool:
        """True if a newer job for the same scene was enqueued after this one."""
        seq = job.get("seq")
        if seq is None:
            return False
        row = self._db.execute("SELECT seq FROM scene_latest WHERE scene_id = ?",
                               (scene_key(job.get("scene_id")),)).fetchone()
        return bool(row) and row[0] > seq

    def ready_count(self) -> int:
        return self._db.execute(
            f"SELECT COUNT(*) FROM {QUEUE_TABLE} WHERE status < ?", (STATUS_UNACK,)).fetchone()[0]

    def scheduled_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM scheduled_jobs").fetchone()[0]

    def has_work(self, now: float) -> bool:
        """Anything ready, or scheduled and already due (the lost-wake-up re-check)."""
        due = self.next_due()
        return self.ready_count() > 0 or (due is not None and due <= now)

    def clear_acked(self) -> int:
        """Delete acked rows so queue.db stays small; returns how many there were."""
        acked = self._db.execute(f"SELECT COUNT(*) FROM {QUEUE_TABLE} WHERE status = ?",
                                 (STATUS_ACKED,)).fetchone()[0]
        if acked:
            self._pq.clear_acked_data(max_delete=0, keep_latest=0)
        return acked

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap 'anything new?' poll."""
        return self._db.execute("PRAGMA data_version").fetchone()[0]
