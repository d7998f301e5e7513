"""Page through Stash's scenes and pick those that changed since PlexSync last synced them.

Shared by Sync All, Sync Recent and Dry Run, so a dry run previews exactly the scenes a sync
would queue. One page at a time (records looked up per page, nothing kept across pages), so
10,000 scenes cost the memory of one page.

Paging is sorted by updated_at: queueing a scene does not change it in Stash, so pages stay
stable. A scene edited while we page moves to the end and can shift one other scene across a
page boundary; both are queued anyway by the hook that the edit fired.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Iterator

from sync_queue.dlq import DeadLetters
from sync_queue.records import SyncRecords
from sync_queue.store import connect, scene_key
from worker.tasks.env import TaskEnv, hours_value

PAGE_SIZE = 250
# Stash compares updated_at criteria as text in its own time zone, which we do not know; ask
# for a day more (every zone is within 14 h of UTC) and compare exact instants here.
ZONE_MARGIN_S = 86400.0


@dataclass
class Selection:
    total: int = 0      # scenes Stash counted for the query
    seen: int = 0       # scenes read (inside the time window, for Sync Recent)
    changed: int = 0    # updated in Stash since their last sync (or never synced), or a
                        # cover still owed (Stash did not serve it then)
    in_sync: int = 0    # same updated_at as their sync record: nothing to do
    dead: int = 0       # dead-lettered with this very state: left for Retry Dead Letters
    queued: int = 0     # filled in by the caller

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stash_epoch(value) -> float | None:
    """Stash's RFC3339 updated_at as epoch seconds; None if unreadable."""
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def changed_pages(env: TaskEnv, selection: Selection, since: float | None = None,
                  start: float = 0.0, end: float = 1.0,
                  label: str = "reading scenes from Stash", *,
                  include_in_sync: bool = False) -> Iterator[list[tuple[dict, dict | None]]]:
    """Per page, the (Stash scene, sync record or None) pairs that need syncing.

    since: only scenes updated after this epoch (Sync Recent). include_in_sync: also the
    scenes whose record matches Stash (Sync All checks them against Plex, which may have
    drifted; they are still counted as in_sync). Stops between pages when env.stop is set;
    progress over [start, end] by scenes read.
    """
    env.reporter.phase(label, start, end)
    query_since = None if since is None else rfc3339(since - ZONE_MARGIN_S)
    conn = connect(env.data_dir)
    try:
        records = SyncRecords(conn)
        dead_states = _dead_letter_states(DeadLetters(conn))
        page, read = 1, 0
        while not env.stop.is_set():
            count, scenes = env.stash.find_scenes_page(page, PAGE_SIZE, query_since)
            selection.total = count
            read += len(scenes)
            if since is not None:  # an unreadable timestamp counts as recent: better synced
                scenes = [s for s in scenes if (stash_epoch(s.get("updated_at")) or since + 1) > since]
            yield _select(scenes, records, dead_states, selection, include_in_sync)
            env.reporter.update(read, count)
            if read >= count or page * PAGE_SIZE >= count:
                break
            page += 1
    finally:
        conn.close()


def _select(scenes: list, records: SyncRecords, dead_states: dict, selection: Selection,
            include_in_sync: bool = False) -> list[tuple[dict, dict | None]]:
    known = records.get_many([s.get("id") for s in scenes])
    chosen = []
    for scene in scenes:
        key, updated = scene_key(scene.get("id")), str(scene.get("updated_at") or "")
        record = known.get(key)
        selection.seen += 1
        if record is not None and record.get("stash_updated_at") == updated \
                and not record.get("cover_owed"):  # a cover still owed is not in sync
            selection.in_sync += 1
            if include_in_sync:
                chosen.append((scene, record))
        elif dead_states.get(key) == updated:
            selection.dead += 1
        else:
            selection.changed += 1
            chosen.append((scene, record))
    return chosen


def _dead_letter_states(dead: DeadLetters) -> dict[str, str]:
    """scene id -> the Stash updated_at its dead-lettered job carried (retention bounds it)."""
    states = {}
    for entry in dead.list():
        data = entry.job.get("data") if isinstance(entry.job, dict) else None
        if isinstance(data, dict):
            states.setdefault(scene_key(entry.scene_id), str(data.get("updated_at") or ""))
    return states


def hours_arg(env: TaskEnv, default: float = 24.0) -> float:
    """The Sync Recent window; Stash passes task args as strings."""
    return hours_value(env.arg("hours", default))


def window_start(hours: float, now: float | None = None) -> float:
    return (time.time() if now is None else now) - hours * 3600.0
