"""A loopback Stash (v0.30.1) for PlexSync's tests: GraphQL, image routes, auth, plugin hooks.

Threaded on purpose: Stash runs a plugin's hooks while the mutation that fired them is still
open, and the hook calls back into Stash; a single-threaded server would deadlock there.

    with StashEmulator(api_key="k") as stash:
        scene_id = stash.add_scene("Title", tags=["a"], files=["/media/a.mp4"])
        stash.hook_sink = lambda hook_type, scene_id, input, input_fields: ...

Auth is Stash's: no credentials configured = open. Otherwise a request needs a valid
`session` cookie (create_session()), an `ApiKey` header or an `apikey` query parameter.
Without them /graphql answers 401 and image routes redirect (302) to /login, a 200 HTML page:
python-requests follows that redirect and sees "200 OK" with a web page instead of an image.
A wrong API key is a 401 everywhere, even on an open server (Stash compares it with an empty
configured key). Data rules (timestamps, sorting, id lookups) are documented in stash_state.
"""
from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import traceback
import urllib.parse
import urllib.request
from datetime import timezone
from typing import Callable, NamedTuple

from tests.emulators.stash_http import GraphQLRequest, HttpRequest, StashHTTPServer
from tests.emulators.stash_state import StashState

HookSink = Callable[[str, int, "dict | None", "list[str] | None"], None]

class HookCall(NamedTuple):
    hook_type: str
    scene_id: int
    input: dict | None
    input_fields: list | None


class StashEmulator:
    """api_key and/or username+password configure credentials (an API key alone implies user
    "stash" with a random password); none = an open Stash. tz is the zone Stash writes its
    timestamps in; clock() gives epoch seconds (default time.time)."""

    def __init__(self, api_key: str | None = None, username: str | None = None,
                 password: str | None = None, *, tz=timezone.utc, clock=None,
                 version: str = "v0.30.1", validation_schema=None, validation_status: int = 422):
        self.api_key = api_key
        self.username = username if username is not None else ("stash" if api_key else None)
        self.password = password if password is not None else secrets.token_hex(8)
        self.auth_required = self.username is not None
        self.state = StashState(tz, clock)
        self.version = {"version": version, "hash": "b23b026", "build_time": "2025-12-18 03:57:33"}
        # An older Stash: documents are validated against its real schema (a GraphQLSchema
        # built from ../shared/stash-schema/<version>) and answered from the emulator's data.
        self.validation_schema = validation_schema
        self.validation_status = validation_status  # a refused document: 422 (gqlgen) or 400
        self.hook_sink: HookSink | None = None
        self.hook_log: list[HookCall] = []
        self.hook_errors: list[str] = []
        self.graphql_log: list[GraphQLRequest] = []
        self.http_log: list[HttpRequest] = []
        self._sessions: set[str] = set()
        self._log_lock = threading.Lock()
        self._server: StashHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> "StashEmulator":
        self._server = StashHTTPServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="stash-emulator",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._thread.join(timeout=5)
            self._server = None

    def down(self) -> None:
        """Stash goes away (restart, crash): connections are refused until up()."""
        self._down_port = self.port
        self.stop()

    def up(self) -> None:
        """Listen again on the same port, with the same state."""
        self.gone = False
        self._server = StashHTTPServer(self, self._down_port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="stash-emulator",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def after_answering(self, operation: str, fault: str) -> None:
        """Fault mid-drain: once the next `operation` (e.g. "PlexSyncScenes", the drainer
        reading the edited scenes) has its answer, Stash goes "down" (a restart) or its login
        sessions "expire" — after the drainer read what it syncs, before it fetches covers."""
        self._after_answer = (operation, fault)

    def hold_answers(self) -> threading.Event:
        """From now until the returned Event is set, every GraphQL request waits unanswered
        (a held response): what a process does while its request to Stash is in flight, e.g.
        a drainer that is still starting, is then decided by the test and not by timing."""
        self.answers_released = threading.Event()
        return self.answers_released

    def wait_for_answer_release(self) -> None:
        released = getattr(self, "answers_released", None)
        if released is not None:
            released.wait(120)

    def answered(self, operation: str | None) -> None:
        pending = getattr(self, "_after_answer", None)
        if not pending or operation != pending[0]:
            return
        self._after_answer = None
        if pending[1] == "expire":
            self.expire_sessions()
        else:  # gone at once (later requests get no answer); the port closes from another
            self.gone = True  # thread, since stopping waits for this handler's server loop
            threading.Thread(target=self.down, daemon=True).start()

    def __enter__(self) -> "StashEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- auth -----------------------------------------------------------------------------

    def create_session(self) -> str:
        """A valid `session` cookie value, as a login (or Stash starting a plugin) creates."""
        token = secrets.token_urlsafe(24)
        self._sessions.add(token)
        return token

    def expire_sessions(self) -> None:
        """Every login session ends, as Stash's do after max_session_age (1 h by default)."""
        self._sessions.clear()

    def authenticate(self, headers, query: dict) -> tuple[str, bool]:
        """(how the request identified itself, whether it may proceed) - Stash's SessionStore."""
        key = headers.get("ApiKey") or (query.get("apikey") or [""])[0]
        if key:
            if key != (self.api_key or ""):
                return "bad_api_key", False
            return ("api_key_header" if headers.get("ApiKey") else "api_key_param"), True
        cookie = re.search(r"(?:^|;\s*)session=([^;]+)", headers.get("Cookie") or "")
        if cookie and cookie.group(1).strip('"') in self._sessions:
            return "session", True
        return ("anonymous", False) if self.auth_required else ("open", True)

    def login(self, form_body: bytes) -> str | None:
        """POST /login: a new session for the right username and password, else None."""
        form = urllib.parse.parse_qs(form_body.decode("utf-8", "replace"))
        if self.auth_required and form.get("username", [""])[0] == self.username \
                and form.get("password", [""])[0] == self.password:
            return self.create_session()
        return None

    # ---- hooks ----------------------------------------------------------------------------

    def fire_hook(self, hook_type: str, scene_id: int, hook_input, input_fields) -> None:
        """Run the plugin hook synchronously, as Stash does before answering the mutation."""
        self.hook_log.append(HookCall(hook_type, scene_id, copy.deepcopy(hook_input), input_fields))
        if self.hook_sink is None:
            return
        try:
            self.hook_sink(hook_type, scene_id, hook_input, input_fields)
        except Exception:  # Stash logs a failing hook and still answers the mutation
            self.hook_errors.append(traceback.format_exc())

    def scan_new_scene(self, **fields) -> int:
        """A scan finds a new file: the scene appears and Scene.Create.Post fires (input null)."""
        scene_id = self.add_scene(**fields)
        self.fire_hook("Scene.Create.Post", scene_id, None, None)
        return scene_id

    def rescan_scene(self, scene_id: int, **changes) -> None:
        """A scan updates a scene (e.g. its files): Scene.Update.Post fires with a null input."""
        with self.state.lock:
            self.state.apply_fields(scene_id, changes)
        self.fire_hook("Scene.Update.Post", scene_id, None, None)

    # ---- data helpers (no hooks) --------------------------------------------------------------

    def add_scene(self, title: str = "", **fields) -> int:
        """Fields: code details director urls date rating100 organized; studio / performers / tags
        / groups as names (created when missing) or ids, groups also as (name_or_id, index);
        files as paths or dicts (path, size, duration, width, height); cover bytes;
        created_at / updated_at as Stash strings."""
        with self.state.lock:
            return self.state.add_scene({"title": title, **fields})

    def add_tag(self, name: str) -> int:
        with self.state.lock:
            return self.state.get_or_create("tag", name)

    def add_performer(self, name: str, image: bytes | None = None, disambiguation: str | None = None) -> int:
        with self.state.lock:
            return self.state.get_or_create("performer", name, image=image, disambiguation=disambiguation)

    def add_studio(self, name: str, parent: int | str | None = None) -> int:
        with self.state.lock:
            parent_id = None if parent is None else self.state.get_or_create("studio", parent)
            return self.state.get_or_create("studio", name, parent_id=parent_id)

    def add_group(self, name: str) -> int:
        with self.state.lock:
            return self.state.get_or_create("group", name)

    def edit_scene(self, scene_id: int, touch: bool = True, **changes) -> None:
        """Change a scene behind PlexSync's back (no hook); add_scene's field names."""
        with self.state.lock:
            self.state.apply_fields(scene_id, changes, touch=touch)

    def set_cover(self, scene_id: int, image: bytes | None, touch: bool = True) -> None:
        self.edit_scene(scene_id, touch=touch, cover=image)

    def generate_cover(self, scene_id: int, image: bytes) -> None:
        """What Stash's Generate > Covers job does to a scene without a cover (measured on the
        real v0.30.1): the cover is stored and updated_at moves; no hook fires."""
        self.edit_scene(scene_id, touch=True, cover=image)

    def set_performer_image(self, performer_id: int, image: bytes | None) -> None:
        with self.state.lock:
            performer = self.state.performers[performer_id]
            performer.update(image=image, updated_at=self.state.timestamp())

    def delete_scene(self, scene_id: int) -> None:
        with self.state.lock:
            del self.state.scenes[scene_id]

    def scene(self, scene_id: int) -> dict | None:
        """A copy of the stored scene plus names: studio, parent_studio, performers, tags
        (Stash's order), group_names [(name, index)]. None once deleted."""
        with self.state.lock:
            stored = self.state.scenes.get(scene_id)
            if stored is None:
                return None
            out, state = copy.deepcopy(stored), self.state
            studio = state.studios.get(out["studio_id"]) if out["studio_id"] else None
            parent = state.studios.get(studio.get("parent_id")) if studio else None
            out.update(studio=studio and studio["name"], parent_studio=parent and parent["name"],
                       performers=[state.performers[p]["name"] for p in out["performer_ids"]],
                       tags=sorted((state.tags[t]["name"] for t in out["tag_ids"]), key=str.casefold),
                       group_names=[(state.groups[g]["name"], i) for g, i in out["groups"]])
            return out

    def set_plugin_settings(self, plugin_id: str, settings: dict) -> None:
        """Overwrite a plugin's settings as Stash's UI does (configurePlugin); {} = never set."""
        with self.state.lock:
            self.state.configure_plugin(plugin_id, settings)

    def plugin_settings(self, plugin_id: str) -> dict:
        with self.state.lock:
            return copy.deepcopy(self.state.plugin_settings.get(plugin_id) or {})

    def set_job_queue(self, jobs: list[dict]) -> None:
        """Simulate running jobs (e.g. [{"description": "Scanning...", "progress": 0.4}])."""
        with self.state.lock:
            self.state.set_jobs(jobs)

    def timestamp(self, epoch: float | None = None) -> str:
        """A time (default: now) as this Stash writes it, e.g. for a TimestampCriterionInput."""
        with self.state.lock:
            return self.state.timestamp(epoch)

    def advance_time(self, seconds: float) -> None:
        """Move the emulator's clock on (timestamps have whole-second precision, like Stash's)."""
        with self.state.lock:
            self.state.clock_offset += seconds

    # ---- request log --------------------------------------------------------------------------

    def graphql_requests(self, contains: str | None = None,
                         operation_name: str | None = None) -> list[GraphQLRequest]:
        with self._log_lock:
            return [r for r in self.graphql_log if (contains is None or contains in r.query)
                    and (operation_name is None or r.operation_name == operation_name)]

    def record(self, entry: GraphQLRequest | HttpRequest) -> None:
        with self._log_lock:
            (self.graphql_log if isinstance(entry, GraphQLRequest) else self.http_log).append(entry)

    def clear_logs(self) -> None:
        with self._log_lock:
            self.graphql_log.clear()
            self.http_log.clear()
            self.hook_log.clear()

    def graphql(self, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
        """POST a document to this emulator over HTTP (with its API key, if any); the JSON answer."""
        auth = {"ApiKey": self.api_key} if self.api_key else {}
        request = urllib.request.Request(
            f"{self.url}/graphql", method="POST",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json", **auth, **(headers or {})})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
