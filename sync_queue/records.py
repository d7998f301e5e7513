"""Per-scene sync records: what PlexSync last wrote to Plex for each scene.

The record (contract: scene_id, rating_key, section_id, stash_updated_at, synced_at, written,
poster_sha1, art_sha1, cover_url, cover_fetched_at) is what lets plex.edits diff against our
own last write (preserve Plex edits, never re-upload an unchanged cover), lets the drain
reload a batch of known items at once, skips downloading a cover fetched after the scene's
last change, and lets Sync Recent skip unchanged scenes.
Scenes skipped because Plex has no file for them (skip_not_found) are remembered separately.

A cover that could not be fetched from Stash (Stash away, its login session expired) is
*owed*: the record says so (`cover_owed`, which Sync All reads) and the job is kept in
owed_covers until the next drain puts it back in the queue.

A scene synced while Stash had only its placeholder cover (`cover_placeholder`: Stash had not
generated one yet) is *awaited*: sync_queue.awaited_covers keeps it until a sync uploads a
real cover, and worker.cover_watch asks Stash when it has one.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from sync_queue.store import as_connection, immediate, insert_ready, scene_key


class SyncRecords:
    def __init__(self, db: sqlite3.Connection | str | Path, clock=time.time):
        self._conn = as_connection(db)
        self._clock = clock

    def get(self, scene_id) -> dict | None:
        """The scene's last sync record, or None if PlexSync never synced it."""
        row = self._conn.execute("SELECT record FROM sync_records WHERE scene_id = ?",
                                 (scene_key(scene_id),)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, scene_id, record: dict, owed_job: dict | None = None) -> None:
        """Store the scene's new record; a synced scene is no longer 'skipped'. `owed_job`:
        the job to run again for a cover it could not fetch (else any owed cover is paid)."""
        key = scene_key(scene_id)
        with immediate(self._conn) as conn:
            conn.execute("INSERT OR REPLACE INTO sync_records (scene_id, record, synced_at) "
                         "VALUES (?, ?, ?)", (key, json.dumps(record), self._clock()))
            conn.execute("DELETE FROM skipped_scenes WHERE scene_id = ?", (key,))
            conn.execute("DELETE FROM owed_covers WHERE scene_id = ?", (key,))
            if owed_job is not None:
                conn.execute("INSERT INTO owed_covers (scene_id, job, owed_at) VALUES (?, ?, ?)",
                             (key, json.dumps(owed_job), self._clock()))
            if record.get("cover_placeholder"):  # awaited since the FIRST such sync: a
                conn.execute("INSERT INTO awaited_covers (scene_id, since) VALUES (?, ?) "  # repeat
                             "ON CONFLICT(scene_id) DO UPDATE SET waiting = 1",  # never stretches
                             (key, self._clock()))                             # the watch
            else:
                conn.execute("DELETE FROM awaited_covers WHERE scene_id = ?", (key,))

    def requeue_owed_covers(self) -> int:
        """Put every job that still owes a cover back in the ready queue (fresh retry budget,
        same seq: a newer edit of the scene still wins). One transaction."""
        now = self._clock()
        with immediate(self._conn) as conn:
            rows = conn.execute("SELECT scene_id, job FROM owed_covers").fetchall()
            for _, job_text in rows:
                job = json.loads(job_text)
                job.update(attempts=0, not_before=0)
                for stale in ("first_failed_at", "last_failed_at", "last_error"):
                    job.pop(stale, None)
                insert_ready(conn, job, now)
            conn.execute("DELETE FROM owed_covers")
        return len(rows)

    def owed_cover_count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM owed_covers").fetchone()[0]

    def get_many(self, scene_ids) -> dict[str, dict]:
        """Records for many scenes at once (Sync All / Sync Recent compare updated_at)."""
        keys = [scene_key(s) for s in scene_ids]
        found: dict[str, dict] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, record in self._conn.execute(
                    f"SELECT scene_id, record FROM sync_records WHERE scene_id IN ({marks})", chunk):
                found[key] = json.loads(record)
        return found

    def mark_skipped(self, scene_id, reason: str) -> None:
        """Remember a scene that was deliberately not synced (e.g. not in Plex, skip_not_found)."""
        self._conn.execute("INSERT OR REPLACE INTO skipped_scenes (scene_id, reason, skipped_at) "
                           "VALUES (?, ?, ?)", (scene_key(scene_id), reason, self._clock()))

    def skipped(self) -> list[dict]:
        rows = self._conn.execute(
            "SELECT scene_id, reason, skipped_at FROM skipped_scenes ORDER BY skipped_at DESC")
        return [{"scene_id": s, "reason": r, "skipped_at": t} for s, r, t in rows]

    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM sync_records").fetchone()[0]

    def last_synced_at(self) -> float | None:
        """When any scene was last synced (Queue Status: 'last successful sync')."""
        return self._conn.execute("SELECT MAX(synced_at) FROM sync_records").fetchone()[0]
