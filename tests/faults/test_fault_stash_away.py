"""Issue 11 item 12: Stash away during a drain, and Stash's login session expiring while a
drainer runs on the session the hook handed it.

In both cases the drain syncs what the jobs carry (metadata), keeps each cover *owed*, and
says why once (drainer.log, and the drain's summary line in Stash's log), not once per
scene. A cover still owed is retried by the next drain (the next edit's hook) and by Sync
All, which used to report such scenes "already in sync" and never upload their covers.
"""
from __future__ import annotations

import hashlib

from sync_queue.lock import DrainLock
from sync_queue.records import SyncRecords
from tests.emulators.plex_library import PART_I_FILE, PART_II_FILE
from tests.emulators.stash_fixtures import make_png, png_data_url
from tests.e2e_fixtures import wait_until
from tests.proof_checks import secret_leaks, tracebacks, twin_scenes

AWAY_LINE = "Stash did not serve covers"
LOGIN_LINE = "the login session Stash handed to it has probably expired"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def test_covers_owed_while_stash_was_away_are_uploaded_by_sync_all(synced):
    env = synced
    env.configure(sync_background="false")
    scenes = twin_scenes(env, 3, "away")
    baseline = env.runner.run_task("sync_all", timeout=120)  # every scene of Stash in sync
    assert "8 queued (8 changed since their last sync" in baseline.output, baseline.output
    assert env.dead_letters() == []
    covers = {scene: make_png(f"away cover {scene}") for scene in scenes}
    for scene, cover in covers.items():
        env.stash.set_cover(scene, cover)
    tag = env.stash.add_tag("Away Tag")
    lock = DrainLock(env.data_dir)  # queued while a drainer is busy ...
    assert lock.try_acquire()
    env.bulk_edit(list(scenes), tag_ids={"ids": [str(tag)], "mode": "ADD"})
    lock.release()

    # ... and Stash restarts while the next drain runs: right after the drainer read the
    # edited scenes, before it fetched their covers.
    env.stash.after_answering("PlexSyncScenes", "down")
    env.start_drainer()
    env.wait_drained(timeout=30)
    env.stash.up()

    for scene, path in scenes.items():
        item = env.plex_item(path)
        assert "Away Tag" in item["genres"], scene  # what the job carried is synced
        assert item["posterSha1"] != sha1(covers[scene])  # the cover could not be
    log_text = env.drainer_log()
    assert log_text.count(AWAY_LINE) == 1, log_text  # said once, not per scene
    assert "could not fetch the cover" not in log_text
    assert SyncRecords(env.data_dir).owed_cover_count() == 3
    assert env.dead_letters() == []
    status = env.runner.run_task("queue_status")
    assert "covers owed           3" in status.output, status.output

    result = env.runner.run_task("sync_all", timeout=120)
    assert result.error is None, result.error
    # Sync All checks every scene against Plex; the 3 with a cover owed count as changed
    assert "8 queued (3 changed since their last sync, 5 unchanged in Stash" in result.output, \
        result.output
    for scene, path in scenes.items():
        assert env.plex_item(path)["posterSha1"] == sha1(covers[scene]), scene
    assert SyncRecords(env.data_dir).owed_cover_count() == 0
    for scene in scenes:
        assert not SyncRecords(env.data_dir).get(scene).get("cover_owed")
    again = env.runner.run_task("sync_all", timeout=120)
    assert "(0 changed since their last sync, 8 unchanged in Stash" in again.output, again.output
    assert "synced 0, unchanged 8" in again.output, again.output  # checked, nothing written
    assert tracebacks(env) == []


def test_expired_login_session_syncs_metadata_keeps_cover_owed_and_next_drain_uploads_it(secured):
    env = secured
    env.configure(sync_background="false")
    part1, part2 = env.library.scenes["part1"], env.library.scenes["part2"]
    cover = make_png("cover behind an expired login")
    lock = DrainLock(env.data_dir)
    assert lock.try_acquire()
    env.edit(part1, title="new title, old session", cover_image=png_data_url(cover))
    lock.release()

    # the hook's session ends after the drainer read the scene, before it fetches the cover
    env.stash.after_answering("PlexSyncScenes", "expire")
    env.start_drainer()
    env.wait_drained(timeout=30)

    item = env.plex_item(PART_I_FILE)
    assert item["title"] == "new title, old session"
    assert item["posterSha1"] != sha1(cover)
    log_text = env.drainer_log()
    assert log_text.count(LOGIN_LINE) == 1 and "could not fetch the cover" not in log_text
    assert SyncRecords(env.data_dir).owed_cover_count() == 1
    # the drainer leaves its summary for the next hook after letting go of the lock
    env.wait_drainer_exit()

    # Stash starts the next hook with a valid session: its drainer pays the owed cover
    env.runner.session_cookie = env.stash.create_session()
    env.secrets += (env.runner.session_cookie,)
    env.edit(part2, title="the next edit")
    env.wait_plex(PART_I_FILE, lambda i: i["posterSha1"] == sha1(cover), timeout=30,
                  what="the owed cover")
    env.wait_drained(timeout=30)
    assert env.plex_item(PART_II_FILE)["title"] == "the next edit"
    assert SyncRecords(env.data_dir).owed_cover_count() == 0
    summaries = [m for m in env.hook_logs() if m.startswith("background sync:")]
    owed = [m for m in summaries if "cover(s) owed" in m]
    assert len(owed) == 1 and "1 cover(s) owed" in owed[0], summaries
    assert env.dead_letters() == []
    assert tracebacks(env) == [] and secret_leaks(env) == []
