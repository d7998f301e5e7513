"""Sync All / Sync Recent: queue scenes, then drain.

Sync All makes Plex match Stash: it queues every scene (dead letters with an unchanged state
aside), including those whose sync record matches Stash, because Plex may have drifted since
(a restored Plex database, a metadata refresh, a person's edit). That costs little: the drain
reloads their items in batches (plex.batch_reads), PUTs only what differs, and does not
download a cover fetched after the scene's last change (plex.cover_freshness).
Sync Recent queues the scenes updated in its window that changed since their last sync
(Stash's updated_at differs from the record's, or the scene was never synced). Pages are queued as they are read (one transaction per page), so a
10,000-scene library neither waits for the whole read nor holds it in memory, and a stop
between pages keeps what was queued. Progress: reading Stash 0..30 %, syncing 30..100 %.
"""
from __future__ import annotations

import hashlib
import time

from hooks.scene_jobs import jobs_from_scenes
from sync_queue.store import QueueStore
from worker.tasks import formatting as fmt
from worker.tasks.drain import drain_queue, drain_rows, headline, report_data
from worker.tasks.env import TaskEnv, TaskResult
from worker.tasks.scenes import Selection, changed_pages, hours_arg, window_start

PAGING_SHARE = 0.3


def sync_all(env: TaskEnv) -> TaskResult:
    return _sync(env, "Sync All", None)


def sync_recent(env: TaskEnv) -> TaskResult:
    hours = hours_arg(env)
    return _sync(env, f"Sync Recent ({hours:g} h)", window_start(hours))


def _sync(env: TaskEnv, name: str, since: float | None) -> TaskResult:
    selection = queue_changed(env, since, include_in_sync=since is None)
    report = drain_queue(env, PAGING_SHARE, 1.0)
    rows = [("scenes", _scene_line(selection, since))] + drain_rows(report)
    data = {"scenes": selection.as_dict(), **report_data(report)}
    return TaskResult(fmt.table(headline(name, report), rows), data, report.ok)


def queue_changed(env: TaskEnv, since: float | None, *,
                  include_in_sync: bool = False) -> Selection:
    """Read Stash page by page and queue the scenes that changed (and, with include_in_sync,
    those in sync too, to check them against Plex); returns the counts."""
    selection = Selection()
    now = time.time()
    # One key for the whole run: a run is one "edit" to the queue, like one bulk edit.
    key = hashlib.sha1(f"sync_all {time.time_ns()}".encode()).hexdigest()[:16]
    with QueueStore(env.data_dir) as store:
        for pairs in changed_pages(env, selection, since, 0.0, PAGING_SHARE,
                                   include_in_sync=include_in_sync):
            jobs = jobs_from_scenes([scene for scene, _ in pairs], env.cfg.max_tags,
                                    update_type="sync_all", job_key=key, now=now)
            selection.queued += store.enqueue(jobs)
    return selection


def _scene_line(selection: Selection, since: float | None) -> str:
    if since is None:
        text = (f"{selection.seen} in Stash: {selection.queued} queued ({selection.changed} "
                f"changed since their last sync, {selection.in_sync} unchanged in Stash, "
                "checked against Plex)")
    else:
        text = (f"{selection.seen} updated since {fmt.when(since)}: {selection.queued} queued "
                f"(changed since their last sync), {selection.in_sync} already in sync")
    if selection.dead:
        text += (f", {selection.dead} failed before and unchanged since "
                 "(run Retry Failed Syncs to try them again)")
    return text
