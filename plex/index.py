"""PathIndex: Plex file path -> (section, ratingKey, title), kept in SQLite at <data_dir>/index.db.

Why an index: matching by file path is exact (titles and basenames are not), and a warm lookup
costs no request at all. Why raw XML: plexapi builds a Python object per item and tag (the
matching issue reports ~30 s for 50,000 items); large pages of /library/sections/{id}/all,
asking only for what the index reads and parsed by expat (plex/index_xml.py), are an order of
magnitude cheaper (docs/performance.md, figure 4).
Refresh is incremental: items newest-updated first until one is already known with the same
updatedAt; when the section's item count still disagrees (items deleted), rebuild the section.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from plex.errors import PlexSettingsError
from plex.index_xml import Video, fetched_ahead, parse_body, read_page
from plex.paths import basename_key, is_under, path_key
from validation.config import Config, setting_label

log = logging.getLogger(__name__)

FULL_PAGE = 2500  # items per request for a rebuild: two pages (one parsed, one arriving) ~ 6 MB
# A file renamed on disk stays the same Plex item and keeps its updatedAt, so the incremental
# refresh never sees it; a miss inside a library folder re-reads that section fully, at most
# once per this many seconds per section (a 50k section costs a few seconds to re-read).
FULL_REREAD_EVERY = 300.0
KEYS_VERSION = 2  # bump when path_key changes: stored keys must match the lookups
RECENT_PAGE = 200  # items per request for an incremental refresh: usually one page suffices
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sections(section_id TEXT PRIMARY KEY, title TEXT, locations TEXT);
CREATE TABLE IF NOT EXISTS items(section_id TEXT, rating_key TEXT, title TEXT, updated_at INTEGER,
                                 PRIMARY KEY(section_id, rating_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts(path_key TEXT, base_key TEXT, file TEXT, section_id TEXT,
                                 rating_key TEXT);
"""
# The lookup indexes of `parts`. A build from empty drops them and creates them again after
# the last row: one sort instead of three B-trees kept in order row by row (measured for 50,000
# files in random order: 0.22 s of CPU instead of 0.45 s).
_PART_INDEXES = """
CREATE INDEX IF NOT EXISTS parts_by_path ON parts(path_key);
CREATE INDEX IF NOT EXISTS parts_by_base ON parts(base_key);
CREATE INDEX IF NOT EXISTS parts_by_item ON parts(section_id, rating_key);
"""


@dataclass(frozen=True)
class Entry:
    section_id: str
    rating_key: str
    title: str
    file: str


def wrong_type_message(section: dict) -> str:
    """Why a library of another type (a TV-show library's items are episodes) is not used."""
    kind = {"show": "a TV-show library (its items are episodes)", "artist": "a music library",
            "photo": "a photo library"}.get(section["type"], f"a '{section['type']}' library")
    return (f"Plex library '{section['title']}' is {kind}; PlexSync syncs scenes into Movies "
            "or Other Videos libraries only, so nothing in it would ever match. Remove it from "
            "Plex libraries (plex_libraries) and add its folder to a Movies or Other Videos "
            "library in Plex")


_warned_types: set[str] = set()  # say it once per process, not on every index refresh


def configured_sections(all_sections: list[dict], cfg: Config) -> list[dict]:
    """The libraries PlexSync matches in: plex_libraries by title, else every movie library.
    Decision: scenes are synced into movie-type libraries only ("Movies", "Other Videos"); a
    TV-show library named in plex_libraries is refused with a reason, not silently scanned."""
    if not cfg.plex_libraries:
        return [s for s in all_sections if s["type"] == "movie"]
    wanted = {t.casefold() for t in cfg.plex_libraries}
    named = [s for s in all_sections if s["title"].casefold() in wanted]
    found = {s["title"].casefold() for s in named}
    missing = [t for t in cfg.plex_libraries if t.casefold() not in found]
    chosen = [s for s in named if s["type"] == "movie"]
    refused = [wrong_type_message(s) for s in named if s["type"] != "movie"]
    if missing:
        have = ", ".join(s["title"] for s in all_sections) or "none"
        label = setting_label("plex_libraries")
        refused.insert(0, f"the {label} setting names {', '.join(missing)}, which Plex does not "
                          f"have (Plex has: {have}); fix the {label} setting")
    if refused and not chosen:
        raise PlexSettingsError("; ".join(refused), "plex_libraries")
    for message in refused:
        if message not in _warned_types:
            _warned_types.add(message)
            log.warning(message)
    return chosen


class PathIndex:
    def __init__(self, data_dir: str | Path):
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        path = Path(data_dir) / "index.db"
        # Set when a damaged index.db was moved aside: "<why> -> <new name>" (it is a cache of
        # Plex's paths, rebuilt from Plex; the caller tells the user once).
        self.moved_aside: str | None = None
        try:
            self._db = self._open(path)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise  # locked, disk full, unreadable folder: not damage, do not discard it
            moved = path.with_name("index.db.damaged")
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.replace(f"{path}{suffix}", f"{moved}{suffix}")
                except OSError:
                    pass
            self.moved_aside = f"{exc} -> {moved.name}"
            log.warning(f"the path index {path} was damaged ({exc}); moved to {moved.name}, "
                        "rebuilding it from Plex")
            self._db = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        # One connection shared by the worker's threads, serialised by self._lock.
        db = sqlite3.connect(path, check_same_thread=False)
        try:
            with db:
                # WAL + NORMAL: no fsync per commit (a 50k build commits every page), and
                # still no corruption on a crash; at worst the last pages are rebuilt.
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA + _PART_INDEXES)
                problem = db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {problem}")
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        self._db.close()

    # -- lookups (no requests) -------------------------------------------------------------
    def lookup(self, path: str) -> list[Entry]:
        """Every indexed item with this exact Plex file (normally one)."""
        return self._entries("path_key = ?", path_key(path))

    def lookup_basename(self, path: str) -> list[Entry]:
        """Every indexed item with a file of the same name in any folder (fallback only)."""
        return self._entries("base_key = ?", basename_key(path))

    def _entries(self, where: str, value: str) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT p.section_id, p.rating_key, i.title, p.file FROM parts p JOIN items i "
                f"ON i.section_id = p.section_id AND i.rating_key = p.rating_key WHERE p.{where} "
                "ORDER BY p.section_id, p.rating_key", (value,)).fetchall()
        return [Entry(*row) for row in rows]

    def sections(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT section_id, title, locations FROM sections").fetchall()
        return [{"id": sid, "title": title, "locations": json.loads(locs)}
                for sid, title, locs in rows]

    def item_count(self, section_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM items WHERE section_id = ?",
                                    (section_id,)).fetchone()[0]

    def correct_item(self, item) -> None:
        """Store an item's files as a full reload just showed them (the index had them stale)."""
        with self._lock, self._db:
            known = self._db.execute(
                "UPDATE items SET updated_at = ? WHERE section_id = ? AND rating_key = ?",
                (item.updated_at, item.section_id, item.rating_key)).rowcount
            if not known:
                return  # not in a library PlexSync matches in
            self._db.execute("DELETE FROM parts WHERE section_id = ? AND rating_key = ?",
                             (item.section_id, item.rating_key))
            self._db.executemany("INSERT INTO parts VALUES (?, ?, ?, ?, ?)", [
                (path_key(f), basename_key(f), f, item.section_id, item.rating_key)
                for f in item.files])

    def forget_item(self, rating_key: str) -> None:
        """Drop an item Plex no longer has (the next refresh sees the count differ and rebuilds)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM items WHERE rating_key = ?", (rating_key,))
            self._db.execute("DELETE FROM parts WHERE rating_key = ?", (rating_key,))

    # -- building --------------------------------------------------------------------------
    def ensure(self, client, cfg: Config) -> None:
        """Build the index when it is empty or was built for another server/library set."""
        # A digest, not the URL: a token pasted into plex_url must not be stored in index.db.
        # KEYS_VERSION: an index written with older path keys (before NFC) is rebuilt once.
        signature = hashlib.sha256(json.dumps(
            [cfg.plex_url, sorted(t.casefold() for t in cfg.plex_libraries), KEYS_VERSION]
        ).encode()).hexdigest()
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
        if row and row[0] == signature:
            return
        with self._lock, self._db:
            for table in ("meta", "sections", "items", "parts"):
                self._db.execute(f"DELETE FROM {table}")
            for name in ("parts_by_path", "parts_by_base", "parts_by_item"):
                self._db.execute(f"DROP INDEX IF EXISTS {name}")  # another process may build too
        try:
            self.refresh(client, cfg)
        finally:  # a process that dies before this gets them back when index.db is opened
            with self._lock:
                self._db.executescript(_PART_INDEXES)
        # Only a complete build counts: an interrupted one is started over on the next call.
        with self._lock, self._db:
            self._db.execute("INSERT INTO meta VALUES ('signature', ?)", (signature,))

    def refresh(self, client, cfg: Config) -> None:
        """Bring every configured section up to date (also re-reads the section list)."""
        chosen = configured_sections(client.sections(), cfg)
        with self._lock, self._db:
            self._db.execute("DELETE FROM sections")
            self._db.executemany("INSERT INTO sections VALUES (?, ?, ?)", [
                (s["id"], s["title"], json.dumps(s["locations"])) for s in chosen])
            ids = [s["id"] for s in chosen]
            marks = ",".join("?" * len(ids))
            for table in ("items", "parts"):  # sections no longer configured
                self._db.execute(f"DELETE FROM {table} WHERE section_id NOT IN ({marks})", ids)
        for section in chosen:
            self._refresh_section(client, section["id"])

    def _refresh_section(self, client, section_id: str) -> None:
        total = self._incremental(client, section_id) if self.item_count(section_id) else None
        if total is None or total != self.item_count(section_id):
            self.rebuild_section(client, section_id)

    def _incremental(self, client, section_id: str) -> int:
        """Newest-updated first until a known, unchanged item; returns Plex's item count."""
        start = 0
        while True:
            page = read_page(client, section_id, start, RECENT_PAGE, sort="updatedAt:desc")
            for n, video in enumerate(page.videos):
                if self._known_unchanged(section_id, video):
                    self._store(section_id, page.videos[:n], replace=True)
                    return page.total
            self._store(section_id, page.videos, replace=True)
            start += len(page.videos)
            if not page.videos or start >= page.total:
                return page.total

    def reread_sections_holding(self, client, paths: list[str], now: float | None = None) -> bool:
        """Re-read in full every section whose folders hold one of `paths` and that was not
        re-read in the last FULL_REREAD_EVERY seconds; True when any was re-read."""
        now = time.time() if now is None else now
        due = [s["id"] for s in self.sections()
               if any(is_under(p, loc) for p in paths for loc in s["locations"])]
        reread = False
        for section_id in due:
            key = f"reread:{section_id}"
            with self._lock:
                row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row and 0 <= now - float(row[0]) < FULL_REREAD_EVERY:
                continue
            self.rebuild_section(client, section_id)
            with self._lock, self._db:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(now)))
            reread = True
        return reread

    def rebuild_section(self, client, section_id: str) -> None:
        """Re-read the whole section in large pages and replace what the index holds for it."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM items WHERE section_id = ?", (section_id,))
            self._db.execute("DELETE FROM parts WHERE section_id = ?", (section_id,))
        page = read_page(client, section_id, 0, FULL_PAGE)
        self._store(section_id, page.videos, replace=False)
        if not page.videos:
            return
        # The other pages' offsets are known from the first one's totalSize: Plex serves the
        # next page while this process parses and stores the current one.
        starts = range(len(page.videos), page.total, FULL_PAGE)
        for body in fetched_ahead(client, section_id, starts, FULL_PAGE):
            self._store(section_id, parse_body(body).videos, replace=False)

    def _known_unchanged(self, section_id: str, video: Video) -> bool:
        with self._lock:
            row = self._db.execute("SELECT updated_at FROM items WHERE section_id = ? AND "
                                   "rating_key = ?", (section_id, video.rating_key)).fetchone()
        return row is not None and row[0] == video.updated_at

    def _store(self, section_id: str, videos: list[Video], replace: bool) -> None:
        items = [(section_id, v.rating_key, v.title, v.updated_at) for v in videos]
        parts = [(path_key(f), basename_key(f), f, section_id, v.rating_key)
                 for v in videos for f in v.files]
        with self._lock, self._db:
            if replace:  # an updated item may have moved: drop its old files first
                self._db.executemany("DELETE FROM parts WHERE section_id = ? AND rating_key = ?",
                                     [(section_id, v.rating_key) for v in videos])
            self._db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)", items)
            self._db.executemany("INSERT INTO parts VALUES (?, ?, ?, ?, ?)", parts)
