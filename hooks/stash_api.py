"""Every GraphQL document PlexSync sends to Stash, and the small client that sends them.

Stdlib only (urllib): this module is on the hook path, where stashapp-tools' StashInterface()
would cost three queries, one a full schema introspection (~0.6 s), before the first real one.
Module constants ending in _QUERY are validated against Stash's real schema by the tests.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from validation.config import PLUGIN_ID

SCENE_FIELDS = """
fragment PlexSyncScene on Scene {
  id title code details director urls date updated_at
  studio { name parent_studio { name } }
  performers { name image_path }
  tags { name }
  groups { group { name } scene_index }
  files { path }
  paths { screenshot }
}
"""


def hook_bundle_document(count: int) -> str:
    """Settings plus `count` scenes in ONE round trip: the hook's whole Stash cost.

    One aliased findScene per id rather than findScenes(ids:), because Stash fails the whole
    findScenes query when one id no longer exists (a bulk edit racing a delete), while
    findScene answers null for just that scene.
    """
    params = "".join(f", $id{n}: ID" for n in range(count))
    scenes = "\n".join(f"  s{n}: findScene(id: $id{n}) {{ ...PlexSyncScene }}" for n in range(count))
    return (f"query PlexSyncHookBundle($plugin: [ID!]{params}) {{\n"
            f"  configuration {{ plugins(include: $plugin) }}\n{scenes}\n}}\n" + SCENE_FIELDS)


# The single-scene form, validated against Stash's schema with the other documents.
HOOK_BUNDLE_QUERY = hook_bundle_document(1)

SETTINGS_QUERY = """
query PlexSyncSettings($plugin: [ID!]) {
  configuration { plugins(include: $plugin) }
}
"""

FIND_SCENES_QUERY = """
query PlexSyncFindScenes($filter: FindFilterType, $scene_filter: SceneFilterType) {
  findScenes(filter: $filter, scene_filter: $scene_filter) { count scenes { ...PlexSyncScene } }
}
""" + SCENE_FIELDS

# Asked by the drainer, not the hook: a scene whose file Plex lacks may have been deleted.
SCENE_EXISTS_QUERY = """
query PlexSyncSceneExists($id: ID!) { findScene(id: $id) { id } }
"""

VERSION_QUERY = """
query PlexSyncStashVersion { version { version } }
"""


class StashError(RuntimeError):
    """Stash could not be reached or refused the request."""


class StashAuthError(StashError):
    """Stash wants credentials PlexSync does not have (401, or a redirect to /login)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A 302 to /login is how Stash says "not logged in" on image paths; following it would
    # hand us a 200 HTML page that looks like success.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class StashClient:
    def __init__(self, base_url: str, *, api_key: str | None = None,
                 session_cookie: str | None = None, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.session_cookie = session_cookie or None
        self.timeout = timeout

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

    def execute(self, document: str, variables: dict | None = None) -> dict:
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
            raise StashError(f"Stash answered HTTP {exc.code} at {self.base_url}/graphql") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StashError(f"Stash is not reachable at {self.base_url}: {reason}") from None
        if payload.get("errors"):
            messages = "; ".join(e.get("message", "?") for e in payload["errors"])
            raise StashError(f"Stash GraphQL error: {messages}")
        return payload.get("data") or {}

    def plugin_settings(self) -> dict:
        data = self.execute(SETTINGS_QUERY, {"plugin": [PLUGIN_ID]})
        return _plugin_settings(data)

    def hook_bundle(self, scene_ids: list) -> tuple[dict, list]:
        """PlexSync's settings and the given scenes, in one request."""
        ids = [str(i) for i in scene_ids]
        variables = {"plugin": [PLUGIN_ID], **{f"id{n}": i for n, i in enumerate(ids)}}
        data = self.execute(hook_bundle_document(len(ids)), variables)
        scenes = [data.get(f"s{n}") for n in range(len(ids))]
        return _plugin_settings(data), [scene for scene in scenes if scene]

    def find_scenes_page(self, page: int, per_page: int,
                         updated_since: str | None = None) -> tuple[int, list]:
        """One page of scenes, oldest update first, optionally only those updated since a time."""
        variables: dict = {"filter": {"page": page, "per_page": per_page,
                                      "sort": "updated_at", "direction": "ASC"}}
        if updated_since:
            variables["scene_filter"] = {"updated_at": {"value": updated_since,
                                                        "modifier": "GREATER_THAN"}}
        result = self.execute(FIND_SCENES_QUERY, variables).get("findScenes") or {}
        return int(result.get("count") or 0), result.get("scenes") or []

    def scene_exists(self, scene_id) -> bool:
        """False once Stash has no scene with this id (deleted); raises StashError if unsure."""
        return bool(self.execute(SCENE_EXISTS_QUERY, {"id": str(scene_id)}).get("findScene"))

    def version(self) -> str:
        return ((self.execute(VERSION_QUERY).get("version") or {}).get("version")) or "unknown"

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


def _plugin_settings(data: dict) -> dict:
    plugins = (data.get("configuration") or {}).get("plugins") or {}
    return plugins.get(PLUGIN_ID) or {}
