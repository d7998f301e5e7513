"""The "Import Plex plays" task and Dry Run's Plex section, run exactly as Stash runs tasks
(tests/harness/runner.py) against the Stash and Plex emulators."""
from __future__ import annotations

import json

from tests.emulators.plex_library import PART_I_FILE
from tests.e2e_fixtures import wait_until
from tests.e2e.test_cli import run_cli
from tests.e2e.test_tasks import assert_progress, task

PLAYED_AT = 1_714_000_000   # 2024-04-24T23:06:40Z


def scene_plays(synced, scene_id=1) -> dict:
    query = "query($id: ID) { findScene(id: $id) { play_count play_history rating100 } }"
    return synced.stash.graphql(query, {"id": str(scene_id)})["data"]["findScene"]


def test_import_task_brings_a_plex_play_once_with_progress(synced):
    task(synced, "sync_all")
    rk = synced.plex.find_by_file(PART_I_FILE)[0]
    synced.plex.add_play(rk, PLAYED_AT)
    synced.plex.clear_log()
    result = task(synced, "import_plays")
    assert result.output.splitlines()[0].startswith("Import Plex plays: from Plex: 1 plays")
    assert_progress(result)
    assert scene_plays(synced)["play_history"] == ["2024-04-24T23:06:40Z"]
    assert [r for r in synced.plex.requests if r.method != "GET" or r.path.startswith("/:/")] == []
    task(synced, "import_plays")
    assert scene_plays(synced)["play_count"] == 1


def test_dry_run_lists_plays_it_would_bring_and_writes_none(synced):
    task(synced, "sync_all")
    synced.plex.add_play(synced.plex.find_by_file(PART_I_FILE)[0], PLAYED_AT)
    out = task(synced, "dry_run").output
    assert "From Plex, would bring into Stash: 1 plays, 0 resume points, 0 ratings" in out
    assert "  · scene 1 (Plex " in out and "1 play(s) at " in out
    assert out.splitlines()[-1].startswith("Summary: ")
    assert scene_plays(synced)["play_count"] == 0


def test_terminal_command_imports_plays_with_json_answer(synced):
    task(synced, "sync_all")
    synced.plex.add_play(synced.plex.find_by_file(PART_I_FILE)[0], PLAYED_AT)
    done = run_cli(synced, "import-plays", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["mode"], answer["plays_added"], answer["ok"]) == ("import_plays", 1, True)
    assert scene_plays(synced)["play_history"] == ["2024-04-24T23:06:40Z"]


def test_the_next_background_drain_brings_a_plex_play(synced):
    task(synced, "sync_all")
    synced.plex.add_play(synced.plex.find_by_file(PART_I_FILE)[0], PLAYED_AT)
    synced.edit(1, title="Saga Part I, renamed")            # hook -> background drainer
    synced.wait_drained()                                   # the import follows the drain
    wait_until(lambda: "from Plex: 1 plays" in synced.drainer_log(), 60,
               what="the drainer's import", )
    assert scene_plays(synced)["play_history"] == ["2024-04-24T23:06:40Z"]


def test_imported_rating_fires_the_hook_which_queues_nothing(synced):
    task(synced, "sync_all")
    rk = synced.plex.find_by_file(PART_I_FILE)[0]
    synced.stash.edit_scene(1, rating100=None)
    synced.plex.set_item(rk, lock=False, userRating=9.0)
    synced.configure(import_ratings=True)
    synced.plex.clear_log()
    runs_before = len(synced.runner.runs)
    task(synced, "import_plays")
    assert scene_plays(synced)["rating100"] == 90
    outputs = [r.output for r in synced.runner.runs[runs_before:]]
    assert [o for o in outputs if not o.startswith("Import Plex plays")] == [
        "scene 1: no synced field changed (id, rating100)"]      # the hook Stash ran for it
    synced.wait_drained()
    assert [r for r in synced.plex.requests if r.method != "GET" or r.path.startswith("/:/")] == []
