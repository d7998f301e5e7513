"""End to end: an edit in the Stash emulator fires the hook through the Stash-exact runner, the
detached drainer syncs it, and the Plex emulator ends up with exactly Stash's metadata."""
from sync_queue.state import QueueState
from sync_queue.store import QueueStore
from tests.e2e_fixtures import wait_until
from tests.emulators.plex_library import PART_I_FILE, PART_II_FILE


def test_single_edit_lands_in_plex(synced):
    scene = synced.library.scenes["part1"]
    synced.edit(scene, title="Saga Part I (Director's Cut)", details="New summary")
    [run] = synced.runner.runs
    assert run.error is None and "queued" in run.output
    item = synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Saga Part I (Director's Cut)")
    assert item["summary"] == "New summary"
    assert item["studio"] == "Saga Films"
    assert item["genres"] == ["Adventure", "Epic"]
    assert [a["tag"] for a in item["actors"]] == ["Ann Able", "Bob O'Brien"]
    assert set(item["collections"]) == {"Saga Films", "Saga Group", "Saga"}
    # the neighbour with a nearly identical name is untouched
    assert synced.plex_item(PART_II_FILE)["title"] == "Saga Part II"


def test_edit_of_unsynced_field_is_skipped_without_any_request(synced):
    synced.stash.clear_logs()
    synced.edit(synced.library.scenes["part1"], rating100=20, organized=True)
    [run] = synced.runner.runs
    assert "no synced field changed" in run.output
    assert synced.stash.graphql_requests(contains="PlexSync") == []


def _twin_scenes(synced, count: int, folder: str = "bulk") -> list[int]:
    """`count` scenes that exist in Stash and, under the same path, in Plex."""
    section = synced.plex_library.sections["movies"]
    ids = []
    for n in range(count):
        path = f"/data/movies/{folder}/{n:03d}.mp4"
        synced.plex.add_item(section, f"{folder} {n}", files=[path])
        ids.append(synced.stash.add_scene(f"{folder} {n}", files=[path]))
    return ids


def test_bulk_edit_of_20_scenes_costs_one_stash_request_and_lands_everywhere(synced):
    ids = _twin_scenes(synced, 20)
    tag = synced.stash.add_tag("Bulk Tag")
    synced.stash.clear_logs()
    synced.bulk_edit(ids, tag_ids={"ids": [str(tag)], "mode": "ADD"})
    assert len(synced.runner.runs) == 20
    assert all(run.error is None for run in synced.runner.runs)
    assert sum("already queued" in run.output for run in synced.runner.runs) == 19
    for n in range(20):
        synced.wait_plex(f"/data/movies/bulk/{n:03d}.mp4", lambda i: "Bulk Tag" in i["genres"],
                         what=f"bulk scene {n}")
    # The hooks asked Stash nothing; the drainer read all 20 scenes in one request.
    assert len(synced.stash.graphql_requests(operation_name="PlexSyncScenes")) == 1
    assert synced.stash.graphql_requests(operation_name="PlexSyncHookBundle") == []


def test_new_scene_from_a_scan_is_synced_after_its_delay(synced):
    section = synced.plex_library.sections["movies"]
    path = "/data/movies/new/fresh.mp4"
    synced.plex.add_item(section, "fresh", files=[path])
    scene = synced.stash.scan_new_scene(title="Fresh Scene", files=[path], tags=["New"])
    [run] = synced.runner.runs
    assert run.error is None and "queued" in run.output
    synced.wait_plex(path, lambda i: i["title"] == "Fresh Scene" and i["genres"] == ["New"])
    assert scene


def test_scan_triggered_update_with_null_input_syncs(synced):
    scene = synced.library.scenes["part2"]
    synced.stash.rescan_scene(scene, title="Saga Part II (rescanned)")
    synced.wait_plex(PART_II_FILE, lambda i: i["title"] == "Saga Part II (rescanned)")


def test_edit_again_while_pending_newest_wins(synced):
    scene = synced.library.scenes["part1"]
    synced.plex.down()  # the first job cannot be synced and waits for its retry
    synced.edit(scene, title="Older title")
    synced.edit(scene, title="Newest title")
    synced.plex.up()
    synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Newest title", timeout=40)
    synced.wait_drained(timeout=40)
    assert synced.plex_item(PART_I_FILE)["title"] == "Newest title"
    assert synced.dead_letters() == []


def test_wrong_token_stops_with_one_error_then_resumes_when_fixed(synced):
    synced.configure(plex_token="wrong-token")
    scene = synced.library.scenes["part1"]
    synced.edit(scene, title="Title while token is wrong")
    wait_until(lambda: QueueState(synced.data_dir).auth_failure(), 60, what="the auth failure")
    synced.wait_drainer_exit()
    assert QueueStore(synced.data_dir).counts()["ready"] == 1  # kept, not dead-lettered
    synced.edit(synced.library.scenes["rich"], title="Second edit, same wrong token")
    last = synced.runner.runs[-1]
    assert any("rejected the configured Plex token" in m for m in last.messages("warning")), (last.logs, last.output, last.error)
    assert QueueStore(synced.data_dir).counts()["ready"] == 2
    assert synced.dead_letters() == []
    assert synced.plex_item(PART_I_FILE)["title"] == "Saga Part I"
    assert "wrong-token" not in synced.drainer_log()
    rejected = synced.plex.count(path_prefix="/library/metadata")
    synced.configure()  # the user fixes the token
    synced.edit(synced.library.scenes["part2"], title="Part II after the fix")
    synced.wait_plex(PART_II_FILE, lambda i: i["title"] == "Part II after the fix")
    synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Title while token is wrong")
    assert rejected <= 1  # no retry storm while the token was wrong
    logged = " ".join(synced.hook_logs())
    assert "token" in logged.lower()


def test_ambiguous_match_under_strict_matching_is_dead_lettered_with_both_candidates(synced):
    scene = synced.stash.add_scene("Scene", files=["/elsewhere/unknown/scene.mp4"])
    synced.configure(trigger_plex_scan=False)
    synced.edit(scene, title="Scene")
    wait_until(lambda: synced.dead_letters(), 60, what="a dead letter")
    [letter] = synced.dead_letters()
    reason = letter.reason
    assert "/data/movies/a/scene.mp4" in reason and "/data/other/b/scene.mp4" in reason


def test_long_lived_drainer_hands_over_and_picks_up_fixed_settings(synced):
    synced.runner.env["PLEXSYNC_DRAINER_LIFETIME"] = "1"
    synced.configure(plex_url="http://127.0.0.1:9", connect_timeout=0.5)  # nothing listens there
    synced.edit(synced.library.scenes["part2"], title="After the URL fix")
    wait_until(lambda: QueueStore(synced.data_dir).counts()["scheduled"], 60, what="a retry")
    synced.configure()  # the user fixes plex_url while the drainer waits for the retry
    synced.wait_plex(PART_II_FILE, lambda i: i["title"] == "After the URL fix", timeout=90)
    assert "handed over to a fresh drainer" in synced.drainer_log()
