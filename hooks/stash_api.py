"""Every GraphQL document PlexSync sends to Stash, and the small client that sends them.

Stdlib only (urllib, imported when a request is made): the hook's rare paths use this module,
where stashapp-tools' StashInterface() would cost three queries, one a full schema
introspection (~0.6 s), before the first real one.

Stash versions: every document is written for the newest Stash and valid from v0.24.0
(MINIMUM_STASH) on after adapt_document(); the client learns its Stash's version once (asked
with VERSION_QUERY and remembered in the data folder, see stash_version.py) or on the first
validation error, never with an extra request per hook. A document that exists only in newer
Stash versions is listed in DOCUMENT_MIN_STASH. Module constants ending in _QUERY or _MUTATION,
plus documents_for_tests(), are validated against every Stash schema by the tests.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

from validation.config import PLUGIN_ID

MINIMUM_STASH = (0, 24, 0)
GROUPS_SINCE = (0, 27, 0)           # Scene.groups; before: Scene.movies { movie scene_index }
PLUGIN_INCLUDE_IDS_SINCE = (0, 25, 0)  # configuration.plugins(include: [ID!]); v0.24: [String!]
# Documents only some supported Stash versions have: constant name -> first version with it.
DOCUMENT_MIN_STASH: dict[str, tuple[int, int, int]] = {}

GROUPS_SELECTION = "groups { group { name } scene_index }"
MOVIES_SELECTION = "movies { movie { name } scene_index }"

SCENE_FIELDS = """
fragment PlexSyncScene on Scene {
  id title code details director urls date updated_at
  studio { name parent_studio { name } }
  performers { name image_path }
  tags { name }
  """ + GROUPS_SELECTION + """
  files { path }
  paths { screenshot }
}
"""


def adapt_document(document: str, version: tuple | None) -> str:
    """The document as the Stash of `version` accepts it (None: the newest form)."""
    if version is None:
        return document
    if version < GROUPS_SINCE:
        document = document.replace(GROUPS_SELECTION, MOVIES_SELECTION)
    if version < PLUGIN_INCLUDE_IDS_SINCE:
        document = document.replace("$plugin: [ID!]", "$plugin: [String!]")
    return document


def scenes_document(count: int, with_settings: bool = False) -> str:
    """`count` scenes (and optionally PlexSync's settings) in ONE round trip.

    One aliased findScene per id rather than findScenes(ids:), because Stash fails the whole
    findScenes query when one id no longer exists (an edit racing a delete), while findScene
    answers null for just that scene.
    """
    params = "".join(f", $id{n}: ID" for n in range(count))
    scenes = "\n".join(f"  s{n}: findScene(id: $id{n}) {{ ...PlexSyncScene }}" for n in range(count))
    if with_settings:
        return (f"query PlexSyncHookBundle($plugin: [ID!]{params}) {{\n"
                f"  configuration {{ plugins(include: $plugin) }}\n{scenes}\n}}\n" + SCENE_FIELDS)
    return f"query PlexSyncScenes({params[2:]}) {{\n{scenes}\n}}\n" + SCENE_FIELDS


def hook_bundle_document(count: int) -> str:
    """Settings plus `count` scenes in one request (process_queue.py and the benches)."""
    return scenes_document(count, with_settings=True)


# The single-scene forms, validated against Stash's schemas with the other documents.
HOOK_BUNDLE_QUERY = hook_bundle_document(1)
SCENES_QUERY = scenes_document(1)

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

# ---- Plex -> Stash: plays, resume points, ratings (worker/tasks/import_plays.py) -----------
# Not on the hook path; none of these writes queues a Plex sync: sceneAddPlay and
# sceneSaveActivity fire no hook, and sceneUpdate(rating100) touches no synced input field.
PLAY_STATE_FIELDS = "id play_count play_history last_played_at resume_time rating100"
# Stash before v0.25 has no play_history (and no sceneAddPlay): the legacy variant.
LEGACY_PLAY_STATE_FIELDS = "id play_count last_played_at resume_time rating100"
ADD_PLAY_SINCE = (0, 25)


def play_state_document(count: int, legacy: bool = False) -> str:
    """`count` scenes' play state in one request (aliased findScene: a deleted scene is null)."""
    fields = LEGACY_PLAY_STATE_FIELDS if legacy else PLAY_STATE_FIELDS
    params = ", ".join(f"$id{n}: ID" for n in range(count))
    scenes = "\n".join(f"  s{n}: findScene(id: $id{n}) {{ {fields} }}" for n in range(count))
    return f"query PlexSyncPlayState({params}) {{\n{scenes}\n}}\n"


PLAY_STATE_QUERY = play_state_document(1)

def add_plays_document(count: int) -> str:
    """Plays for `count` scenes in one request (aliased; Stash runs them one after another)."""
    params = ", ".join(f"$id{n}: ID!, $times{n}: [Timestamp!]" for n in range(count))
    calls = "\n".join(f"  p{n}: sceneAddPlay(id: $id{n}, times: $times{n}) {{ count }}"
                      for n in range(count))
    return f"mutation PlexSyncAddPlays({params}) {{\n{calls}\n}}\n"


SCENE_ADD_PLAY_MUTATION = add_plays_document(1)

SCENE_SAVE_RESUME_MUTATION = """
mutation PlexSyncSaveResume($id: ID!, $resume_time: Float) {
  sceneSaveActivity(id: $id, resume_time: $resume_time)
}
"""

SCENE_RATING_MUTATION = """
mutation PlexSyncSetRating($input: SceneUpdateInput!) {
  sceneUpdate(input: $input) { id rating100 }
}
"""

# play_history and sceneAddPlay exist from v0.25; older Stash gets the legacy variants.
DOCUMENT_MIN_STASH.update(PLAY_STATE_QUERY=(0, 25, 0), SCENE_ADD_PLAY_MUTATION=(0, 25, 0))

# Stash v0.24 only (deprecated from v0.25, so not a *_MUTATION: the conformance tests check
# documents against the newest Stash; tests/test_play_import.py checks it against v0.24.3).
LEGACY_INCREMENT_PLAY_DOCUMENT = """
mutation PlexSyncIncrementPlays($id: ID!) { sceneIncrementPlayCount(id: $id) }
"""


def stash_version_tuple(version: str) -> tuple[int, ...]:
    """'v0.30.1-19-gcf3489efd' -> (0, 30, 1); () when unreadable (treated as newest)."""
    core = version.lstrip("v").split("-", 1)[0]
    try:
        return tuple(int(part) for part in core.split("."))
    except ValueError:
        return ()


def has_add_play(version: str) -> bool:
    parsed = stash_version_tuple(version)
    return not parsed or parsed >= ADD_PLAY_SINCE


def documents_for_tests() -> dict[str, str]:
    """Generated documents the schema tests check besides the module constants."""
    return {**{f"scenes_document({n}, {w})": scenes_document(n, w)
                for n in (1, 2, 50) for w in (False, True)},
            "play_state_document(2, legacy=True)": play_state_document(2, legacy=True)}


class StashError(RuntimeError):
    """Stash could not be reached or refused the request."""


class StashAuthError(StashError):
    """Stash wants credentials PlexSync does not have (401, or a redirect to /login)."""


class StashRejected(StashError):
    """Stash refused the document itself (gqlgen: HTTP 422, errors[].message say why)."""


class StashTooOld(StashError):
    """This Stash is older than the oldest version PlexSync supports."""


def parse_version(text: str | None) -> tuple[int, int, int] | None:
    """(0, 30, 1) from 'v0.30.1-19-gcf3489efd'; None when Stash reports no release number."""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", (text or "").strip())
    return (int(match[1]), int(match[2]), int(match[3] or 0)) if match else None


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

    def hook_bundle(self, scene_ids: list) -> tuple[dict, list]:
        """PlexSync's settings and the given scenes, in one request."""
        ids = [str(i) for i in scene_ids]
        variables = {"plugin": [PLUGIN_ID], **{f"id{n}": i for n, i in enumerate(ids)}}
        data = self.execute(hook_bundle_document(len(ids)), variables)
        scenes = [data.get(f"s{n}") for n in range(len(ids))]
        return _plugin_settings(data), [_groups_form(scene) for scene in scenes if scene]

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
