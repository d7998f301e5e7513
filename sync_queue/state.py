"""Small pieces of drain state that must outlive a process: breaker, auth failure, drain
status / progress and the last background drain summary.

One key/value table (plexsync_state) in queue.db: values are small JSON objects, written
rarely (a breaker transition, one progress row per job), read by any process — the hook, a
task, the next drainer — so that e.g. an OPEN breaker is still OPEN after a restart.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from sync_queue import inbox
from sync_queue.notes import leave_summary
from sync_queue.store import AUTH_FAILURE_KEY, SUMMARY_KEY, as_connection, connect

BREAKER_KEY = "breaker"
SETTINGS_FAILURE_KEY = "settings_failure"
DRAIN_STATUS_KEY = "drain_status"
PLEX_SERVER_KEY = "plex_server"  # which Plex server PlexSync talked to: Open in Plex links


class QueueState:
    """Read and write the drain's persistent state in queue.db."""

    def __init__(self, db: sqlite3.Connection | str | Path, clock=time.time):
        self._conn = as_connection(db)
        self._clock = clock

    def get(self, key: str) -> dict | None:
        row = self._conn.execute("SELECT value FROM plexsync_state WHERE key = ?",
                                 (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict) -> None:
        self._conn.execute(
            "INSERT INTO plexsync_state (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, json.dumps(value), self._clock()))

    def delete(self, key: str) -> None:
        self._conn.execute("DELETE FROM plexsync_state WHERE key = ?", (key,))

    # -- circuit breaker (worker.breaker serialises its state to a plain dict) -------------
    def breaker(self) -> dict | None:
        return self.get(BREAKER_KEY)

    def save_breaker(self, state: dict) -> None:
        self.put(BREAKER_KEY, state)

    # -- Plex rejected the token: remember which one, so nobody hammers Plex with it -------
    def auth_failure(self) -> dict | None:
        return self.get(AUTH_FAILURE_KEY)

    def record_auth_failure(self, token_fingerprint: str, message: str) -> None:
        self.put(AUTH_FAILURE_KEY, {"fingerprint": token_fingerprint, "message": message,
                                    "at": self._clock()})
        self._flag(inbox.AUTH_FLAG, True)

    def auth_blocked(self, token_fingerprint: str) -> str | None:
        """The stored error if this same token was rejected before; None once it changed."""
        failure = self.auth_failure()
        if failure and failure.get("fingerprint") == token_fingerprint:
            return failure.get("message") or "Plex rejected the token"
        return None

    def clear_auth_failure(self) -> None:
        self.delete(AUTH_FAILURE_KEY)
        self._flag(inbox.AUTH_FLAG, False)

    # -- a setting other than the token names what Plex does not have (plex_libraries) -----
    def settings_failure(self) -> dict | None:
        return self.get(SETTINGS_FAILURE_KEY)

    def record_settings_failure(self, setting: str, fingerprint: str, message: str) -> None:
        self.put(SETTINGS_FAILURE_KEY, {"setting": setting, "fingerprint": fingerprint,
                                        "message": message, "at": self._clock()})

    def settings_blocked(self, fingerprint: str) -> str | None:
        """The stored error if the same setting value failed before; None once it changed."""
        failure = self.settings_failure()
        if failure and failure.get("fingerprint") == fingerprint:
            return failure.get("message") or "a setting names something Plex does not have"
        return None

    def clear_settings_failure(self) -> None:
        self.delete(SETTINGS_FAILURE_KEY)

    # -- drain status: lets a task report a background drainer's progress ------------------
    def drain_status(self) -> dict | None:
        return self.get(DRAIN_STATUS_KEY)

    def update_drain_status(self, *, running: bool, processed: int, total: int,
                            current_scene=None, started_at: float | None = None) -> None:
        self.put(DRAIN_STATUS_KEY, {
            "running": running, "pid": os.getpid(), "processed": processed, "total": total,
            "current_scene": current_scene, "started_at": started_at,
            "updated_at": self._clock()})

    # -- the one-line summary the next hook or task surfaces in Stash's log ----------------
    def store_drain_summary(self, line: str, *, errors: bool = False) -> None:
        """Kept here for Queue Status ("last background run"); the copy the next hook or task
        shows, once, is a plain file beside queue.db (sync_queue/notes.py): a hook reads it
        without opening queue.db."""
        self.put(SUMMARY_KEY, {"line": line, "errors": errors, "at": self._clock()})
        folder = self._folder()
        if folder:
            leave_summary(folder, line)

    def _flag(self, flag: str, on: bool) -> None:
        """Mirror a state the hook must notice as a flag file next to queue.db: the hook
        reads the folder listing, never queue.db, unless a flag is there."""
        folder = self._folder()
        if folder:
            inbox.set_flag(folder, flag, on)

    def _folder(self) -> str | None:
        """The folder of queue.db (None for an in-memory database)."""
        path = self._conn.execute("PRAGMA database_list").fetchone()[2]
        return os.path.dirname(path) if path else None

    def last_drain_summary(self) -> dict | None:
        return self.get(SUMMARY_KEY)

    # -- the Plex server last talked to: the web UI's Open in Plex link needs its address and
    # machineIdentifier, and must not ask Plex (or Stash's settings, which hold the token) --
    def plex_server(self) -> dict | None:
        return self.get(PLEX_SERVER_KEY)

    def remember_plex_server(self, url: str, machine_identifier: str) -> None:
        """Written only when it changed: a drain calls this once, a read costs no write lock.
        The address is kept without query, fragment or login: a token pasted into the Plex
        URL setting must not travel to the browser with it."""
        from urllib.parse import urlsplit, urlunsplit
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
        value = {"url": urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")),
                 "machine_identifier": machine_identifier}
        if machine_identifier and self.plex_server() != value:
            self.put(PLEX_SERVER_KEY, value)


def remember_plex_server(data_dir: str | Path, url: str, machine_identifier: str) -> bool:
    """QueueState.remember_plex_server on a connection of its own (a drain, a Health Check)."""
    conn = connect(data_dir)
    try:
        QueueState(conn).remember_plex_server(url, machine_identifier)
    finally:
        conn.close()
    return bool(machine_identifier)
