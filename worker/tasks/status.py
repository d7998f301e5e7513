"""Queue Status: everything about the queue a person asks about, read from SQLite, no Plex.

Counts come from queue.db (what every process sees), the drainer from the OS lock, the index
sizes from index.db. Nothing here writes, so it is safe while a drainer runs.
"""
from __future__ import annotations

import time

from plex.index import PathIndex
from sync_queue.lock import drain_lock_held, lock_holder_pid
from sync_queue.records import SyncRecords
from sync_queue.state import QueueState
from sync_queue.store import QueueStore, connect
from worker.tasks import formatting as fmt
from worker.breaker import HalfOpen, Open, Policy, state_from_dict
from worker.tasks.env import TaskEnv, TaskResult


def queue_status(env: TaskEnv) -> TaskResult:
    with QueueStore(env.data_dir) as store:
        counts = store.counts()
    conn = connect(env.data_dir)
    try:
        state, records = QueueState(conn), SyncRecords(conn)
        breaker = _breaker(state.breaker())
        auth = state.auth_blocked(env.cfg.token_fingerprint)
        auth_at = (state.auth_failure() or {}).get("at")
        libraries = state.settings_blocked(env.cfg.libraries_fingerprint)
        owed = records.owed_cover_count()
        last_sync, synced_scenes = records.last_synced_at(), records.count()
        drain_status = state.drain_status() or {}
        last_run = state.last_drain_summary()
    finally:
        conn.close()
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
            "index": sections, "last_background_run": last_run}
    rows = _rows(counts, breaker, auth, auth_at, last_sync, synced_scenes, drainer, sections,
                 last_run)
    if libraries:
        rows.insert(5, ("plex_libraries", f"STOPPED: {libraries}"))
    if owed:
        rows.insert(5, ("covers owed", f"{owed} (Stash did not serve them; the next drain or "
                                       "Sync All retries them)"))
    title = (f"Queue Status: {counts['ready']} pending, {counts['scheduled']} waiting, "
             f"{counts['dead_letters']} dead letters")
    return TaskResult(fmt.table(title, rows), data,
                      ok=_healthy(counts, breaker, auth) and not libraries)


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


def _breaker_line(breaker: dict) -> str:
    if breaker["state"] == Open.name:
        return (f"OPEN since {fmt.when(breaker['opened_at'])}: Plex was unavailable; next "
                f"check at {fmt.clock(breaker['probe_at'])}")
    if breaker["state"] == HalfOpen.name:
        return (f"half-open since {fmt.when(breaker['opened_at'])}: the next drain checks "
                "Plex first")
    failures = breaker["failures"]
    return "closed (Plex reachable)" + (f", {failures} recent failure(s)" if failures else "")


def _index_sections(env: TaskEnv) -> list[dict]:
    index = PathIndex(env.data_dir)
    try:
        return [{"id": s["id"], "title": s["title"], "items": index.item_count(s["id"])}
                for s in index.sections()]
    finally:
        index.close()


def _rows(counts, breaker, auth, auth_at, last_sync, synced_scenes, drainer, sections,
          last_run) -> list[tuple[str, str]]:
    waiting = str(counts["scheduled"])
    if counts["next_due"]:
        waiting += f" (next at {fmt.when(counts['next_due'])})"
    in_flight = str(counts["in_flight"])
    if counts["in_flight"] and not drainer["running"]:
        in_flight += " (left by a stopped drainer; the next drain resumes them)"
    dead = str(counts["dead_letters"])
    if counts["dead_letters"]:
        dead += f" ({fmt.by_reason(counts['dead_letters_by_reason'])}); see Dead Letters"
    rows = [("pending", str(counts["ready"])), ("in flight", in_flight),
            ("waiting for retry", waiting), ("dead letters", dead)]
    if counts["skipped"]:
        rows.append(("skipped", f"{counts['skipped']} (not in Plex, skip_not_found)"))
    rows.append(("circuit breaker", _breaker_line(breaker)))
    if auth:
        rows.append(("plex token", f"REJECTED at {fmt.when(auth_at)}: {auth}"))
    rows.append(("last successful sync", f"{fmt.ago(last_sync)}; {synced_scenes} scenes synced"))
    if drainer["running"]:
        done = (f", {drainer['processed']}/{drainer['total']} done"
                if drainer["total"] else "")
        rows.append(("drainer", f"running (pid {drainer['pid']}{done})"))
    else:
        rows.append(("drainer", "not running"))
    index = "; ".join(f"{s['title']}: {s['items']} items" for s in sections)
    rows.append(("plex index", index or "not built yet (the first sync builds it)"))
    if last_run:
        rows.append(("last background run", f"{fmt.when(last_run.get('at'))}: {last_run.get('line')}"))
    return rows
