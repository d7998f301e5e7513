"""queue.db as Stash's web UI reads it: one scene's rows, or the whole queue at a glance.

The scene panel and the PlexSync page poll this every few seconds through a process Stash
starts, so like the hook it imports almost nothing: `os` and the sqlite3 C module (the
`sqlite3` package adds datetime adapters and ~6 ms; `json` brings `re`, dataclasses brings
`inspect`: bench/ui_read_cost_real_stash.py). The caller passes its JSON decoder in
(hooks/lean_json.py). The file is opened as it is: never created, never repaired here.
"""
import os

try:
    import _sqlite3 as _sqlite  # the C module sqlite3.connect is; same classes and errors
except ImportError:  # pragma: no cover - a Python whose sqlite3 is laid out otherwise
    import sqlite3 as _sqlite

from sync_queue import inbox

QUEUE_DB = "queue.db"
READY_STATUSES = (0, 1)  # persist-queue's inited / ready (sync_queue/store.py)
UNACK_STATUS = 2
# plexsync_state keys (sync_queue/state.py, sync_queue/store.py)
STATE_KEYS = ("breaker", "auth_failure", "drain_status", "drain_summary", "plex_server")
DatabaseError = _sqlite.DatabaseError

_DEAD_COLUMNS = ("id", "scene_id", "title", "reason_code", "reason", "error_class", "candidates",
                 "attempts", "first_failure", "last_failure", "job")


def queue_counts(conn, data_dir) -> dict:
    """Queue sizes read from SQLite (what every process sees), never per-process counters."""
    q = conn.execute
    by_status = dict(q("SELECT status, COUNT(*) FROM ack_queue_default GROUP BY status").fetchall())
    scheduled, next_due = q("SELECT COUNT(*), MIN(not_before) FROM scheduled_jobs").fetchone()
    by_reason = dict(q("SELECT reason_code, COUNT(*) FROM dead_letters "
                       "GROUP BY reason_code").fetchall())
    noted = len(inbox.pending(data_dir))  # edits hooks noted, not yet turned into jobs
    return {
        "ready": sum(by_status.get(s, 0) for s in READY_STATUSES) + noted,
        "inbox": noted,
        "in_flight": by_status.get(UNACK_STATUS, 0),
        "scheduled": scheduled,
        "next_due": next_due,
        "dead_letters": sum(by_reason.values()),
        "dead_letters_by_reason": by_reason,
        "skipped": q("SELECT COUNT(*) FROM skipped_scenes").fetchone()[0],
    }


class QueueView:
    def __init__(self, conn, data_dir, loads):
        self._conn = conn
        self._data_dir = os.fspath(data_dir)
        self._loads = loads

    @classmethod
    def open(cls, data_dir, loads):
        """None while PlexSync has no queue.db; DatabaseError when the file is damaged."""
        path = os.path.join(os.fspath(data_dir), QUEUE_DB)
        if not os.path.isfile(path):
            return None
        conn = _sqlite.connect(path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("SELECT 1 FROM scene_latest LIMIT 1").fetchall()  # damaged: raises here
        except BaseException:
            conn.close()
            raise
        return cls(conn, data_dir, loads)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _one(self, sql: str, *args):
        return self._conn.execute(sql, args).fetchone()

    def state(self) -> dict:
        """The drain's small state values (breaker, auth failure, status, summary, server)."""
        marks = ",".join("?" * len(STATE_KEYS))
        rows = self._conn.execute(f"SELECT key, value FROM plexsync_state WHERE key IN ({marks})",
                                  STATE_KEYS).fetchall()
        return {key: self._loads(value) for key, value in rows}

    # -- one scene ------------------------------------------------------------------------
    def latest(self, scene_id):
        """(seq, enqueued_at) of the newest job ever queued for the scene, or None."""
        return self._one("SELECT seq, enqueued_at FROM scene_latest WHERE scene_id = ?", str(scene_id))

    def scheduled(self, scene_id) -> list:
        rows = self._conn.execute("SELECT job FROM scheduled_jobs WHERE scene_id = ? ORDER BY "
                                  "seq DESC", (str(scene_id),)).fetchall()
        return [self._loads(job) for (job,) in rows]

    def dead_letter(self, scene_id) -> dict | None:
        """The scene's newest failed sync (sync_queue/dlq.py's columns, decoded)."""
        rows = self.dead_letters(scene_id=scene_id, limit=1)
        return rows[0] if rows else None

    def record(self, scene_id) -> dict | None:
        row = self._one("SELECT record FROM sync_records WHERE scene_id = ?", str(scene_id))
        return self._loads(row[0]) if row else None

    def skipped(self, scene_id) -> dict | None:
        row = self._one("SELECT reason, skipped_at FROM skipped_scenes WHERE scene_id = ?",
                        str(scene_id))
        return {"reason": row[0], "skipped_at": row[1]} if row else None

    def plays(self, scene_id) -> dict | None:
        """What the Plex play import brought for the scene (sync_queue/plays.py's table,
        created by the first import)."""
        try:
            row = self._one("SELECT state FROM play_imports WHERE scene_id = ?", str(scene_id))
        except _sqlite.OperationalError:  # no such table: plays were never imported
            return None
        return self._loads(row[0]) if row else None

    # -- the whole queue ------------------------------------------------------------------
    def counts(self) -> dict:
        return queue_counts(self._conn, self._data_dir)

    def dead_letters(self, scene_id=None, limit: int = 50) -> list:
        """The newest failed sync of each scene (a scene edited twice before Plex was fixed
        has two entries; Retry and Delete act on all of a scene's), newest first."""
        where, args = ("WHERE scene_id = ? ", (str(scene_id),)) if scene_id is not None else ("", ())
        # SQLite takes the other columns of a MAX() aggregate from the row holding the max.
        rows = self._conn.execute(
            f"SELECT {', '.join(_DEAD_COLUMNS)}, MAX(last_failure * 1e6 + id) FROM dead_letters "
            f"{where}GROUP BY scene_id ORDER BY last_failure DESC, id DESC LIMIT ?",
            (*args, int(limit))).fetchall()
        found = []
        for row in rows:
            entry = dict(zip(_DEAD_COLUMNS, row))  # (the MAX column is left out)
            entry["candidates"] = self._loads(entry["candidates"])
            entry["job"] = self._loads(entry["job"])
            found.append(entry)
        return found

    def failed_scenes(self) -> int:
        return self._one("SELECT COUNT(DISTINCT scene_id) FROM dead_letters")[0]

    def synced(self) -> tuple:
        """(scenes synced, when the last one was)."""
        return self._one("SELECT COUNT(*), MAX(synced_at) FROM sync_records")
