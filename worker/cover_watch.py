"""Bring the cover Stash generates later: a light, bounded watch after placeholder syncs.

Stash generates covers in jobs of its own (Generate > Covers, a scan with cover generation)
and fires no hook for them, so a scene synced while it had only Stash's placeholder would
keep no poster until its next edit. Measured on the real Stash (v0.30.1): the generate job
stores the cover, moves the scene's `updated_at` (its screenshot URL's `?t=`), and from then
`is_missing: "cover"` no longer lists the scene.

So at the end of a background drain within WINDOW_S of a sync that met the placeholder
(sync_queue.awaited_covers) the drainer starts this watcher, `python -m worker --watch-covers`
(one at a time, by `covers.lock`; it loads neither plexapi nor anything of Plex). Every POLL_S it asks Stash ONE
small question (cover_state_document: which awaited scenes still lack a cover, and whether a
Stash job runs). Scenes that have a cover now are noted in the inbox, as a hook notes an edit,
and a drainer is started if none runs: that sync fetches the cover and uploads it; the
metadata is unchanged, so Plex gets no PUT. Nothing is sent to Plex while nothing changed.

Bounds: it watches WINDOW_S after the most recent placeholder sync, longer while Stash runs a
job (until AFTER_JOB_S after the last one seen, at most CAP_S after that sync), and then
exits. Later, every background drain asks that question once itself at its end, about every
awaited scene whatever its age (no process is started for it). A scene handed to a sync MAX_ASKS times is asked no more
(Stash calls it covered, yet served the placeholder); Sync All still brings it.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hooks.drainer_launch import start_drainer_if_idle
from hooks.stash_api import StashClient, StashError
from hooks.stash_log import install_file_logging, register_secret
from sync_queue import inbox
from sync_queue.awaited_covers import AwaitedCovers
from sync_queue.lock import DrainLock, drain_lock_held

log = logging.getLogger(__name__)

WATCH_LOCK = "covers.lock"
POLL_S = float(os.environ.get("PLEXSYNC_COVER_POLL", "3"))
WINDOW_S = float(os.environ.get("PLEXSYNC_COVER_WATCH", "600"))
AFTER_JOB_S = 60.0      # a Stash job may be the generate run: watch on until it is over
CAP_S = 3600.0          # never longer than this after the last placeholder sync
MAX_ASKS = 2            # hand a scene to a sync at most this often
MAX_CHECKED = 2000      # awaited scenes asked about per question (the most recent ones)
MAX_RANGES = 10         # id ranges per question


# ---- pure rules --------------------------------------------------------------------------
def id_ranges(ids, max_ranges: int = MAX_RANGES) -> list[tuple[int, int]]:
    """The fewest inclusive (low, high) ranges covering the ids, at most `max_ranges`: the
    closest neighbouring ranges are joined first (a scan's new scenes have consecutive ids,
    so usually one range; a joined gap only adds ids of other coverless scenes, ignored)."""
    numbers = sorted({int(i) for i in ids})
    ranges: list[list[int]] = []
    for number in numbers:
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    while len(ranges) > max(1, max_ranges):
        gap = min(range(len(ranges) - 1), key=lambda n: ranges[n + 1][0] - ranges[n][1])
        ranges[gap:gap + 2] = [[ranges[gap][0], ranges[gap + 1][1]]]
    return [(low, high) for low, high in ranges]


def watch_ends_at(newest_since: float, last_job_seen: float | None, *, window: float = WINDOW_S,
                  after_job: float = AFTER_JOB_S, cap: float = CAP_S) -> float:
    """When the watch stops asking: `window` after the newest placeholder sync, or while Stash
    runs jobs `after_job` past the last one seen, never beyond `cap` after that sync."""
    end = newest_since + window
    if last_job_seen is not None:
        end = max(end, min(last_job_seen + after_job, newest_since + cap))
    return end


@dataclass
class WatchReport:
    questions: int = 0
    handed_to_sync: int = 0
    why: str = ""


# ---- the watch ------------------------------------------------------------------------------
def after_drain(data_dir, stash: StashClient, start_drainer, start_watch, *,
                clock=time.time) -> str:
    """The end of every background drain. While the window of a recent placeholder sync is
    open, make sure a watcher runs; otherwise ask Stash once, here (no process started)."""
    with AwaitedCovers(data_dir) as awaited:
        newest = awaited.newest_since(MAX_ASKS)
    if newest is None:
        return "nothing awaited"
    if clock() < newest + WINDOW_S:
        if drain_lock_held(data_dir, WATCH_LOCK):
            return "a watch runs"  # it reads the awaited rows at every question
        start_watch()
        return "watch started"
    report = watch(data_dir, stash, start_drainer, clock=clock, once=True)
    return f"asked Stash once: {report.handed_to_sync} cover(s) handed to a sync"


def watch(data_dir, stash: StashClient, start_drainer, *, clock=time.time,
          wait=threading.Event().wait, poll: float = POLL_S, window: float = WINDOW_S,
          once: bool = False) -> WatchReport:
    """Ask until the window closes (`once`: one question); `wait(seconds)` returns True when
    told to stop."""
    report = WatchReport()
    lock = DrainLock(data_dir, WATCH_LOCK)
    seen_newest = None
    while lock.try_acquire(wait=0):
        try:
            seen_newest = _ask_until_done(data_dir, stash, start_drainer, report, clock, wait,
                                          poll, 0.0 if once else window, once)
        finally:
            lock.release()
        if report.why != "window over" or once:
            return report
        with AwaitedCovers(data_dir) as awaited:  # a drain that found the lock taken a moment
            newest = awaited.newest_since(MAX_ASKS)  # ago relies on this watcher: look again
        if newest is None or (seen_newest is not None and newest <= seen_newest):
            return report
    report.why = report.why or "another watcher asks"
    return report


def _ask_until_done(data_dir, stash, start_drainer, report, clock, wait, poll, window, once):
    last_job_seen = None
    newest = None
    while True:
        if not Path(data_dir, "queue.db").is_file():  # the data folder was removed: never
            report.why = "data folder gone"           # bring it back by opening queue.db
            return newest
        with AwaitedCovers(data_dir) as awaited:
            ids = awaited.to_check(MAX_ASKS, MAX_CHECKED)
            newest = awaited.newest_since(MAX_ASKS)
        if not ids:
            report.why = "nothing awaited"
            return newest
        try:
            missing, busy = stash.cover_state(id_ranges(ids))
        except StashError as exc:  # Stash away or the session expired: a later drain asks
            log.info(f"cover watch stopped: Stash did not answer ({exc})")
            report.why = "Stash did not answer"
            return newest
        report.questions += 1
        now = clock()
        if busy:
            last_job_seen = now
        ready = [scene for scene in ids if scene not in missing]
        if ready:
            _hand_to_sync(data_dir, ready, now, start_drainer)
            report.handed_to_sync += len(ready)
        if once or now >= watch_ends_at(newest, last_job_seen, window=window):
            report.why = "window over"
            return newest
        if wait(poll):
            report.why = "asked to stop"
            return newest


def _hand_to_sync(data_dir, scene_ids: list, now: float, start_drainer) -> None:
    """Note the scenes in the inbox exactly as a hook notes an edit, then start a drainer."""
    with AwaitedCovers(data_dir) as awaited:
        awaited.mark_asked(scene_ids)
    body = json.dumps({"scene_ids": scene_ids, "update_type": "cover", "enqueued_at": now,
                       "not_before": 0.0}).encode()
    inbox.write_edit(data_dir, f"{time.time_ns():020d}-{os.getpid()}-covers.json", body)
    log.info(f"Stash has generated the cover of scene(s) {', '.join(scene_ids[:20])}"
             f"{' …' if len(scene_ids) > 20 else ''}: syncing it to Plex")
    start_drainer()


def run_watch(payload: dict, plugin_dir: Path, data_dir: Path, stop: threading.Event) -> int:
    """`python -m worker --watch-covers`: the payload the drainer had, on stdin."""
    if not Path(data_dir, "queue.db").is_file():
        return 0  # removed since the drainer started us: nothing to watch, nothing to recreate
    install_file_logging(data_dir)
    stash = (StashClient.from_payload(payload["stash"]) if payload.get("stash")
             else StashClient.from_server_connection(payload.get("server_connection") or {}))
    register_secret(*stash.secrets(), *(payload.get("overrides") or {}).values())
    handed = {k: v for k, v in payload.items() if k != "settings"}  # a drainer reads them afresh
    report = watch(data_dir, stash, lambda: start_drainer_if_idle(plugin_dir, data_dir, handed),
                   wait=stop.wait)
    log.info(f"cover watch ended ({report.why}): {report.questions} question(s) to Stash, "
             f"{report.handed_to_sync} cover(s) handed to a sync")
    return 0


def main(argv: list[str] | None = None, stdin=None) -> int:
    import signal
    import sys

    from validation.config import data_dir_for
    plugin_dir = Path(__file__).resolve().parent.parent
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda signum, frame: stop.set())
    data_dir = data_dir_for(plugin_dir)
    try:
        payload = json.loads((stdin or sys.stdin).read() or "{}")
        return run_watch(payload if isinstance(payload, dict) else {}, plugin_dir, data_dir, stop)
    except Exception:  # noqa: BLE001 - nobody reads our stderr; a later drain asks again
        log.exception("the cover watch failed")
        return 1
