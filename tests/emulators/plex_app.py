"""Routes of the Plex emulator: request in, (status, body) out. No sockets here.

Auth first (token in the `X-Plex-Token` header or query parameter; `/identity` is open, as on
a real server), then the route. Paging reads `X-Plex-Container-Start/Size` from the query
string first, else from the headers (plexapi sends headers; raw clients often use the query).
"""
from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass, field

from tests.emulators import plex_plays as plays
from tests.emulators import plex_xml as xml
from tests.emulators.plex_edits import EditError, add_image, apply_edit, parse_edit, select_image
from tests.emulators.plex_model import UnknownKey
from tests.emulators.plex_state import PlexState

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable"}
# 1x1 PNG served for artwork nobody uploaded (items created by fixtures).
PLACEHOLDER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082")


@dataclass
class Request:
    method: str
    path: str
    query: dict                      # decoded once, last value wins
    pairs: list                      # decoded once, in order (edits need every pair)
    headers: dict                    # lower-case names
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/xml;charset=utf-8"
    headers: dict = field(default_factory=dict)


def xml_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode("utf-8"))


def error(status: int, detail: str = "") -> Response:
    page = xml.error_page(status, _REASONS.get(status, "Error"), detail)
    return Response(status, page.encode("utf-8"), "text/html")


def _locked(handler):
    """Run a route under the state lock, after letting finished scans add their items."""
    def run(self, req, *args):
        with self.state.lock:
            self.state.materialise_due()
            return handler(self, req, *args)
    return run


class PlexApp:
    def __init__(self, state: PlexState, token: str, machine_id: str, friendly_name: str):
        self.state = state
        self.token = token
        self.machine_id = machine_id
        self.friendly_name = friendly_name
        self.started_at = state.now()
        # Tokens of Plex Home / shared users: PMS lets them read the libraries shared with
        # them, but the server's history (the dashboard) and metadata edits are the owner's:
        # those answer 401 (python-plexapi #1506: history() -> "(401) unauthorized").
        self.user_tokens: set[str] = set()
        # False: a Plex Media Server too old for /status/sessions/history (answers 404).
        self.has_history = True
        self._routes = [
            ("GET", r"/", self._root), ("GET", r"/identity", self._identity),
            ("GET", r"/library", self._library), ("GET", r"/library/sections", self._sections),
            ("GET", r"/library/sections/(\d+)/all", self._all),
            ("PUT", r"/library/sections/(\d+)/all", self._edit),
            ("GET", r"/library/sections/(\d+)/collections", self._collections),
            ("GET", r"/library/sections/(\d+)/refresh", self._refresh),
            ("GET", r"/library/metadata/(\d+(?:,\d+)*)", self._metadata),
            ("GET", r"/library/metadata/(\d+)/(posters|arts)", self._list_images),
            ("POST", r"/library/metadata/(\d+)/(posters|arts)", self._upload),
            ("PUT", r"/library/metadata/(\d+)/(poster|art)", self._select),
            ("GET", r"/library/metadata/(\d+)/(thumb|art)(?:/\d+)?", self._image_bytes),
            ("GET", r"/library/metadata/(\d+)/file", self._file),
        ] + [(m, p, self._plays(h)) for m, p, h in plays.ROUTES]
        self._routes = [(m, re.compile(p + "$"), h) for m, p, h in self._routes]

    def handle(self, req: Request) -> Response:
        token = req.headers.get("x-plex-token") or req.query.get("X-Plex-Token")
        if req.path != "/identity" and token != self.token:
            if token not in self.user_tokens or not self._users_may(req):
                return error(401)
        if not self.has_history and req.path.startswith(plays.HISTORY_PREFIX):
            return error(404)
        path_matched = False
        for method, pattern, handler in self._routes:
            m = pattern.match(req.path)
            if m:
                path_matched = True
                if method == req.method:
                    try:
                        return handler(req, *m.groups())
                    except ValueError as exc:       # EditError, bad numbers, bad sort
                        return error(400, str(exc))
                    except UnknownKey as exc:
                        return error(404, str(exc.args[0]))
        return error(405 if path_matched else 404)

    def _users_may(self, req: Request) -> bool:
        """What a token that is not the owner's may do: read, and its own `/:/` actions."""
        if req.path.startswith(plays.HISTORY_PREFIX):
            return False
        return req.method == "GET" or req.path.startswith("/:/")

    # ---- server ------------------------------------------------------------------------
    @_locked
    def _root(self, req):
        return xml_response(xml.server_root(self.machine_id, self.friendly_name, self.started_at))

    @_locked
    def _identity(self, req):
        return xml_response(xml.identity(self.machine_id))

    @_locked
    def _library(self, req):
        return xml_response(xml.library_root())

    @_locked
    def _sections(self, req):
        return xml_response(xml.sections(list(self.state.sections.values())))

    # ---- listing -----------------------------------------------------------------------
    @_locked
    def _all(self, req, section_id):
        section = self.state.section(section_id)
        q = req.query
        if q.get("type") not in (None, "", "1"):
            return xml_response(xml.section_items(self.state, section, [], 0, 0, False))
        items = _filtered(self.state.ordered(section.key, q.get("sort", "")), q)
        start, size = _paging(req)
        if q.get("limit"):
            items = items[:int(q["limit"])]
        page = items[start:] if size is None else items[start:start + size]
        meta, guids = q.get("includeMeta") == "1", q.get("includeGuids") == "1"
        return xml_response(xml.section_items(self.state, section, page, start, len(items), meta,
                                              *_exclusions(q), guids=guids))

    @_locked
    def _collections(self, req, section_id):
        # plexapi reads this (with includeMeta=1) when it validates a sort; collections
        # themselves are not emulated as objects.
        self.state.section(section_id)
        return xml_response(xml.container(size=0, totalSize=0))

    @_locked
    def _metadata(self, req, keys):
        wanted = [int(k) for k in keys.split(",")]
        items = [self.state.items[k] for k in wanted if k in self.state.items]
        if not items:
            return error(404, f"no item {keys}")
        start, size = _paging(req)
        page = items[start:] if size is None else items[start:start + size]
        return xml_response(xml.metadata(self.state, page, start, len(items),
                                         *_exclusions(req.query)))

    # ---- edits -------------------------------------------------------------------------
    @_locked
    def _edit(self, req, section_id):
        section = self.state.section(section_id)
        if req.query.get("type") not in (None, "1"):
            raise EditError(f"type={req.query['type']} is not a movie")
        ids = [k for k in req.query.get("id", "").split(",") if k]
        if not ids:
            raise EditError("missing id")
        items = [self.state.get(k) for k in ids]
        if any(item.section_id != section.key for item in items):
            raise EditError(f"item not in section {section.key}")
        plan = parse_edit(req.pairs)
        if not plan.is_empty():
            for item in items:
                apply_edit(self.state, item, plan)
        return Response(200)

    @_locked
    def _refresh(self, req, section_id):
        self.state.scan(section_id, req.query.get("path") or None, req.query.get("force") == "1")
        return Response(200)

    # ---- artwork -----------------------------------------------------------------------
    @_locked
    def _list_images(self, req, rk, kind):
        return xml_response(xml.images(self.state.get(rk), kind))

    def _upload(self, req, rk, kind):
        url = req.query.get("url")
        if url:
            # Fetched before taking the lock: the URL may point back at this emulator.
            data, source = _fetch(url), url
        elif req.body:
            data, source = req.body, "bytes"
        else:
            raise EditError("upload needs a body or ?url=")
        with self.state.lock:
            add_image(self.state, self.state.get(rk), kind, data, source)
        return Response(200)

    @_locked
    def _select(self, req, rk, kind):
        select_image(self.state, self.state.get(rk), kind + "s", req.query.get("url", ""))
        return Response(200)

    @_locked
    def _image_bytes(self, req, rk, attr):
        item = self.state.get(rk)
        return _image_response(item, "posters" if attr == "thumb" else "arts")

    @_locked
    def _file(self, req, rk):
        item = self.state.get(rk)
        uri = req.query.get("url", "")
        for kind in ("posters", "arts"):
            for image in item.images[kind]:
                if image.uri == uri:
                    return Response(200, image.data, _image_type(image.data))
        return error(404, f"no image {uri!r}")

    # ---- viewing activity: plex_plays.ROUTES answer XML text, or None for an empty 200 ----
    def _plays(self, handler):
        @_locked
        def run(self, req, *groups):
            text = handler(self.state, req.query, _paging(req), *groups)
            return Response(200) if text is None else xml_response(text)
        return lambda req, *groups: run(self, req, *groups)


def _image_response(item, kind: str) -> Response:
    chosen = [im for im in item.images[kind] if im.uri == item.selected[kind]]
    data = chosen[0].data if chosen else PLACEHOLDER_PNG
    return Response(200, data, _image_type(data))


def _image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return "application/octet-stream"


def _fetch(url: str) -> bytes:
    """Plex downloads `?url=` images itself; an unreachable URL fails the request (400)."""
    if not url.startswith(("http://", "https://", "data:")):
        raise EditError(f"unsupported image url scheme: {url[:20]!r}")
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read()
    except (OSError, ValueError) as exc:
        raise EditError(f"could not fetch image: {exc.__class__.__name__}") from None


def _paging(req: Request) -> tuple[int, int | None]:
    def pick(name):
        value = req.query.get(name)
        if value is None:
            value = req.headers.get(name.lower())
        return None if value in (None, "") else int(value)
    try:
        start, size = pick("X-Plex-Container-Start") or 0, pick("X-Plex-Container-Size")
    except ValueError:
        raise ValueError("X-Plex-Container-Start/Size must be integers") from None
    if start < 0 or (size is not None and size < 0):
        raise ValueError("negative X-Plex-Container-Start/Size")
    return start, size


def _exclusions(query: dict) -> tuple[frozenset, frozenset]:
    """`excludeElements` and `excludeFields`: comma-separated names, on listings and
    metadata alike (plex_xml decides which of them PMS honours)."""
    return tuple(frozenset(filter(None, query.get(name, "").split(",")))
                 for name in ("excludeElements", "excludeFields"))


_RANGE = re.compile(r"^(addedAt|updatedAt)(>>|<<)$")


def _filtered(items, query: dict):
    """`title=` partial and case-insensitive; `addedAt>>=epoch`, `updatedAt<<=epoch`."""
    title = query.get("title")
    if title:
        needle = title.lower()
        items = [i for i in items if needle in (i.attrs.get("title") or "").lower()]
    for key, value in query.items():
        m = _RANGE.match(key)
        if m:
            attr = "added_at" if m[1] == "addedAt" else "updated_at"
            bound = int(value)
            if m[2] == ">>":
                items = [i for i in items if getattr(i, attr) > bound]
            else:
                items = [i for i in items if getattr(i, attr) < bound]
    return items
