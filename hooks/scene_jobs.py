"""Stash scenes -> queue jobs: the ONE place a job dict is built (hook, Sync All, Sync Recent).

Stdlib only: the hook imports it. Keeping construction in one function means a job queued by
a Sync All task is indistinguishable from one queued by an edit, so the drain treats both the
same (newest wins, same validation, same retries).
"""
from __future__ import annotations

import logging

from validation.scene import snapshot_from_stash

log = logging.getLogger(__name__)


def jobs_from_scenes(scenes: list, max_tags: int, *, update_type: str, job_key: str,
                     now: float, not_before: float = 0.0) -> list[dict]:
    """One job per Stash scene (sanitised snapshot); every sanitiser warning is logged."""
    jobs = []
    for scene in scenes:
        snapshot, warnings = snapshot_from_stash(scene, max_tags)
        for warning in warnings:
            log.warning(warning)
        jobs.append({"scene_id": int(snapshot["id"]), "update_type": update_type,
                     "data": snapshot, "enqueued_at": now, "job_key": job_key,
                     "attempts": 0, "not_before": not_before})
    return jobs
