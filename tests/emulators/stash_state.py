"""The Stash emulator's data and the rules Stash v0.30.1 applies to it.

Pure in-memory state, no HTTP: scenes with their studio / performers / tags / groups / files /
cover, plugin settings and the job queue, plus the query and update semantics of the real
server that PlexSync can trip over (each one cites the Stash behaviour it copies):

- Timestamps are stored as Go's RFC3339 strings with SECONDS precision in the server's zone
  ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00+02:00"). Two edits within one second get the
  same updated_at, so consumers must not order edits by updated_at alone.
- Timestamp criteria compare those stored STRINGS with the value as given (Stash builds
  `scenes.updated_at > ?` in SQLite), so a value in another zone or format compares wrongly.
- findScenes(ids: ...) ignores the find filter and fails as a whole when one id is missing.
- Tags come back sorted by name; performers and groups in the order they were set.
- Dates keep the precision they were given: "2024", "2024-05" or "2024-05-01".
"""
from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import hashlib
import re
import struct
import threading
import time
import zlib


class StashStateError(Exception):
    """A request Stash would refuse; the message is what the GraphQL error says."""


# ---- images -------------------------------------------------------------------------------

def make_png(seed, width: int = 16, height: int = 9) -> bytes:
    """A valid PNG whose pixels and comment derive from `seed`: different seeds, different bytes."""
    digest = hashlib.sha1(str(seed).encode()).digest()
    row = b"\x00" + bytes(digest[(x * 3) % 18 + c] for x in range(width) for c in range(3))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00" + str(seed).encode())
            + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


# Stash serves an SVG placeholder for a scene without a cover (static/scene/scene.svg).
DEFAULT_SCENE_IMAGE = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 9">'
                       b'<rect width="16" height="9" fill="#555"/></svg>')
DEFAULT_PERFORMER_IMAGE = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 3">'
                           b'<rect width="2" height="3" fill="#888"/></svg>')


def image_content_type(data: bytes) -> str:
    """What Go's http.DetectContentType says, with Stash's text -> image/svg+xml override."""
    for magic, kind in ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                        (b"GIF8", "image/gif")):
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/svg+xml" if b"\x00" not in data[:512] else "application/octet-stream"


def decode_data_url(value: str) -> bytes:
    """cover_image as Stash's utils.ProcessImageInput accepts it (base64 data URL)."""
    match = re.match(r"data:([\w.+/-]*)(;[\w=-]+)*;base64,(.*)$", value, re.S)
    if not match:
        raise StashStateError("processing cover image: the emulator accepts base64 data URLs only")
    try:
        return base64.b64decode(match.group(3), validate=True)
    except binascii.Error as exc:
        raise StashStateError(f"processing cover image: {exc}") from None


# ---- small value rules --------------------------------------------------------------------

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_stash_date(value: str) -> str:
    """models.ParseDate: RFC3339 / YYYY-MM-DD / 'YYYY-MM-DD HH:MM:SS' -> day, else month, year."""
    attempts = ((_RFC3339, "%Y-%m-%d", 10), (re.compile(r"\d{4}-\d{2}-\d{2}$"), "%Y-%m-%d", 10),
                (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"), "%Y-%m-%d", 10),
                (re.compile(r"\d{4}-\d{2}$"), "%Y-%m", 7), (re.compile(r"\d{4}$"), "%Y", 4))
    for pattern, fmt, keep in attempts:
        if pattern.match(value):
            try:
                dt.datetime.strptime(value[:keep], fmt)
            except ValueError:
                continue
            return value[:keep]
    raise StashStateError(f'converting date: failed to parse date "{value}"')


def natural_key(text: str):
    """Stash's NATURAL_CI collation, near enough: case-insensitive, digit runs as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", text.casefold()) if part)


def to_int_id(value, what: str = "id") -> int:
    try:
        return int(str(value))
    except ValueError:
        raise StashStateError(f'converting {what}: strconv.Atoi: parsing "{value}": invalid syntax') from None


# The sorts Stash v0.30.1 accepts for scenes (sceneSortOptions); others are "invalid sort".
SCENE_SORTS = frozenset(
    "bitrate created_at code date file_count filesize duration file_mod_time framerate "
    "group_scene_number id interactive interactive_speed last_o_at last_played_at "
    "movie_scene_number o_counter organized performer_count play_count play_duration "
    "resume_time path perceptual_similarity random rating studio tag_count title updated_at "
    "performer_age".split())


class StashState:
    """Every collection behind one re-entrant lock; callers hold `lock` across multi-step reads."""

    def __init__(self, tz: dt.tzinfo = dt.timezone.utc, clock=None):
        self.lock = threading.RLock()
        self.tz = tz
        self.clock = clock or time.time
        self.clock_offset = 0.0
        self.scenes: dict[int, dict] = {}
        self.studios: dict[int, dict] = {}
        self.tags: dict[int, dict] = {}
        self.performers: dict[int, dict] = {}
        self.groups: dict[int, dict] = {}
        self.plugin_settings: dict[str, dict] = {}
        self.jobs: list[dict] = []
        self._next = {"scene": 1, "studio": 1, "tag": 1, "performer": 1, "group": 1, "file": 1}

    # ---- time ---------------------------------------------------------------------------

    def timestamp(self, epoch: float | None = None) -> str:
        """Go's time.RFC3339 in the server's zone: whole seconds, 'Z' for a zero offset."""
        epoch = self.clock() + self.clock_offset if epoch is None else epoch
        text = dt.datetime.fromtimestamp(int(epoch), self.tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    @staticmethod
    def unix(timestamp: str) -> int:
        return int(dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())

    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value

    # ---- related objects ----------------------------------------------------------------

    def get_or_create(self, kind: str, ref, **extra) -> int:
        """An int is an existing id; a string is a name, created when no such object exists."""
        table = self.table(kind)
        if isinstance(ref, int):
            if ref not in table:
                raise StashStateError(f"{kind} {ref} does not exist")
            return ref
        for obj in table.values():
            if obj["name"] == ref:
                return obj["id"]
        obj_id = self._new_id(kind)
        table[obj_id] = {"id": obj_id, "name": ref, "updated_at": self.timestamp(), **extra}
        return obj_id

    def table(self, kind: str) -> dict:
        return {"studio": self.studios, "tag": self.tags, "performer": self.performers,
                "group": self.groups, "scene": self.scenes}[kind]

    def require(self, kind: str, ids) -> list[int]:
        """Ids as ints, each existing (SQLite's foreign keys would refuse the others)."""
        out = [to_int_id(i, f"{kind} ids") for i in ids]
        missing = [i for i in out if i not in self.table(kind)]
        if missing:
            raise StashStateError(f"FOREIGN KEY constraint failed: {kind} {missing[0]} does not exist")
        return out

    # ---- scenes ---------------------------------------------------------------------------

    def add_scene(self, fields: dict) -> int:
        """A scene as a scan would create it, then `fields` applied as an edit would apply them."""
        scene_id = self._new_id("scene")
        stamp = fields.pop("created_at", None) or self.timestamp()
        fields.setdefault("updated_at", stamp)
        self.scenes[scene_id] = {
            "id": scene_id, "title": "", "code": "", "details": "", "director": "", "urls": [],
            "date": None, "rating100": None, "organized": False, "studio_id": None,
            "performer_ids": [], "tag_ids": [], "groups": [], "gallery_ids": [],
            "stash_ids": [], "resume_time": 0.0, "play_duration": 0.0, "play_history": [],
            "files": [],
            "cover": None, "created_at": stamp, "updated_at": stamp}
        try:
            self.apply_fields(scene_id, fields)
        except Exception:
            del self.scenes[scene_id]
            raise
        return scene_id

    def make_file(self, spec) -> dict:
        spec = {"path": spec} if isinstance(spec, str) else dict(spec)
        path = spec["path"]
        return {"id": self._new_id("file"), "path": path,
                "basename": re.split(r"[\\/]", path)[-1], "size": int(spec.get("size", 1_000_000)),
                "duration": float(spec.get("duration", 600.0)), "width": int(spec.get("width", 1920)),
                "height": int(spec.get("height", 1080)), "mod_time": spec.get("mod_time") or self.timestamp()}

    def apply_fields(self, scene_id: int, fields: dict, touch: bool = True) -> None:
        """Python-side edits (helpers): names or ids for relations, bytes for the cover."""
        scene = self.scenes[scene_id]
        changes = dict(fields)
        if "studio" in changes:
            studio = changes.pop("studio")
            scene["studio_id"] = None if studio is None else self.get_or_create("studio", studio)
        for key, kind in (("performers", "performer"), ("tags", "tag")):
            if key in changes:
                scene[f"{kind}_ids"] = unique(self.get_or_create(kind, r) for r in changes.pop(key))
        if "groups" in changes:
            scene["groups"] = [(self.get_or_create("group", g[0] if isinstance(g, tuple) else g),
                                g[1] if isinstance(g, tuple) else None) for g in changes.pop("groups")]
        if "files" in changes:
            scene["files"] = [self.make_file(f) for f in changes.pop("files")]
        if "cover" in changes:
            scene["cover"] = changes.pop("cover")
        if changes.get("date") is not None:
            changes["date"] = parse_stash_date(changes["date"])
        unknown = set(changes) - set(scene) - {"updated_at"}
        if unknown:
            raise TypeError(f"unknown scene field(s): {', '.join(sorted(unknown))}")
        scene.update(changes)
        if touch and "updated_at" not in changes:
            scene["updated_at"] = self.timestamp()

    def find_scene_ids(self, scene_filter: dict | None, find_filter: dict | None) -> tuple[int, list[int]]:
        """(count, ids of one page) as SceneStore.Query computes them."""
        find_filter = find_filter or {}
        ids = [i for i, s in sorted(self.scenes.items()) if self._matches(s, scene_filter or {})]
        query = (find_filter.get("q") or "").casefold()
        if query:
            ids = [i for i in ids if any(query in text.casefold() for text in self._search_texts(i))]
        return len(ids), paginate(self._sort_scenes(ids, find_filter), find_filter)

    def _search_texts(self, scene_id: int):
        scene = self.scenes[scene_id]
        return [scene["title"], scene["details"], scene["code"]] + [f["path"] for f in scene["files"]]

    def _matches(self, scene: dict, scene_filter: dict) -> bool:
        for column in ("created_at", "updated_at"):
            criterion = scene_filter.get(column)
            if criterion and not self._timestamp_matches(scene[column], criterion):
                return False
        if scene_filter.get("id") and not _int_matches(scene["id"], scene_filter["id"]):
            return False
        missing = scene_filter.get("is_missing")
        if missing not in (None, "cover"):
            raise StashStateError(f"the Stash emulator does not implement is_missing '{missing}'")
        return not (missing == "cover" and scene["cover"])  # Stash: no cover blob stored

    def _timestamp_matches(self, stored: str, criterion: dict) -> bool:
        # getTimestampWhereClause: a string comparison in SQLite; value2 defaults to now + 1 day.
        value, modifier = criterion["value"], criterion["modifier"]
        upper = criterion.get("value2") or self.timestamp(self.clock() + self.clock_offset + 86400)
        tests = {"EQUALS": lambda: stored == value, "NOT_EQUALS": lambda: stored != value,
                 "GREATER_THAN": lambda: stored > value, "LESS_THAN": lambda: stored < value,
                 "BETWEEN": lambda: value <= stored <= upper,
                 "NOT_BETWEEN": lambda: not value <= stored <= upper,
                 "IS_NULL": lambda: False, "NOT_NULL": lambda: True}
        if modifier not in tests:
            raise StashStateError("internal system error: unsupported date modifier type")
        return tests[modifier]()

    def _sort_scenes(self, ids: list[int], find_filter: dict) -> list[int]:
        sort = find_filter.get("sort")
        if not sort:
            return ids  # no ORDER BY at all: SQLite's rowid order
        if sort not in SCENE_SORTS and not re.fullmatch(r"random_\d+", sort):
            raise StashStateError(f"invalid sort: {sort}")
        keys = {"id": lambda s: s["id"], "title": lambda s: natural_key(self.display_title(s)),
                "date": lambda s: s["date"], "created_at": lambda s: s["created_at"],
                "updated_at": lambda s: s["updated_at"], "rating": lambda s: s["rating100"],
                "code": lambda s: s["code"] or None, "organized": lambda s: s["organized"],
                "path": lambda s: natural_key(s["files"][0]["path"]) if s["files"] else None}
        if sort not in keys:
            raise StashStateError(f"the Stash emulator does not implement sort '{sort}'")
        # Stash always appends COALESCE(title, id) NATURAL_CI ASC as the final sort.
        ordered = sorted(ids, key=lambda i: natural_key(self.scenes[i]["title"] or str(i)))
        key = keys[sort]
        return sorted(ordered, key=lambda i: _nulls_first(key(self.scenes[i])),
                      reverse=find_filter.get("direction") == "DESC")

    def image_at(self, path: str) -> bytes | None:
        """The bytes Stash serves at /scene/{id}/screenshot or /performer/{id}/image; None = 404."""
        match = re.fullmatch(r"/scene/(\d+)/screenshot|/performer/(\d+)/image", path)
        with self.lock:
            if match and match.group(1):
                scene = self.scenes.get(int(match.group(1)))
                return None if scene is None else scene["cover"] or DEFAULT_SCENE_IMAGE
            if match:
                performer = self.performers.get(int(match.group(2)))
                return None if performer is None else performer.get("image") or DEFAULT_PERFORMER_IMAGE
        return None

    @staticmethod
    def display_title(scene: dict) -> str:
        return scene["title"] or (scene["files"][0]["basename"] if scene["files"] else "")

    # ---- plugin settings and jobs -----------------------------------------------------------

    def plugins(self, include) -> dict:
        """configuration.plugins: a plugin never configured (or configured empty) is absent."""
        wanted = include or list(self.plugin_settings)
        return {p: copy.deepcopy(self.plugin_settings[p]) for p in wanted if self.plugin_settings.get(p)}

    def configure_plugin(self, plugin_id: str, settings: dict) -> dict:
        self.plugin_settings[plugin_id] = copy.deepcopy(dict(settings))  # overwrites, never merges
        return copy.deepcopy(self.plugin_settings[plugin_id])

    def set_jobs(self, jobs: list[dict]) -> None:
        stamp = self.timestamp()
        self.jobs = [{"id": str(job.get("id", n)), "status": job.get("status", "RUNNING"),
                      "subTasks": job.get("subTasks"), "description": job.get("description", "Scanning..."),
                      "progress": job.get("progress"), "startTime": job.get("startTime", stamp),
                      "endTime": job.get("endTime"), "addTime": job.get("addTime", stamp),
                      "error": job.get("error")} for n, job in enumerate(jobs, start=1)]


def paginate(items: list, find_filter: dict) -> list:
    """FindFilterType paging: per_page default 25, negative = all, 0 = count only; page >= 1."""
    per_page = find_filter.get("per_page")
    per_page = 25 if per_page is None else per_page
    if per_page < 0:
        return items
    page = max(find_filter.get("page") or 1, 1)
    return items[(page - 1) * per_page: page * per_page]


def _nulls_first(value):
    return (value is not None, value if value is not None else 0)


def unique(values) -> list:
    out = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _int_matches(stored: int, criterion: dict) -> bool:
    """IntCriterionInput as Stash's intCriterionHandler applies it (BETWEEN is inclusive)."""
    value, value2, modifier = criterion["value"], criterion.get("value2"), criterion["modifier"]
    tests = {"EQUALS": lambda: stored == value, "NOT_EQUALS": lambda: stored != value,
             "GREATER_THAN": lambda: stored > value, "LESS_THAN": lambda: stored < value,
             "BETWEEN": lambda: value <= stored <= (value2 if value2 is not None else value),
             "NOT_BETWEEN": lambda: not value <= stored <= (value2 if value2 is not None else value)}
    if modifier not in tests:
        raise StashStateError(f"the Stash emulator does not implement modifier {modifier} for ids")
    return tests[modifier]()
