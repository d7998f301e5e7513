"""The detached drainer: `python -m worker --background`, started by a hook, run by nobody.

The hook starts it with cwd = plugin dir, its own session, a fresh pipe as stdin carrying one
JSON object {"server_connection": {...}, "settings": {...}} (never argv, where `ps` shows
secrets) and /dev/null as stdout/stderr — Stash waits on whoever holds the hook's stdout. So
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

from hooks.drainer_launch import start_drainer_if_idle
from hooks.stash_api import StashClient, StashError
from hooks.stash_log import install_file_logging, register_secret
from plex.batch_reads import BatchedReads, likely_rating_key
from plex.client import PlexClient
from plex.errors import PlexSyncError
from plex.index import PathIndex
from plex.sync import sync_scene
from sync_queue.lock import drain_lock_held
from sync_queue.state import QueueState
from sync_queue.store import QueueStore
from validation.config import Config, data_dir_for, parse_config
from worker import waves
from worker.drain import DrainContext, DrainSummary
from worker.sync_worker import SyncWorker

log = logging.getLogger(__name__)

IDLE_EXIT_S = 2.0  # idle this long with nothing queued, then release the lock and exit
# A drainer waiting for long retries would otherwise keep the settings it started with for
# hours; after this long it hands over to a fresh drainer that reads them again from Stash.
MAX_LIFETIME_S = float(os.environ.get("PLEXSYNC_DRAINER_LIFETIME", "600"))
PLUGIN_DIR = Path(__file__).resolve().parent.parent


def build_plex_context(cfg: Config, data_dir: Path, fetch_image) -> tuple[DrainContext, PathIndex]:
    """A DrainContext syncing through the real Plex client; close the index when done."""
    client = BatchedReads(PlexClient(cfg, data_dir))
    index = PathIndex(data_dir)

    def sync_job(snapshot: dict, record: dict | None, allow_scan: bool):
        return sync_scene(client, index, cfg, snapshot, record, fetch_image,
                          allow_scan=allow_scan)

    def prefetch(pairs: list[tuple[dict, dict | None]]) -> None:
        try:  # the first job would build the index anyway; built now, its batch is read too
            index.ensure(client, cfg)
        except PlexSyncError:
            pass  # the jobs meet the same error where the worker's policy classifies it
        client.prefetch([likely_rating_key(data, record, index, cfg) for data, record in pairs])

    return DrainContext(data_dir=Path(data_dir), cfg=cfg, sync_job=sync_job,
                        health_check=client.ping, prefetch=prefetch,
                        wave_width=waves.WIDTH), index


def should_report(summary: DrainSummary | None) -> bool:
    """Worth a line in Stash's log: work done, a new problem — not a drain that found nothing
    or one that only met the token Plex already rejected (that error was reported once)."""
    if summary is None or summary.lock_busy:
        return False
    if summary.auth_blocked and not summary.auth_stopped:
        return False
    return bool(summary.processed or summary.errors or summary.retrying or summary.auth_stopped)


def run_background(payload: dict, plugin_dir: Path = PLUGIN_DIR) -> int:
    """Drain until idle, store the summary; exit quietly if another drainer holds the lock."""
    data_dir = data_dir_for(plugin_dir)
    install_file_logging(data_dir)
    if drain_lock_held(data_dir):
        return 0
    cfg = parse_config(payload.get("settings"))
    stash = (StashClient.from_payload(payload["stash"]) if payload.get("stash")  # from process_queue.py
             else StashClient.from_server_connection(payload.get("server_connection") or {}))
    register_secret(cfg.plex_token, *stash.secrets())
    install_file_logging(data_dir, debug=cfg.debug_logging)
    ctx, index = build_plex_context(cfg, data_dir, stash.fetch_image)
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
    if expired.is_set():
        _hand_over(payload, stash, plugin_dir, data_dir)
    summary = worker.summary
    state = QueueState(data_dir)
    if worker.error is not None:
        state.store_drain_summary(f"background sync stopped on an unexpected "
                                  f"{type(worker.error).__name__}; see drainer.log", errors=True)
    elif should_report(summary):
        state.store_drain_summary(summary.line(), errors=bool(summary.errors))
    if summary and not summary.lock_busy:
        log.info(f"background sync: {summary.line()}")
    return 0


def _hand_over(payload: dict, stash: StashClient, plugin_dir: Path, data_dir: Path) -> None:
    """Start the next drainer with settings read afresh (the old ones if Stash is away)."""
    counts = QueueStore(data_dir).counts()
    if not (counts["ready"] or counts["in_flight"] or counts["scheduled"]):
        return
    try:
        payload = {**payload, "settings": stash.plugin_settings()}
    except StashError as exc:
        log.warning(f"could not re-read settings from Stash ({exc}); keeping the current ones")
    if start_drainer_if_idle(plugin_dir, data_dir, payload):
        log.info("handed over to a fresh drainer (settings re-read from Stash)")


def _stop_on_signals(worker: SyncWorker) -> None:
    def stop(signum, frame):
        log.info(f"signal {signum}: stopping after the current job")
        worker.stop_event.set()
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)


def main(argv: list[str] | None = None, stdin=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker",
                                     description="PlexSync's detached queue drainer")
    parser.add_argument("--background", action="store_true", required=True,
                        help="drain the queue until idle (started by the hook)")
    parser.parse_args(argv)
    try:
        payload = json.loads((stdin or sys.stdin).read() or "{}")
        return run_background(payload if isinstance(payload, dict) else {})
    except Exception:  # noqa: BLE001 - nobody reads our stderr; the log file is the only trace
        log.exception("the background drainer failed")
        return 1
