"""Issue 11 item 14: a plex_libraries typo stops the drain once with a clear message, like a
wrong token, and keeps every job until the setting is fixed (it used to dead-letter each job
as a bad request)."""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing

from sync_queue.lock import DrainLock
from sync_queue.notes import SUMMARY_FILE
from sync_queue.state import QueueState
from tests.e2e_fixtures import wait_until
from tests.proof_checks import queue_counts, tracebacks, twin_scenes


def queued_attempts(data_dir) -> dict:
    with closing(sqlite3.connect(f"file:{data_dir / 'queue.db'}?mode=ro", uri=True)) as db:
        jobs = [json.loads(d) for (d,) in db.execute(
            "SELECT data FROM ack_queue_default WHERE status < 5")]
    return {job["scene_id"]: int(job.get("attempts") or 0) for job in jobs}


def test_wrong_library_name_stops_once_keeps_the_jobs_and_resumes_when_fixed(synced):
    env = synced
    scenes = twin_scenes(env, 5, "typo")
    tag = env.stash.add_tag("Typo Tag")
    env.configure(plex_libraries="Movise")  # the user meant "Movies"
    lock = DrainLock(env.data_dir)  # queue the bulk edit as if a drainer were busy
    assert lock.try_acquire()
    env.bulk_edit(list(scenes), tag_ids={"ids": [str(tag)], "mode": "ADD"})
    lock.release()

    first, second, *_ = scenes
    env.edit(first, title="first edit, wrong library")  # its hook starts the drainer
    wait_until(lambda: QueueState(env.data_dir).settings_failure(), 30,
               what="the drain to stop on plex_libraries")
    env.wait_drainer_exit(timeout=30)
    # The drainer leaves its summary after letting go of the lock: the next hook shows it.
    wait_until(lambda: (env.data_dir / SUMMARY_FILE).exists(), 30, what="the drain's summary")
    env.edit(second, title="second edit, still wrong")  # a drainer that stops at once, silently
    env.wait_drainer_exit(timeout=30)

    assert env.dead_letters() == []
    assert queue_counts(env)["scheduled"] == 0
    kept = queued_attempts(env.data_dir)
    assert set(kept) == set(scenes) and set(kept.values()) == {0}  # no retry spent
    stopped = [m for m in env.hook_logs() if m.startswith("background sync:")]
    assert len(stopped) == 1, stopped
    assert "Plex libraries setting names Movise, which Plex does not have" in stopped[0]
    assert "Plex has: Movies" in stopped[0]
    assert env.drainer_log().count("syncing stops until the setting is changed") == 1
    status = env.runner.run_task("queue_status")
    assert "STOPPED: the Plex libraries setting names Movise" in status.output, status.output
    assert not any("resumed the background sync" in m for m in status.messages())

    env.configure(plex_libraries="Movies")  # fixed
    env.edit(first, title="after the fix")
    env.wait_drained(timeout=60)
    for scene, path in scenes.items():
        assert "Typo Tag" in env.plex_item(path)["genres"], scene
    assert env.plex_item(scenes[first])["title"] == "after the fix"
    assert env.dead_letters() == []
    assert QueueState(env.data_dir).settings_failure() is None
    assert "the Plex libraries setting changed since Plex did not have it" in env.drainer_log()
    assert tracebacks(env) == []
