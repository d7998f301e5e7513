"""Scene.Update.Post / Scene.Create.Post: note which scenes changed, make sure a drainer runs,
and get out of Stash's way.

Stash waits for every hook process, one after another, with no timeout; a bulk edit of N
scenes starts N processes, each given the whole bulk input. So in steady state this path sends
NO request to Stash and opens no database: it writes one small inbox file (sync_queue/inbox.py),
shows the last drain's summary if one waits (a plain file, sync_queue/notes.py), answers, and
then, if no drainer runs or is starting, starts one (hooks/drainer_launch.py). The drainer asks Stash for the
scenes' current state (newest edit wins) and for PlexSync's settings. Only when the drain side
left a flag saying the settings matter here (PlexSync disabled, the Plex token rejected, the
settings invalid) does the hook fetch them: one request, and only until the flag clears.

Imports: os, time, _sha1 and our own lean modules only (tests/stash/test_hook_path_imports.py).
"""
import os
import time

from hooks.drainer_launch import start_drainer_if_idle
from hooks.lean_json import dumps
from sync_queue import inbox
from sync_queue.notes import NOTES_FILE, SUMMARY_FILE, leave_note, take_notes, take_summary

UPDATE_POST = "Scene.Update.Post"
CREATE_POST = "Scene.Create.Post"

# SceneUpdateInput / BulkSceneUpdateInput keys that change something Plex shows. An edit that
# sets only others (organized, rating100, o_counter, resume_time, play counts...) is skipped
# without asking Stash anything.
SYNCED_INPUT_FIELDS = frozenset({
    "title", "details", "date", "studio_id", "performer_ids", "tag_ids", "groups", "group_ids",
    "movies", "movie_ids", "cover_image", "primary_file_id",
})

# No fixed wait for a new scene: the drainer asks Plex to scan its folder at once and then
# polls on a short schedule (worker.backoff.AFTER_SCAN). Tests may still set a delay.
NEW_SCENE_DELAY_S = float(os.environ.get("PLEXSYNC_NEW_SCENE_DELAY", "0"))

# Flags after which the hook must see PlexSync's settings before it decides anything.
SETTINGS_FLAGS = (inbox.DISABLED_FLAG, inbox.AUTH_FLAG, inbox.SETTINGS_FLAG)


def _stderr_log(level: str, message: str) -> None:
    import sys
    sys.stderr.write(f"\x01{level[0]}\x02{message}\n")
    sys.stderr.flush()


def run_hook(conn: dict, args: dict, plugin_dir, data_dir, after_answer: list) -> str:
    """PlexSync.ROUTES' hook route (Stash's args carry the hook's context). The drainer is started
    after Stash has the answer, with stdout and stderr let go: a child slow to get a CPU on a
    busy box then cannot keep Stash waiting for the end of those pipes."""
    def start_after_answer(*launch) -> None:
        after_answer.append(lambda: _start_drainer(*launch))
    return handle_scene_hook(conn, args["hookContext"] or {}, plugin_dir, data_dir,
                             start_drainer=start_after_answer)


def _start_drainer(plugin_dir, data_dir, payload) -> None:
    try:
        start_drainer_if_idle(plugin_dir, data_dir, payload)
    except OSError as exc:  # the edit is queued; Stash's log is no longer ours to write to
        leave_note(data_dir, f"could not start the background sync ({exc}); the edits wait in "
                   "PlexSync's queue until the next save or the Process Queue task")


def handle_scene_hook(conn: dict, context: dict, plugin_dir, data_dir, now: float | None = None,
                      say=_stderr_log, start_drainer=start_drainer_if_idle) -> str:
    """Queue the scene(s) this hook is about; returns the line Stash shows as output.

    say(level, message) writes one line to Stash's log ("info", "warning", "error");
    start_drainer(plugin_dir, data_dir, payload) starts a drainer unless one runs.
    """
    hook_type = context.get("type")
    scene_id = str(context.get("id"))
    hook_input = context.get("input")
    fields = context.get("inputFields")
    if hook_type not in (UPDATE_POST, CREATE_POST):
        return f"PlexSync ignores {hook_type} hooks"
    if hook_input is not None and fields is not None and not SYNCED_INPUT_FIELDS.intersection(fields):
        return f"scene {scene_id}: no synced field changed ({', '.join(sorted(fields)) or 'none'})"

    now = time.time() if now is None else now
    is_bulk = isinstance(hook_input, dict) and isinstance(hook_input.get("ids"), list)
    name = f"{inbox.BULK_PREFIX}{_bulk_key(hook_type, hook_input, fields, now)}.json" \
        if is_bulk else f"{time.time_ns():020d}-{os.getpid()}-{scene_id if scene_id.isdigit() else 'x'}.json"
    if is_bulk and inbox.already_noted(data_dir, name):
        # An earlier process of this same bulk edit already noted every scene of it.
        return f"scene {scene_id}: already queued with its bulk edit"
    flags = _flags(data_dir)
    settings_check = _SettingsCheck(conn, data_dir) if flags & set(SETTINGS_FLAGS) else None
    if settings_check is not None and settings_check.disabled():
        return "PlexSync is turned off (setting Enabled); nothing queued"

    scene_ids = [str(i) for i in hook_input["ids"]] if is_bulk else [scene_id]
    if scene_id not in scene_ids:
        scene_ids.append(scene_id)
    update_type = "create" if hook_type == CREATE_POST else (
        "bulk" if is_bulk else "scan" if hook_input is None else "update")
    not_before = now + NEW_SCENE_DELAY_S if hook_type == CREATE_POST else 0.0
    body = dumps({"scene_ids": scene_ids, "update_type": update_type, "enqueued_at": now,
                  "not_before": not_before}).encode()
    if not inbox.write_edit(data_dir, name, body, once=is_bulk):
        return f"scene {scene_id}: already queued with its bulk edit"  # lost the race to link

    if SUMMARY_FILE in flags:  # the last drain's line: a rename, a read, an unlink
        summary = take_summary(data_dir)
        if summary:
            say("info", f"background sync: {summary}")
    if NOTES_FILE in flags:  # a repaired file, a drainer that died at start
        for note in take_notes(data_dir):
            say("warning", note)
    if settings_check is not None:
        settings_check.raise_if_invalid()  # the edit is kept; the user reads what to fix
        if settings_check.token_rejected():
            # Starting a drainer would only hear the same 401 again: say what to fix instead.
            say("warning", "Plex rejected the configured Plex token; edits wait in PlexSync's "
                "queue. Set a valid token in Settings > Plugins > PlexSync: syncing resumes "
                "with the next edit or the Process Queue task.")
            return _queued_line(scene_id, scene_ids)
    start_drainer(plugin_dir, data_dir, {"server_connection": conn})
    return _queued_line(scene_id, scene_ids)


def _queued_line(scene_id: str, scene_ids: list) -> str:
    return (f"queued {len(scene_ids)} scenes for Plex" if len(scene_ids) > 1
            else f"scene {scene_id}: queued for Plex")


def _flags(data_dir) -> set:
    try:
        return set(os.listdir(os.fspath(data_dir)))
    except FileNotFoundError:
        return set()


def _bulk_key(hook_type: str, hook_input, fields, now: float) -> str:
    """The same for every process of one bulk edit (they all get the whole input).

    The ten-minute bucket keeps a repeat of an identical bulk edit much later from being taken
    for the earlier one (Stash changes some scenes without a scene hook, e.g. deleting a tag).
    Straddling a bucket boundary only costs one more inbox file.
    """
    try:
        from _sha1 import sha1  # the builtin module: hashlib would load OpenSSL (~2 ms)
    except ImportError:  # a Python built without the builtin hashes
        from hashlib import sha1
    basis = dumps([hook_type, hook_input, sorted(fields or []), int(now // 600)])
    return sha1(basis.encode()).hexdigest()[:20]


class _SettingsCheck:
    """PlexSync's settings, fetched (one request) only because a drain-side flag asks for it."""

    def __init__(self, conn: dict, data_dir):
        from hooks.stash_api import StashClient
        from validation.config import ConfigError, parse_config
        self.data_dir = data_dir
        self.error = None
        self.cfg = None
        from hooks.stash_api import StashError
        from hooks.stash_version import remember_version
        try:
            client = remember_version(StashClient.from_server_connection(conn), data_dir, ask=False)
            settings = client.plugin_settings()
        except StashError:  # keep the edit; the drainer reads the settings when Stash answers
            return
        try:
            self.cfg = parse_config(settings)
        except ConfigError as exc:
            self.error = exc
            return
        inbox.set_flag(data_dir, inbox.SETTINGS_FLAG, False)
        inbox.set_flag(data_dir, inbox.DISABLED_FLAG, not self.cfg.enabled)

    def disabled(self) -> bool:
        return self.cfg is not None and not self.cfg.enabled

    def raise_if_invalid(self) -> None:
        if self.error is not None:
            raise self.error

    def token_rejected(self) -> bool:
        if self.cfg is None or not inbox.flag_set(self.data_dir, inbox.AUTH_FLAG):
            return False
        from sync_queue.store import QueueStore
        with QueueStore(self.data_dir) as store:
            return store.auth_failed_for(self.cfg.token_fingerprint)
