"""The detached drainer: `python -m worker --background`, started by a hook, run by nobody.

The hook starts it with cwd = plugin dir, its own session, a fresh pipe as stdin carrying one
JSON object {"server_connection": {...}, "settings": {...}} (never argv, where `ps` shows
secrets; process_queue.py adds "stash" and "overrides": its --plex-url / --plex-token, which
every hand-over applies on top of the settings it re-reads) and /dev/null as stdout/stderr — Stash waits on whoever holds the hook's stdout. So
this process logs to <data_dir>/drainer.log and leaves a one-line summary in queue.db that the
next hook or task shows in Stash's log.

This module is also the composition root: build_plex_context() wires the real Plex pieces
(PlexClient, PathIndex, plex.sync.sync_scene, Stash's fetch_image) into a DrainContext, for
this drainer and for the tasks alike.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from hooks.drainer_launch import start_cover_watch, start_drainer_if_idle
from hooks.errors import describe_failure
from hooks.inbox_ingest import ingest_inbox
from hooks.stash_api import StashClient, StashError, StashTooOld
from hooks.stash_version import remember_version
from hooks.stash_log import install_file_logging, register_secret
from plex.batch_reads import BatchedReads, likely_rating_key
from plex.client import PlexClient
from plex.errors import PlexSyncError
from plex.index import PathIndex
from plex.sync import sync_scene
from sync_queue import inbox
from sync_queue.lock import PROBE_RIDE_OUT_S, DrainLock
from sync_queue.notes import leave_note
from sync_queue.state import QueueState, remember_plex_server
from sync_queue.store import QueueStore
from validation.config import Config, ConfigError, data_dir_for, parse_config
from worker import waves
from worker import cover_watch
from worker.covers import CoverFetcher
from worker.drain_context import DrainContext, DrainSummary
from worker.plays_import import ImportReport, import_if_due
from worker.sync_worker import SyncWorker

log = logging.getLogger(__name__)

IDLE_EXIT_S = 2.0  # idle this long with nothing queued, then release the lock and exit
# A drainer waiting for long retries would otherwise keep the settings it started with for
# hours; after this long it hands over to a fresh drainer that reads them again from Stash.
MAX_LIFETIME_S = float(os.environ.get("PLEXSYNC_DRAINER_LIFETIME", "600"))
PLUGIN_DIR = Path(__file__).resolve().parent.parent


def build_plex_context(cfg: Config, data_dir: Path, fetch_image,
                       stash: StashClient | None = None) -> tuple[DrainContext, PathIndex]:
    """A DrainContext syncing through the real Plex client; close the index when done.
    With `stash`, the drain also turns the hooks' inbox into jobs (hooks/inbox_ingest.py) and
    asks Stash whether a scene Plex lacks still exists."""
    client = BatchedReads(PlexClient(cfg, data_dir))
    index = PathIndex(data_dir)
    if index.moved_aside:
        leave_note(data_dir, f"PlexSync's path index (index.db, a cache of Plex's file paths) "
                   f"was damaged ({index.moved_aside}); it is rebuilt from Plex, nothing is lost")
    fetch_image = CoverFetcher(fetch_image)  # says once per drain why covers stay owed
    ingest = pending = scene_exists = None
    if stash is not None:
        scene_exists = stash.scene_exists

        def ingest():
            return ingest_inbox(data_dir, stash, cfg)

        def pending():
            return bool(inbox.pending(data_dir))

    server_known = []

    def sync_job(snapshot: dict, record: dict | None, allow_scan: bool):
        result = sync_scene(client, index, cfg, snapshot, record, fetch_image,
                            allow_scan=allow_scan)
        if not server_known:  # once per drain: Open in Plex links in Stash's web UI
            server_known.append(remember_plex_server(data_dir, cfg.plex_url,
                                                     client.machine_identifier))
        return result

    def prefetch(pairs: list[tuple[dict, dict | None]]) -> None:
        try:  # the first job would build the index anyway; built now, its batch is read too
            index.ensure(client, cfg)
        except PlexSyncError:
            pass  # the jobs meet the same error where the worker's policy classifies it
        client.prefetch([likely_rating_key(data, record, index, cfg) for data, record in pairs])

    return DrainContext(data_dir=Path(data_dir), cfg=cfg, sync_job=sync_job,
                        health_check=client.ping, ingest=ingest, pending_edits=pending,
                        scene_exists=scene_exists, prefetch=prefetch,
                        wave_width=waves.WIDTH), index


def should_report(summary: DrainSummary | None) -> bool:
    """Worth a line in Stash's log: work done, a new problem — not a drain that found nothing
    or one that only met the token Plex already rejected (that error was reported once)."""
    if summary is None or summary.lock_busy:
        return False
    if summary.auth_blocked and not summary.auth_stopped:
        return False
    return bool(summary.processed or summary.errors or summary.retrying or summary.auth_stopped)


def run_background(payload: dict, plugin_dir: Path = PLUGIN_DIR,
                   lock: DrainLock | None = None) -> int:
    """Drain until idle, store the summary; exit quietly if another drainer holds the lock.

    lock: the drain lock this process already holds (worker/__main__.py took it, or adopted
    it from the hook that started us, before the heavy imports); else it is taken here."""
    data_dir = data_dir_for(plugin_dir)
    install_file_logging(data_dir)
    lock = lock or DrainLock(data_dir)
    if not lock.try_acquire(wait=PROBE_RIDE_OUT_S):
        return 0
    try:
        return _run_holding_the_lock(payload, plugin_dir, data_dir, lock)
    finally:
        lock.release()


def _run_holding_the_lock(payload: dict, plugin_dir: Path, data_dir: Path,
                          lock: DrainLock) -> int:
    stash = (StashClient.from_payload(payload["stash"]) if payload.get("stash")  # from process_queue.py
             else StashClient.from_server_connection(payload.get("server_connection") or {}))
    register_secret(*stash.secrets(), *(payload.get("overrides") or {}).values())
    settings, cfg = _settings(payload, stash, data_dir)
    if cfg is None:
        return 1
    payload = {**payload, "settings": settings}  # a hand-over reads them afresh, else keeps these
    register_secret(cfg.plex_token)
    install_file_logging(data_dir, debug=cfg.debug_logging)
    counts = QueueStore(data_dir).counts()
    log.info(f"background sync started (pid {os.getpid()}): {counts['ready']} ready, "
             f"{counts['in_flight']} in flight, {counts['scheduled']} waiting")
    ctx, index = build_plex_context(cfg, data_dir, stash.fetch_image, stash)
    ctx.lock = lock  # held since our start: the drain keeps it, lets go and looks once more
    worker = SyncWorker(ctx, idle_exit_after=IDLE_EXIT_S)
    _stop_on_signals(worker)
    expired = threading.Event()
    lifetime = threading.Timer(MAX_LIFETIME_S, lambda: (expired.set(), worker.stop_event.set()))
    lifetime.daemon = True
    lifetime.start()
    worker.start()
    while worker.is_alive():  # join in slices: the main thread must stay free for signals
        worker.join(0.5)
    lifetime.cancel()
    index.close()
    lock.release()  # the drain let go already, unless it failed first; a hand-over needs it free
    handed_over = _hand_over(payload, stash, plugin_dir, data_dir) if expired.is_set() else ""
    summary = worker.summary
    imported = None
    if worker.error is None and summary and not (summary.lock_busy or summary.auth_stopped
                                                 or summary.auth_blocked):
        imported = import_plex_plays(cfg, stash, data_dir)
    state = QueueState(data_dir)
    # Shown as "background sync: <line>" by the next hook or task: the line must not repeat it.
    if worker.error is not None:
        state.store_drain_summary(f"stopped: {describe_failure(worker.error)}; see drainer.log "
                                  "in PlexSync's data folder", errors=True)
    elif should_report(summary) or (imported and imported.scenes_with_changes):
        line = summary.line() + (f"; {imported.line()}" if imported and
                                 imported.scenes_with_changes else "")
        state.store_drain_summary(line, errors=bool(summary.errors))
    why = (f"error: {type(worker.error).__name__}" if worker.error is not None
           else handed_over or ("asked to stop" if stopped_by_signal.is_set() else "idle"))
    done = summary.line() if summary and not summary.lock_busy else "nothing done"
    log.info(f"background sync stopped ({why}): {done}")
    if worker.error is None:  # covers Stash generated since a sync met its placeholder
        fresh = {k: v for k, v in payload.items() if k != "settings"}  # read afresh
        cover_watch.after_drain(data_dir, stash,
                                lambda: start_drainer_if_idle(plugin_dir, data_dir, fresh),
                                lambda: start_cover_watch(plugin_dir, data_dir, payload))
    return 0


def import_plex_plays(cfg: Config, stash: StashClient, data_dir: Path) -> ImportReport | None:
    """The end of every background drain: bring new Plex plays to Stash (at most one history
    request per 5 minutes; per 6 hours while Plex refuses it). A failure here is logged and
    never fails the drain, nor puts a line in its summary."""
    try:
        report = import_if_due(cfg, stash, PlexClient(cfg, data_dir), data_dir)
    except (PlexSyncError, StashError) as exc:  # transient: asked again in 5 minutes
        log.warning(f"could not bring Plex plays into Stash this time: {exc}")
        return None
    if report is not None and report.refused:
        # Lasting: said once per cause (queue.db remembers it across drainers), then shown
        # by Queue Status and Health Check until history answers again.
        if report.refusal_is_news:
            log.warning(report.refused)
            leave_note(data_dir, report.refused)
        return report
    if report is not None and report.history_back:
        log.info("Plex answers the play history again; plays are imported again")
    if report is not None and not report.skipped:
        log.info(report.line())
    return report


def _settings(payload: dict, stash: StashClient, data_dir: Path) -> tuple[dict, Config | None]:
    """The settings the hook no longer fetches: asked here, once per drainer (with Stash's
    version the first time). A problem is left as the summary the next hook shows."""
    state = QueueState(data_dir)
    try:
        remember_version(stash, data_dir)
    except StashTooOld as exc:
        state.store_drain_summary(str(exc), errors=True)
        return {}, None
    except StashError:  # learnt on the first refused document instead
        pass
    try:
        settings = payload.get("settings")
        settings = settings if settings is not None else stash.plugin_settings()
        cfg = parse_config(effective_settings({**payload, "settings": settings}))
    except ConfigError as exc:  # one line where the user looks, not a traceback in a file
        log.error(f"background sync not started: {exc}")
        inbox.set_flag(data_dir, inbox.SETTINGS_FLAG, True)
        state.store_drain_summary(f"not started: {exc}; the edits wait in PlexSync's queue",
                                  errors=True)
        return {}, None
    except StashError as exc:
        log.warning(f"could not read PlexSync's settings from Stash: {exc}")
        state.store_drain_summary(str(exc), errors=True)
        return {}, None
    inbox.set_flag(data_dir, inbox.SETTINGS_FLAG, False)
    return settings, cfg


def effective_settings(payload: dict) -> dict:
    """The settings this drainer runs with: Stash's, then process_queue.py's overrides."""
    overrides = {k: v for k, v in (payload.get("overrides") or {}).items() if v is not None}
    return {**(payload.get("settings") or {}), **overrides}


def _hand_over(payload: dict, stash: StashClient, plugin_dir: Path, data_dir: Path) -> str:
    """Start the next drainer with settings read afresh (the old ones if Stash is away or its
    settings do not parse); the overrides stay. Returns what happened, for the stop line."""
    counts = QueueStore(data_dir).counts()
    if not (counts["ready"] or counts["in_flight"] or counts["scheduled"]):
        return "lifetime over, nothing left to hand over"
    source = "with the settings it had"
    try:
        fresh = {**payload, "settings": stash.plugin_settings()}
        parse_config(effective_settings(fresh))
    except StashError as exc:
        log.warning(f"could not re-read settings from Stash ({exc}); keeping the current ones")
    except ConfigError as exc:
        log.warning(f"the settings in Stash are not usable ({exc}); keeping the current ones")
    else:
        payload, source = fresh, "settings re-read from Stash"
    if start_drainer_if_idle(plugin_dir, data_dir, payload):
        log.info(f"handed over to a fresh drainer ({source})")
        return "handed over to a fresh drainer"
    return "lifetime over; another drainer already runs"


stopped_by_signal = threading.Event()


def _stop_on_signals(worker: SyncWorker) -> None:
    def stop(signum, frame):
        log.info(f"signal {signum}: stopping after the current job")
        stopped_by_signal.set()
        worker.stop_event.set()
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)


def main(argv: list[str] | None = None, stdin=None, lock: DrainLock | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker",
                                     description="PlexSync's detached queue drainer")
    parser.add_argument("--background", action="store_true", required=True,
                        help="drain the queue until idle (started by the hook)")
    parser.parse_args(argv)
    try:
        payload = json.loads((stdin or sys.stdin).read() or "{}")
        return run_background(payload if isinstance(payload, dict) else {}, lock=lock)
    except Exception as exc:  # noqa: BLE001 - nobody reads our stderr: drainer.log and a note
        log.exception("the background drainer failed")
        leave_note(data_dir_for(PLUGIN_DIR), f"the background sync stopped: {describe_failure(exc)} "
                   "(details in drainer.log); the next edit or Process Queue starts it again")
        return 1
