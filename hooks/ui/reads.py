"""ui_scene / ui_overview: what Stash's web UI shows, as JSON, from PlexSync's local files.

Polled by the scene panel and the PlexSync page (every few seconds while they are open), so
like the hook this path stays lean: no site-packages, no plexapi, no request to Plex, and no
request to Stash unless a flag the drain side left (or a missing data folder) says the
settings decide the answer (hooks/ui/setup_check.py). queue.db is opened as it is: never
created, never repaired here (a damaged one is named, the next writer repairs it).
"""
from __future__ import annotations

import os
import time

from hooks.lean_json import dumps, loads
from hooks.ui import scene_state as states
from sync_queue import inbox
from sync_queue.view import cache as view_cache

FAILED_SHOWN = 50  # the page lists this many failed syncs; the count says how many there are


def run_read(conn: dict, args: dict, plugin_dir, data_dir, after_answer: list) -> dict:
    """PlexSync.ROUTES' web UI read route: answered from local files, before site-packages."""
    return answer(args["mode"], args, conn, data_dir)


def answer(mode: str, args: dict, conn: dict, data_dir: str, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    try:
        # check_setup: the first read of a panel or page asks Stash for the settings (one
        # request), so a setting changed since the last sync shows; polls stay local.
        fresh = bool(args.get("check_setup"))
        if mode == "ui_scene":
            return scene_answer(data_dir, str(args.get("scene_id") or ""), conn, now, fresh)
        return overview_answer(data_dir, conn, now, fresh)
    except Exception as exc:  # noqa: BLE001 - only a damaged or unreadable queue.db lands here
        from sync_queue.view.rows import DatabaseError
        if not isinstance(exc, DatabaseError):
            raise
        # Sync now's task repairs it (sync_queue.store.connect() does)
        return {"state": "error", "line": damaged_line(data_dir, exc), "can_sync": True}


def damaged_line(data_dir: str, exc: BaseException) -> str:
    from sync_queue.repair import is_damaged  # the rare path pays for its import
    path = os.path.join(data_dir, "queue.db")
    if is_damaged(exc):
        return (f"PlexSync's queue file {path} is damaged ({exc}). The next sync moves it aside "
                "and keeps what can be read: press Sync now or run the Process Queue task.")
    return f"PlexSync could not read {path}: {exc}. Try again in a moment."


def _setup(data_dir: str, conn: dict, fresh: bool) -> dict | None:
    """The setup state when it decides the answer (not set up, turned off, no data yet)."""
    if not fresh and os.path.isdir(data_dir) and not (
            inbox.flag_set(data_dir, inbox.SETTINGS_FLAG) or inbox.flag_set(data_dir, inbox.DISABLED_FLAG)):
        return None  # the common case: two stats
    from hooks.ui.setup_check import setup_state
    return setup_state(conn, data_dir)


def scene_answer(data_dir: str, scene_id: str, conn: dict, now: float, fresh: bool = False) -> dict:
    if not scene_id.isdigit():
        return {"state": "error", "line": f"PlexSync's panel was asked about scene {scene_id!r}, "
                                          "which is not a Stash scene id."}
    setup = _setup(data_dir, conn, fresh)
    if setup is not None and setup["state"] != "ready":
        return setup
    rows = _scene_rows(data_dir, scene_id, now)
    if rows is None:  # PlexSync never ran here, or only a hook noted edits so far
        return {**states.scene_state(latest=None, scheduled=[], dead=None, record=None,
                                     skipped=None, noted=_noted(data_dir, scene_id), now=now),
                "scene_id": scene_id, "no_data": True}
    record, server, plays = rows["record"], rows["server"], rows["plays"]
    facts = states.scene_state(latest=rows["latest"], scheduled=rows["scheduled"],
                               dead=rows["dead"], record=record, skipped=rows["skipped"],
                               noted=_noted(data_dir, scene_id), now=now)
    facts["scene_id"] = scene_id
    if record:
        facts["item"] = {"rating_key": str(record.get("rating_key") or ""),
                         "title": record.get("plex_title"), "library": record.get("library"),
                         "open_in_plex": open_in_plex(server, record.get("rating_key"))}
        facts["last_sync"] = {"at": record.get("synced_at"), "changed": record.get("changed"),
                              "fields": sorted(k for k in (record.get("written") or {})
                                               if k != "actor_thumbs")}
    if plays and plays.get("imported"):
        facts["plays"] = {"count": len(plays["imported"]), "last_at": max(plays["imported"])}
    return facts


def _scene_rows(data_dir: str, scene_id: str, now: float) -> dict | None:
    """queue.db's rows about the scene: from the panel's last reading while queue.db is
    unchanged (sync_queue/view/cache.py), else read (and kept for the next poll)."""
    current = view_cache.stamp(data_dir)
    if current[0] is None:
        return None
    key = f"scene-{scene_id}"
    rows = view_cache.load(data_dir, key, current, now, loads)
    if rows is not None:
        return rows
    from sync_queue.view.rows import QueueView  # loads SQLite: only when queue.db changed
    view = QueueView.open(data_dir, loads)
    if view is None:
        return None
    with view:
        rows = view.scene_rows(scene_id)
    view_cache.store(data_dir, key, current, now, rows, dumps)
    return rows


def open_in_plex(server: dict | None, rating_key) -> str | None:
    """Plex Web's address of the item, when PlexSync knows which server it talked to."""
    if not server or not server.get("machine_identifier") or not rating_key:
        return None
    return (f"{server['url'].rstrip('/')}/web/index.html#!/server/{server['machine_identifier']}"
            f"/details?key=%2Flibrary%2Fmetadata%2F{rating_key}")


def _noted(data_dir: str, scene_id: str) -> bool:
    """An inbox file names the scene: a hook or Sync now noted it, no drainer read it yet."""
    for name in inbox.pending(data_dir):
        raw = inbox.read(data_dir, name)
        try:
            if raw and scene_id in [str(s) for s in loads(raw.decode()).get("scene_ids") or ()]:
                return True
        except (ValueError, AttributeError):
            continue
    return False


def overview_answer(data_dir: str, conn: dict, now: float, fresh: bool = False) -> dict:
    setup = _setup(data_dir, conn, fresh) or {"state": "ready"}
    from sync_queue.view.rows import QueueView
    view = QueueView.open(data_dir, loads)
    if view is None:  # no queue.db yet; hooks may have noted edits already
        noted = len(inbox.pending(data_dir))
        return {"setup": setup, "no_data": True, "failed": [], "failed_total": 0, "queue": {
            "ready": noted, "inbox": noted, "in_flight": 0, "scheduled": 0, "next_due": None,
            "dead_letters": 0, "dead_letters_by_reason": {}, "skipped": 0}}
    from sync_queue.lock import drain_lock_held  # the page only: the panel skips fcntl
    with view:
        queue, state = view.counts(), view.state()
        failed, failed_scenes = view.dead_letters(limit=FAILED_SHOWN), view.failed_scenes()
        synced_scenes, last_sync = view.synced()
    drain = state.get("drain_status") or {}
    return {
        "setup": setup, "queue": queue, "failed_total": failed_scenes,
        "failed": [_failed_row(e) for e in failed],
        "plex": _plex_contact(state.get("breaker"), state.get("auth_failure"), last_sync),
        "plex_server": state.get("plex_server"), "last_sync_at": last_sync,
        "synced_scenes": synced_scenes, "last_run": state.get("drain_summary"),
        "drainer": {"running": drain_lock_held(data_dir),
                    **{k: drain.get(k) for k in ("processed", "total", "started_at", "updated_at")}},
    }


def _failed_row(entry: dict) -> dict:
    return {"scene_id": entry["scene_id"], "title": entry["title"],
            "reason_code": entry["reason_code"], "reason": entry["reason"],
            "fix": states.fix_for(entry["reason_code"]), "attempts": entry["attempts"],
            "failed_at": entry["last_failure"], "looked_for": entry["job"].get("looked_for")}


def _plex_contact(breaker: dict | None, auth: dict | None, last_sync) -> dict:
    """What PlexSync knows about Plex from its own last contacts (it does not ask Plex here);
    the breaker's stored names come from worker/breaker.py (open, half_open, closed)."""
    breaker = breaker or {}
    if auth:
        return {"state": "token_rejected", "since": auth.get("at"), "line": auth.get("message")}
    if breaker.get("name") in ("open", "half_open"):
        return {"state": "unavailable", "since": breaker.get("opened_at")}
    if not (breaker or last_sync):
        return {"state": "not_contacted"}
    failures = int(breaker.get("failures") or 0)
    return {"state": "failing" if failures else "answered", "failures": failures}
