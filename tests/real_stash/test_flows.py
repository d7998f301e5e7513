"""Issue 10, item 4: PlexSync's flows inside the real Stash server, each checked in Plex.

Edits go through Stash's own GraphQL (sceneUpdate, bulkSceneUpdate, metadataScan), so the
Scene.Update.Post / Scene.Create.Post hooks are Stash's, with Stash's real input and cookie.
"""
from __future__ import annotations

import hashlib
import urllib.request

from sync_queue.lock import lock_holder_pid
from sync_queue.notes import SUMMARY_FILE, take_summary
from tests.real_stash.conftest import LIBRARY_CLIPS, PLEX_ROOT, clip_path
from tests.real_stash.media import data_url, png
from tests.real_stash.server import make_clip, process_alive
from tests.waiting import wait_until

SCENE_UPDATE = "mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
BULK_UPDATE = "mutation B($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"


def create(stash, kind: str, **fields) -> str:
    answer = stash.graphql(f"mutation C($input: {kind.capitalize()}CreateInput!) "
                           f"{{ {kind}Create(input: $input) {{ id }} }}", {"input": fields})
    return answer[f"{kind}Create"]["id"]


def screenshot_sha1(stash, scene_id: str) -> str:
    url = stash.graphql("query S($id: ID!) { findScene(id: $id) { paths { screenshot } } }",
                        {"id": scene_id})["findScene"]["paths"]["screenshot"]
    with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as response:
        return hashlib.sha1(response.read()).hexdigest()


def test_new_file_reaches_plex_after_plexsync_asks_plex_to_scan(fresh_stage):
    stage = fresh_stage
    new = make_clip(stage.stash.media / "new" / "fresh.mp4", 500)
    plex_path = f"{PLEX_ROOT}/new/fresh.mp4"
    stage.plex.add_pending_file(stage.section, plex_path, "fresh (Plex's guess)")
    stage.stash.scan(new.parent)  # Stash creates the scene: Scene.Create.Post
    scene_id = stage.stash.scene_ids_by_path()[str(new)]
    stage.stash.graphql(SCENE_UPDATE, {"input": {"id": scene_id, "title": "Fresh from Stash"}})
    wait_until(lambda: stage.plex.scans, 30, what="PlexSync to ask Plex to scan")
    assert [s["path"] for s in stage.plex.scans] == [f"{PLEX_ROOT}/new"]
    # Plex imports the file on that scan; PlexSync's retry then finds and writes it.
    item = stage.wait_plex(new, lambda i: i["title"] == "Fresh from Stash", timeout=45,
                           what="the new scene's retry to reach Plex")
    assert item["files"] == [plex_path]


def test_single_edit_of_every_synced_field_then_removals(fresh_stage):
    stage, stash = fresh_stage, fresh_stage.stash
    path = clip_path(stash.media, LIBRARY_CLIPS - 1)
    scene = stage.scene_ids[str(path)]
    parent = create(stash, "studio", name="Real Parent Studio")
    studio = create(stash, "studio", name="Real Studio", parent_id=parent)
    performers = [create(stash, "performer", name=n) for n in ("Real Ann", "Real Bob")]
    tags = [create(stash, "tag", name=n) for n in ("Real Drama", "Rock, Pop")]
    group = create(stash, "group", name="Real Group")
    cover = png(32, 24, (10, 200, 30))
    stash.graphql(SCENE_UPDATE, {"input": {
        "id": scene, "title": "Every Field", "details": "Details from Stash", "date": "2021-03-04",
        "studio_id": studio, "performer_ids": performers, "tag_ids": tags,
        "groups": [{"group_id": group}], "cover_image": data_url(cover)}})
    sha1 = screenshot_sha1(stash, scene)
    item = stage.wait_plex(path, lambda i: i["title"] == "Every Field" and i["posterSha1"] == sha1,
                           what="every field in Plex")
    assert item["summary"] == "Details from Stash"
    assert item["studio"] == "Real Studio"
    assert item["originallyAvailableAt"] == "2021-03-04"
    assert sorted(a["tag"] for a in item["actors"]) == ["Real Ann", "Real Bob"]
    assert sorted(item["genres"]) == ["Real Drama", "Rock, Pop"]
    assert {"Real Studio", "Real Group"} <= set(item["collections"])
    assert item["artSha1"] == sha1

    stash.graphql(SCENE_UPDATE, {"input": {"id": scene, "tag_ids": [], "performer_ids": [],
                                           "studio_id": None, "groups": []}})
    item = stage.wait_plex(path, lambda i: not i["genres"] and not i["actors"],
                           what="the removals in Plex")
    assert not item["studio"]
    assert not {"Real Studio", "Real Parent Studio", "Real Group"} & set(item["collections"])
    assert item["title"] == "Every Field"  # untouched fields stay
    assert not stage.log_errors()


def test_bulk_edit_of_50_scenes_reaches_plex(fresh_stage):
    stage, stash = fresh_stage, fresh_stage.stash
    paths = [clip_path(stash.media, n) for n in range(50)]
    tag = create(stash, "tag", name="Bulk Tag")
    stash.graphql(BULK_UPDATE, {"input": {"ids": [stage.scene_ids[str(p)] for p in paths],
                                          "tag_ids": {"mode": "ADD", "ids": [tag]}}}, timeout=600)
    wait_until(lambda: all("Bulk Tag" in stage.plex_item(p)["genres"] for p in paths), 120,
               interval=0.25, what="50 bulk-edited scenes in Plex")
    stage.wait_drained()
    assert not stage.log_errors()


def test_saves_seconds_apart_relay_each_drain_summary_into_stashs_log_once(fresh_stage):
    """Issue 19 item 1: each save finds the last drain's summary waiting; the hook relays it
    (a plain file, claimed by rename), once, also when a bulk edit runs many hook processes."""
    stage, stash = fresh_stage, fresh_stage.stash
    summary = stage.data_dir / SUMMARY_FILE
    paths = [clip_path(stash.media, n) for n in (30, 31)]  # the bulk test checks their tags only
    first, second = (stage.scene_ids[str(p)] for p in paths)
    stage.wait_drained()
    last = lock_holder_pid(stage.data_dir)  # an earlier test's drainer leaves its summary
    wait_until(lambda: not last or not process_alive(last), 60, interval=0.1,  # after the lock
               what="the last drainer to exit")
    take_summary(stage.data_dir)
    mark = stash.log_size()

    stash.graphql(SCENE_UPDATE, {"input": {"id": first, "title": "cadence one"}})
    stage.wait_drained()
    wait_until(summary.exists, 60, interval=0.1, what="the first drain's summary")
    stash.graphql(SCENE_UPDATE, {"input": {"id": second, "title": "cadence two"}})  # relays it
    stage.wait_drained()
    wait_until(summary.exists, 60, interval=0.1, what="the second drain's summary")
    relayed = [line for line in stash.log_lines(mark) if "background sync: " in line]
    assert len(relayed) == 1 and "synced 1" in relayed[0], relayed

    # A bulk edit of both: two hook processes, one after another; the first relays the line.
    stash.graphql(BULK_UPDATE, {"input": {"ids": [first, second], "details": "cadence bulk"}})
    stage.wait_drained()
    relayed = [line for line in stash.log_lines(mark) if "background sync: " in line]
    assert len(relayed) == 2 and "synced 1" in relayed[1], relayed
    assert [stage.plex_item(p)["title"] for p in paths] == ["cadence one", "cadence two"]
    assert [stage.plex_item(p)["summary"] for p in paths] == ["cadence bulk"] * 2
    assert not stage.log_errors()
