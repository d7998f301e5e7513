"""Proof 4 (issue 5): a wrong Plex token with many jobs queued stops syncing with ONE clear
error -- not one dead letter per job, not a retry storm -- and syncing resumes once the
setting is fixed.

Counted: Plex requests while the token is wrong (the first drainer's rejected connect only;
later drainers started by new edits ask Plex nothing), the error lines in Stash's log, the
DLQ, the attempts stored per job, and after the fix one GET and one PUT per item.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from sync_queue.lock import DrainLock, drain_lock_held
from sync_queue.state import QueueState
from tests.e2e_fixtures import wait_until
from tests.proof_checks import (item_requests, queue_counts, secret_leaks, tracebacks,
                                twin_scenes)

SCENES = 40
WRONG_TOKEN = "wrongTok-44Zq81"


def queued_jobs(data_dir) -> list[dict]:
    """Jobs still in the queue (ready or in flight)."""
    with closing(sqlite3.connect(f"file:{data_dir / 'queue.db'}?mode=ro", uri=True)) as db:
        return [json.loads(d) for (d,) in db.execute(
            "SELECT data FROM ack_queue_default WHERE status < 5")]


@pytest.mark.slow
def test_wrong_token_stops_once_without_dead_letters_and_resumes_when_fixed(secured):
    env = secured
    env.secrets += (WRONG_TOKEN,)  # a mistyped token is still a credential: never logged
    scenes = twin_scenes(env, SCENES, "auth")
    tag = env.stash.add_tag("Auth Tag")
    env.configure(plex_token=WRONG_TOKEN)
    lock = DrainLock(env.data_dir)  # queue the bulk edit as if a drainer were busy
    assert lock.try_acquire()
    env.bulk_edit(list(scenes), tag_ids={"ids": [str(tag)], "mode": "ADD"})
    lock.release()
    env.plex.clear_log()

    first, *later = list(scenes)[:4]
    env.edit(first, title="first edit, wrong token")  # its hook starts the drainer
    wait_until(lambda: QueueState(env.data_dir).auth_failure(), 30, what="the auth failure")
    env.wait_drainer_exit(timeout=30)
    rejected = env.plex.requests
    assert 1 <= len(rejected) <= 2 and {r.status for r in rejected} == {401}, rejected

    for n, scene in enumerate(later):  # more edits: each hook starts a drainer that stops at once
        env.edit(scene, title=f"edit {n} while the token is wrong")
        env.wait_drainer_exit(timeout=30)
    assert len(env.plex.requests) == len(rejected)  # nobody asked Plex again: no retry storm
    assert env.dead_letters() == []
    counts = queue_counts(env)
    assert (counts["in_flight"], counts["scheduled"]) == (0, 0)
    kept = queued_jobs(env.data_dir)
    assert {job["scene_id"] for job in kept} == set(scenes)  # every scene still queued ...
    assert {job["attempts"] for job in kept} == {0}  # ... with no retry spent on it

    # Stash's log: the drain's stop is reported once; each later save (not each job) only
    # reminds the user what to fix.
    print("\n".join(f"{r.kind} {r.name}: {r.logs}" for r in env.runner.runs[-5:]))
    stash_log = [(run, m) for run in env.runner.runs for m in run.messages()]
    stopped = [m for _, m in stash_log if m.startswith("background sync:")]
    assert len(stopped) == 1 and "Plex token setting" in stopped[0], stopped
    reminders = [run for run, m in stash_log if "Plex token" in m and m not in stopped]
    assert len(reminders) == len(set(map(id, reminders))) <= len(later)

    env.configure()  # the user fixes the token
    env.plex.clear_log()
    env.edit(later[-1], title="after the fix")
    env.wait_drained(timeout=120)
    for scene, path in scenes.items():
        assert "Auth Tag" in env.plex_item(path)["genres"], scene
    assert env.plex_item(scenes[later[-1]])["title"] == "after the fix"
    per_item = {s: item_requests(env.plex, env.plex.find_by_file(p)[0]) for s, p in scenes.items()}
    assert {s: n for s, n in per_item.items() if n != {"get": 1, "put": 1}} == {}
    assert env.dead_letters() == [] and not drain_lock_held(env.data_dir)
    assert QueueState(env.data_dir).auth_failure() is None
    assert tracebacks(env) == [] and secret_leaks(env) == []
    print(f"\nproof 4: {SCENES + 4} jobs queued under a wrong token: {len(rejected)} Plex "
          f"request(s) (401), 1 stop error in Stash's log ({stopped[0][:100]!r}...) + {len(reminders)} per-save reminders, "
          f"0 dead letters, 0 attempts spent; after the fix all landed with 1 GET + 1 PUT each")
