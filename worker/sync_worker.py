"""SyncWorker: the daemon thread that runs the one drain loop (worker.drain.drain).

A thread rather than the calling code looping itself, so the owner (the detached drainer, a
task) keeps its main thread for signals and can stop the drain cleanly: stop() sets the Event
the loop sleeps on, the current job finishes, the lock is released, nothing is lost.
"""
from __future__ import annotations

import logging
import threading

from worker.drain import drain
from worker.drain_context import DrainContext, DrainSummary

log = logging.getLogger(__name__)


class SyncWorker(threading.Thread):
    def __init__(self, ctx: DrainContext, *, idle_exit_after: float | None = 2.0,
                 on_progress=None, stop_event: threading.Event | None = None):
        super().__init__(name="PlexSync-SyncWorker", daemon=True)
        self.ctx = ctx
        self.idle_exit_after = idle_exit_after
        self.on_progress = on_progress
        # the owner's own stop (a task's Ctrl-C) may be the drain's: it lands before the next
        # wave is taken, not whenever the owner's thread next looks
        self.stop_event = stop_event or threading.Event()
        self.summary: DrainSummary | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.summary = drain(self.ctx, idle_exit_after=self.idle_exit_after,
                                 stop=self.stop_event, on_progress=self.on_progress)
        except BaseException as exc:  # noqa: BLE001 - reported by the owner via .error
            self.error = exc
            log.exception("the PlexSync drain stopped on an unexpected error; "
                          "unfinished jobs are resumed by the next drain")

    def stop(self, timeout: float | None = None) -> DrainSummary | None:
        """Ask the drain to stop after the current job and wait for it."""
        self.stop_event.set()
        self.join(timeout)
        return self.summary
