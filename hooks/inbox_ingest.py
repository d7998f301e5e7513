"""The drain side of the hook's inbox: edits noted by hooks -> queue.db jobs with snapshots.

Runs in the drainer (and the Process Queue task) while it holds the drain lock, so exactly one
process ingests. Per round: read every complete inbox file, ask Stash for the current state of
every scene named in them (one request per 100 scenes; a bulk edit of 50 is one), build the
jobs exactly as Sync All does (hooks/scene_jobs.py), commit them in ONE transaction, and only
then remove the files. A crash before the removal ingests a file twice: the older job is then
superseded, nothing is lost. A scene edited in several files gets one job, with the newest
file's kind and delay.
"""
from __future__ import annotations

import json
import logging
import time

from hooks.scene_jobs import jobs_from_scenes
from hooks.stash_api import StashClient
from sync_queue import inbox
from sync_queue.store import QueueStore
from validation.config import Config

log = logging.getLogger(__name__)


def ingest_inbox(data_dir, stash: StashClient, cfg: Config, now: float | None = None) -> int:
    """Turn every inbox file into queued jobs; returns how many jobs were committed.

    Raises StashError when Stash does not answer: the files stay for the next round.
    """
    names = inbox.pending(data_dir)
    if not names:
        return 0
    now = time.time() if now is None else now
    edits = []
    for name in names:
        edit = _read_edit(data_dir, name)
        if edit is not None:
            edits.append((name, edit))
    inbox.set_flag(data_dir, inbox.DISABLED_FLAG, not cfg.enabled)
    if not cfg.enabled:
        log.info(f"PlexSync is disabled (setting Enabled): {len(edits)} edit(s) not queued")
        _settle(data_dir, names, now)
        return 0
    newest: dict[str, dict] = {}
    for _, edit in sorted(edits, key=lambda pair: pair[1]["enqueued_at"]):
        for scene_id in edit["scene_ids"]:
            newest.pop(scene_id, None)
            newest[scene_id] = edit
    for odd in [scene_id for scene_id in newest if not scene_id.isdigit()]:
        log.warning(f"an edit named scene {odd[:40]!r}, which is no Stash scene id; ignored")
        del newest[odd]
    problems: list = []
    scenes = stash.scenes_by_id(list(newest), errors=problems) if newest else []
    for problem in problems:
        log.warning(f"Stash could not answer for a scene: {problem}")
    jobs = []
    for scene in scenes:
        edit = newest[str(scene.get("id"))]
        jobs += jobs_from_scenes([scene], cfg.max_tags, update_type=edit["update_type"],
                                 job_key=edit["name"], now=edit["enqueued_at"],
                                 not_before=edit["not_before"])
    missing = sorted(set(newest) - {str(s.get("id")) for s in scenes}, key=_numeric)
    if missing:
        log.warning(f"scene(s) {', '.join(missing)} no longer exist in Stash; nothing to sync")
    with QueueStore(data_dir) as store:
        store.enqueue(jobs)
    _settle(data_dir, names, now)
    return len(jobs)


def _read_edit(data_dir, name: str) -> dict | None:
    raw = inbox.read(data_dir, name)
    if raw is None:
        return None
    try:
        edit = json.loads(raw)
        edit = {"name": name, "scene_ids": [str(i) for i in edit["scene_ids"]],
                "update_type": str(edit["update_type"]),
                "enqueued_at": float(edit["enqueued_at"]),
                "not_before": float(edit.get("not_before") or 0.0)}
    except (ValueError, TypeError, KeyError):
        log.warning(f"inbox/{name} is not an edit PlexSync wrote; removed")
        inbox.settle(data_dir, name)
        return None
    return edit


def _settle(data_dir, names: list, now: float) -> None:
    for name in names:
        try:
            inbox.settle(data_dir, name)
        except FileNotFoundError:
            pass
    inbox.forget_old_done(data_dir, now)


def _numeric(value: str):
    return (0, int(value)) if value.isdigit() else (1, value)
