"""End to end: an edit in the Stash emulator fires the hook through the Stash-exact runner, the
detached drainer syncs it, and the Plex emulator ends up with exactly Stash's metadata."""
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
