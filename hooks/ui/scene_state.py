"""Which of its states a scene is in for PlexSync, decided from what queue.db holds about it.

Pure: the caller reads the rows (hooks/ui/reads.py) and passes them in with `now`, so every
state is tested from value tables. The newest job of a scene (scene_latest) decides: a dead
letter or a scheduled copy of it says failed / retrying; a job newer than the last sync says
waiting; otherwise the last sync record (or the skip) says where the scene stands.
"""
from __future__ import annotations

SYNCED, WAITING, RETRYING, FAILED, NOT_IN_PLEX, NOT_SYNCED = (
    "synced", "waiting", "retrying", "failed", "not_in_plex", "not_synced")

# What a person does about each kind of failure (sync_queue/dlq.py's reason codes).
FIXES = {
    "ambiguous_match": "Make exactly one Plex item hold this scene's file (remove the duplicate "
                       "in Plex, or correct the Path map setting), then press Retry.",
    "bad_request": "Plex refused the values sent: correct the field the reason names in Stash, "
                   "then press Retry.",
    "invalid_snapshot": "Save the scene in Stash again (or press Sync now) to queue a fresh copy.",
    "not_found": "Make the path PlexSync looked for the one Plex has: correct the Path map or "
                 "Plex libraries setting, or let Plex scan the folder; then press Retry.",
    "retries_exhausted": "Make sure Plex is running and reachable (Health Check on the PlexSync "
                         "page), then press Retry.",
    "unexpected_error": "Run Health Check on the PlexSync page; if it passes, press Retry. If "
                        "it fails again, the reason belongs in a bug report.",
}


def fix_for(reason_code: str) -> str:
    return FIXES.get(reason_code, FIXES["unexpected_error"])


def scene_state(*, latest, scheduled: list, dead, record: dict | None, skipped: dict | None,
                noted: bool, now: float) -> dict:
    """The scene's state and the facts the panel shows for it.

    latest: (seq, enqueued_at) of the scene's newest job or None; scheduled: its scheduled
    jobs (dicts, newest first); dead: its newest dead letter (sync_queue/view.py) or None;
    noted: an inbox file
    names it (a hook or Sync now, not read by a drainer yet)."""
    seq, enqueued_at = latest or (None, 0.0)
    if noted:
        return {"state": WAITING, "since": now}
    if dead is not None and (seq is None or int(dead["job"].get("seq") or 0) >= seq):
        return {"state": FAILED, "reason": dead["reason"], "reason_code": dead["reason_code"],
                "fix": fix_for(dead["reason_code"]), "attempts": dead["attempts"],
                "failed_at": dead["last_failure"], "candidates": dead["candidates"],
                "looked_for": dead["job"].get("looked_for")}
    job = next((j for j in scheduled if seq is None or j.get("seq") == seq), None)
    if job is not None:
        return _scheduled(job)
    synced_at = float((record or {}).get("synced_at") or 0)
    skipped_at = float((skipped or {}).get("skipped_at") or 0)
    if seq is not None and enqueued_at > max(synced_at, skipped_at):
        return {"state": WAITING, "since": enqueued_at}
    if skipped is not None and skipped_at >= synced_at:
        return {"state": NOT_IN_PLEX, "reason": skipped["reason"], "at": skipped_at,
                "looked_for": None}
    if record:
        return {"state": SYNCED}
    return {"state": NOT_SYNCED}


def _scheduled(job: dict) -> dict:
    attempts = int(job.get("attempts") or 0)
    if not attempts:  # a new scene given time to appear in Plex
        return {"state": WAITING, "since": job.get("enqueued_at"), "next_try": job.get("not_before")}
    error = str(job.get("last_error") or "")
    facts = {"next_try": job.get("not_before"), "attempts": attempts, "reason": error,
             "looked_for": job.get("looked_for")}
    if error.startswith("ItemNotFound"):
        return {"state": NOT_IN_PLEX, **facts}
    return {"state": RETRYING, **facts}
