"""What the Plex -> Stash import remembers, in queue.db: Plex's history rows, and per scene
what was imported (plays, the last resume state and rating it saw), plus the history cursor.

Every history row of the owner's account is kept, matched to a scene or not, so a scene that
is synced to Plex later still gets its earlier plays without asking Plex for them again.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from sync_queue.store import as_connection, immediate, scene_key

CURSOR_KEY = "play_import"
REFUSAL_KEY = "play_history_refused"  # a lasting refusal of the history request (worker.history_refusal)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS plex_history (
    entry_id INTEGER PRIMARY KEY, rating_key TEXT NOT NULL, viewed_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS plex_history_item ON plex_history (rating_key);
CREATE TABLE IF NOT EXISTS play_imports (
    scene_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);
"""


class PlayImports:
    def __init__(self, db: sqlite3.Connection | str | Path, clock=time.time):
        self._conn = self.db = as_connection(db)
        self._clock = clock
        with immediate(self._conn) as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    # -- Plex history rows ---------------------------------------------------------------
    def known_ids(self, entries) -> set[int]:
        """Which of these history rows are stored already."""
        known: set[int] = set()
        ids = [e.entry_id for e in entries]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(r[0] for r in self._conn.execute(
                f"SELECT entry_id FROM plex_history WHERE entry_id IN ({marks})", chunk))
        return known

    def add_history(self, entries) -> list:
        """Store rows not seen before; returns the new ones."""
        entries = list(entries)
        known = self.known_ids(entries)
        new = [e for e in entries if e.entry_id not in known]
        with immediate(self._conn) as conn:
            conn.executemany("INSERT OR IGNORE INTO plex_history VALUES (?, ?, ?)",
                             [(e.entry_id, e.rating_key, e.viewed_at) for e in new])
        return new

    def history_times(self, rating_keys) -> dict[str, list[int]]:
        """ratingKey -> every stored play time of it."""
        found: dict[str, list[int]] = {}
        keys = [str(k) for k in rating_keys]
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for rk, viewed_at in self._conn.execute(
                    f"SELECT rating_key, viewed_at FROM plex_history WHERE rating_key IN ({marks})",
                    chunk):
                found.setdefault(rk, []).append(viewed_at)
        return found

    # -- per scene -----------------------------------------------------------------------
    def states(self) -> dict[str, dict]:
        return {sid: json.loads(state) for sid, state in
                self._conn.execute("SELECT scene_id, state FROM play_imports")}

    def put_states(self, states: dict) -> None:
        """Many scenes' import state in one transaction."""
        now = self._clock()
        with immediate(self._conn) as conn:
            conn.executemany("INSERT OR REPLACE INTO play_imports VALUES (?, ?, ?)",
                             [(scene_key(s), json.dumps(v), now) for s, v in states.items()])

    # -- cursor and throttle ---------------------------------------------------------------
    def cursor(self) -> dict:
        row = self._conn.execute("SELECT value FROM plexsync_state WHERE key = ?",
                                 (CURSOR_KEY,)).fetchone()
        return json.loads(row[0]) if row else {}

    def put_cursor(self, value: dict) -> None:
        self._put(CURSOR_KEY, value)

    # -- Plex refused the history request (worker.history_refusal) ------------------------
    def refusal(self) -> dict | None:
        return history_refusal(self._conn)

    def put_refusal(self, value: dict) -> None:
        self._put(REFUSAL_KEY, value)

    def clear_refusal(self) -> bool:
        """Forget a refusal (history answered again); True if there was one."""
        return self._conn.execute("DELETE FROM plexsync_state WHERE key = ?",
                                  (REFUSAL_KEY,)).rowcount > 0

    def _put(self, key: str, value: dict) -> None:
        self._conn.execute(
            "INSERT INTO plexsync_state (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, json.dumps(value), self._clock()))

    def close(self) -> None:
        self._conn.close()


def history_refusal(db: sqlite3.Connection) -> dict | None:
    """The remembered refusal of Plex's history, for readers that must not write (Queue Status)."""
    row = db.execute("SELECT value FROM plexsync_state WHERE key = ?", (REFUSAL_KEY,)).fetchone()
    return json.loads(row[0]) if row else None


def scene_rating_keys(db: sqlite3.Connection) -> dict[str, str]:
    """scene id -> Plex ratingKey of every scene PlexSync has synced (its sync records)."""
    found = {}
    for scene_id, record in db.execute("SELECT scene_id, record FROM sync_records"):
        rating_key = (json.loads(record) or {}).get("rating_key")
        if rating_key:
            found[scene_id] = str(rating_key)
    return found
