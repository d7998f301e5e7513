"""Scene.Update.Post / Scene.Create.Post: queue the scene's new state, make sure a drainer
runs, and get out of Stash's way.

Stash waits for every hook process, one after another, with no timeout; a bulk edit of N
scenes starts N processes. So this path does one Stash request at most, one SQLite commit,
never talks to Plex, and imports nothing heavier than the standard library.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from hooks.drainer_launch import start_drainer_if_idle
from hooks.stash_api import StashClient
from sync_queue.store import QueueStore
from hooks.scene_jobs import jobs_from_scenes
from validation.config import parse_config

log = logging.getLogger(__name__)

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


def handle_scene_hook(conn: dict, context: dict, plugin_dir: Path, data_dir: Path,
                      now: float | None = None) -> str:
    """Queue the scene(s) this hook is about; returns the line Stash shows as output."""
    hook_type = context.get("type")
    scene_id = str(context.get("id"))
    hook_input = context.get("input")
    fields = context.get("inputFields")
    if hook_type not in (UPDATE_POST, CREATE_POST):
        return f"PlexSync ignores {hook_type} hooks"
    if hook_input is not None and fields is not None and not SYNCED_INPUT_FIELDS.intersection(fields):
        return f"scene {scene_id}: no synced field changed ({', '.join(sorted(fields)) or 'none'})"

    now = time.time() if now is None else now
    store = QueueStore(data_dir)
    is_bulk = isinstance(hook_input, dict) and "ids" in hook_input
    key = _job_key(hook_type, scene_id, hook_input, fields, is_bulk, now)
    if is_bulk and store.latest_job_key(scene_id) == key:
        # An earlier process of this same bulk edit already queued every scene of it.
        return f"scene {scene_id}: already queued with its bulk edit"

    scene_ids = [str(i) for i in hook_input["ids"]] if is_bulk else [scene_id]
    if scene_id not in scene_ids:
        scene_ids.append(scene_id)
    stash = StashClient.from_server_connection(conn)
    settings, scenes = stash.hook_bundle(scene_ids)
    cfg = parse_config(settings)
    if not cfg.enabled:
        return "PlexSync is disabled (setting 'enabled'); nothing queued"

    update_type = "create" if hook_type == CREATE_POST else (
        "bulk" if is_bulk else "scan" if hook_input is None else "update")
    not_before = now + NEW_SCENE_DELAY_S if hook_type == CREATE_POST else 0.0
    jobs = jobs_from_scenes(scenes, cfg.max_tags, update_type=update_type, job_key=key,
                            now=now, not_before=not_before)
    missing = sorted(set(scene_ids) - {str(s.get("id")) for s in scenes}, key=_numeric)
    if missing:
        log.warning(f"scene(s) {', '.join(missing)} no longer exist in Stash; nothing to sync")
    if jobs:
        store.enqueue(jobs)

    background_report = store.take_unreported_drain_summary()
    if background_report:
        log.info(f"background sync: {background_report}")
    if store.auth_failed_for(cfg.token_fingerprint):
        # Starting a drainer would only hear the same 401 again: say what to fix instead.
        log.warning("Plex rejected the configured plex_token; edits wait in PlexSync's queue. "
                    "Set a valid token in Settings > Plugins > PlexSync: syncing resumes with "
                    "the next edit or the Process Queue task.")
    else:
        start_drainer_if_idle(plugin_dir, data_dir, {"server_connection": conn, "settings": settings})
    if not jobs:
        return f"scene {scene_id}: nothing queued"
    return (f"queued {len(jobs)} scenes for Plex" if len(jobs) > 1
            else f"scene {scene_id}: queued for Plex")


def _job_key(hook_type: str, scene_id: str, hook_input, fields, is_bulk: bool, now: float) -> str:
    """Same for every process of one bulk edit; unique per single edit.

    The ten-minute bucket keeps a repeat of an identical bulk edit much later from being taken
    for the earlier one (Stash changes some scenes without a scene hook, e.g. deleting a tag).
    Straddling a bucket boundary only costs one more full enqueue.
    """
    basis = [hook_type, hook_input, sorted(fields or []), int(now // 600)]
    if not is_bulk:
        basis += [scene_id, time.time_ns()]
    return hashlib.sha1(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _numeric(value: str):
    return (0, int(value)) if value.isdigit() else (1, value)
