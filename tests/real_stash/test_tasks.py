"""Issue 10, item 4: every PlexSync task started by Stash (runPluginTask), watched with findJob.

Stash ends a task's job FINISHED even when the plugin answered {"error": ...}; it only logs
"Plugin returned error". So a task passes here when its job is FINISHED *and* Stash logged no
error from that run.
"""
from __future__ import annotations

from sync_queue.lock import drain_lock_held
from tests.harness.manifest import load_manifest
from tests.real_stash.conftest import clip_path
from tests.real_stash.server import PROJECT_ROOT
from tests.waiting import wait_until

MANIFEST = load_manifest(PROJECT_ROOT / "PlexSync.yml")
BULK_UPDATE = "mutation B($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"


def errors_in(lines: list[str]) -> list[str]:
    return [line for line in lines if "level=error" in line or "returned error" in line]


def test_a_task_that_answers_error_is_seen_although_its_job_finishes(fresh_stage):
    """The control for the test below: Stash's job says FINISHED, its log says error."""
    job, lines = fresh_stage.run_task("Queue Status", mode="no_such_mode")
    assert job["status"] == "FINISHED"
    assert any("no_such_mode" in line for line in errors_in(lines)), lines


def test_every_task_of_the_manifest_finishes_without_error(fresh_stage):
    stage = fresh_stage
    ran = []
    for task in MANIFEST.tasks:  # in the manifest's order, whatever tasks other issues add
        job, lines = stage.run_task(task.name)
        assert job["status"] == "FINISHED", (task.name, job)
        assert not errors_in(lines), (task.name, lines)
        ran.append(task.name)
    assert ran == [t["name"] for t in stage.stash.plugin()["tasks"]]


def test_sync_all_stopped_by_stopjob_loses_nothing(fresh_stage):
    """Edits made while hooks queue nothing (enabled off), then Sync All slowed by Plex and
    stopped with stopJob (Stash kills the plugin process): the next Process Queue finishes."""
    stage, stash = fresh_stage, fresh_stage.stash
    paths = [clip_path(stash.media, n) for n in range(50)]
    ids = [stage.scene_ids[str(p)] for p in paths]
    stash.configure_plugin(stage.settings(enabled=False))
    stash.graphql(BULK_UPDATE, {"input": {"ids": ids, "details": "Stopped then finished"}}, timeout=600)
    stash.configure_plugin(stage.settings())
    # after the first scene, Sync All's edits wait at Plex: it is stopped mid-drain by
    # construction, not because Plex happened to be slow enough
    held = stage.plex.hold(method="PUT", after=1)
    try:
        job_id = stash.run_task("Sync All")
        synced = lambda: sum(stage.plex_item(p)["summary"] == "Stopped then finished" for p in paths)
        wait_until(lambda: synced() >= 1 and held.held(), 120, interval=0.05,
                   what="Sync All to sync a first scene and wait on the next")
        find_job = "query J($id: ID!) { findJob(input: {id: $id}) { status progress } }"
        progress = wait_until(lambda: (j := stash.graphql(find_job, {"id": job_id})["findJob"])
                              and j["progress"] and j, 60, what="Stash to show the progress")
        assert progress["status"] == "RUNNING" and 0 < progress["progress"] < 1, progress
        stash.graphql("mutation S($id: ID!) { stopJob(job_id: $id) }", {"id": job_id})
        synced_before_stop = synced()
        job = stash.wait_job(job_id, 60)
        assert job["status"] in ("CANCELLED", "FINISHED"), job
    finally:
        held.release()
    assert synced_before_stop < len(paths), "Sync All finished before it was stopped: nothing proven"
    wait_until(lambda: not drain_lock_held(stage.data_dir), 60, what="the stopped task's lock")
    job, lines = stage.run_task("Process Queue")
    assert job["status"] == "FINISHED" and not errors_in(lines), (job, lines)
    stage.wait_drained()
    missing = [str(p) for p in paths if stage.plex_item(p)["summary"] != "Stopped then finished"]
    assert missing == [], f"{len(missing)} scenes lost by the stopped Sync All (synced before stop: {synced_before_stop})"
