"""The dead-letter queue: jobs PlexSync gave up on, each with a reason a person understands.

An entry keeps everything needed to act without SQL: scene id and title, a reason sentence
plus a short reason code (for "retry all ambiguous ones"), the error class, every candidate of
an ambiguous match, attempts, first and last failure, and the job itself for a retry. Entries
are keyed by the job's seq, so a drainer killed between "dead-letter" and "ack" cannot leave
two entries for one job.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sync_queue.store import as_connection, immediate, insert_ready, scene_key

# Reason codes: what kind of problem, i.e. what the person has to do about it.
AMBIGUOUS_MATCH = "ambiguous_match"        # several Plex items could be this scene
BAD_REQUEST = "bad_request"                # Plex refused the edit (400)
INVALID_SNAPSHOT = "invalid_snapshot"      # the queued scene data is malformed
NOT_FOUND = "not_found"                    # Plex never showed an item for the file
RETRIES_EXHAUSTED = "retries_exhausted"    # Plex kept failing (5xx, timeouts)
UNEXPECTED_ERROR = "unexpected_error"      # a bug or an error nobody classified

DAY_S = 86400.0


@dataclass(frozen=True)
class DeadLetter:
    id: int
    scene_id: str
    title: str
    reason_code: str
    reason: str
    error_class: str
    candidates: list
    attempts: int
    first_failure: float
    last_failure: float
    job: dict


class DeadLetters:
    def __init__(self, db: sqlite3.Connection | str | Path, clock=time.time):
        self._conn = as_connection(db)
        self._clock = clock

    def add(self, job: dict, *, reason_code: str, reason: str, error_class: str,
            candidates: list | tuple = ()) -> None:
        """Dead-letter a job (the caller acks the queue row afterwards)."""
        now = self._clock()
        data = job.get("data") if isinstance(job.get("data"), dict) else {}
        self._conn.execute(
            "INSERT OR REPLACE INTO dead_letters (seq, scene_id, title, reason_code, reason, "
            "error_class, candidates, attempts, first_failure, last_failure, job) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job.get("seq"), scene_key(job.get("scene_id")), str(data.get("title") or ""),
             reason_code, reason, error_class, json.dumps(list(candidates), default=str),
             int(job.get("attempts", 0)), float(job.get("first_failed_at") or now), now,
             json.dumps(job, default=str)))

    def list(self, reason_code: str | None = None, limit: int | None = None) -> list[DeadLetter]:
        """Entries, newest failure first; optionally only one reason code."""
        sql = ("SELECT id, scene_id, title, reason_code, reason, error_class, candidates, "
               "attempts, first_failure, last_failure, job FROM dead_letters")
        where, args = _where(reason_code, None)
        sql += where
        sql += " ORDER BY last_failure DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [DeadLetter(*row[:6], json.loads(row[6]), *row[7:10], json.loads(row[10]))
                for row in self._conn.execute(sql, args)]

    def counts_by_reason(self) -> dict[str, int]:
        return dict(self._conn.execute(
            "SELECT reason_code, COUNT(*) FROM dead_letters GROUP BY reason_code").fetchall())

    def retry(self, reason_code: str | None = None, scene_id=None) -> int:
        """Put entries (all, one reason or one scene's) back in the ready queue with a fresh
        retry budget.

        The job keeps its seq: if the scene was edited since, the newer job still wins and
        this one is acked as superseded instead of writing older values over newer ones.
        """
        now = self._clock()
        with immediate(self._conn) as conn:
            where, args = _where(reason_code, scene_id)
            rows = conn.execute(f"SELECT id, job FROM dead_letters{where}", args).fetchall()
            for row_id, job_text in rows:
                job = json.loads(job_text)
                job.update(attempts=0, not_before=0)
                job.pop("first_failed_at", None)
                insert_ready(conn, job, now)
                conn.execute("DELETE FROM dead_letters WHERE id = ?", (row_id,))
        return len(rows)

    def delete(self, scene_id) -> int:
        """Forget one scene's entries (the person decided it needs no sync); how many."""
        where, args = _where(None, scene_id)
        return self._conn.execute(f"DELETE FROM dead_letters{where}", args).rowcount

    def purge(self, older_than_days: float) -> int:
        """Delete entries whose last failure is older than this many days; returns how many."""
        cutoff = self._clock() - float(older_than_days) * DAY_S
        return self._conn.execute("DELETE FROM dead_letters WHERE last_failure < ?",
                                  (cutoff,)).rowcount


def _where(reason_code: str | None, scene_id) -> tuple[str, list]:
    """The WHERE clause choosing entries by reason code and/or scene (none: every entry)."""
    parts, args = [], []
    if reason_code:
        parts.append("reason_code = ?")
        args.append(reason_code)
    if scene_id is not None:
        parts.append("scene_id = ?")
        args.append(scene_key(scene_id))
    return (" WHERE " + " AND ".join(parts) if parts else ""), args
