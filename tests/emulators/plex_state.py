"""In-memory library of the Plex emulator: sections, items, tags, pending files, scans.

Everything is plain data so that 50,000 items cost little to build; XML is rendered per request
(plex_xml.py). All methods take the state lock, because the HTTP handler threads and the test
thread touch the same objects.
"""
from __future__ import annotations

import gc
import posixpath
import threading
import uuid

from tests.emulators.plex_model import (PLURAL_TO_KIND, SCALAR_FIELDS, SORTS, TAG_KINDS, Item,
                                        Part, Section, UnknownKey)


class PlexState:
    """The library plus the tag table (tag ids, and thumbs, which Plex stores per tag)."""

    def __init__(self, clock):
        self.lock = threading.RLock()
        self.clock = clock
        self.sections: dict[int, Section] = {}
        self.items: dict[int, Item] = {}
        self.version = 0                    # bumped by every change; invalidates sort caches
        self.scans: list[dict] = []
        self._pending: list[dict] = []
        self._tag_ids: dict[tuple, int] = {}
        self.tag_thumbs: dict[tuple, str] = {}
        self._next = {"section": 1, "item": 1, "media": 1, "part": 1, "stamp": 0, "history": 1}
        # Play history of every account (plex_plays.py): {"id", "rating_key", "section_id",
        # "viewed_at", "account_id", "device_id"}, oldest first.
        self.history: list[dict] = []
        self.playing: dict[int, int] = {}   # ratingKey -> last reported time (ms) of a playback
        self._order_cache: dict[tuple, tuple] = {}

    # ---- ids and time -------------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock())

    def _new_id(self, counter: str) -> int:
        value = self._next[counter]
        self._next[counter] = value + 1
        return value

    def new_stamp(self) -> int:
        """Image URLs carry an epoch stamp; keep it strictly increasing so each upload differs."""
        stamp = max(self.now(), self._next["stamp"] + 1)
        self._next["stamp"] = stamp
        return stamp

    def tag_id(self, kind: str, name: str) -> int:
        key = (kind, name)
        if key not in self._tag_ids:
            self._tag_ids[key] = len(self._tag_ids) + 1
        return self._tag_ids[key]

    def touch(self, item: Item) -> None:
        item.updated_at = self.now()
        self.version += 1

    # ---- sections -----------------------------------------------------------------------
    def add_section(self, title: str, type: str = "movie", location=None) -> int:
        with self.lock:
            key = self._new_id("section")
            locations = [location] if isinstance(location, str) else list(location or [])
            if not locations:
                locations = [f"/data/{title.lower().replace(' ', '_')}"]
            ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"plex-emulator/{key}/{title}"))
            self.sections[key] = Section(key, title, type, locations, ident, self.now())
            self.version += 1
            return key

    def section(self, section_id) -> Section:
        section = self.sections.get(int(section_id))
        if section is None:
            raise UnknownKey(f"no library section {section_id}")
        return section

    # ---- items --------------------------------------------------------------------------
    def add_item(self, section_id, title: str, files=(), **fields) -> int:
        return self.add_items(section_id, [dict(fields, title=title, files=files)])[0]

    def add_items(self, section_id, rows) -> list[int]:
        """Bulk insert: one lock, no per-item XML; rows use add_item's keyword vocabulary."""
        # Cyclic GC passes over hundreds of thousands of fresh containers would dominate a
        # 50,000-item insert (measured: ~2x); nothing here forms cycles. Freezing a big batch
        # afterwards keeps later collections (e.g. a client parsing 40 MB of XML in the same
        # process) from walking it again and again.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            keys = self._add_items(section_id, rows)
            if len(keys) >= 1000:
                gc.freeze()
            return keys
        finally:
            if gc_was_enabled:
                gc.enable()

    def _add_items(self, section_id, rows) -> list[int]:
        with self.lock:
            section = self.section(section_id)
            now = self.now()
            keys = []
            for row in rows:
                row = dict(row)
                rk = self._new_id("item")
                added = int(row.pop("addedAt", now))
                item = Item(rk, section.key, {}, added, int(row.pop("updatedAt", added)), [],
                            thumb=f"/library/metadata/{rk}/thumb/{added}",
                            art=f"/library/metadata/{rk}/art/{added}")
                self._set_files(item, row.pop("files", ()))
                if row.get("originallyAvailableAt") and "year" not in row:
                    row["year"] = int(str(row["originallyAvailableAt"])[:4])
                self._apply_fields(item, row)
                self.items[rk] = item
                keys.append(rk)
            self.version += 1
            return keys

    def get(self, rating_key) -> Item:
        item = self.items.get(int(rating_key))
        if item is None:
            raise UnknownKey(f"no item with ratingKey {rating_key}")
        return item

    def set_item(self, rating_key, *, lock: bool = True, **fields) -> None:
        """A person editing in Plex's own UI: the change is stored and (like Plex Web) locked."""
        with self.lock:
            item = self.get(rating_key)
            updated = fields.pop("updatedAt", None)
            if "files" in fields:
                self._set_files(item, fields.pop("files"))
            self._apply_fields(item, fields)
            if lock:
                item.locks.update(PLURAL_TO_KIND.get(name, name) for name in fields
                                  if name not in ("locks", "duration"))
            self.touch(item)
            if updated is not None:
                item.updated_at = int(updated)

    def rename_file(self, old: str, new: str) -> int:
        """A file renamed or moved on disk, as Plex's scanner records it: the SAME item
        (ratingKey) with the new Part file, and updatedAt unchanged (PMS does not touch it)."""
        with self.lock:
            for item in self.items.values():
                for part in item.parts:
                    if part.file == old:
                        part.file = new
                        self.version += 1
                        return item.rating_key
            raise UnknownKey(f"no item has the file {old}")

    def remove_item(self, rating_key) -> None:
        with self.lock:
            del self.items[int(rating_key)]
            self.version += 1

    def _set_files(self, item: Item, files) -> None:
        old = {p.file: p for p in item.parts}
        item.parts = [old.get(f) or Part(self._new_id("media"), self._new_id("part"), f,
                                         1_000_000 + 7919 * len(f)) for f in files]

    def _apply_fields(self, item: Item, fields: dict) -> None:
        for name, value in fields.items():
            if name in SCALAR_FIELDS:
                if value is None or value == "":
                    item.attrs.pop(name, None)
                else:
                    item.attrs[name] = value
            elif name in PLURAL_TO_KIND:
                self._set_tags(item, PLURAL_TO_KIND[name], value)
            elif name in ("thumb", "art"):
                setattr(item, name, value)
            elif name == "addedAt":
                item.added_at = int(value)
            elif name == "duration":
                item.duration = int(value)
            elif name == "locks":
                item.locks = set(value)
            elif name == "extras":
                item.extras = [dict(e) for e in value]
            elif name == "guids":
                item.guids = list(value)
            else:
                raise TypeError(f"unknown Plex item field {name!r}")

    def _set_tags(self, item: Item, kind: str, values) -> None:
        if kind == "actor":
            item.roles = {}
        if all(type(v) is str for v in values):
            item.tags[kind] = list(dict.fromkeys(values))
            return
        names = []
        for value in values:
            if isinstance(value, dict):
                name = value["tag"]
                if value.get("thumb") is not None:
                    self.tag_thumbs[(kind, name)] = value["thumb"]
                if kind == "actor":
                    item.roles[name] = value.get("role") or ""
            else:
                name = str(value)
            if name not in names:
                names.append(name)
        item.tags[kind] = names

    def find_by_file(self, path: str) -> list[int]:
        with self.lock:
            self.materialise_due()
            return [i.rating_key for i in self.items.values()
                    if any(p.file == path for p in i.parts)]

    def find_by_title(self, title: str) -> list[int]:
        with self.lock:
            return [i.rating_key for i in self.items.values() if i.attrs.get("title") == title]

    def snapshot(self, rating_key) -> dict:
        """Everything about one item as plain data, for assertions."""
        with self.lock:
            item = self.get(rating_key)
            snap = {name: item.attrs.get(name) for name in SCALAR_FIELDS}
            snap.update(ratingKey=item.rating_key, sectionId=item.section_id,
                        addedAt=item.added_at, updatedAt=item.updated_at, thumb=item.thumb,
                        art=item.art, duration=item.duration, files=[p.file for p in item.parts],
                        locks=sorted(item.locks), viewCount=item.view_count,
                        lastViewedAt=item.last_viewed_at, viewOffset=item.view_offset,
                        lastRatedAt=item.last_rated_at)
            for kind, (plural, _) in TAG_KINDS.items():
                snap[plural] = list(item.tags.get(kind, []))
            snap["actors"] = [{"tag": n, "role": item.roles.get(n, ""),
                               "thumb": self.tag_thumbs.get(("actor", n))}
                              for n in item.tags.get("actor", [])]
            for kind in ("posters", "arts"):
                snap[kind] = [{"uri": im.uri, "sha1": im.sha1, "source": im.source,
                               "size": len(im.data), "selected": im.uri == item.selected[kind]}
                              for im in item.images[kind]]
                chosen = [im.sha1 for im in item.images[kind] if im.uri == item.selected[kind]]
                snap[kind[:-1] + "Sha1"] = chosen[0] if chosen else None
            return snap

    # ---- listing ------------------------------------------------------------------------
    def ordered(self, section_id: int, sort: str) -> list[Item]:
        """Items of a section in `sort` order (e.g. "updatedAt:desc,titleSort"); cached per
        state version because paging 50,000 items asks for the same order many times."""
        cache_key = (section_id, sort)
        cached = self._order_cache.get(cache_key)
        if cached and cached[0] == self.version:
            return cached[1]
        items = sorted((i for i in self.items.values() if i.section_id == section_id),
                       key=lambda i: i.rating_key)
        for attr, desc in reversed(parse_sort(sort)):
            items.sort(key=lambda i: i.sort_value(attr), reverse=desc)
        self._order_cache[cache_key] = (self.version, items)
        return items

    # ---- scans and files that appear after one ------------------------------------------
    def add_pending_file(self, section_id, path: str, title: str, *, scan_delay: float = 0.0,
                         **fields) -> None:
        with self.lock:
            self.section(section_id)
            self._pending.append({"section_id": int(section_id), "path": path, "title": title,
                                  "fields": fields, "delay": scan_delay, "due": None})

    def scan(self, section_id, path: str | None, force: bool) -> None:
        with self.lock:
            section = self.section(section_id)
            now = self.clock()
            self.scans.append({"section_id": section.key, "path": path, "force": force,
                               "time": now})
            for pending in self._pending:
                if (pending["section_id"] == section.key and pending["due"] is None
                        and _covers(path, pending["path"])):
                    pending["due"] = now + pending["delay"]
            self.materialise_due()

    def materialise_due(self) -> None:
        """Pending files whose scan has finished become items (scans take `scan_delay`)."""
        now = self.clock()
        due = [p for p in self._pending if p["due"] is not None and p["due"] <= now]
        for pending in due:
            self._pending.remove(pending)
            self.add_item(pending["section_id"], pending["title"], [pending["path"]],
                          **pending["fields"])


def parse_sort(sort: str) -> list[tuple[str, bool]]:
    """`movie.addedAt:desc,titleSort` -> [("added_at", True), ("sort_title", False)]."""
    if not sort:
        return [("sort_title", False)]
    result = []
    for part in sort.split(","):
        name, _, direction = part.strip().partition(":")
        name = name.rsplit(".", 1)[-1]
        if name not in SORTS or direction not in ("", "asc", "desc", "nullsLast"):
            raise ValueError(f"unknown sort {part!r}")
        attr, default_desc = SORTS[name]
        desc = default_desc if direction in ("", "nullsLast") else direction == "desc"
        result.append((attr, desc))
    return result


def _covers(scan_path: str | None, file_path: str) -> bool:
    """A scan of a folder finds files in it and in its subfolders; no path = whole section."""
    if not scan_path:
        return True
    folder = posixpath.normpath(scan_path.replace("\\", "/")).rstrip("/")
    return posixpath.normpath(file_path.replace("\\", "/")).startswith(folder + "/")
