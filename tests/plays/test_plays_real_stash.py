"""Plex -> Stash on the REAL Stash (../shared/stash-server): a play made in Plex shows in
Stash's play history after the task and after the next background drain, exactly once, with
its real time; a resume point and a rating come back; the rating round trip writes nothing to
Plex and queues nothing (no loop), although Stash fires Scene.Update.Post for it.

Skips with the reason when the real Stash or ffmpeg is missing (tests/real_stash_plays_support).
"""
from __future__ import annotations

import time

import pytest
import requests

from sync_queue.records import SyncRecords
from sync_queue.store import QueueStore
from tests.emulators.plex_server import PlexEmulator
from tests.plays.real_stash_support import RealStash, make_clip, unavailable_reason

SCENE_PLAY_STATE = ("query($id: ID) { findScene(id: $id) { title play_count play_history "
                    "last_played_at resume_time rating100 } }")
PLAYED_AT, PLAYED_AT_TEXT = 1_714_000_000, "2024-04-24T23:06:40Z"
LATER_AT, LATER_AT_TEXT = 1_714_086_400, "2024-04-25T23:06:40Z"
IDENT = {"identifier": "com.plexapp.plugins.library"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"real Stash end-to-end test skipped: {reason}")
    root = tmp_path_factory.mktemp("plays-real-stash")
    # Every drain may look at Plex history (the 5-minute pace would outlast the test).
    stash = RealStash(root, env={"PLEXSYNC_PLAYS_INTERVAL": "0", "PLEXSYNC_NEW_SCENE_DELAY": "0.3"})
    make_clip(stash.media / "clip.mp4", 440)
    plex = PlexEmulator(token="plex-token").start()
    stash.start()
    try:
        stash.scan()  # before the plugin exists: no Scene.Create.Post for it
        scene = stash.gql("{ findScenes { scenes { id files { path } } } }")["findScenes"]["scenes"][0]
        section = plex.add_section("Movies", location=str(stash.media))
        rk = plex.add_item(section, "clip", files=[scene["files"][0]["path"]], duration=10_000)
        stash.install_plugin({"plex_url": plex.url, "plex_token": plex.token})
        data_dir = stash.home / "plexsync"  # Stash passes its config folder; data lives there
        assert stash.run_task("Sync All")["status"] == "FINISHED"
        assert SyncRecords(data_dir).get(scene["id"])["rating_key"] == str(rk), stash.log_text()[-3000:]
        yield {"stash": stash, "plex": plex, "scene": scene["id"], "rk": rk, "data_dir": data_dir}
    finally:
        stash.stop()
        plex.stop()
    assert not plex.errors, plex.errors


def play_state(world) -> dict:
    return world["stash"].gql(SCENE_PLAY_STATE, {"id": world["scene"]})["findScene"]


def plex_app(world, path: str, method: str = "GET", **params) -> None:
    """What a Plex app sends while someone watches (the owner's token)."""
    response = requests.request(method, f"{world['plex'].url}{path}", timeout=10,
                                params={**IDENT, **params},
                                headers={"X-Plex-Token": world["plex"].token})
    assert response.status_code == 200, response.text


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def queue_idle(data_dir) -> bool:
    counts = QueueStore(data_dir).counts()
    return counts["ready"] + counts["in_flight"] + counts["scheduled"] == 0


def test_1_task_brings_plex_plays_and_resume_point_exactly_once(world):
    world["plex"].add_play(world["rk"], PLAYED_AT)                      # played in Plex last year
    plex_app(world, "/:/timeline", ratingKey=world["rk"], key=f"/library/metadata/{world['rk']}",
             time=4000, state="stopped", duration=10_000)              # stopped at 4 s of 10
    assert world["stash"].run_task("Import Plex plays")["status"] == "FINISHED"
    state = play_state(world)
    assert (state["play_count"], state["play_history"]) == (1, [PLAYED_AT_TEXT])
    assert state["last_played_at"] == PLAYED_AT_TEXT
    assert state["resume_time"] == 4.0
    assert world["stash"].run_task("Import Plex plays")["status"] == "FINISHED"
    assert play_state(world)["play_history"] == [PLAYED_AT_TEXT]       # not twice


def test_2_a_play_in_plex_arrives_after_the_next_background_drain(world):
    world["plex"].add_play(world["rk"], LATER_AT)
    world["stash"].gql('mutation($id: ID!) { sceneUpdate(input: {id: $id, title: "Renamed"}) '
                       '{ id } }', {"id": world["scene"]})             # hook -> drainer
    state = wait_for(lambda: (s := play_state(world))["play_count"] == 2 and s, 60,
                     "the drainer to bring the new Plex play")
    assert sorted(state["play_history"]) == [PLAYED_AT_TEXT, LATER_AT_TEXT]
    wait_for(lambda: queue_idle(world["data_dir"]), 30, "the queue to drain")
    assert world["plex"].item(world["rk"])["title"] == "Renamed"       # the sync itself ran
    assert play_state(world)["play_count"] == 2


def test_3_rating_round_trip_writes_nothing_to_plex_and_queues_nothing(world):
    stash, plex = world["stash"], world["plex"]
    stash.gql('mutation($i: Map!) { configurePlugin(plugin_id: "PlexSync", input: $i) }',
              {"i": {"plex_url": plex.url, "plex_token": plex.token, "import_ratings": True}})
    plex_app(world, "/:/rate", "PUT", key=world["rk"], rating=8)        # 4 stars in Plex
    wait_for(lambda: queue_idle(world["data_dir"]), 30, "an idle queue")
    synced_at = SyncRecords(world["data_dir"]).last_synced_at()
    log_before = len(stash.log_text())
    plex.clear_log()
    assert stash.run_task("Import Plex plays")["status"] == "FINISHED"
    assert play_state(world)["rating100"] == 80
    # Stash ran PlexSync's hook for that sceneUpdate(rating100) ...
    hook_ran = wait_for(lambda: "no synced field changed" in stash.log_text()[log_before:], 60,
                        "PlexSync's hook to answer the rating edit")
    assert hook_ran
    time.sleep(2)  # ... and a drainer it started, if it had started one, would be at work by now
    assert queue_idle(world["data_dir"])
    assert SyncRecords(world["data_dir"]).last_synced_at() == synced_at
    writes = [(r.method, r.path) for r in plex.requests
              if r.method != "GET" or r.path.startswith("/:/")]
    assert writes == []
    assert play_state(world)["play_count"] == 2 and play_state(world)["resume_time"] == 4.0
