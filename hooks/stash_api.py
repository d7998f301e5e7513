"""The small client that sends PlexSync's GraphQL documents (hooks/stash_documents.py) to Stash.

Stdlib only (urllib, imported when a request is made): the hook's rare paths use this module,
where stashapp-tools' StashInterface() would cost three queries, one a full schema
introspection (~0.6 s), before the first real one.

Stash versions: the client learns its Stash's version once (asked
with VERSION_QUERY and remembered in the data folder, see stash_version.py) or on the first
validation error, never with an extra request per hook.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from hooks.stash_documents import (FIND_SCENES_QUERY, LEGACY_INCREMENT_PLAY_DOCUMENT,
                                   MINIMUM_STASH, SCENE_EXISTS_QUERY, SCENE_RATING_MUTATION,
                                   SCENE_SAVE_RESUME_MUTATION, SETTINGS_QUERY, VERSION_QUERY,
                                   adapt_document, add_plays_document, cover_state_document,
                                   parse_version, play_state_document, scenes_document)
from validation.config import PLUGIN_ID

class StashError(RuntimeError):
    """Stash could not be reached or refused the request."""


class StashAuthError(StashError):
    """Stash wants credentials PlexSync does not have (401, or a redirect to /login)."""


class StashRejected(StashError):
    """Stash refused the document itself (gqlgen: HTTP 422, errors[].message say why)."""


class StashTooOld(StashError):
    """This Stash is older than the oldest version PlexSync supports."""


def check_supported(version_text: str | None) -> tuple[int, int, int] | None:
    """The parsed version; StashTooOld naming the minimum for anything older."""
    version = parse_version(version_text)
    if version is not None and version < MINIMUM_STASH:
        minimum = ".".join(map(str, MINIMUM_STASH))
        raise StashTooOld(f"PlexSync needs Stash v{minimum} or newer; this Stash is "
                          f"{version_text}. Update Stash (Settings > About shows its version).")
    return version


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A 302 to /login is how Stash says "not logged in" on image paths; following it would
    # hand us a 200 HTML page that looks like success.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class StashClient:
    def __init__(self, base_url: str, *, api_key: str | None = None,
                 session_cookie: str | None = None, timeout: float = 10.0,
                 version: tuple | None = None):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.session_cookie = session_cookie or None
        self.timeout = timeout
        # Stash's version once known (None: assume the newest; learnt on a validation error).
        self.stash_version: tuple | None = version
        self.version_known = version is not None
        self.on_version_learnt = None  # callback(version_text): remember it (stash_version.py)

    @classmethod
    def from_server_connection(cls, conn: dict, timeout: float = 10.0) -> "StashClient":
        """The client for the Stash that started this plugin process (stdin server_connection)."""
        host = conn.get("Host") or "localhost"
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "localhost"}.get(host, host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        url = f"{conn.get('Scheme') or 'http'}://{host}:{conn.get('Port') or 9999}"
        cookie = conn.get("SessionCookie") or {}
        return cls(url, session_cookie=cookie.get("Value"), timeout=timeout)

    def connection_payload(self) -> dict:
        """What a detached drainer needs to talk to this Stash (never logged)."""
        return {"url": self.base_url, "api_key": self.api_key, "session_cookie": self.session_cookie}

    @classmethod
    def from_payload(cls, payload: dict) -> "StashClient":
        return cls(payload["url"], api_key=payload.get("api_key"),
                   session_cookie=payload.get("session_cookie"))

    def secrets(self) -> tuple[str, ...]:
        return tuple(v for v in (self.api_key, self.session_cookie) if v)

    def _headers(self) -> dict:
        headers = {}
        if self.api_key:
            headers["ApiKey"] = self.api_key
        if self.session_cookie:
            headers["Cookie"] = f"session={self.session_cookie}"
        return headers

    def execute(self, document: str, variables: dict | None = None, *,
                partial: list | None = None) -> dict:
        """Send one document, adapted to this Stash's version. A validation error while the
        version is still unknown asks Stash's version once and retries the adapted form.
        partial: a list to collect field errors in when Stash answered data beside them
        (instead of failing the whole answer: one broken scene must not block the rest)."""
        sent = adapt_document(document, self.stash_version)
        try:
            return self._send(sent, variables, partial)
        except StashRejected as refused:
            if self.version_known:
                raise
            self.learn_version()
            adapted = adapt_document(document, self.stash_version)
            if adapted == sent:  # not a version matter: Stash's words, and its version
                raise StashRejected(f"{refused}{self._version_hint()}") from None
            return self._send(adapted, variables, partial)

    def learn_version(self) -> tuple | None:
        """Ask Stash its version (one request); StashTooOld below the supported range."""
        text = ((self._send(VERSION_QUERY, None).get("version") or {}).get("version"))
        self.version_known = True
        self.stash_version = check_supported(text)
        if self.on_version_learnt is not None:
            self.on_version_learnt(text)
        return self.stash_version

    def _send(self, document: str, variables: dict | None, partial: list | None = None) -> dict:
        body = json.dumps({"query": document, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql", data=body, method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json",
                     **self._headers()})
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403) or 300 <= exc.code < 400:
                raise StashAuthError(f"Stash refused PlexSync's request (HTTP {exc.code}): "
                                     "check Stash's API key / login") from None
            messages = _error_messages(exc)
            if messages and exc.code in (400, 422):
                raise StashRejected(f"Stash rejected PlexSync's request: {messages}"
                                    f"{self._version_hint()}") from None
            raise StashError(f"Stash answered HTTP {exc.code} at {self.base_url}/graphql"
                             + (f": {messages}" if messages else "")) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StashError(f"Stash is not reachable at {self.base_url}: {reason}") from None
        if payload.get("errors") and partial is not None and payload.get("data"):
            partial += [str(e.get("message", "?")) for e in payload["errors"]]
        elif payload.get("errors"):
            messages = "; ".join(str(e.get("message", "?")) for e in payload["errors"])
            raise StashError(f"Stash GraphQL error: {messages}")
        return payload.get("data") or {}

    def _version_hint(self) -> str:
        if self.stash_version is None:
            return ""
        return f" (Stash v{'.'.join(map(str, self.stash_version))})"

    def plugin_settings(self) -> dict:
        data = self.execute(SETTINGS_QUERY, {"plugin": [PLUGIN_ID]})
        return _plugin_settings(data)

    def scenes_by_id(self, scene_ids: list, chunk: int = 100, errors: list | None = None) -> list:
        """The scenes that still exist, in `chunk`-sized requests (one for a usual bulk edit);
        Stash's messages about single scenes go to `errors` instead of failing them all."""
        ids = [str(i) for i in scene_ids]
        found = []
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            data = self.execute(scenes_document(len(part)),
                                {f"id{n}": i for n, i in enumerate(part)},
                                partial=errors if errors is not None else [])
            found += [_groups_form(data[f"s{n}"]) for n in range(len(part)) if data.get(f"s{n}")]
        return found

    def find_scenes_page(self, page: int, per_page: int,
                         updated_since: str | None = None) -> tuple[int, list]:
        """One page of scenes, oldest update first, optionally only those updated since a time."""
        variables: dict = {"filter": {"page": page, "per_page": per_page,
                                      "sort": "updated_at", "direction": "ASC"}}
        if updated_since:
            variables["scene_filter"] = {"updated_at": {"value": updated_since,
                                                        "modifier": "GREATER_THAN"}}
        result = self.execute(FIND_SCENES_QUERY, variables).get("findScenes") or {}
        return int(result.get("count") or 0), [_groups_form(s) for s in result.get("scenes") or []]

    def scene_exists(self, scene_id) -> bool:
        """False once Stash has no scene with this id (deleted); raises StashError if unsure."""
        return bool(self.execute(SCENE_EXISTS_QUERY, {"id": str(scene_id)}).get("findScene"))

    def cover_state(self, ranges: list[tuple[int, int]]) -> tuple[set[str], bool]:
        """(ids of scenes in these inclusive id ranges that still have no cover, whether
        Stash runs a job right now), in one request (worker/cover_watch.py)."""
        variables = {}
        for n, (low, high) in enumerate(ranges):
            variables[f"lo{n}"], variables[f"hi{n}"] = int(low), int(high)
        data = self.execute(cover_state_document(len(ranges)), variables)
        missing = {str(scene["id"]) for n in range(len(ranges))
                   for scene in (data.get(f"r{n}") or {}).get("scenes") or []}
        return missing, bool(data.get("jobQueue"))

    def version(self) -> str:
        return ((self._send(VERSION_QUERY, None).get("version") or {}).get("version")) or "unknown"

    def fetch_image(self, url: str) -> bytes:
        """The image at a Stash URL, fetched with Stash's credentials; b"" when the scene has
        no cover (Stash then serves its SVG placeholder, which is no poster)."""
        request = urllib.request.Request(url, headers=self._headers())
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                content_type = response.headers.get("Content-Type", "")
                data = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403) or 300 <= exc.code < 400:
                raise StashAuthError(f"Stash wants a login for images (HTTP {exc.code}); "
                                     "check Stash's API key") from None
            raise StashError(f"Stash answered HTTP {exc.code} for an image") from None
        except (urllib.error.URLError, OSError) as exc:
            raise StashError(f"image not reachable: {getattr(exc, 'reason', exc)}") from None
        if content_type.startswith("text/html") or data[:15].lstrip().lower().startswith(b"<!doctype html"):
            raise StashAuthError("Stash sent a web page instead of an image (a login page?)")
        if content_type.startswith("image/svg"):
            return b""
        return data

    # ---- Plex -> Stash import (worker/tasks/import_plays.py) -----------------------------
    def play_states(self, scene_ids: list, legacy: bool = False, batch: int = 100) -> dict:
        """scene id -> {play_count, play_history, last_played_at, resume_time, rating100};
        scenes Stash no longer has are left out."""
        found: dict = {}
        ids = [str(i) for i in scene_ids]
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            data = self.execute(play_state_document(len(chunk), legacy),
                                {f"id{n}": i for n, i in enumerate(chunk)})
            for n in range(len(chunk)):
                scene = data.get(f"s{n}")
                if scene:
                    found[str(scene["id"])] = scene
        return found

    def add_plays(self, plays: list[tuple]) -> None:
        """[(scene id, [RFC3339 time, ...]), ...] in one request. Never a scene without a
        time: Stash would add one play at 'now' for it."""
        if any(not times for _, times in plays):
            raise ValueError("add_plays needs at least one time per scene")
        if plays:
            variables = {}
            for n, (scene_id, times) in enumerate(plays):
                variables[f"id{n}"], variables[f"times{n}"] = str(scene_id), list(times)
            self.execute(add_plays_document(len(plays)), variables)

    def increment_play_count(self, scene_id) -> int:
        data = self.execute(LEGACY_INCREMENT_PLAY_DOCUMENT, {"id": str(scene_id)})
        return int(data.get("sceneIncrementPlayCount") or 0)

    def save_resume_time(self, scene_id, seconds: float) -> None:
        self.execute(SCENE_SAVE_RESUME_MUTATION, {"id": str(scene_id), "resume_time": seconds})

    def set_rating(self, scene_id, rating100: int | None) -> None:
        self.execute(SCENE_RATING_MUTATION, {"input": {"id": str(scene_id), "rating100": rating100}})


def _plugin_settings(data: dict) -> dict:
    plugins = (data.get("configuration") or {}).get("plugins") or {}
    return plugins.get(PLUGIN_ID) or {}


def _groups_form(scene: dict) -> dict:
    """A scene from Stash before v0.27 (movies) in the groups shape every caller reads."""
    if "groups" not in scene and "movies" in scene:
        scene = dict(scene)
        scene["groups"] = [{"group": m.get("movie"), "scene_index": m.get("scene_index")}
                           for m in scene.pop("movies") or []]
    return scene


def _error_messages(exc) -> str:
    """errors[].message of a gqlgen error body (422), '' when the body is not that."""
    try:
        payload = json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return ""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return ""
    return "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message"))
