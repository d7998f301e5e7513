"""Scenes synced while Stash had only its placeholder cover: their real cover is awaited.

Stash generates a scene's cover in a job of its own (a scan with cover generation, or
Generate > Covers), often after PlexSync synced the new scene, and that job fires no hook.
sync_queue.records adds a row when a sync met the placeholder (`since`: the first such sync)
and removes it when a sync uploads a real cover; worker.cover_watch asks Stash which of them
have a cover now. A scene handed to a sync is not asked about again (`waiting` 0) until that
sync met the placeholder once more, and `asked` counts the hand-overs, so a scene Stash
reports as covered but keeps serving the placeholder for is not handed over for ever.
Rows are a hint, not a job: a repaired queue.db starts without them (Sync All, or Sync Recent,
since Stash's generate changes the scene's updated_at, still bring the cover).
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sync_queue.store import as_connection, immediate, scene_key


class AwaitedCovers:
    def __init__(self, db: sqlite3.Connection | str | Path, clock=time.time):
        self._conn = as_connection(db)
        self._clock = clock

    def to_check(self, max_asks: int, limit: int) -> list[str]:
        """Scene ids still worth asking Stash about, most recently awaited first."""
        return [r[0] for r in self._conn.execute(
            "SELECT scene_id FROM awaited_covers WHERE waiting AND asked < ? "
            "ORDER BY since DESC LIMIT ?",
            (max_asks, limit))]

    def newest_since(self, max_asks: int) -> float | None:
        """When the most recent placeholder sync of a scene still worth asking about was."""
        return self._conn.execute("SELECT MAX(since) FROM awaited_covers WHERE waiting AND "
                                  "asked < ?", (max_asks,)).fetchone()[0]

    def mark_asked(self, scene_ids) -> None:
        """Handed to a sync: not asked about again unless that sync meets the placeholder."""
        with immediate(self._conn) as conn:
            conn.executemany("UPDATE awaited_covers SET asked = asked + 1, waiting = 0 "
                             "WHERE scene_id = ?",
                             [(scene_key(s),) for s in scene_ids])

    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM awaited_covers").fetchone()[0]

    def asking(self, max_asks: int) -> int:
        """How many scenes Stash is still asked about."""
        return self._conn.execute("SELECT COUNT(*) FROM awaited_covers WHERE waiting AND "
                                  "asked < ?", (max_asks,)).fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "AwaitedCovers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
