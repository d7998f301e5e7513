"""Sync now, from a scene's PlexSync panel in Stash's web UI: note the scene in the inbox and
start a drainer, exactly as a saved scene's hook does; the panel then polls ui_scene until
the result lands. Retry, Delete and Health Check reuse worker/tasks/dlq.py and health.py.
"""
from __future__ import annotations

import os
import time

from hooks.drainer_launch import start_drainer_if_idle
from hooks.lean_json import dumps
from sync_queue import inbox
from worker.tasks.env import TaskEnv, TaskError, TaskResult


def sync_now(env: TaskEnv) -> TaskResult:
    scene_id = str(env.arg("scene_id") or "")
    if not scene_id.isdigit():
        raise TaskError(f"argument 'scene_id' must be a Stash scene id; got {scene_id!r}")
    if not env.cfg.enabled:
        return TaskResult("PlexSync is turned off (setting Enabled); nothing queued",
                          {"queued": False}, ok=False)
    now = time.time()
    body = dumps({"scene_ids": [scene_id], "update_type": "update", "enqueued_at": now,
                  "not_before": 0.0}).encode()
    inbox.write_edit(env.data_dir, f"{time.time_ns():020d}-{os.getpid()}-{scene_id}.json", body)
    started = start_drainer_if_idle(env.plugin_dir, env.data_dir, env.drainer_payload())
    how = "a background sync started" if started else "the running background sync takes it"
    return TaskResult(f"Sync now: scene {scene_id} queued for Plex; {how}",
                      {"queued": True, "scene_id": scene_id, "drainer_started": started})
