"""Process Queue: drain in the foreground with progress, or watch the drainer that already is.

Exactly one process may drain (persist-queue is not safe for two getters; the drain lock says
who). So when a background drainer holds the lock, this task reports THAT drainer's progress
from the drain status it writes to queue.db, and drains only what is left once it has let go.
Jobs still scheduled for later (retries, new scenes) at the end get a background drainer, so
nothing waits for the next edit in Stash to be synced.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from hooks.drainer_launch import start_drainer_if_idle
from sync_queue.lock import drain_lock_held, lock_holder_pid
from sync_queue.state import QueueState
from sync_queue.store import QueueStore, connect
from worker.tasks import formatting as fmt
from worker.background import build_plex_context
from worker.breaker import Open, Policy, state_from_dict
from worker.drain_context import DrainSummary
from worker.sync_worker import SyncWorker
from worker.tasks.env import TaskEnv, TaskResult

log = logging.getLogger(__name__)

WATCH_POLL_S = 0.5
JOIN_SLICE_S = 0.2  # the main thread wakes this often to pass a stop request on
MAX_ROUNDS = 3


@dataclass
class DrainReport:
    summary: DrainSummary | None  # our own drain; None when we did not drain
    background: dict | None       # the drainer we watched: pid, processed, total, paused
    drainer_started: bool
    stopped: bool                 # the user asked to stop (Ctrl-C); nothing was lost
    queue: dict                   # QueueStore.counts() afterwards

    @property
    def ok(self) -> bool:
        s = self.summary
        paused = bool(self.background and self.background.get("paused"))
        return not paused and (s is None or not (s.errors or s.breaker_open))


def process_queue(env: TaskEnv) -> TaskResult:
    report = drain_queue(env, 0.0, 1.0)
    return TaskResult(render("Process Queue", report), report_data(report), report.ok)


def drain_queue(env: TaskEnv, start: float, end: float) -> DrainReport:
    """Watch a running drainer, then drain what is left; progress covers [start, end]."""
    background = summary = None
    middle = start + (end - start) / 2
    for _ in range(MAX_ROUNDS):  # a hook may start a drainer between our look and our drain
        if drain_lock_held(env.data_dir):
            background = watch_background(env, start, middle)
        if env.stop.is_set() or drain_lock_held(env.data_dir):
            break
        summary = drain_now(env, middle if background else start, end)
        if not summary.lock_busy:
            break
    queue = _counts(env)
    started = False
    if _stranded(env, summary, queue):
        started = start_drainer_if_idle(env.plugin_dir, env.data_dir, env.drainer_payload())
    return DrainReport(summary, background, started, env.stop.is_set(), queue)


def drain_now(env: TaskEnv, start: float, end: float) -> DrainSummary:
    """THE drain (worker.drain via SyncWorker), ready jobs only, in this process."""
    ctx, index = build_plex_context(env.cfg, env.data_dir, env.stash.fetch_image, env.stash)
    env.reporter.phase("syncing to Plex", start, end)
    # env.stop is the drain's stop: a Ctrl-C handler setting it stops the drain after the
    # jobs in flight, with no lag behind this thread's next look
    worker = SyncWorker(ctx, idle_exit_after=None, on_progress=env.reporter.update,
                        stop_event=env.stop)
    try:
        worker.start()
        while worker.is_alive():  # in slices: the main thread stays free for Ctrl-C
            worker.join(JOIN_SLICE_S)
    finally:
        if worker.is_alive():  # leaving early (a second Ctrl-C): stop the drain too
            env.stop.set()
            worker.join()
        index.close()
    if worker.error is not None:
        raise worker.error
    return worker.summary


def watch_background(env: TaskEnv, start: float, end: float) -> dict:
    """Report the lock holder's progress until it has nothing ready left or lets go."""
    pid = lock_holder_pid(env.data_dir)
    env.reporter.phase(f"background sync (pid {pid}) syncing", start, end)
    conn = connect(env.data_dir)
    state, store = QueueState(conn), QueueStore(env.data_dir)
    status: dict = {}
    paused = False
    try:
        while not env.stop.is_set():
            status = state.drain_status() or status
            env.reporter.update(int(status.get("processed") or 0), status.get("total") or None)
            if not drain_lock_held(env.data_dir):
                break
            counts = store.counts()
            if not counts["ready"] and not counts["in_flight"]:
                # Only scheduled jobs left: the drainer sleeps until they are due. It writes
                # its progress *before* each job, so the row still counts the last job as
                # to do; with nothing ready or in flight, every job it had was attempted.
                status = {**status, "processed": max(int(status.get("processed") or 0),
                                                     int(status.get("total") or 0))}
                break
            if isinstance(state_from_dict(state.breaker()).at(time.time(), Policy()), Open):
                paused = True  # Plex is down: the drainer waits for the breaker, so would we
                break
            env.stop.wait(WATCH_POLL_S)
    finally:
        store.close()
        conn.close()
    return {"pid": pid, "processed": int(status.get("processed") or 0),
            "total": int(status.get("total") or 0), "paused": paused,
            "still_running": drain_lock_held(env.data_dir)}


def _counts(env: TaskEnv) -> dict:
    with QueueStore(env.data_dir) as store:
        return store.counts()


def resume_stranded(env: TaskEnv) -> bool:
    """Start a background drainer for queued work that nobody drains: its drainer died (a
    full disk, a reboot) and no edit has started a new one. For tasks that do not drain."""
    if drain_lock_held(env.data_dir):
        return False
    queue = _counts(env)
    waiting = queue["ready"] + queue["in_flight"] + queue["scheduled"]
    if not waiting:
        return False
    state = QueueState(connect(env.data_dir))
    if state.auth_blocked(env.cfg.token_fingerprint) or \
            state.settings_blocked(env.cfg.libraries_fingerprint):
        return False  # it would stop at once; that error was reported already
    if not start_drainer_if_idle(env.plugin_dir, env.data_dir, env.drainer_payload()):
        return False
    log.info(f"resumed the background sync: {waiting} queued edit(s) were waiting with no "
             "drainer running")
    return True


def _stranded(env: TaskEnv, summary: DrainSummary | None, queue: dict) -> bool:
    """Jobs left that nobody would drain until the next edit in Stash."""
    if env.stop.is_set():
        return False  # the user stopped us: starting another drainer would defy that
    if summary is not None and (summary.auth_stopped or summary.auth_blocked):
        return False  # Plex rejects the token: a drainer would stop at once
    return bool(queue["scheduled"] or queue["ready"])


def headline(name: str, report: DrainReport) -> str:
    """'Process Queue: synced 3, unchanged 1, …' — first what a watched drainer did."""
    s, bg, parts = report.summary, report.background, []
    if bg:
        # "attempted", not "did": a job Plex refused for now is attempted and waits to retry.
        parts.append(f"the background sync (pid {bg['pid']}) attempted {bg['processed']} of "
                     f"{bg['total']} jobs")
    if not bg or (s is not None and not s.lock_busy):
        s = s or DrainSummary()
        parts.append(f"synced {s.synced}, unchanged {s.unchanged}, retrying {s.retrying}, "
                     f"failed {s.dead_lettered} in {s.elapsed:.1f} s")
    return f"{name}: " + "; then ".join(parts)


def drain_rows(report: DrainReport) -> list[tuple[str, str]]:
    s, q, rows = report.summary, report.queue, []
    bg = report.background
    if bg:
        note = " (paused: Plex is unavailable)" if bg["paused"] else ""
        rows.append(("background sync", f"pid {bg['pid']}: {bg['processed']} of "
                                        f"{bg['total']} jobs attempted while this task "
                                        f"waited{note}"))
    if s is not None and s.lock_busy:
        rows.append(("sync", "a background sync took the queue; it syncs the rest"))
    elif s is not None:
        rows += [("synced", str(s.synced)), ("unchanged", str(s.unchanged))]
        rows += [(label, str(n)) for label, n in (("superseded", s.superseded),
                                                  ("skipped", s.skipped)) if n]
        rows += [("retrying", str(s.retrying)), ("failed", str(s.dead_lettered)),
                 ("time", fmt.seconds(s.elapsed))]
        if s.breaker_open:
            rows.append(("paused", "Plex is unavailable; queued jobs kept"))
    waiting = f"{q['scheduled']} waiting"
    if q["next_due"]:
        waiting += f" ({fmt.due(q['next_due'])})"
    rows.append(("left in queue", f"{q['ready']} ready, {waiting}"))
    if report.stopped:
        rows.append(("stopped", "on request, after the current job; nothing was lost"))
    elif report.drainer_started:
        rows.append(("background", "started a background sync for the jobs left"))
    elif (q["ready"] or q["scheduled"]) and bg and bg.get("still_running"):
        rows.append(("background", f"the background sync (pid {bg['pid']}) syncs the jobs left"))
    for n, error in enumerate((s.errors if s else [])[:10]):
        rows.append(("errors" if n == 0 else "", error))
    return rows


def render(name: str, report: DrainReport) -> str:
    return fmt.table(headline(name, report), drain_rows(report))


def report_data(report: DrainReport) -> dict:
    s = report.summary
    own = None if s is None else {
        "synced": s.synced, "unchanged": s.unchanged, "superseded": s.superseded,
        "skipped": s.skipped, "retrying": s.retrying, "dead_lettered": s.dead_lettered,
        "elapsed_s": round(s.elapsed, 3), "errors": list(s.errors), "lock_busy": s.lock_busy,
        "breaker_open": s.breaker_open, "auth_stopped": s.auth_stopped or s.auth_blocked}
    return {"drain": own, "background": report.background, "stopped": report.stopped,
            "drainer_started": report.drainer_started, "queue": report.queue}
