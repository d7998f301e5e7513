"""Issue 11 item 16: a scene deleted in Stash (its file gone, so Plex has no item for it) is
dropped with one info line as soon as Plex does not find it, instead of following the
not-found schedule for ~45 minutes. A scene Stash still has keeps that schedule."""
from __future__ import annotations

from hooks.inbox_ingest import ingest_inbox
from hooks.stash_api import StashClient
from sync_queue.lock import DrainLock
from validation.config import parse_config
from tests.e2e_fixtures import wait_until
from tests.proof_checks import queue_counts, tracebacks

GONE_FILE = "/data/movies/deleted/gone.mp4"
WAITING_FILE = "/data/movies/deleted/not-imported-yet.mp4"


def test_deleted_scene_without_plex_item_is_dropped_once_not_retried(synced):
    env = synced
    gone = env.stash.add_scene("about to be deleted", files=[GONE_FILE])
    waiting = env.stash.add_scene("Plex will import it later", files=[WAITING_FILE])
    lock = DrainLock(env.data_dir)  # the edits are queued while another drainer is busy ...
    assert lock.try_acquire()
    env.edit(gone, title="edited, then deleted")
    env.edit(waiting, title="edited, file not in Plex yet")
    # The busy drainer reads both noted edits from Stash into queued jobs (a deleted scene is
    # never queued in the first place) ...
    settings = env.stash.plugin_settings("PlexSync")
    assert ingest_inbox(env.data_dir, StashClient(env.stash.url), parse_config(settings)) == 2
    env.stash.delete_scene(gone)  # ... and then the scene (with its file) is deleted
    lock.release()

    env.start_drainer()  # it stays for the waiting scene's retry; the deleted one is settled
    wait_until(lambda: f"scene {waiting}: ItemNotFound" in env.drainer_log()
               and f"scene {gone}:" in env.drainer_log(), 30, what="both jobs to be settled")

    log_text = env.drainer_log()
    dropped = [line for line in log_text.splitlines() if f"scene {gone}: deleted in Stash" in line]
    assert len(dropped) == 1 and " INFO " in dropped[0], log_text
    assert f"scene {waiting}: deleted in Stash" not in log_text
    counts = queue_counts(env)
    assert (counts["ready"], counts["in_flight"]) == (0, 0)
    assert counts["scheduled"] == 1  # only the scene Stash still has waits for Plex's scan
    assert env.dead_letters() == []
    asked = env.stash.graphql_requests(operation_name="PlexSyncSceneExists")
    assert len(asked) == 2  # one question per scene Plex did not find
    assert tracebacks(env) == []
