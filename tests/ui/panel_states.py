"""Put a scene into one of PlexSync's states the way PlexSync itself records them, through
sync_queue (the one owner of the queue's files): an inbox note (what a hook writes), a
scheduled retry, a dead letter. For panel states a real drain would reach only after minutes
of retries; the flows that are quick (Sync now, not in Plex, Retry) run for real."""
from __future__ import annotations

import json
import time
from pathlib import Path

from sync_queue import inbox
from sync_queue.dlq import DeadLetters
from sync_queue.store import QueueStore, connect

PANEL = '[data-testid="plexsync-scene-panel"]'


def panel_in_state(page, state: str, timeout_ms: int = 20_000):
    """The panel once it shows `state` (its data-state attribute)."""
    page.wait_for_selector(f'{PANEL}[data-state="{state}"]', timeout=timeout_ms)
    return page.locator(PANEL)


def note_edit(data_dir: Path, scene_id: str, now: float | None = None) -> None:
    """What a Scene.Update.Post hook leaves: one inbox file naming the scene."""
    now = time.time() if now is None else now
    body = json.dumps({"scene_ids": [scene_id], "update_type": "update", "enqueued_at": now,
                       "not_before": 0.0}).encode()
    inbox.write_edit(data_dir, f"{time.time_ns():020d}-1-{scene_id}.json", body)


def _job(scene_id: str, title: str, **extra) -> dict:
    return {"scene_id": int(scene_id), "job_key": f"test-{scene_id}-{time.time_ns()}",
            "update_type": "update", "enqueued_at": time.time(), "attempts": 0,
            "data": {"id": scene_id, "title": title, "files": []}, **extra}


def schedule_retry(data_dir: Path, scene_id: str, *, in_s: float, attempts: int, error: str,
                   looked_for: str | None = None) -> float:
    """A job that failed `attempts` times and waits for its next try; returns that time."""
    next_try = time.time() + in_s
    extra = {"looked_for": looked_for} if looked_for else {}
    job = _job(scene_id, "retrying", attempts=attempts, not_before=next_try, last_error=error,
               first_failed_at=time.time() - 60, last_failed_at=time.time() - 5, **extra)
    with QueueStore(data_dir) as store:
        store.enqueue([job])
    return next_try


def dead_letter(data_dir: Path, scene_id: str, *, reason_code: str, reason: str,
                error_class: str = "AmbiguousMatch") -> None:
    """A job PlexSync gave up on, as the drain's DLQ stores it."""
    conn = connect(data_dir)
    try:
        with QueueStore(data_dir) as store:
            store.enqueue([_job(scene_id, "failed")])
        seq = conn.execute("SELECT seq FROM scene_latest WHERE scene_id = ?", (scene_id,)).fetchone()[0]
        conn.execute("DELETE FROM ack_queue_default")  # the drain acks what it dead-letters
        DeadLetters(conn).add(_job(scene_id, "failed", seq=seq, attempts=1), reason_code=reason_code,
                              reason=reason, error_class=error_class)
    finally:
        conn.close()
