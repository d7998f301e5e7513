"""PathIndex: Plex file path -> (section, ratingKey, title), kept in SQLite at <data_dir>/index.db.

Why an index: matching by file path is exact (titles and basenames are not), and a warm lookup
costs no request at all. Why raw XML: plexapi builds a Python object per item and tag (the
matching issue reports ~30 s for 50,000 items); reading a few large pages of
/library/sections/{id}/all with an ElementTree parser target took 2.6-4 s against the emulator.
Refresh is incremental: items newest-updated first until one is already known with the same
updatedAt; when the section's item count still disagrees (items deleted), rebuild the section.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator
from pathlib import Path
from xml.etree import ElementTree

from plex.errors import PlexBadRequest, translate
from plex.paths import basename, path_key
from validation.config import Config

log = logging.getLogger(__name__)

FULL_PAGE = 2500  # items per request for a rebuild: two pages (one parsed, one arriving) ~ 6 MB
RECENT_PAGE = 200  # items per request for an incremental refresh: usually one page suffices
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sections(section_id TEXT PRIMARY KEY, title TEXT, locations TEXT);
CREATE TABLE IF NOT EXISTS items(section_id TEXT, rating_key TEXT, title TEXT, updated_at INTEGER,
                                 PRIMARY KEY(section_id, rating_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts(path_key TEXT, base_key TEXT, file TEXT, section_id TEXT,
                                 rating_key TEXT);
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


def configured_sections(all_sections: list[dict], cfg: Config) -> list[dict]:
    """The libraries PlexSync matches in: plex_libraries by title, else every movie library."""
    if not cfg.plex_libraries:
        return [s for s in all_sections if s["type"] == "movie"]
    wanted = {t.casefold() for t in cfg.plex_libraries}
    chosen = [s for s in all_sections if s["title"].casefold() in wanted]
    found = {s["title"].casefold() for s in chosen}
    missing = [t for t in cfg.plex_libraries if t.casefold() not in found]
    if missing:
        have = ", ".join(s["title"] for s in all_sections) or "none"
        message = (f"plex_libraries names {', '.join(missing)}, which Plex does not have "
                   f"(Plex has: {have}); fix the plex_libraries setting")
        if not chosen:
            raise PlexBadRequest(message)
        log.warning(message)
    return chosen


class PathIndex:
    def __init__(self, data_dir: str | Path):
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        # One connection shared by the worker's threads, serialised by a lock.
        self._db = sqlite3.connect(Path(data_dir) / "index.db", check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            # WAL + NORMAL: no fsync per commit (a 50k build commits every page), and still no
            # corruption on a crash; at worst the last pages are lost and rebuilt from Plex.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- lookups (no requests) -------------------------------------------------------------
    def lookup(self, path: str) -> list[Entry]:
        """Every indexed item with this exact Plex file (normally one)."""
        return self._entries("path_key = ?", path_key(path))

    def lookup_basename(self, path: str) -> list[Entry]:
        """Every indexed item with a file of the same name in any folder (fallback only)."""
        return self._entries("base_key = ?", basename(path).casefold())

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
                (path_key(f), basename(f).casefold(), f, item.section_id, item.rating_key)
                for f in item.files])

    def forget_item(self, rating_key: str) -> None:
        """Drop an item Plex no longer has (the next refresh sees the count differ and rebuilds)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM items WHERE rating_key = ?", (rating_key,))
            self._db.execute("DELETE FROM parts WHERE rating_key = ?", (rating_key,))

    # -- building --------------------------------------------------------------------------
    def ensure(self, client, cfg: Config) -> None:
        """Build the index when it is empty or was built for another server/library set."""
        signature = json.dumps([cfg.plex_url, sorted(t.casefold() for t in cfg.plex_libraries)])
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
        if row and row[0] == signature:
            return
        with self._lock, self._db:
            for table in ("meta", "sections", "items", "parts"):
                self._db.execute(f"DELETE FROM {table}")
        self.refresh(client, cfg)
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
            page = _read_page(client, section_id, start, RECENT_PAGE, sort="updatedAt:desc")
            for n, video in enumerate(page.videos):
                if self._known_unchanged(section_id, video):
                    self._store(section_id, page.videos[:n], replace=True)
                    return page.total
            self._store(section_id, page.videos, replace=True)
            start += len(page.videos)
            if not page.videos or start >= page.total:
                return page.total

    def rebuild_section(self, client, section_id: str) -> None:
        """Re-read the whole section in large pages and replace what the index holds for it."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM items WHERE section_id = ?", (section_id,))
            self._db.execute("DELETE FROM parts WHERE section_id = ?", (section_id,))
        page = _read_page(client, section_id, 0, FULL_PAGE)
        self._store(section_id, page.videos, replace=False)
        if not page.videos:
            return
        # The other pages' offsets are known from the first one's totalSize: Plex serves the
        # next page while this process parses and stores the current one (one page ahead,
        # so memory holds at most two pages' bytes).
        starts = range(len(page.videos), page.total, FULL_PAGE)
        for body in _fetched_ahead(client, section_id, starts):
            self._store(section_id, _parse_page(body).videos, replace=False)

    def _known_unchanged(self, section_id: str, video: "_Video") -> bool:
        with self._lock:
            row = self._db.execute("SELECT updated_at FROM items WHERE section_id = ? AND "
                                   "rating_key = ?", (section_id, video.rating_key)).fetchone()
        return row is not None and row[0] == video.updated_at

    def _store(self, section_id: str, videos: list["_Video"], replace: bool) -> None:
        items = [(section_id, v.rating_key, v.title, v.updated_at) for v in videos]
        parts = [(path_key(f), basename(f).casefold(), f, section_id, v.rating_key)
                 for v in videos for f in v.files]
        with self._lock, self._db:
            if replace:  # an updated item may have moved: drop its old files first
                self._db.executemany("DELETE FROM parts WHERE section_id = ? AND rating_key = ?",
                                     [(section_id, v.rating_key) for v in videos])
            self._db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)", items)
            self._db.executemany("INSERT INTO parts VALUES (?, ?, ?, ?, ?)", parts)


@dataclass
class _Video:
    rating_key: str
    title: str
    updated_at: int
    files: list


class _PageReader:
    """ElementTree parser target that keeps only what the index needs from a page of /all:
    the container's totalSize and, per Video, ratingKey/title/updatedAt and its Part files.
    No tree is built (Genre, Role, Media... elements are seen and dropped)."""

    def __init__(self):
        self.total = 0
        self.videos: list[_Video] = []

    def start(self, tag: str, attrib: dict) -> None:
        if tag == "Part":
            if attrib.get("file") and self.videos:
                self.videos[-1].files.append(attrib["file"])
        elif tag == "Video":
            self.videos.append(_Video(attrib.get("ratingKey", ""), attrib.get("title", ""),
                                      int(attrib.get("updatedAt") or 0), []))
        elif tag == "MediaContainer":
            self.total = int(attrib.get("totalSize") or attrib.get("size") or 0)

    def close(self) -> "_PageReader":
        return self


def _fetch_page(client, section_id: str, start: int, size: int, sort: str = "") -> bytes:
    params = {"type": 1, "X-Plex-Container-Start": start, "X-Plex-Container-Size": size}
    if sort:
        params["sort"] = sort
    return client.query_bytes(f"/library/sections/{section_id}/all", params)


def _fetched_ahead(client, section_id: str, starts) -> Iterator[bytes]:
    """The bodies of these full pages in order, each next one requested before the current
    one is handed out (a single helper thread: one request in flight at a time)."""
    with ThreadPoolExecutor(1, thread_name_prefix="plexsync-index") as pool:
        pending: deque = deque()
        for start in starts:
            pending.append(pool.submit(_fetch_page, client, section_id, start, FULL_PAGE))
            if len(pending) > 1:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _read_page(client, section_id: str, start: int, size: int, sort: str = "") -> _PageReader:
    return _parse_page(_fetch_page(client, section_id, start, size, sort))


def _parse_page(body: bytes) -> _PageReader:
    parser = ElementTree.XMLParser(target=_PageReader())
    try:
        parser.feed(body)
        return parser.close()
    except ElementTree.ParseError as exc:  # a body cut short: the connection dropped
        raise translate(exc) from None
