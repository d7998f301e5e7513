"""Queue Status: everything about the queue a person asks about, read from SQLite, no Plex.

Counts come from queue.db (what every process sees), the drainer from the OS lock, the index
sizes from index.db. Nothing here writes, so it is safe while a drainer runs.
"""
from __future__ import annotations

import time

from plex.index import PathIndex
from sync_queue.lock import drain_lock_held, lock_holder_pid
from sync_queue.awaited_covers import AwaitedCovers
from sync_queue.plays import history_refusal
from sync_queue.records import SyncRecords
from sync_queue.state import QueueState
from validation.config import setting_label
from sync_queue.store import QueueStore, connect
from worker.tasks import formatting as fmt
from worker import history_refusal as refusals
from worker.cover_watch import MAX_ASKS, WATCH_LOCK
from worker.breaker import HalfOpen, Open, Policy, state_from_dict
from worker.tasks.env import TaskEnv, TaskResult


def queue_status(env: TaskEnv) -> TaskResult:
    with QueueStore(env.data_dir) as store:
        counts = store.counts()
    conn = connect(env.data_dir)
    try:
        state, records = QueueState(conn), SyncRecords(conn)
        stored_breaker = state.breaker()
        breaker = _breaker(stored_breaker)
        failure = state.auth_failure() or {}
        # Without the token (process_queue.py status reads no settings) the stored rejection
        # is shown as it stands: it lasts until a sync with another token succeeds.
        auth = (state.auth_blocked(env.cfg.token_fingerprint) if env.cfg.plex_token
                else failure.get("message") and f"{failure['message']} (unless the token changed since)")
        auth_at = failure.get("at")
        libraries = state.settings_blocked(env.cfg.libraries_fingerprint)
        owed = records.owed_cover_count()
        last_sync, synced_scenes = records.last_synced_at(), records.count()
        drain_status = state.drain_status() or {}
        last_run = state.last_drain_summary()
        refused = history_refusal(conn) if env.cfg.imports_anything else None
        awaited = AwaitedCovers(conn).asking(MAX_ASKS)
    finally:
        conn.close()
    # Whether PlexSync ever talked to Plex: a breaker is stored on its first transition, a
    # record on the first sync, an auth failure when Plex answered 401. Without any of them
    # "closed" only means "no failure yet", not "Plex reachable".
    breaker["contacted"] = bool(stored_breaker or last_sync or auth_at)
    running = drain_lock_held(env.data_dir)
    pid = lock_holder_pid(env.data_dir) if running else None
    # The status row outlives its drain: it is this drainer's only if the pids agree.
    current = running and drain_status.get("running") and drain_status.get("pid") == pid
    drainer = {"running": running, "pid": pid,
               "processed": drain_status.get("processed") if current else None,
               "total": drain_status.get("total") if current else None}
    sections = _index_sections(env)
    data = {"queue": counts, "breaker": breaker, "plex_token_rejected": auth,
            "plex_libraries_rejected": libraries, "covers_owed": owed,
            "last_sync_at": last_sync, "synced_scenes": synced_scenes, "drainer": drainer,
            "index": sections, "last_background_run": last_run,
            "plex_history_refused": refusals.describe(refused) if refused else None,
            "covers_awaited": awaited}
    rows = _rows(counts, breaker, auth, auth_at, last_sync, synced_scenes, drainer, sections,
                 last_run, time.time())
    if libraries:
        rows.insert(5, (setting_label("plex_libraries"), f"STOPPED: {libraries}"))
    if refused:
        rows.insert(5, ("plex plays", refusal_line(refused, time.time())))
    if awaited:
        watching = drain_lock_held(env.data_dir, WATCH_LOCK)
        rows.insert(5, ("covers awaited", f"{awaited} scene(s) synced before Stash generated "
                        "their cover; " + ("watching Stash for them now" if watching else
                                           "Stash is asked at the end of every background sync")))
    if owed:
        rows.insert(5, ("covers owed", f"{owed} (Stash did not serve them; the next sync or "
                                       "Sync All retries them)"))
    title = (f"Queue Status: {counts['ready']} pending, {counts['scheduled']} waiting, "
             f"{counts['dead_letters']} failed")
    return TaskResult(fmt.table(title, rows), data,
                      ok=_healthy(counts, breaker, auth) and not libraries and not refused)


def refusal_line(refused: dict, now: float) -> str:
    """The refusal with the fix, and when a background sync asks Plex again by itself."""
    again = float(refused.get("checked_at") or 0) + refusals.RETRY_REFUSED_S
    when = (f"after {fmt.when(again)}" if again > now else "by the next background sync")
    return (f"{refusals.describe(refused)} (since {fmt.when(refused.get('since'))}; Plex is "
            f"asked again {when}, or within 5 minutes after the Plex token changes)")


def _healthy(counts: dict, breaker: dict, auth) -> bool:
    """Nothing needs the user: no dead letters, Plex reachable, token accepted."""
    return not auth and not counts["dead_letters"] and breaker["state"] == "closed"


def _breaker(stored: dict | None) -> dict:
    """The breaker as a drain would see it now (an OPEN one past its timeout is HALF_OPEN)."""
    policy = Policy()
    state = state_from_dict(stored).at(time.time(), policy)
    info = {"state": state.name, "opened_at": getattr(state, "opened_at", None),
            "failures": getattr(state, "failures", 0)}
    if isinstance(state, Open):
        info["probe_at"] = state.opened_at + policy.reset_timeout
    return info


def _plex_line(breaker: dict) -> str:
    """What PlexSync knows about Plex from its own contacts (it does not ask Plex here)."""
    if breaker["state"] == Open.name:
        return (f"unavailable since {fmt.when(breaker['opened_at'])}; syncing paused, next "
                f"check at {fmt.clock(breaker['probe_at'])}")
    if breaker["state"] == HalfOpen.name:
        return (f"unavailable since {fmt.when(breaker['opened_at'])}; the next sync checks "
                "Plex first")
    if not breaker["contacted"]:
        return "not contacted yet (Health Check tests the connection)"
    failures = breaker["failures"]
    if failures:
        return (f"the last {failures} contact(s) failed; syncing pauses after "
                f"{Policy().failure_threshold} in a row")
    return "answered at the last contact"


def _index_sections(env: TaskEnv) -> list[dict]:
    index = PathIndex(env.data_dir)
    try:
        return [{"id": s["id"], "title": s["title"], "items": index.item_count(s["id"])}
                for s in index.sections()]
    finally:
        index.close()


def _rows(counts, breaker, auth, auth_at, last_sync, synced_scenes, drainer, sections,
          last_run, now: float) -> list[tuple[str, str]]:
    waiting = str(counts["scheduled"])
    if counts["next_due"]:
        waiting += f" ({fmt.due(counts['next_due'], now)})"
        if counts["next_due"] <= now and not drainer["running"]:
            waiting += "; Process Queue syncs them now"
    in_flight = str(counts["in_flight"])
    if counts["in_flight"] and not drainer["running"]:
        in_flight += " (left by a stopped background sync; the next sync resumes them)"
    dead = str(counts["dead_letters"])
    if counts["dead_letters"]:
        dead += f" ({fmt.by_reason(counts['dead_letters_by_reason'])}); see Failed Syncs"
    rows = [("pending", str(counts["ready"])), ("in flight", in_flight),
            ("waiting for retry", waiting), ("failed", dead)]
    if counts["skipped"]:
        rows.append(("skipped", f"{counts['skipped']} (not in Plex; setting Skip scenes not in Plex)"))
    rows.append(("plex", _plex_line(breaker)))
    if auth:
        rows.append(("plex token", f"REJECTED at {fmt.when(auth_at)}: {auth}"))
    rows.append(("last successful sync", f"{fmt.ago(last_sync)}; {synced_scenes} scenes synced"))
    if drainer["running"]:
        done = (f", {drainer['processed']} of {drainer['total']} jobs attempted"
                if drainer["total"] else "")
        rows.append(("background sync", f"running (pid {drainer['pid']}{done})"))
    else:
        rows.append(("background sync", "not running"))
    index = "; ".join(f"{s['title']}: {s['items']} items" for s in sections)
    rows.append(("plex index", index or "not built yet (the first sync builds it)"))
    if last_run:
        rows.append(("last background run", f"{fmt.when(last_run.get('at'))}: {last_run.get('line')}"))
    return rows
