"""Stash v0.24.3 ... v0.30.1 (issue 10 item 6): PlexSync adapts its documents once per Stash,
the user reads Stash's own message when a document is refused, and a Stash older than v0.24
gets one clear error naming the minimum.

The Stash emulator plays an older release by validating every document against that release's
real schema (../shared/stash-schema/<version>) and answering a refused one the way gqlgen does
(HTTP 422, errors[].message; the real v0.30.1-19 server answers 400 with the same body, and
both are tested); it serves Scene.movies as those releases did.
"""
from __future__ import annotations

import json

import pytest

from hooks.stash_api import StashClient, StashRejected, StashTooOld, check_supported
from hooks.stash_documents import MINIMUM_STASH, parse_version
from hooks.stash_version import VERSION_FILE, remember_version
from tests.stash.test_stash_schema_conformance import SCHEMA_ROOT, load_real_schema


def _old_stash(stash_factory, version: str):
    folder = SCHEMA_ROOT / version
    if not (folder / "schema.graphql").is_file():
        pytest.skip(f"Stash {version}'s schema is not at {folder} (../shared/stash-schema)")
    stash = stash_factory(version=version, validation_schema=load_real_schema(folder))
    group = stash.add_group("Old Group")
    scene = stash.add_scene("Old scene", files=["/m/old.mp4"], groups=[group])
    stash.set_plugin_settings("PlexSync", {"plex_url": "http://p:1", "plex_token": "t"})
    stash.clear_logs()
    return stash, scene


def _operations(stash) -> list[tuple]:
    return [(r.operation_name, r.status) for r in stash.graphql_log]


@pytest.mark.parametrize("version", ["v0.24.3", "v0.26.2"])
def test_first_refusal_asks_the_version_once_then_every_document_fits(stash_factory, version):
    stash, scene = _old_stash(stash_factory, version)
    client = StashClient(stash.url)
    [found] = client.scenes_by_id([scene])
    assert found["groups"] == [{"group": {"name": "Old Group"}, "scene_index": None}]
    assert _operations(stash) == [("PlexSyncScenes", 422), ("PlexSyncStashVersion", 200),
                                  ("PlexSyncScenes", 200)]
    stash.clear_logs()
    assert client.plugin_settings() == {"plex_url": "http://p:1", "plex_token": "t"}
    client.scenes_by_id([scene])
    assert _operations(stash) == [("PlexSyncSettings", 200), ("PlexSyncScenes", 200)]


def test_remembered_version_costs_no_request_in_later_runs(stash_factory, tmp_path):
    stash, scene = _old_stash(stash_factory, "v0.24.3")
    remember_version(StashClient(stash.url), tmp_path)  # the first drainer or task
    assert _operations(stash) == [("PlexSyncStashVersion", 200)]
    assert json.loads((tmp_path / VERSION_FILE).read_text()) == {stash.url: "v0.24.3"}
    stash.clear_logs()
    later = remember_version(StashClient(stash.url), tmp_path)  # every later run
    assert later.plugin_settings()["plex_token"] == "t"
    assert [s["id"] for s in later.scenes_by_id([scene])] == [str(scene)]
    assert _operations(stash) == [("PlexSyncSettings", 200), ("PlexSyncScenes", 200)]


def test_an_upgraded_stash_replaces_the_remembered_version(stash_factory, tmp_path):
    stash, scene = _old_stash(stash_factory, "v0.30.1")
    (tmp_path / VERSION_FILE).write_text(json.dumps({stash.url: "v0.26.2"}))  # before the upgrade
    client = remember_version(StashClient(stash.url), tmp_path)
    assert client.scenes_by_id([scene])[0]["groups"][0]["group"]["name"] == "Old Group"
    # movies is still served by v0.30.1 (deprecated), so nothing had to be re-learnt here;
    # a document v0.30 refuses would re-ask (test below). The file is only a first guess.
    assert _operations(stash)[-1] == ("PlexSyncScenes", 200)


def test_a_downgraded_stash_is_asked_again_after_one_refusal(stash_factory, tmp_path):
    stash, scene = _old_stash(stash_factory, "v0.26.2")
    (tmp_path / VERSION_FILE).write_text(json.dumps({stash.url: "v0.30.1"}))
    client = remember_version(StashClient(stash.url), tmp_path)
    assert client.scenes_by_id([scene])[0]["groups"][0]["group"]["name"] == "Old Group"
    assert _operations(stash) == [("PlexSyncScenes", 422), ("PlexSyncStashVersion", 200),
                                  ("PlexSyncScenes", 200)]
    assert json.loads((tmp_path / VERSION_FILE).read_text()) == {stash.url: "v0.26.2"}


@pytest.mark.parametrize("status", [422, 400])  # gqlgen's documented status; the real v0.30.1-19's
def test_a_refused_document_shows_stashs_own_message_not_a_bare_status(stash_factory, status):
    stash = stash_factory(validation_status=status)
    client = StashClient(stash.url)
    with pytest.raises(StashRejected) as refused:
        client.execute("query PlexSyncBroken { findScenes { scenes { cover_url } } }")
    message = str(refused.value)
    assert 'Cannot query field "cover_url" on type "Scene".' in message  # Stash's own words
    assert f"HTTP {status}" not in message
    assert [r.status for r in stash.graphql_requests(operation_name="PlexSyncBroken")] == [status]
    stash.clear_logs()
    with pytest.raises(StashRejected):  # the version is known now: no second version request
        client.execute("query PlexSyncBroken { findScenes { scenes { cover_url } } }")
    assert [r.operation_name for r in stash.graphql_log] == ["PlexSyncBroken"]


def test_a_stash_older_than_v0_24_gets_one_error_naming_the_minimum(stash_factory, tmp_path):
    stash = stash_factory(version="v0.23.1")
    with pytest.raises(StashTooOld) as too_old:
        remember_version(StashClient(stash.url), tmp_path)
    message = str(too_old.value)
    assert "PlexSync needs Stash v0.24.0 or newer" in message and "v0.23.1" in message


@pytest.mark.parametrize("text, expected", [
    ("v0.30.1-19-gcf3489efd", (0, 30, 1)), ("v0.24.3", (0, 24, 3)), ("0.27", (0, 27, 0)),
    ("", None), (None, None), ("development", None)])
def test_version_text_is_read_like_stash_prints_it(text, expected):
    assert parse_version(text) == expected


def test_only_releases_below_the_minimum_are_refused():
    assert MINIMUM_STASH == (0, 24, 0)
    assert check_supported("v0.24.0") == (0, 24, 0)
    assert check_supported("dev build") is None  # unknown: assume the newest, adapt on refusal
    with pytest.raises(StashTooOld):
        check_supported("v0.23.9")


def test_a_task_on_a_stash_older_than_v0_24_stops_with_that_one_line(stash_factory, tmp_path):
    from hooks.errors import describe_failure
    from worker.tasks.registry import run_task
    stash = stash_factory(version="v0.23.1")
    conn = {"Scheme": "http", "Host": "127.0.0.1", "Port": stash.port}
    with pytest.raises(StashTooOld) as too_old:
        run_task({"mode": "queue_status"}, conn, tmp_path, tmp_path / "data")
    assert describe_failure(too_old.value).startswith("PlexSync needs Stash v0.24.0 or newer")
    assert [r.operation_name for r in stash.graphql_log] == ["PlexSyncStashVersion"]
