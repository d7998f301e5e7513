"""Issue 10, item 7: the Stash emulator answers like the real Stash.

The same documents — every one PlexSync sends (hooks/stash_api.py) and the ones the emulator
tests drive it with — go to the real server and to the emulator, over the same data; their
answers must have the same shape: HTTP status, keys, nulls, list-ness and scalar types.
"""
from __future__ import annotations

import pytest

from hooks.stash_documents import FIND_SCENES_QUERY, SETTINGS_QUERY, VERSION_QUERY, scenes_document
from tests.real_stash.conftest import LIBRARY_CLIPS, clip_path
from tests.real_stash.media import data_url, png
from tests.real_stash.server import post_graphql

SCENE = dict(title="Differential", code="D-1", details="Same data on both", director="Dee",
             urls=["https://example.com/d"], date="2022-02-02")
UPDATE = "mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id title updated_at } }"
BULK = "mutation B($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id title } }"
CONFIGURE = "mutation C($input: Map!) { configurePlugin(plugin_id: \"PlexSync\", input: $input) }"
# PlexSync off: the edits below fire real hooks, which must not leave jobs retrying against a
# Plex that is not there (an outage never dead-letters, so the stage would never drain).
SETTINGS = {"plex_url": "http://127.0.0.1:1", "plex_token": "t", "max_tags": 3, "enabled": False}


def shape(value):
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def error_shape(answer: dict) -> dict:
    """Error answers: which top-level keys, and each error's keys (messages differ in words)."""
    errors = answer.get("errors") or []
    return {"keys": sorted(answer), "data": shape(answer.get("data")),
            "error_keys": sorted({k for e in errors for k in e}), "count": len(errors)}


def real_ids(stage):
    stash = stage.stash
    full, bare = (stage.scene_ids[str(clip_path(stash.media, LIBRARY_CLIPS - n))] for n in (8, 9))
    parent = stash.graphql('mutation { studioCreate(input: {name: "Diff Parent"}) { id } }')["studioCreate"]["id"]
    studio = stash.graphql("mutation S($p: ID) { studioCreate(input: {name: \"Diff Studio\", parent_id: $p}) { id } }",
                           {"p": parent})["studioCreate"]["id"]
    performer = stash.graphql('mutation { performerCreate(input: {name: "Diff Ann"}) { id } }')["performerCreate"]["id"]
    tag = stash.graphql('mutation { tagCreate(input: {name: "Diff Tag"}) { id } }')["tagCreate"]["id"]
    group = stash.graphql('mutation { groupCreate(input: {name: "Diff Group"}) { id } }')["groupCreate"]["id"]
    stash.graphql(UPDATE, {"input": {"id": full, **SCENE, "studio_id": studio, "performer_ids": [performer],
                                     "tag_ids": [tag], "groups": [{"group_id": group, "scene_index": 2}],
                                     "cover_image": data_url(png(8, 8, (1, 2, 3)))}})
    return full, bare


def emulator_ids(emulator, stash_path):
    studio = emulator.add_studio("Diff Studio", parent=emulator.add_studio("Diff Parent"))
    full = emulator.add_scene(**SCENE, files=[stash_path + ".full"], studio=studio,
                              performers=["Diff Ann"], tags=["Diff Tag"], groups=[("Diff Group", 2)],
                              cover=png(8, 8, (1, 2, 3)))
    bare = emulator.add_scene("", files=[stash_path + ".bare"])
    return str(full), str(bare)


@pytest.fixture
def both(fresh_stage, stash_empty):
    """(url, scene ids, settings-configurer) for the real Stash and for the emulator."""
    full, bare = real_ids(fresh_stage)
    emu_full, emu_bare = emulator_ids(stash_empty, str(clip_path(fresh_stage.stash.media, 0)))
    return {"real": (fresh_stage.stash.url, full, bare), "emulator": (stash_empty.url, emu_full, emu_bare)}


def documents(full: str, bare: str) -> list[tuple[str, str, dict]]:
    return [
        ("configurePlugin", CONFIGURE, {"input": SETTINGS}),
        ("version", VERSION_QUERY, {}),
        ("settings", SETTINGS_QUERY, {"plugin": ["PlexSync"]}),
        ("settings of an unknown plugin", SETTINGS_QUERY, {"plugin": ["NoSuchPlugin"]}),
        ("all plugin settings", "{ configuration { plugins } }", {}),
        ("scenes", scenes_document(3), {"id0": full, "id1": bare, "id2": "999999"}),
        ("findScenes", FIND_SCENES_QUERY, {"filter": {"per_page": 5, "q": "Differential", "sort": "updated_at"},
                                           "scene_filter": {"updated_at": {"value": "2000-01-01T00:00:00Z",
                                                                           "modifier": "GREATER_THAN"}}}),
        ("findScenes, empty page", FIND_SCENES_QUERY, {"filter": {"per_page": 5, "page": 999}}),
        ("non-numeric scene id", scenes_document(1), {"id0": "abc"}),
        ("null for a non-null variable", "query Q($id: ID!) { findScene(id: $id) { id } }", {"id": None}),
        ("sceneUpdate", UPDATE, {"input": {"id": bare, "details": "touched"}}),
        ("bulkSceneUpdate", BULK, {"input": {"ids": [bare], "details": "bulk"}}),
        ("invalid field", "query { findScene(id: 1) { no_such_field } }", {}),
        ("syntax error", "query { findScene(id: 1) { id }", {}),
        ("missing variable", "query Q($id: ID!) { findScene(id: $id) { id } }", {}),
        ("unknown scene update", UPDATE, {"input": {"id": "999999", "title": "x"}}),
    ]


def test_emulator_answers_have_the_real_shapes(both):
    answers = {}
    for side, (url, full, bare) in both.items():
        answers[side] = {name: post_graphql(url, query, variables, timeout=60)
                         for name, query, variables in documents(full, bare)}
    differences = []
    for name in answers["real"]:
        (real_status, real), (emu_status, emu) = answers["real"][name], answers["emulator"][name]
        if real_status != emu_status:
            differences.append(f"{name}: HTTP {real_status} (real) vs {emu_status} (emulator)")
        if real.get("errors") or emu.get("errors"):
            if error_shape(real) != error_shape(emu):
                differences.append(f"{name}: errors {error_shape(real)} (real) vs {error_shape(emu)} (emulator)\n"
                                   f"   real: {real}\n   emulator: {emu}")
        elif shape(real) != shape(emu):
            differences.append(f"{name}:\n   real {shape(real)}\n   emul {shape(emu)}")
    assert not differences, "\n".join(differences)
