"""The hook's inbox (sync_queue/inbox.py) and its ingest by the drainer (hooks/inbox_ingest.py),
against the Stash emulator over real HTTP: nothing lost, newest edit wins, a bulk edit's N
processes do the work once."""
from __future__ import annotations

import pytest

from hooks.inbox_ingest import ingest_inbox
from hooks.scene_hook import handle_scene_hook
from hooks.stash_api import StashClient, StashError
from sync_queue import inbox
from sync_queue.jobs import JobQueue
from sync_queue.lock import DrainLock
from sync_queue.store import QueueStore
from validation.config import parse_config

SETTINGS = {"plex_url": "http://127.0.0.1:9", "plex_token": "t0ken"}


@pytest.fixture
def noted(stash, tmp_path):
    """A data folder whose drainer 'runs' (the test holds the lock): hooks only note edits."""
    lock = DrainLock(tmp_path)
    assert lock.try_acquire()
    stash.set_plugin_settings("PlexSync", SETTINGS)
    yield tmp_path
    lock.release()


def _conn(stash) -> dict:
    return {"Scheme": "http", "Host": "127.0.0.1", "Port": stash.port,
            "SessionCookie": {"Name": "session", "Value": stash.create_session()}}


def _hook(stash, data_dir, scene_id, hook_input, fields, now=1000.0, says=None):
    context = {"type": "Scene.Update.Post", "id": scene_id, "input": hook_input,
               "inputFields": fields}
    return handle_scene_hook(_conn(stash), context, data_dir, data_dir, now=now,
                             say=lambda level, text: (says if says is not None else []).append((level, text)))


def _jobs(data_dir) -> list[dict]:
    import json
    from sync_queue.store import QUEUE_TABLE, connect
    rows = connect(data_dir).execute(f"SELECT data FROM {QUEUE_TABLE} ORDER BY _id").fetchall()
    return [json.loads(data) for (data,) in rows]


def test_hook_sends_no_request_and_the_drainer_reads_the_scene_once(stash, stash_library, noted):
    scene = stash_library.scenes["part1"]
    stash.clear_logs()
    assert _hook(stash, noted, scene, {"id": str(scene), "title": "x"}, ["id", "title"]) == \
        f"scene {scene}: queued for Plex"
    assert stash.graphql_log == [] and len(inbox.pending(noted)) == 1
    client = StashClient(stash.url, session_cookie=stash.create_session())
    assert ingest_inbox(noted, client, parse_config(SETTINGS)) == 1
    assert [r.operation_name for r in stash.graphql_log] == ["PlexSyncScenes"]
    [job] = _jobs(noted)
    assert job["scene_id"] == scene and job["update_type"] == "update" and job["data"]["files"]
    assert inbox.pending(noted) == []


def test_bulk_edit_later_processes_do_nothing_even_after_the_drainer_took_the_file(
        stash, stash_library, noted):
    ids = [str(i) for i in stash_library.scenes.values()][:3]
    bulk = {"ids": ids, "tag_ids": {"ids": ["1"], "mode": "ADD"}}
    first = _hook(stash, noted, ids[0], bulk, ["ids", "tag_ids"])
    assert first == "queued 3 scenes for Plex"
    client = StashClient(stash.url, session_cookie=stash.create_session())
    assert ingest_inbox(noted, client, parse_config(SETTINGS)) == 3  # moved to inbox/done/
    for later in ids[1:]:
        assert _hook(stash, noted, later, bulk, ["ids", "tag_ids"]) == \
            f"scene {later}: already queued with its bulk edit"
    assert inbox.pending(noted) == [] and len(_jobs(noted)) == 3
    # the same bulk input ten minutes later is a new edit, not a duplicate
    assert _hook(stash, noted, ids[1], bulk, ["ids", "tag_ids"], now=1000.0 + 600) == \
        "queued 3 scenes for Plex"


def test_one_job_per_scene_with_the_newest_edits_kind(stash, stash_library, noted):
    scene = str(stash_library.scenes["part1"])
    _hook(stash, noted, scene, None, None, now=1000.0)  # a scan-triggered update
    _hook(stash, noted, scene, {"id": scene, "title": "y"}, ["id", "title"], now=1001.0)
    client = StashClient(stash.url)
    assert ingest_inbox(noted, client, parse_config(SETTINGS)) == 1
    [job] = _jobs(noted)
    assert job["update_type"] == "update" and job["enqueued_at"] == 1001.0


def test_files_stay_when_stash_does_not_answer(stash, stash_library, noted):
    scene = str(stash_library.scenes["part1"])
    _hook(stash, noted, scene, {"id": scene, "title": "y"}, ["id", "title"])
    with pytest.raises(StashError):
        ingest_inbox(noted, StashClient("http://127.0.0.1:9", timeout=1), parse_config(SETTINGS))
    assert len(inbox.pending(noted)) == 1 and _jobs(noted) == []
    assert ingest_inbox(noted, StashClient(stash.url), parse_config(SETTINGS)) == 1


def test_a_file_ingested_twice_after_a_crash_only_supersedes(stash, stash_library, noted):
    scene = str(stash_library.scenes["part1"])
    _hook(stash, noted, scene, {"id": scene, "title": "y"}, ["id", "title"])
    [name] = inbox.pending(noted)
    body = inbox.read(noted, name)
    ingest_inbox(noted, StashClient(stash.url), parse_config(SETTINGS))
    inbox.write_edit(noted, name, body)  # as if the drainer died before removing the file
    ingest_inbox(noted, StashClient(stash.url), parse_config(SETTINGS))
    older, newer = _jobs(noted)
    queue = JobQueue(noted)
    try:
        assert queue.is_superseded(older) and not queue.is_superseded(newer)
    finally:
        queue.close()


def test_disabled_plugin_drops_noted_edits_and_later_hooks_say_so(stash, stash_library, noted):
    scene = str(stash_library.scenes["part1"])
    _hook(stash, noted, scene, {"id": scene, "title": "y"}, ["id", "title"])
    off = {**SETTINGS, "enabled": False}
    assert ingest_inbox(noted, StashClient(stash.url), parse_config(off)) == 0
    assert inbox.pending(noted) == [] and _jobs(noted) == []
    stash.set_plugin_settings("PlexSync", off)
    assert _hook(stash, noted, scene, {"id": scene, "title": "z"}, ["id", "title"]) == \
        "PlexSync is turned off (setting Enabled); nothing queued"
    stash.set_plugin_settings("PlexSync", SETTINGS)  # switched on again: the flag clears
    assert _hook(stash, noted, scene, {"id": scene, "title": "z"}, ["id", "title"]) == \
        f"scene {scene}: queued for Plex"
    assert not inbox.flag_set(noted, inbox.DISABLED_FLAG)
    stash.clear_logs()
    _hook(stash, noted, scene, {"id": scene, "title": "w"}, ["id", "title"])
    assert stash.graphql_log == []  # steady state again: no request


def test_counts_show_noted_edits_as_ready(stash, stash_library, noted):
    scene = str(stash_library.scenes["part1"])
    _hook(stash, noted, scene, {"id": scene, "title": "y"}, ["id", "title"])
    counts = QueueStore(noted).counts()
    assert counts["ready"] == 1 and counts["inbox"] == 1


def test_an_edit_naming_no_scene_id_cannot_block_the_inbox(stash, stash_library, noted):
    scene = str(stash_library.scenes["part1"])
    inbox.write_edit(noted, "00000000000000000001-1-x.json",
                     b'{"scene_ids": ["None"], "update_type": "update", "enqueued_at": 1.0}')
    _hook(stash, noted, scene, {"id": scene, "title": "y"}, ["id", "title"])
    assert ingest_inbox(noted, StashClient(stash.url), parse_config(SETTINGS)) == 1
    assert inbox.pending(noted) == [] and [j["scene_id"] for j in _jobs(noted)] == [int(scene)]


def test_with_a_flag_set_only_the_first_process_of_a_bulk_edit_reads_the_settings(
        stash, stash_library, noted):
    inbox.set_flag(noted, inbox.AUTH_FLAG, True)  # e.g. Plex rejected a token earlier
    ids = [str(i) for i in stash_library.scenes.values()][:4]
    bulk = {"ids": ids, "title": "bulk"}
    stash.clear_logs()
    for scene_id in ids:
        _hook(stash, noted, scene_id, bulk, ["ids", "title"])
    assert [r.operation_name for r in stash.graphql_log] == ["PlexSyncSettings"]
    assert len(inbox.pending(noted)) == 1
